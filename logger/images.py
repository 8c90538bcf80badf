"""Pictures for TensorBoard: heat maps over video frames.

Pure numpy, so the same code draws for a callback and for an evaluation report.
"""
from __future__ import annotations

import numpy as np


def upsample(heat: np.ndarray, height: int, width: int) -> np.ndarray:
    """Nearest-cell upsampling of a (h, w) map to (height, width): every image block gets
    the value of the acoustic cell that looks at it."""
    rows = (np.arange(height) * heat.shape[0]) // height
    cols = (np.arange(width) * heat.shape[1]) // width
    return heat[rows][:, cols]


def normalise(heat: np.ndarray) -> np.ndarray:
    low, high = float(heat.min()), float(heat.max())
    return np.zeros_like(heat, dtype=np.float32) if high <= low else ((heat - low) / (high - low)).astype(np.float32)


def overlay(frame: np.ndarray, heat: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """A (H, W, 3) RGB uint8 frame with a (h, w) heat map blended in red -> uint8 (H, W, 3)."""
    frame = np.asarray(frame, dtype=np.float32)
    heat = upsample(normalise(np.asarray(heat, dtype=np.float32)), frame.shape[0], frame.shape[1])[..., None]
    colour = np.concatenate([heat, np.zeros_like(heat), 1.0 - heat], axis=-1) * 255.0
    return np.clip((1 - alpha) * frame + alpha * colour, 0, 255).astype(np.uint8)
