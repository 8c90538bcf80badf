"""Pretrained weights, from local files only: nothing is downloaded at run time.

- ResNet-50: a Keras ImageNet weights file (`resnet50_weights_tf_dim_ordering_tf_kernels
  [_notop].h5`), read through keras.applications.ResNet50(weights=path) and copied by layer
  name into our ResNet-50 layers, wherever they sit (resnet50, temporal_resnet50, avmodel).
- SoundNet: the public Torch7 `soundnet5_final.t7` (an nn.Sequential), read with torchfile;
  its first convolutions and batch norms go into SoundNet5's conv1-4.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence

import h5py
import keras
import numpy as np
import torchfile

TORCH_CONVOLUTIONS = {"SpatialConvolution", "SpatialConvolutionMM"}
TORCH_BATCH_NORMS = {"SpatialBatchNormalization"}


def _all_layers(model: keras.Model) -> Iterator[keras.layers.Layer]:
    for layer in model.layers:
        yield layer
        if isinstance(layer, keras.Model):
            yield from _all_layers(layer)


def load_resnet50_imagenet(model: keras.Model, path: str) -> None:
    """Copy a Keras ImageNet ResNet-50 weights file into the layers of `model` that carry
    keras.applications.ResNet50's names (the classifier "predictions" is not copied).

    The Keras file was converted from Caffe and expects BGR input; our frames are RGB, so
    conv1's kernel is flipped along its input channels. Means are the same numbers either way.
    """
    with h5py.File(path, "r") as f:
        has_top = "predictions" in f
    reference = keras.applications.ResNet50(include_top=has_top, weights=path)
    targets = {layer.name: layer for layer in _all_layers(model)}
    for layer in reference.layers:
        if not layer.weights or layer.name == "predictions":
            continue
        values = layer.get_weights()
        target = targets.get(layer.name)
        shapes = [tuple(v.shape) for v in values]
        if target is None or [tuple(w.shape) for w in target.weights] != shapes:
            raise ValueError(f"{model.name} has no layer {layer.name!r} with weights {shapes}: it does not contain "
                             "a ResNet-50")
        if layer.name == "conv1_conv":
            values[0] = values[0][:, :, ::-1, :]
        target.set_weights(values)


def _torch_class(module) -> str:
    return module.torch_typename().decode().rsplit(".", 1)[-1]


def torch_conv_kernel(module) -> np.ndarray:
    """A Torch SpatialConvolution over time (kW = 1) as a Conv1D kernel (kH, in, out).

    Torch stores (nOutputPlane, nInputPlane, kH, kW) (SpatialConvolutionMM: flattened to
    (nOutputPlane, nInputPlane * kH * kW)); both correlate like Keras, so no flip is needed.
    """
    weight = np.asarray(module.weight, dtype=np.float32)
    weight = weight.reshape(module.nOutputPlane, module.nInputPlane, module.kH, module.kW)
    if module.kW != 1:
        raise ValueError(f"expected a convolution along time only (kW = 1), got kW = {module.kW}")
    return weight[:, :, :, 0].transpose(2, 1, 0)


def load_soundnet_t7(model: keras.Model, path: str, layer_names: Sequence[str]) -> None:
    """Copy the first len(layer_names) convolutions of a SoundNet Torch7 file, and the batch
    norm that follows each, into the Conv1D `name` and BatchNormalization `name_bn` layers.

    Modules are matched in order of appearance in the top-level nn.Sequential, so the
    converter does not depend on the file's exact module indices.
    """
    net = torchfile.load(path)
    modules = net.modules or []
    convolutions = [m for m in modules if _torch_class(m) in TORCH_CONVOLUTIONS]
    norms = [m for m in modules if _torch_class(m) in TORCH_BATCH_NORMS]
    if min(len(convolutions), len(norms)) < len(layer_names):
        raise ValueError(f"{path}: found {len(convolutions)} convolutions and {len(norms)} batch norms at the top "
                         f"level, need {len(layer_names)} of each")
    for name, conv, norm in zip(layer_names, convolutions, norms):
        if norm.running_var is None:
            raise ValueError(f"{path}: the batch norm after {name} has no running_var (saved by a Torch older "
                             "than 2016?)")
        values = {
            name: [torch_conv_kernel(conv), conv.bias],
            f"{name}_bn": [norm.weight, norm.bias, norm.running_mean, norm.running_var],
        }
        for layer_name, arrays in values.items():
            layer = model.get_layer(layer_name)
            expected = [tuple(w.shape) for w in layer.weights]
            got = [tuple(np.shape(a)) for a in arrays]
            if got != expected:
                raise ValueError(f"{path}: shapes {got} do not fit layer {layer_name} {expected}")
            layer.set_weights([np.asarray(a, dtype=np.float32) for a in arrays])
