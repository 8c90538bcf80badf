"""ResNets on video frames: ResNet18_v1 of (A), ResNet-50 and TemporalResNet50 of (B).

Input: video frames float32 (batch, T, H, W, 3), RGB with the means [123.68, 116.78, 103.94]
subtracted. The frames are folded into the batch; only TemporalResNet50 mixes them before
the end. Classifier outputs are per-frame logits averaged over the T frames.

ResNet-50 mirrors keras.applications.ResNet50 layer for layer and name for name (stride on
the first 1x1 convolution of a stage, biases on every convolution), so that a Keras ImageNet
weights file loads into it (models.weights.load_resnet50_imagenet).
"""
from __future__ import annotations

import keras
from keras import layers

from dataloader.config import VIDEO_FRAMES
from models.functional import Functional
from models.layers import (
    CLASSIFIER,
    EMBEDDING,
    FoldFrames,
    TemporalIdentity,
    UnfoldFrames,
    check_mode,
    mean_over_frames,
    output,
    weight_decay,
)
from models.weights import load_resnet50_imagenet

WEIGHT_DECAY = 5e-4  # both originals' resnet_arg_scope(weight_decay=5e-4)
BATCH_NORM_MOMENTUM = 0.997
BATCH_NORM_EPSILON = 1.001e-5  # Keras' ResNet-50, whose ImageNet statistics assume it
STEM = 64  # conv 7x7/2, then max-pool 3x3/2

# Residual branches: (width multiple of the stage's filters, kernel) per convolution. The
# stride of a stage's first unit is on the branch's first convolution and on the shortcut.
BASIC = ((1, 3), (1, 3))
BOTTLENECK = ((1, 1), (1, 3), (4, 1))

# Stages, top to bottom: (filters, units, stride of the first unit); named conv2 .. conv5.
RESNET18_V1_STAGES = ((64, 2, 1), (128, 2, 2), (256, 2, 2))  # (A) stops after three stages
RESNET50_STAGES = ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2))

MAP_CHANNELS, MAP_KERNEL = 128, (3, 4)  # (A)'s conv_map: 14x19 -> 12x16, the acoustic grid
TEMPORAL_KERNEL = 3
TEMPORAL_UNIT = 2  # (B) put one temporal convolution in the second unit of every stage


def _conv_bn(x, filters, kernel, stride, name, use_bias, relu=True, padding="same"):
    x = layers.Conv2D(filters, kernel, strides=stride, padding=padding, use_bias=use_bias,
                      kernel_initializer="he_normal", kernel_regularizer=weight_decay(WEIGHT_DECAY),
                      name=f"{name}_conv")(x)
    x = layers.BatchNormalization(momentum=BATCH_NORM_MOMENTUM, epsilon=BATCH_NORM_EPSILON, name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x) if relu else x


def _temporal_conv(x, num_frames, name):
    """3x1x1 convolution over the frames, identity at initialisation; ReLU as slim's conv3d,
    which is a no-op at initialisation too, since its input comes out of a ReLU."""
    x = UnfoldFrames(num_frames, name=f"{name}_unfold")(x)
    x = layers.Conv3D(x.shape[-1], (TEMPORAL_KERNEL, 1, 1), padding="same", activation="relu",
                      kernel_initializer=TemporalIdentity(), name=f"{name}_conv")(x)
    return FoldFrames(name=f"{name}_fold")(x)


def _residual_unit(x, filters, branch, stride, name, use_bias, temporal_frames=None):
    """One residual unit. With temporal_frames, (B)'s temporal convolution follows the
    branch's second convolution (the 3x3 of a bottleneck)."""
    width = branch[-1][0] * filters
    shortcut = x
    if x.shape[-1] != width or stride != 1:
        shortcut = _conv_bn(x, width, 1, stride, f"{name}_0", use_bias, relu=False)
    for index, (multiple, kernel) in enumerate(branch, start=1):
        last = index == len(branch)
        x = _conv_bn(x, multiple * filters, kernel, stride if index == 1 else 1, f"{name}_{index}", use_bias,
                     relu=not last)
        if index == 2 and temporal_frames:
            x = _temporal_conv(x, temporal_frames, f"{name}_temporal")
    x = layers.Add(name=f"{name}_add")([shortcut, x])
    return layers.ReLU(name=f"{name}_out")(x)


def _trunk(frames, stages, branch, use_bias, temporal_frames=None):
    x = layers.ZeroPadding2D(3, name="conv1_pad")(frames)
    x = _conv_bn(x, STEM, 7, 2, "conv1", use_bias, padding="valid")
    x = layers.ZeroPadding2D(1, name="pool1_pad")(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)
    for stage, (filters, units, stride) in enumerate(stages, start=2):
        for unit in range(1, units + 1):
            x = _residual_unit(x, filters, branch, stride if unit == 1 else 1, f"conv{stage}_block{unit}", use_bias,
                               temporal_frames if unit == TEMPORAL_UNIT else None)
    return x


def _frame_logits(x, num_classes):
    return layers.Dense(num_classes, kernel_initializer="he_normal", kernel_regularizer=weight_decay(WEIGHT_DECAY),
                        name="frame_logits")(x)


def resnet18_v1(mode: str = CLASSIFIER, num_classes: int = 10, num_frames: int = 2,
                frame_shape: tuple[int, int, int] = (224, 298, 3)) -> keras.Model:
    """ResNet18_v1 of (A), trained from scratch: three stages of two basic units, then
    conv_map 3x4 VALID 128 + BN + ReLU. He-normal initialisation, L2 5e-4.

    Input  video (batch, num_frames, 224, 298, 3); (A) picks 1 frame per second of a 2-s sample.
    Output embedding:  (batch, num_frames, 12, 16, 128), the conv_map of every frame, on the
                       same 12x16 grid as dualcamnet's acoustic map.
           classifier: (batch, num_classes): per frame the map's global mean -> dense, the
                       logits averaged over the frames.
    """
    check_mode(mode)
    inputs = keras.Input((num_frames, *frame_shape), name=VIDEO_FRAMES)
    x = FoldFrames(name="fold")(inputs)
    x = _trunk(x, RESNET18_V1_STAGES, BASIC, use_bias=False)
    x = _conv_bn(x, MAP_CHANNELS, MAP_KERNEL, 1, "conv_map", use_bias=False, padding="valid")
    if mode == EMBEDDING:
        x = UnfoldFrames(num_frames, name="unfold")(x)
    else:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        x = UnfoldFrames(num_frames, name="unfold")(x)
        x = mean_over_frames(_frame_logits(x, num_classes))
    return Functional(inputs, output(x, mode), name="resnet18_v1")


def _resnet50(mode, num_classes, num_frames, frame_shape, weights, train_backbone, temporal):
    check_mode(mode)
    inputs = keras.Input((num_frames, *frame_shape), name=VIDEO_FRAMES)
    x = FoldFrames(name="fold")(inputs)
    x = _trunk(x, RESNET50_STAGES, BOTTLENECK, use_bias=True, temporal_frames=num_frames if temporal else None)
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    x = UnfoldFrames(num_frames, name="unfold")(x)
    if mode == CLASSIFIER:
        x = mean_over_frames(_frame_logits(x, num_classes))
    model = Functional(inputs, output(x, mode), name="temporal_resnet50" if temporal else "resnet50")
    if weights is not None:
        load_resnet50_imagenet(model, weights)
    if not train_backbone:
        for layer in model.layers:
            layer.trainable = layer.name == "frame_logits" or "_temporal_" in layer.name
    return model


def resnet50(mode: str = CLASSIFIER, num_classes: int = 14, num_frames: int = 5,
             frame_shape: tuple[int, int, int] = (224, 224, 3), weights: str | None = None,
             train_backbone: bool = False) -> keras.Model:
    """ResNet-50 of (B): ImageNet-pretrained, and by default only the logits train (frozen
    batch norms run on their ImageNet statistics).

    Input  video (batch, num_frames, 224, 224, 3); (B) picks 1 frame per second of a 5-s sample.
    Output embedding:  (batch, num_frames, 2048), every frame's globally pooled features.
           classifier: (batch, num_classes): per-frame logits averaged over the frames.
    weights: a local Keras ImageNet ResNet-50 file (.h5, with or without top); None leaves
             the random He-normal initialisation.
    """
    return _resnet50(mode, num_classes, num_frames, frame_shape, weights, train_backbone, temporal=False)


def temporal_resnet50(mode: str = CLASSIFIER, num_classes: int = 14, num_frames: int = 5,
                      frame_shape: tuple[int, int, int] = (224, 224, 3), weights: str | None = None,
                      train_backbone: bool = False) -> keras.Model:
    """TemporalResNet50 of (B): resnet50 with a 3x1x1 convolution over the frames in the
    second unit of every stage (after its 3x3), identity-initialised, so that at
    initialisation it computes resnet50's features frame by frame. The temporal
    convolutions train with the logits (the original trained only the logits, so its
    temporal convolutions stayed the identity).

    Input and outputs as resnet50.
    """
    return _resnet50(mode, num_classes, num_frames, frame_shape, weights, train_backbone, temporal=True)
