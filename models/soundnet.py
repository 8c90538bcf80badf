"""SoundNet5: the 5-layer SoundNet on the raw waveform, as (B) used it.

Input: mono waveform float32 (batch, samples, 1) at 22,050 Hz; (B) uses 5-s samples
(110,250). Every convolution runs along time like the Torch original (kernel k along the
height of a [samples, 1] image), here as Conv1D: Torch's explicit zero padding, then a VALID
convolution. conv1-4 (with their batch norms) are the public SoundNet's and can be loaded
from `soundnet5_final.t7` (models.weights.load_soundnet_t7); conv5, conv6 and the head are
(B)'s and start from scratch.
"""
from __future__ import annotations

import keras
from keras import layers

from dataloader.config import WAVEFORM
from models.functional import Functional
from models.layers import CLASSIFIER, check_mode, dense_stack, output, small_normal, weight_decay
from models.weights import load_soundnet_t7

SAMPLE_RATE = 22_050
WEIGHT_DECAY = 5e-4
# Torch's SpatialBatchNormalization epsilon, so that converted weights give Torch's outputs.
BATCH_NORM_EPSILON = 1e-5
BATCH_NORM_MOMENTUM = 0.999  # slim's default decay, which (B) kept

# Top to bottom: (name, filters, kernel, stride, zero padding each side, max-pool after).
# Each is followed by batch norm and ReLU; all N(0, 0.01) with L2 5e-4, as (B).
CONVS = (
    ("conv1", 32, 64, 2, 32, 8),
    ("conv2", 64, 32, 2, 16, 8),
    ("conv3", 128, 16, 2, 8, 8),
    ("conv4", 256, 8, 2, 4, None),
    ("conv5", 1024, 16, 12, 4, None),
)
PRETRAINED = ("conv1", "conv2", "conv3", "conv4")
CONV6 = 1024  # 1x1, ReLU, no batch norm
HEAD = 1000  # the shared head of (B): fc 1000 ReLU -> fc classes, N(0, 0.01)


def soundnet5(mode: str = CLASSIFIER, num_classes: int = 14, num_samples: int = 5 * SAMPLE_RATE,
              weights: str | None = None) -> keras.Model:
    """SoundNet5 of (B).

    Input  waveform (batch, num_samples, 1) at 22,050 Hz; at least 56,798 samples (2.58 s),
           the shortest input that leaves conv5 a full kernel.
    Output embedding:  (batch, 1024), conv6 averaged over its time steps (one step at 5 s,
                       as in the original, which squeezed it).
           classifier: (batch, num_classes): fc 1000 ReLU -> fc classes.
    weights: a local SoundNet Torch file (`soundnet5_final.t7`) for conv1-4 and their batch
             norms; None starts from scratch.
    """
    check_mode(mode)
    inputs = keras.Input((num_samples, 1), name=WAVEFORM)
    x = inputs
    for name, filters, kernel, stride, padding, pool in CONVS:
        if x.shape[1] + 2 * padding < kernel:
            raise ValueError(f"{num_samples} samples are too few for SoundNet5: {name} would see "
                             f"{x.shape[1]} steps with a kernel of {kernel}; use at least 56,798 samples")
        x = layers.ZeroPadding1D(padding, name=f"{name}_pad")(x)
        x = layers.Conv1D(filters, kernel, strides=stride, kernel_initializer=small_normal(),
                          kernel_regularizer=weight_decay(WEIGHT_DECAY), name=name)(x)
        x = layers.BatchNormalization(momentum=BATCH_NORM_MOMENTUM, epsilon=BATCH_NORM_EPSILON, name=f"{name}_bn")(x)
        x = layers.ReLU(name=f"{name}_relu")(x)
        if pool:
            x = layers.MaxPooling1D(pool, name=name.replace("conv", "pool"))(x)
    x = layers.Conv1D(CONV6, 1, activation="relu", kernel_initializer=small_normal(),
                      kernel_regularizer=weight_decay(WEIGHT_DECAY), name="conv6")(x)
    x = layers.GlobalAveragePooling1D(name="mean_time")(x)
    if mode == CLASSIFIER:
        x = dense_stack(x, (HEAD, num_classes), ("fc1", "fc2"))
    model = Functional(inputs, output(x, mode), name="soundnet5")
    if weights is not None:
        load_soundnet_t7(model, weights, PRETRAINED)
    return model
