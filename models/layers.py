"""Pieces every network shares: frames folded into the batch, the identity temporal kernel,
the originals' initialisers and weight decay, and the fully connected heads.

Per-frame networks take (batch, T, ...) and run their 2-D part on (batch * T, ...): the
frame count T is fixed when the model is built, as the dataloader delivers a fixed number
of frames per sample.
"""
from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

EMBEDDING = "embedding"
CLASSIFIER = "classifier"
MODES = (EMBEDDING, CLASSIFIER)
PACKAGE = "acoustic_av"
# The batch-norm momentum of the networks this project adds (sync, content and identity).
# Keras' 0.99 keeps a hundred steps in the inference statistics, and a run on a few minutes of
# recordings takes a few hundred: a sync run's validation pairs were judged by statistics of
# weights long gone (accuracy 0.50 on validation, 0.70 in training, after 100 steps).
SHORT_RUN_MOMENTUM = 0.9


def check_mode(mode: str) -> None:
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")


def small_normal() -> keras.initializers.Initializer:
    """The originals' truncated N(0, 0.01) for weights (biases start at zero).

    A fresh instance per layer: a Keras initializer instance returns the same values on
    every call, so sharing one would give layers of equal shape identical weights.
    """
    return keras.initializers.TruncatedNormal(stddev=0.01)


def initializer(name: str | None):
    """A Keras initializer name as given, or None for the originals' N(0, 0.01)."""
    return small_normal() if name is None else name


def weight_decay(rate: float) -> keras.regularizers.Regularizer:
    """The originals' slim `l2_regularizer(rate)`, which adds rate * sum(w^2) / 2 (it is built
    on tf.nn.l2_loss); Keras' L2(r) adds r * sum(w^2), hence the half."""
    return keras.regularizers.L2(rate / 2)


@keras.saving.register_keras_serializable(package=PACKAGE)
class FoldFrames(layers.Layer):
    """(batch, T, ...) -> (batch * T, ...), so 2-D layers see every frame as an image."""

    def call(self, inputs):
        return ops.reshape(inputs, (-1, *inputs.shape[2:]))

    def compute_output_shape(self, input_shape):
        batch, frames = input_shape[:2]
        folded = None if batch is None or frames is None else batch * frames
        return (folded, *input_shape[2:])


@keras.saving.register_keras_serializable(package=PACKAGE)
class UnfoldFrames(layers.Layer):
    """(batch * T, ...) -> (batch, T, ...): the inverse of FoldFrames for a fixed T."""

    def __init__(self, num_frames: int, **kwargs):
        super().__init__(**kwargs)
        self.num_frames = int(num_frames)

    def call(self, inputs):
        return ops.reshape(inputs, (-1, self.num_frames, *inputs.shape[1:]))

    def compute_output_shape(self, input_shape):
        batch = None if input_shape[0] is None else input_shape[0] // self.num_frames
        return (batch, self.num_frames, *input_shape[1:])

    def get_config(self):
        return {**super().get_config(), "num_frames": self.num_frames}


@keras.saving.register_keras_serializable(package=PACKAGE)
class TemporalIdentity(keras.initializers.Initializer):
    """Kernel (kT, 1, 1, C, C) whose centre tap is the identity and every other tap zero: a
    temporal convolution that starts as a no-op, so pretrained per-frame features survive."""

    def __call__(self, shape, dtype=None):
        taps, height, width, channels_in, channels_out = shape
        if (height, width) != (1, 1) or channels_in != channels_out or taps % 2 == 0:
            raise ValueError(f"TemporalIdentity needs an odd (kT, 1, 1, C, C) kernel, got {shape}")
        kernel = np.zeros(shape, dtype="float32")
        kernel[taps // 2, 0, 0] = np.eye(channels_in, dtype="float32")
        return ops.convert_to_tensor(kernel, dtype=dtype)


@keras.saving.register_keras_serializable(package=PACKAGE)
class LogMel(layers.Layer):
    """(batch, samples, 1) audio at the camera's rate -> (batch, ceil(samples / hop), bands, 1)
    natural-log mel energies (`dataloader.features`, the frames zero-padded at the end), each
    band standardised over the sample with `standardise` (the SyncNet trainer's instance norm)."""

    def __init__(self, window: int, hop: int, fft_length: int, bands: int, standardise: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.window, self.hop, self.fft_length, self.bands = int(window), int(hop), int(fft_length), int(bands)
        self.standardise = bool(standardise)

    def call(self, inputs):
        import tensorflow as tf

        from dataloader.camera import SAMPLE_RATE
        from dataloader.features import log_mel, power_spectrum

        power = power_spectrum(inputs[..., 0], self.window, self.hop, self.fft_length, pad_end=True)
        bands = log_mel(power, SAMPLE_RATE, self.bands)
        if self.standardise:
            mean, variance = tf.nn.moments(bands, axes=[1], keepdims=True)
            bands = (bands - mean) * tf.math.rsqrt(variance + 1e-5)
        return bands[..., None]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], -(-input_shape[1] // self.hop), self.bands, 1)

    def get_config(self):
        return {**super().get_config(), "window": self.window, "hop": self.hop, "fft_length": self.fft_length,
                "bands": self.bands, "standardise": self.standardise}


def dense_stack(x, widths: tuple[int, ...], names: tuple[str, ...], kernel_initializer: str | None = None):
    """Fully connected layers on the last axis, ReLU after all but the last (linear). The heads
    of both originals ("shared_net") are such stacks, initialised N(0, 0.01) unless a Keras
    initializer name is given."""
    for index, (width, name) in enumerate(zip(widths, names)):
        last = index == len(widths) - 1
        x = layers.Dense(width, activation=None if last else "relu", kernel_initializer=initializer(kernel_initializer),
                         name=name)(x)
    return x


def output(x, mode: str):
    """The model's output layer, named after the mode, in float32 so that under a
    mixed_float16 policy losses and distances are computed in full precision."""
    return layers.Activation("linear", dtype="float32", name="logits" if mode == CLASSIFIER else mode)(x)


def mean_over_frames(x):
    """(batch, T, C) -> (batch, C): clip logits are the mean of the per-frame logits."""
    return layers.GlobalAveragePooling1D(name="frame_mean")(x)
