"""Pictures for TensorBoard: heat maps over video frames.

Pure numpy, so the same code draws for a callback and for an evaluation report.
"""
from __future__ import annotations

import numpy as np

RGB_MEAN = np.array([123.68, 116.78, 103.94], dtype=np.float32)


def upsample(heat: np.ndarray, height: int, width: int) -> np.ndarray:
    """Nearest-cell upsampling of a (h, w) map to (height, width): every image block gets
    the value of the acoustic cell that looks at it."""
    rows = (np.arange(height) * heat.shape[0]) // height
    cols = (np.arange(width) * heat.shape[1]) // width
    return heat[rows][:, cols]


def normalise(heat: np.ndarray) -> np.ndarray:
    low, high = float(heat.min()), float(heat.max())
    return np.zeros_like(heat, dtype=np.float32) if high <= low else ((heat - low) / (high - low)).astype(np.float32)


def overlay(frame: np.ndarray, heat: np.ndarray, mean_subtracted: bool = True, alpha: float = 0.5) -> np.ndarray:
    """A (H, W, 3) RGB frame (mean-subtracted as the loader gives it, or uint8) with a (h, w)
    heat map blended in red -> uint8 (H, W, 3)."""
    frame = np.asarray(frame, dtype=np.float32) + (RGB_MEAN if mean_subtracted else 0.0)
    heat = upsample(normalise(np.asarray(heat, dtype=np.float32)), frame.shape[0], frame.shape[1])[..., None]
    colour = np.concatenate([heat, np.zeros_like(heat), 1.0 - heat], axis=-1) * 255.0
    return np.clip((1 - alpha) * frame + alpha * colour, 0, 255).astype(np.uint8)


def attention_map(audio_map: np.ndarray, video_map: np.ndarray) -> np.ndarray:
    """Where audio and video agree: sum over channels of a * v * v, the spatial terms of the
    attention product of the self-supervised loss. (h, w, c) maps -> (h, w)."""
    return np.sum(np.asarray(audio_map) * np.square(video_map), axis=-1)
