"""DualCamNet: the acoustic-image networks of both papers.

Input, for every variant: acoustic images float32 (batch, T, 36, 48, 12), T = 12 frames per
second of sample. A 7 x 1 x 1 convolution (12 filters, SAME, ReLU) first mixes each pixel
over time within each second, as both originals did (they reshaped the input to blocks of
12 frames): a network trained on 1-s samples then sees longer ones as it was trained. The
frames are then folded into the batch and go through 2-D convolutions one by one.
Classifier outputs are per-frame logits averaged over the T frames, which is how both
originals pooled them in time ("temporal pooling").
"""
from __future__ import annotations

import keras
from keras import layers

from dataloader.camera import ACOUSTIC_IMAGE_SHAPE, COEFFICIENTS, FRAMES_PER_SECOND
from dataloader.config import ACOUSTIC_IMAGE
from models.functional import Functional
from models.layers import (
    CLASSIFIER,
    EMBEDDING,
    FoldFrames,
    UnfoldFrames,
    check_mode,
    dense_stack,
    initializer,
    mean_over_frames,
    output,
)

TEMPORAL_KERNEL = 7

# Per-frame convolutions after conv1, top to bottom: (name, filters, kernel, max-pool after).
# All SAME and ReLU.
HYBRID_CONVS = (  # (A): 36x48 -> pool 3x3/3 -> 12x16x128, the map aligned with the video's
    ("conv2", 32, 5, 3),
    ("conv3", 128, 5, None),
)
V2_CONVS = (  # (B): 36x48 -> pool 2 -> 18x24 -> pool 2 -> 9x12x64
    ("conv2", 32, 5, 2),
    ("conv3", 64, 5, 2),
)
V2_FULL1 = 1024  # "full1": a 9x12 VALID convolution, i.e. a dense layer on each frame's map


def _acoustic_input(num_frames: int):
    return keras.Input((num_frames, *ACOUSTIC_IMAGE_SHAPE), name=ACOUSTIC_IMAGE)


def _seconds(inputs):
    """(batch, T, ...) -> (batch * T / 12, 12, ...) for clips longer than a second.

    Only those builds hold these two layers: checkpoints written before models.functional
    address layers by position and must find them where they were."""
    num_frames = inputs.shape[1]
    if num_frames <= FRAMES_PER_SECOND:
        return inputs
    if num_frames % FRAMES_PER_SECOND:
        raise ValueError(f"acoustic images come {FRAMES_PER_SECOND} a second: {num_frames} frames are not whole "
                         "seconds")
    return UnfoldFrames(FRAMES_PER_SECOND, name="seconds")(FoldFrames(name="fold_seconds")(inputs))


def _trunk(inputs, convs, kernel_initializer: str | None):
    """conv1 over time within each second, then the per-frame convolutions on folded frames."""
    x = layers.Conv3D(COEFFICIENTS, (TEMPORAL_KERNEL, 1, 1), padding="same", activation="relu",
                      kernel_initializer=initializer(kernel_initializer), name="conv1")(_seconds(inputs))
    x = FoldFrames(name="fold")(x)
    for name, filters, kernel, pool in convs:
        x = layers.Conv2D(filters, kernel, padding="same", activation="relu",
                          kernel_initializer=initializer(kernel_initializer), name=name)(x)
        if pool:
            x = layers.MaxPooling2D(pool, name=name.replace("conv", "pool"))(x)
    return x


def dualcamnet(mode: str = CLASSIFIER, num_classes: int = 10, num_frames: int = 24) -> keras.Model:
    """DualCamNet of (A), the "hybrid" network; every layer initialised N(0, 0.01).

    Input  acoustic_image (batch, num_frames, 36, 48, 12); (A) trains on 2-s samples, T = 24.
    Output embedding:  (batch, num_frames, 12, 16, 128), the ReLU conv3 map of every frame, on
                       the same 12x16 grid as resnet18_v1's video map.
           classifier: (batch, num_classes); per frame the map is summed over its 12x16 cells
                       (as the original: a sum, not a mean) and a dense layer gives logits,
                       which are averaged over the frames.
    """
    check_mode(mode)
    inputs = _acoustic_input(num_frames)
    x = _trunk(inputs, HYBRID_CONVS, kernel_initializer=None)
    if mode == EMBEDDING:
        x = UnfoldFrames(num_frames, name="unfold")(x)
    else:
        cells = x.shape[1] * x.shape[2]
        x = layers.GlobalAveragePooling2D(name="mean_hw")(x)
        x = layers.Rescaling(float(cells), name="sum_hw")(x)
        x = UnfoldFrames(num_frames, name="unfold")(x)
        x = dense_stack(x, (num_classes,), ("full1",))
        x = mean_over_frames(x)
    return Functional(inputs, output(x, mode), name="dualcamnet")


def _dualcamnet_v2(mode: str, num_classes: int, num_frames: int, teacher: bool) -> keras.Model:
    check_mode(mode)
    inputs = _acoustic_input(num_frames)
    # (B)'s slim layers kept slim's default Glorot-uniform initialisation.
    x = _trunk(inputs, V2_CONVS, kernel_initializer="glorot_uniform")
    x = layers.Conv2D(V2_FULL1, x.shape[1:3], padding="valid", activation="relu", name="full1")(x)
    x = layers.Reshape((V2_FULL1,), name="squeeze")(x)
    x = UnfoldFrames(num_frames, name="unfold")(x)
    if mode == CLASSIFIER:
        if teacher:
            x = dense_stack(x, (1000, num_classes), ("fc1", "fc2"))
        else:
            x = layers.Dropout(0.5, name="drop1")(x)
            x = dense_stack(x, (1000, num_classes), ("full2", "full3"), kernel_initializer="glorot_uniform")
        x = mean_over_frames(x)
    return Functional(inputs, output(x, mode), name="dualcamnet_v2_teacher" if teacher else "dualcamnet_v2")


def dualcamnet_v2(mode: str = CLASSIFIER, num_classes: int = 14, num_frames: int = 12) -> keras.Model:
    """DualCamNet v2 of (B), the acoustic-image classifier.

    Input  acoustic_image (batch, num_frames, 36, 48, 12); (B)'s teacher trains on 1-s
           samples (T = 12); its students see 5-s samples (T = 60).
    Output embedding:  (batch, num_frames, 1024), "full1" of every frame (ReLU).
           classifier: (batch, num_classes); per frame full1 -> dropout 0.5 -> fc 1000 ReLU
                       -> fc classes, averaged over the frames. The original's logits went
                       through slim's default ReLU too (a bug): here they are linear.
    """
    return _dualcamnet_v2(mode, num_classes, num_frames, teacher=False)


def dualcamnet_v2_teacher(mode: str = CLASSIFIER, num_classes: int = 14, num_frames: int = 12) -> keras.Model:
    """The "hybrid" DualCamNet of (B), the distillation teacher: dualcamnet_v2's layers up to
    full1, then the shared head fc 1000 ReLU -> fc classes (N(0, 0.01), no dropout).

    Input and outputs as dualcamnet_v2.
    """
    return _dualcamnet_v2(mode, num_classes, num_frames, teacher=True)
