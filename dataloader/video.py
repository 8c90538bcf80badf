"""Video inputs: which frames of a window, and how they become a network's input.

Frames are picked before they are decoded, so a 5 s AVIA sample decodes 5 JPEG files,
not 60. Resizing is bilinear on the short side and the crop central, as in the VGG/ResNet
ImageNet evaluation preprocessing the ResNet-50 of B was trained with; the RGB means are
subtracted from RGB frames (the original subtracted them from BGR frames).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import tensorflow as tf

RGB_MEAN = (123.68, 116.78, 103.94)  # ImageNet means in R, G, B order; frames are decoded as RGB


def frame_indices(frames: int, picked: int) -> np.ndarray:
    """`picked` frame numbers spread evenly over `frames`, first and last included."""
    return np.linspace(0, frames - 1, picked).astype(np.int64)


def resize_and_crop(frames: tf.Tensor, short_side: int | None, size: tuple[int, int]) -> tf.Tensor:
    """uint8 (T, h, w, 3) -> float32 (T, *size, 3): short side resized to `short_side`
    unless it already is (or `short_side` is None), then the centre `size` cut out."""
    import tensorflow as tf

    frames = tf.cast(frames, tf.float32)
    if short_side is not None:
        height, width = tf.shape(frames)[1], tf.shape(frames)[2]
        scale = short_side / tf.cast(tf.minimum(height, width), tf.float64)
        new_size = tf.cast(tf.round(tf.cast(tf.stack([height, width]), tf.float64) * scale), tf.int32)
        frames = tf.cond(
            tf.equal(tf.minimum(height, width), short_side),
            lambda: frames,
            lambda: tf.image.resize(frames, new_size, method="bilinear"),
        )
    height, width = tf.shape(frames)[1], tf.shape(frames)[2]
    tf.debugging.assert_greater_equal(
        tf.stack([height, width]), tf.constant(size, tf.int32),
        message=f"video frames are smaller than the crop {size} (set video_short_side or video_size)",
    )
    top, left = (height - size[0]) // 2, (width - size[1]) // 2
    frames = frames[:, top:top + size[0], left:left + size[1], :]
    return tf.ensure_shape(frames, [None, *size, 3])


def subtract_mean(frames: tf.Tensor) -> tf.Tensor:
    import tensorflow as tf

    return frames - tf.constant(RGB_MEAN, tf.float32)


def restore_frames(frames: np.ndarray) -> np.ndarray:
    """Frames as the loader gives them, means subtracted (..., 3) -> uint8 RGB, for showing:
    the means added back, rounded (float32 sums miss whole values) and clipped to 0..255."""
    restored = np.asarray(frames, dtype=np.float32) + np.asarray(RGB_MEAN, dtype=np.float32)
    return np.clip(np.rint(restored), 0, 255).astype(np.uint8)
