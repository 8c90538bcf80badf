import itertools
import struct

import h5py
import keras
import numpy as np
import pytest
import tensorflow as tf
from keras.src.legacy.saving import legacy_h5_format

from models.registry import build_model
from models.weights import load_resnet50_imagenet, load_soundnet_t7, torch_conv_kernel

# --- A minimal Torch7 binary writer: the objects soundnet5_final.t7 is made of -------------
# torchfile only reads; the layout below is torch7's File.lua / Tensor.c serialisation,
# little-endian with 8-byte longs, as torchfile reads it.
TYPE_NIL, TYPE_NUMBER, TYPE_STRING, TYPE_TABLE, TYPE_TORCH, TYPE_BOOLEAN = range(6)


class TorchObject:
    def __init__(self, class_name, **fields):
        self.class_name, self.fields = class_name, fields


class T7Writer:
    def __init__(self, stream):
        self.stream, self.index = stream, itertools.count(1)

    def pack(self, fmt, *values):
        self.stream.write(struct.pack("<" + fmt, *values))

    def string(self, text):
        data = text.encode()
        self.pack("i", len(data))
        self.stream.write(data)

    def torch_header(self, class_name):
        self.pack("ii", TYPE_TORCH, next(self.index))
        self.string("V 1")
        self.string(class_name)

    def write(self, value):
        if value is None:
            self.pack("i", TYPE_NIL)
        elif isinstance(value, bool):
            self.pack("ii", TYPE_BOOLEAN, int(value))
        elif isinstance(value, int | float):
            self.pack("id", TYPE_NUMBER, float(value))
        elif isinstance(value, str):
            self.pack("i", TYPE_STRING)
            self.string(value)
        elif isinstance(value, np.ndarray):
            self.tensor(value)
        elif isinstance(value, TorchObject):
            self.torch_header(value.class_name)
            self.write(value.fields)
        else:  # a Lua table; lists are tables keyed 1..n
            table = dict(enumerate(value, start=1)) if isinstance(value, list) else value
            self.pack("iii", TYPE_TABLE, next(self.index), len(table))
            for key, item in table.items():
                self.write(key)
                self.write(item)

    def tensor(self, array):
        array = np.ascontiguousarray(array, dtype=np.float32)
        self.torch_header("torch.FloatTensor")
        strides = [s // array.itemsize for s in array.strides]
        self.pack(f"i{array.ndim}q{array.ndim}qq", array.ndim, *array.shape, *strides, 1)  # 1-based offset
        self.torch_header("torch.FloatStorage")
        self.pack("q", array.size)
        self.stream.write(array.tobytes())


def spatial_convolution(rng, cin, cout, kernel, stride, padding):
    return TorchObject("nn.SpatialConvolution", nInputPlane=cin, nOutputPlane=cout, kW=1, kH=kernel, dW=1,
                       dH=stride, padW=0, padH=padding, weight=rng.standard_normal((cout, cin, kernel, 1)),
                       bias=rng.standard_normal(cout))


def batch_norm(rng, channels):
    return TorchObject("nn.SpatialBatchNormalization", eps=1e-5, momentum=0.1, affine=True,
                       weight=rng.uniform(0.5, 1.5, channels), bias=rng.standard_normal(channels),
                       running_mean=rng.standard_normal(channels), running_var=rng.uniform(0.5, 2, channels))


def soundnet5_t7(path, rng):
    """A file shaped like the public soundnet5_final.t7: conv/BN/ReLU(/pool) x 4, then the
    two conv5 heads (objects, places) side by side in an nn.ConcatTable. Returns the convs and norms."""
    modules, convs, norms = [], [], []
    for cin, cout, kernel, padding, pool in ((1, 32, 64, 32, True), (32, 64, 32, 16, True),
                                             (64, 128, 16, 8, True), (128, 256, 8, 4, False)):
        convs.append(spatial_convolution(rng, cin, cout, kernel, 2, padding))
        norms.append(batch_norm(rng, cout))
        modules += [convs[-1], norms[-1], TorchObject("nn.ReLU", inplace=True)]
        if pool:
            modules.append(TorchObject("nn.SpatialMaxPooling", kW=1, kH=8, dW=1, dH=8))
    heads = [spatial_convolution(rng, 256, classes, 16, 12, 4) for classes in (1000, 401)]
    modules.append(TorchObject("nn.ConcatTable", modules=heads))
    with open(path, "wb") as f:
        T7Writer(f).write(TorchObject("nn.Sequential", modules=modules, train=False))
    return convs, norms


def torch_convolution(x, conv):
    """Torch7's SpatialConvolution along time on (channels, samples): zero padding, then
    out[o, t] = bias[o] + sum_i,k weight[o, i, k, 0] * x[i, t * dH + k]."""
    weight, bias = conv.fields["weight"][..., 0], conv.fields["bias"]
    stride, kernel = conv.fields["dH"], weight.shape[2]
    x = np.pad(x, ((0, 0), (conv.fields["padH"],) * 2))
    steps = (x.shape[1] - kernel) // stride + 1
    windows = np.stack([x[:, t * stride:t * stride + kernel] for t in range(steps)])  # (t, i, k)
    return np.einsum("tik,oik->ot", windows, weight) + bias[:, None]


@pytest.fixture(scope="module")
def soundnet_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("t7") / "soundnet5_final.t7"
    convs, norms = soundnet5_t7(path, np.random.default_rng(0))
    return path, convs, norms


def test_t7_converter_puts_kernels_and_norms_in_conv1_to_4(soundnet_file):
    path, convs, norms = soundnet_file
    model = build_model("soundnet5", mode="embedding", weights=str(path))
    for index, (conv, norm) in enumerate(zip(convs, norms), start=1):
        kernel, bias = model.get_layer(f"conv{index}").get_weights()
        weight = conv.fields["weight"]
        assert kernel.shape == (weight.shape[2], weight.shape[1], weight.shape[0])  # (kH, in, out)
        np.testing.assert_array_equal(kernel[5, :, 3], weight[3, :, 5, 0].astype(np.float32))
        np.testing.assert_array_equal(bias, conv.fields["bias"].astype(np.float32))
        gamma, beta, mean, variance = model.get_layer(f"conv{index}_bn").get_weights()
        for got, field in ((gamma, "weight"), (beta, "bias"), (mean, "running_mean"), (variance, "running_var")):
            np.testing.assert_array_equal(got, norm.fields[field].astype(np.float32))
    # conv5 is (B)'s own 1024-filter layer: the file's 1000/401-way heads must not land there.
    assert model.get_layer("conv5").get_weights()[0].shape == (16, 256, 1024)


@pytest.mark.parametrize("index", [1, 2, 3, 4])
def test_converted_convolutions_compute_what_torch_computes(soundnet_file, index):
    path, convs, _ = soundnet_file
    model = build_model("soundnet5", mode="embedding", num_samples=60_000)
    load_soundnet_t7(model, str(path), [f"conv{i}" for i in range(1, 5)])
    conv = convs[index - 1]
    x = np.random.default_rng(index).standard_normal((conv.fields["nInputPlane"], 300))
    padded = keras.layers.ZeroPadding1D(conv.fields["padH"])(x.T[None].astype("float32"))
    ours = model.get_layer(f"conv{index}")(padded).numpy()[0].T
    np.testing.assert_allclose(ours, torch_convolution(x, conv), rtol=1e-4, atol=1e-3)


def test_torch_kernel_layout_of_flattened_convolutions(soundnet_file):
    # nn.SpatialConvolutionMM keeps its weight as (out, in * kH * kW).
    conv = soundnet_file[1][1]
    flat = TorchObject("nn.SpatialConvolutionMM", **{**conv.fields, "weight": conv.fields["weight"].reshape(64, -1)})

    class Module:  # what torchfile gives: attributes by name
        def __getattr__(self, name):
            return flat.fields[name]

    expected = conv.fields["weight"][..., 0].transpose(2, 1, 0).astype(np.float32)
    np.testing.assert_array_equal(torch_conv_kernel(Module()), expected)


def test_t7_converter_rejects_a_network_of_another_shape(tmp_path):
    rng = np.random.default_rng(1)
    path = tmp_path / "other.t7"
    with open(path, "wb") as f:
        T7Writer(f).write(TorchObject("nn.Sequential", modules=[spatial_convolution(rng, 1, 16, 64, 2, 32),
                                                                batch_norm(rng, 16)]))
    model = build_model("soundnet5", mode="embedding", num_samples=60_000)
    with pytest.raises(ValueError, match="do not fit layer conv1"):
        load_soundnet_t7(model, str(path), ["conv1"])
    with pytest.raises(ValueError, match="need 2 of each"):
        load_soundnet_t7(model, str(path), ["conv1", "conv2"])


@pytest.fixture(scope="module")
def imagenet_file(tmp_path_factory):
    """A Keras ResNet-50 weights file in the legacy HDF5 layout of the published ImageNet
    files (random values, non-trivial batch-norm statistics), and the model that wrote it."""
    reference = keras.applications.ResNet50(include_top=False, weights=None)
    rng = np.random.default_rng(2)
    for layer in reference.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, _, _ = layer.get_weights()
            shape = gamma.shape
            layer.set_weights([gamma, beta, rng.normal(0, 0.1, shape), rng.uniform(0.5, 2, shape)])
    path = tmp_path_factory.mktemp("imagenet") / "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"
    # Keras 3's save_weights writes its own .weights.h5 layout; the published files are in
    # Keras 2's, which only its legacy module still writes.
    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, reference)
    return path, reference


def test_imagenet_resnet50_features_match_keras_on_bgr_frames(imagenet_file):
    path, reference = imagenet_file
    model = build_model("resnet50", mode="embedding", num_frames=2, frame_shape=(64, 64, 3), weights=str(path))
    frames = np.random.default_rng(3).normal(0, 50, (2, 2, 64, 64, 3)).astype("float32")  # RGB, mean-subtracted
    bgr = frames[..., ::-1].reshape(4, 64, 64, 3)
    expected = keras.layers.GlobalAveragePooling2D()(reference(bgr, training=False)).numpy().reshape(2, 2, 2048)
    np.testing.assert_allclose(model(frames, training=False), expected, rtol=1e-4, atol=1e-4)


def test_imagenet_weights_reach_the_nested_video_stream_of_avmodel(imagenet_file):
    path, reference = imagenet_file
    model = build_model("avmodel", video_frames=1, acoustic_frames=2, frame_shape=(32, 32, 3), weights=str(path))
    video_stream = model.get_layer("resnet50")
    for name in ("conv3_block2_2_conv", "conv5_block3_3_bn"):
        for got, expected in zip(video_stream.get_layer(name).get_weights(), reference.get_layer(name).get_weights()):
            np.testing.assert_array_equal(got, expected)
    with pytest.raises(ValueError, match="does not contain a ResNet-50"):
        load_resnet50_imagenet(build_model("resnet18_v1"), str(path))


# --- Weights across sample lengths ---------------------------------------------------------
# A network trained on samples of one length is used on another ((B)'s 1-s teacher teaches
# 5-s students). DualCamNet folds its frames into seconds only above 12 frames, which used
# to shift its TensorFlow checkpoint entries (models.functional).
SLOW = {"resnet50", "temporal_resnet50", "avmodel"}
LENGTHS = {  # name -> builder keywords of a shorter and of a longer sample
    "dualcamnet": ({"num_frames": 12}, {"num_frames": 24}),
    "dualcamnet_v2": ({"num_frames": 12}, {"num_frames": 60}),
    "dualcamnet_v2_teacher": ({"num_frames": 12}, {"num_frames": 24}),
    "hearnet_a": ({"num_frames": 200}, {"num_frames": 301}),
    "hearnet_b": ({"num_frames": 500}, {"num_frames": 700}),
    "soundnet5": ({"num_samples": 60_000}, {"num_samples": 110_250}),
    "resnet18_v1": ({"num_frames": 1, "frame_shape": (64, 96, 3)}, {"num_frames": 2, "frame_shape": (64, 96, 3)}),
    "resnet50": ({"num_frames": 1, "frame_shape": (32, 32, 3)}, {"num_frames": 2, "frame_shape": (32, 32, 3)}),
    "temporal_resnet50": ({"num_frames": 1, "frame_shape": (32, 32, 3)},
                          {"num_frames": 2, "frame_shape": (32, 32, 3)}),
    "avmodel": ({"video_frames": 1, "acoustic_frames": 12, "frame_shape": (32, 32, 3)},
                {"video_frames": 2, "acoustic_frames": 24, "frame_shape": (32, 32, 3)}),
}
DUALCAMNETS = ("dualcamnet", "dualcamnet_v2", "dualcamnet_v2_teacher")


def perturbed(net: keras.Model, seed: int) -> keras.Model:
    """`net` with every variable (biases and batch-norm statistics too) set at random, so
    that a variable a load misses shows."""
    rng = np.random.default_rng(seed)
    for variable in net.weights:
        positive = "variance" in variable.path
        values = rng.uniform(0.5, 2, variable.shape) if positive else rng.normal(0, 0.05, variable.shape)
        variable.assign(values.astype("float32"))
    return net


def save(net: keras.Model, path, fmt: str) -> str:
    if fmt == "checkpoint":
        return tf.train.Checkpoint(model=net).save(str(path / "ckpt"))
    net.save_weights(path / "net.weights.h5")
    return str(path / "net.weights.h5")


def load(net: keras.Model, path: str, fmt: str) -> None:
    """As trainer.checkpoints restores a stage's checkpoint and a run loads an init file."""
    if fmt == "checkpoint":
        tf.train.Checkpoint(model=net).restore(path).assert_existing_objects_matched()
    else:
        net.load_weights(path)


@pytest.mark.parametrize("fmt", ["checkpoint", "weights.h5"])
@pytest.mark.parametrize("longer_first", [False, True], ids=["short_to_long", "long_to_short"])
@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in LENGTHS])
def test_weights_restore_into_a_build_for_another_length(name, longer_first, fmt, tmp_path):
    kwargs = LENGTHS[name][::-1] if longer_first else LENGTHS[name]
    saved = perturbed(build_model(name, mode="embedding", **kwargs[0]), seed=1)
    restored = build_model(name, mode="embedding", **kwargs[1])
    load(restored, save(saved, tmp_path, fmt), fmt)
    assert [w.path for w in restored.weights] == [w.path for w in saved.weights]
    for got, expected in zip(restored.weights, saved.weights):
        np.testing.assert_array_equal(got.numpy(), expected.numpy(), err_msg=got.path)


def in_clips(net: keras.Model, x: np.ndarray) -> np.ndarray:
    """The per-frame outputs of `net` on the frames x (batch, T, ...), cut into clips of its length."""
    clips = net(x.reshape(-1, net.input.shape[1], *x.shape[2:]), training=False).numpy()
    return clips.reshape(x.shape[0], x.shape[1], *clips.shape[2:])


@pytest.mark.parametrize(("saved_frames", "restored_frames"), [(12, 24), (24, 12), (12, 60), (60, 24)])
@pytest.mark.parametrize("name", DUALCAMNETS)
def test_a_checkpoint_of_another_length_gives_the_same_per_frame_outputs(name, saved_frames, restored_frames,
                                                                          tmp_path):
    saved = perturbed(build_model(name, mode="embedding", num_frames=saved_frames), seed=2)
    restored = build_model(name, mode="embedding", num_frames=restored_frames)
    load(restored, save(saved, tmp_path, "checkpoint"), "checkpoint")
    # Every second goes through the network on its own, however many a sample holds.
    x = np.random.default_rng(3).standard_normal((2, 120, 36, 48, 12)).astype("float32")
    np.testing.assert_allclose(in_clips(restored, x), in_clips(saved, x), rtol=1e-5, atol=1e-5)


def test_checkpoints_name_the_layers(tmp_path):
    net = build_model("dualcamnet", mode="embedding", num_frames=24)
    keys = {key for key, _ in tf.train.list_variables(save(net, tmp_path, "checkpoint"))}
    assert "model/layer-conv1/_kernel/.ATTRIBUTES/VARIABLE_VALUE" in keys
    assert not any("_operations" in key for key in keys)


# Files written before networks named their layers in checkpoints: a plain functional model
# of the same layers writes them as it did, by position; a weightless layer before conv1
# (DualCamNet's folding into seconds, above 12 frames) moved everything by two.
OLD_CONV1_POSITION = {12: 1, 24: 3, 60: 3}


@pytest.mark.parametrize("fmt", ["checkpoint", "weights.h5"])
@pytest.mark.parametrize(("name", "num_frames"), [(name, frames) for name in DUALCAMNETS for frames in (12, 24)]
                         + [("dualcamnet_v2", 60)])
def test_files_written_before_load_into_builds_of_their_length(name, num_frames, fmt, tmp_path):
    written = perturbed(build_model(name, num_frames=num_frames), seed=6)
    path = save(keras.Model(written.inputs, written.outputs), tmp_path, fmt)
    if fmt == "checkpoint":
        conv1 = f"model/_operations/{OLD_CONV1_POSITION[num_frames]}/_kernel/.ATTRIBUTES/VARIABLE_VALUE"
        assert dict(tf.train.list_variables(path))[conv1] == [7, 1, 1, 12, 12]
    keras.utils.set_random_seed(7)
    net = build_model(name, num_frames=num_frames)
    load(net, path, fmt)
    x = np.random.default_rng(8).standard_normal((2, num_frames, 36, 48, 12)).astype("float32")
    np.testing.assert_array_equal(net(x, training=False), written(x, training=False))
