"""Windows cut out of a batch of samples at given frames: the frames and the audio of the same
span, every window of every sample stacked along the batch axis."""
from __future__ import annotations

import tensorflow as tf


def frame_windows(frames: tf.Tensor, first: tf.Tensor, length: int) -> tf.Tensor:
    """(B, T, ...) frames, (B, K) first frames -> (B * K, length, ...) windows."""
    index = first[..., None] + tf.range(length)
    windows = tf.gather(frames, index, batch_dims=1)
    return tf.reshape(windows, tf.concat([[-1, length], tf.shape(frames)[2:]], 0))


def audio_windows(audio: tf.Tensor, starts: tf.Tensor, length: int) -> tf.Tensor:
    """(B, N, 1) audio, (B, K) first samples -> (B * K, length, 1) float32 windows."""
    index = starts[..., None] + tf.range(length)
    return tf.reshape(tf.cast(tf.gather(audio[..., 0], index, batch_dims=1), tf.float32), (-1, length, 1))
