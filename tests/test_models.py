import functools

import keras
import numpy as np
import pytest

from models.layers import CLASSIFIER, EMBEDDING
from models.registry import MODELS, build_model

BIG = {"resnet50", "temporal_resnet50", "avmodel"}
SLOW_TO_COMPILE = BIG | {"resnet18_v1"}  # XLA takes over 30 s on two cores
# Inputs small enough to train on two CPU cores in seconds, for the tests that train or save.
SMALL = {
    "dualcamnet": {"num_frames": 8},
    "dualcamnet_v2": {"num_frames": 4},
    "dualcamnet_v2_teacher": {"num_frames": 4},
    "hearnet_a": {},
    "hearnet_b": {},
    "soundnet5": {"num_samples": 60_000},
    "resnet18_v1": {"num_frames": 2, "frame_shape": (64, 96, 3)},
    "resnet50": {"num_frames": 2, "frame_shape": (64, 64, 3)},
    "temporal_resnet50": {"num_frames": 2, "frame_shape": (64, 64, 3)},
    "avmodel": {"video_frames": 2, "acoustic_frames": 4, "frame_shape": (64, 64, 3)},
    "sync_video": {}, "sync_crop": {}, "sync_acoustic_image": {}, "sync_audio": {},  # windows are small
    "content_identity_video": {"num_frames": 4, "frame_shape": (24, 32, 3)},
    "content_identity_audio": {"num_samples": 4 * 1024},
    "caption_crnn": {"num_samples": 4 * 1024}, "caption_acoustic_image": {"num_frames": 4},
}
EMBEDDING_SHAPES = {  # at the papers' sizes, without the batch axis
    "dualcamnet": (24, 12, 16, 128),
    "dualcamnet_v2": (12, 1024),
    "dualcamnet_v2_teacher": (12, 1024),
    "hearnet_a": (128,),
    "hearnet_b": (128,),
    "soundnet5": (1024,),
    "resnet18_v1": (2, 12, 16, 128),
    "resnet50": (5, 2048),
    "temporal_resnet50": (5, 2048),
    "avmodel": (5, 3072),
    "sync_video": (64,), "sync_crop": (64,), "sync_acoustic_image": (64,), "sync_audio": (64,),
    "content_identity_video": (12, 2, 128), "content_identity_audio": (12, 2, 128),  # [content, identity] per step
    "caption_crnn": (192, 300), "caption_acoustic_image": (48, 300),  # unit frames (and the cells' attention, features)
}
# (A)'s and the sync streams' default to ACIVW's 10 classes; the rest are (B)'s, 14.
PAPER_CLASSES = {"dualcamnet": 10, "hearnet_a": 10, "resnet18_v1": 10, "sync_video": 10, "sync_crop": 10,
                 "sync_acoustic_image": 10, "sync_audio": 10,
                 "content_identity_video": 9, "content_identity_audio": 9,  # AVIA's subjects
                 "caption_crnn": 10, "caption_acoustic_image": 10}


def slow_if_in(slow, names=MODELS):
    return [pytest.param(n, marks=pytest.mark.slow) if n in slow else n for n in names]


@functools.cache
def paper_model(name, mode):
    """Built once for the tests that only read it: the big ones take seconds to build."""
    return build_model(name, mode=mode)


def frames_of(outputs):
    """A network's output, or its frames where it gives a dict (the acoustic-image caption encoder)."""
    return outputs["frames"] if isinstance(outputs, dict) else outputs


def random_inputs(model, batch, seed=0):
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal((batch, *i.shape[1:])).astype("float32") for i in model.inputs]
    return arrays if len(arrays) > 1 else arrays[0]


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(ValueError, match="known models: avmodel, caption_acoustic_image, caption_crnn, "
                       "content_identity_audio, content_identity_video, dualcamnet, dualcamnet_v2") as error:
        build_model("resnet_18")
    assert all(name in str(error.value) for name in MODELS)
    assert set(MODELS) == set(SMALL) == set(EMBEDDING_SHAPES)
    assert set(EXPECTED_PARAMETERS) == {(name, mode) for name in MODELS for mode in (EMBEDDING, CLASSIFIER)}


@pytest.mark.parametrize("mode", [EMBEDDING, CLASSIFIER])
@pytest.mark.parametrize("name", MODELS)
def test_output_shapes_at_the_papers_sizes(name, mode):
    model = paper_model(name, mode)
    assert [(i.name, tuple(i.shape[1:])) for i in model.inputs] == list(MODELS[name].default_shapes.items())
    outputs = frames_of(model(random_inputs(model, batch=1), training=False))
    expected = EMBEDDING_SHAPES[name] if mode == EMBEDDING else (PAPER_CLASSES.get(name, 14),)
    assert tuple(outputs.shape) == (1, *expected)
    assert outputs.dtype == "float32"
    assert np.all(np.isfinite(outputs))


def test_audio_and_video_maps_share_the_acoustic_grid():
    # (A)'s objective multiplies the two maps cell by cell: they must have one grid.
    audio = build_model("dualcamnet", mode=EMBEDDING, num_frames=24)
    video = build_model("resnet18_v1", mode=EMBEDDING, num_frames=2)
    assert audio.output.shape[2:] == video.output.shape[2:] == (12, 16, 128)


def test_other_input_lengths():
    assert build_model("hearnet_b", num_classes=3, num_frames=700).output.shape == (None, 3)
    with pytest.raises(ValueError, match="56,798"):
        build_model("soundnet5", num_samples=44_100)


# Parameter counts worked out from the architectures in SPEC.md, layer by layer.
def conv(kernel, cin, cout, bias=True):
    return int(np.prod(kernel)) * cin * cout + (cout if bias else 0)


def dense(cin, cout):
    return cin * cout + cout


def bn(channels):
    return 4 * channels  # gamma, beta, moving mean, moving variance


def basic_unit(cin, filters, stride):
    shortcut = conv(1, cin, filters, bias=False) + bn(filters) if cin != filters or stride != 1 else 0
    first = conv((3, 3), cin, filters, bias=False) + bn(filters)
    return first + conv((3, 3), filters, filters, bias=False) + bn(filters) + shortcut


def bottleneck_unit(cin, filters, first):
    shortcut = conv(1, cin, 4 * filters) + bn(4 * filters) if first else 0
    return (conv(1, cin, filters) + bn(filters) + conv((3, 3), filters, filters) + bn(filters)
            + conv(1, filters, 4 * filters) + bn(4 * filters) + shortcut)


def resnet50_features():
    total, cin = conv((7, 7), 3, 64) + bn(64), 64
    for filters, units in ((64, 3), (128, 4), (256, 6), (512, 3)):
        for unit in range(units):
            total += bottleneck_unit(cin, filters, first=unit == 0)
            cin = 4 * filters
    return total


def resnet18_map():
    total, cin = conv((7, 7), 3, 64, bias=False) + bn(64), 64
    for filters, stride in ((64, 1), (128, 2), (256, 2)):
        total += basic_unit(cin, filters, stride) + basic_unit(filters, filters, 1)
        cin = filters
    return total + conv((3, 4), 256, 128, bias=False) + bn(128)


TEMPORAL = sum(conv((3, 1, 1), f, f) for f in (64, 128, 256, 512))
DUALCAMNET_MAP = conv((7, 1, 1), 12, 12) + conv((5, 5), 12, 32) + conv((5, 5), 32, 128)
DUALCAMNET_V2_FULL1 = conv((7, 1, 1), 12, 12) + conv((5, 5), 12, 32) + conv((5, 5), 32, 64) + conv((9, 12), 64, 1024)
HEARNET_CONVS = conv(11, 257, 128) + conv(5, 128, 256) + conv(3, 256, 256) + conv(1, 1024, 1024)
HEARNET_EMBEDDING = dense(1024, 1000) + dense(1000, 128)
SOUNDNET_CONV6 = sum(conv(k, cin, cout) + bn(cout) for k, cin, cout in
                     ((64, 1, 32), (32, 32, 64), (16, 64, 128), (8, 128, 256), (16, 256, 1024))) + conv(1, 1024, 1024)
HEAD_B = dense(1000, 14)


def sync_stream(kernel, cin, flat):
    """UltraSync's stream: three conv blocks with batch norm, fc 64 and fc 64 with batch norm."""
    convs = sum(conv(kernel, a, b) + bn(b) for a, b in ((cin, 32), (32, 64), (64, 128)))
    return convs + dense(flat, 64) + bn(64) + dense(64, 64) + bn(64)


# Visual inputs: 5 frames and 4 differences as channels; 5 x 5 unpadded convs, each then pooled by 2.
SYNC_STREAMS = {
    "sync_video": sync_stream((5, 5), 9 * 3, 5 * 8 * 128),  # 72 x 96 -> 5 x 8
    "sync_crop": sync_stream((5, 5), 9 * 3, 4 * 4 * 128),  # 64 x 64 -> 4 x 4
    "sync_acoustic_image": sync_stream((5, 5), 9 * 12, 1 * 2 * 128),  # 36 x 48 -> 1 x 2
    "sync_audio": sync_stream((3, 3), 1, 2 * 1 * 128),  # 20 x 13 MFCCs, padded -> 2 x 1
}
# The content and identity trunks: each conv and fc with its batch norm; a head is fc 256, batch norm, fc 128.
CONTENT_IDENTITY_HEAD = dense(256, 256) + bn(256) + dense(256, 128)
CONTENT_IDENTITY_TRUNKS = {
    # log-mel 96 x 40: 3 x 3 convs of 32, 64, 128, 256 (bands pooled to 5), then 1 x 5 of 256
    "content_identity_audio": sum(conv((3, 3), a, b) + bn(b) for a, b in ((1, 32), (32, 64), (64, 128), (128, 256)))
    + conv((1, 5), 256, 256) + bn(256),
    # 24 x 72 x 96 x 3: 3 x 5 x 5 of 32, 3 x 3 x 3 of 64 and 128 (pixels pooled to 4 x 6), then 1 x 4 x 6 of 256
    "content_identity_video": conv((3, 5, 5), 3, 32) + bn(32) + conv((3, 3, 3), 32, 64) + bn(64)
    + conv((3, 3, 3), 64, 128) + bn(128) + conv((1, 4, 6), 128, 256) + bn(256),
}
# (C)'s CRNN: a batch norm and a 3 x 3 conv without bias per block (32, then 128 x 4), a BiGRU of 150 on the
# 128 features a step (reset_after: 3 gates of input, recurrent kernels and two biases, each way).
CAPTION_CRNN = (bn(1) + conv((3, 3), 1, 32, bias=False) + bn(32) + conv((3, 3), 32, 128, bias=False)
                + 3 * (bn(128) + conv((3, 3), 128, 128, bias=False)) + 2 * 3 * (128 * 150 + 150 * 150 + 2 * 150))
# The acoustic-image encoder: each conv without bias and with its batch norm; the attention score and the embedding.
CAPTION_ACOUSTIC_IMAGE = (conv((3, 3), 12, 32, bias=False) + bn(32) + conv((3, 3), 32, 64, bias=False) + bn(64)
                          + 2 * (conv((5, 1, 1), 64, 64, bias=False) + bn(64)) + conv(1, 64, 128, bias=False) + bn(128)
                          + dense(128, 1) + dense(128, 300))
EXPECTED_PARAMETERS = {
    ("dualcamnet", EMBEDDING): DUALCAMNET_MAP,
    ("dualcamnet", CLASSIFIER): DUALCAMNET_MAP + dense(128, 10),
    ("dualcamnet_v2", EMBEDDING): DUALCAMNET_V2_FULL1,
    ("dualcamnet_v2", CLASSIFIER): DUALCAMNET_V2_FULL1 + dense(1024, 1000) + HEAD_B,
    ("dualcamnet_v2_teacher", EMBEDDING): DUALCAMNET_V2_FULL1,
    ("dualcamnet_v2_teacher", CLASSIFIER): DUALCAMNET_V2_FULL1 + dense(1024, 1000) + HEAD_B,
    ("hearnet_a", EMBEDDING): HEARNET_CONVS + conv(1, 256, 1024) + HEARNET_EMBEDDING,
    ("hearnet_a", CLASSIFIER): HEARNET_CONVS + conv(1, 256, 1024) + HEARNET_EMBEDDING + dense(128, 10),
    ("hearnet_b", EMBEDDING): HEARNET_CONVS + conv(4, 256, 1024) + HEARNET_EMBEDDING,
    ("hearnet_b", CLASSIFIER): HEARNET_CONVS + conv(4, 256, 1024) + dense(1024, 1000) + HEAD_B,
    ("soundnet5", EMBEDDING): SOUNDNET_CONV6,
    ("soundnet5", CLASSIFIER): SOUNDNET_CONV6 + dense(1024, 1000) + HEAD_B,
    ("resnet18_v1", EMBEDDING): resnet18_map(),
    ("resnet18_v1", CLASSIFIER): resnet18_map() + dense(128, 10),
    ("resnet50", EMBEDDING): resnet50_features(),
    ("resnet50", CLASSIFIER): resnet50_features() + dense(2048, 14),
    ("temporal_resnet50", EMBEDDING): resnet50_features() + TEMPORAL,
    ("temporal_resnet50", CLASSIFIER): resnet50_features() + TEMPORAL + dense(2048, 14),
    ("avmodel", EMBEDDING): resnet50_features() + DUALCAMNET_V2_FULL1,
    ("avmodel", CLASSIFIER): resnet50_features() + DUALCAMNET_V2_FULL1 + dense(3072, 1000) + HEAD_B,
    **{(name, EMBEDDING): stream for name, stream in SYNC_STREAMS.items()},
    **{(name, CLASSIFIER): stream + dense(64, 10) for name, stream in SYNC_STREAMS.items()},
    **{(name, EMBEDDING): trunk + 2 * CONTENT_IDENTITY_HEAD for name, trunk in CONTENT_IDENTITY_TRUNKS.items()},
    **{(name, CLASSIFIER): trunk + CONTENT_IDENTITY_HEAD + dense(128, 9)
       for name, trunk in CONTENT_IDENTITY_TRUNKS.items()},
    ("caption_crnn", EMBEDDING): CAPTION_CRNN, ("caption_crnn", CLASSIFIER): CAPTION_CRNN + dense(300, 10),
    ("caption_acoustic_image", EMBEDDING): CAPTION_ACOUSTIC_IMAGE,
    ("caption_acoustic_image", CLASSIFIER): CAPTION_ACOUSTIC_IMAGE + dense(300, 10),
}


def test_hand_counts_agree_with_published_resnet50():
    assert resnet50_features() == 23_587_712  # keras.applications.ResNet50(include_top=False)


@pytest.mark.parametrize(("name", "mode"), EXPECTED_PARAMETERS)
def test_parameter_counts(name, mode):
    assert paper_model(name, mode).count_params() == EXPECTED_PARAMETERS[name, mode]


def test_only_logits_and_temporal_convolutions_train_on_the_pretrained_backbone():
    resnet = build_model("resnet50", num_frames=2, frame_shape=(64, 64, 3))
    assert sum(int(np.prod(w.shape)) for w in resnet.trainable_weights) == dense(2048, 14)
    temporal = build_model("temporal_resnet50", num_frames=2, frame_shape=(64, 64, 3))
    assert sum(int(np.prod(w.shape)) for w in temporal.trainable_weights) == dense(2048, 14) + TEMPORAL


def test_initialisation_and_weight_decay_as_the_originals():
    dualcam = build_model("dualcamnet")
    kernel = dualcam.get_layer("conv3").kernel.numpy()
    # Truncated at two standard deviations, as tf.truncated_normal_initializer(0, 0.01).
    assert 0.0085 < kernel.std() < 0.0092 and np.abs(kernel).max() <= 0.02
    assert not np.any(dualcam.get_layer("conv3").bias.numpy())

    hearnet = build_model("hearnet_a")
    kernels = [hearnet.get_layer(f"conv{i}").kernel.numpy() for i in range(1, 6)]
    # slim's l2_regularizer(5e-4) adds 5e-4 * tf.nn.l2_loss(w) = 5e-4 * sum(w^2) / 2 per conv.
    expected = sorted(5e-4 * np.sum(k.astype(np.float64) ** 2) / 2 for k in kernels)
    np.testing.assert_allclose(sorted(float(loss) for loss in hearnet.losses), expected, rtol=1e-5)


def test_dualcamnet_mixes_time_only_in_its_first_layer_and_within_a_second():
    model = build_model("dualcamnet", mode=EMBEDDING, num_frames=24)
    x = np.random.default_rng(1).standard_normal((1, 24, 36, 48, 12)).astype("float32")
    for frame, reached in ((5, range(2, 9)), (10, range(7, 12)), (13, range(12, 17))):
        changed = x.copy()
        changed[0, frame] += 1.0
        difference = np.abs(model(changed) - model(x)).max(axis=(0, 2, 3, 4))
        # The 7x1x1 convolution reaches 3 frames either side, but not into the next second; the 2-D layers
        # no further.
        assert np.flatnonzero(difference).tolist() == list(reached)
    with pytest.raises(ValueError, match="not whole seconds"):
        build_model("dualcamnet", mode=EMBEDDING, num_frames=16)


def test_a_teacher_of_one_second_sees_five_seconds_as_five_one_second_clips():
    short = build_model("dualcamnet_v2_teacher", num_frames=12)
    long = build_model("dualcamnet_v2_teacher", num_frames=60)
    long.set_weights(short.get_weights())
    x = np.random.default_rng(3).standard_normal((2, 60, 36, 48, 12)).astype("float32")
    seconds = short(x.reshape(10, 12, 36, 48, 12)).numpy().reshape(2, 5, -1).mean(axis=1)
    np.testing.assert_allclose(long(x), seconds, rtol=1e-4, atol=1e-5)


def test_dualcamnet_logits_are_the_frame_mean_of_dense_on_the_summed_map():
    model = build_model("dualcamnet", num_frames=6)
    x = np.random.default_rng(2).standard_normal((2, 6, 36, 48, 12)).astype("float32")
    conv_map = keras.Model(model.input, model.get_layer("conv3").output)(x).numpy()  # (12, 12, 16, 128)
    weights, bias = model.get_layer("full1").get_weights()
    per_frame = conv_map.sum(axis=(1, 2)) @ weights + bias
    np.testing.assert_allclose(model(x), per_frame.reshape(2, 6, 10).mean(axis=1), rtol=1e-4, atol=1e-6)


def test_resnet50_treats_frames_independently():
    model = build_model("resnet50", mode=EMBEDDING, num_frames=3, frame_shape=(64, 64, 3))
    x = random_inputs(model, batch=1)
    changed = x.copy()
    changed[0, 1] += 1.0
    difference = np.abs(model(changed) - model(x)).max(axis=(0, 2))
    assert difference[1] > 0 and difference[0] == difference[2] == 0


def test_temporal_resnet50_starts_as_resnet50_frame_by_frame():
    kwargs = {"mode": EMBEDDING, "num_frames": 3, "frame_shape": (64, 64, 3)}
    resnet, temporal = build_model("resnet50", **kwargs), build_model("temporal_resnet50", **kwargs)
    rng = np.random.default_rng(3)
    for layer in resnet.layers:
        if isinstance(layer, keras.layers.BatchNormalization):  # statistics other than the 0/1 defaults
            gamma, beta, mean, variance = layer.get_weights()
            layer.set_weights([gamma, beta, rng.normal(0, 0.1, mean.shape), rng.uniform(0.5, 2, variance.shape)])
        if layer.weights:
            temporal.get_layer(layer.name).set_weights(layer.get_weights())
    x = random_inputs(resnet, batch=2)
    reference = resnet(x, training=False).numpy()
    np.testing.assert_allclose(temporal(x, training=False), reference, rtol=1e-5, atol=1e-5)

    # A trained temporal kernel mixes neighbouring frames: the frames really are wired in time.
    layer = temporal.get_layer("conv5_block2_temporal_conv")
    kernel, bias = layer.get_weights()
    kernel[0] = 0.5 * kernel[1]
    layer.set_weights([kernel, bias])
    changed = x.copy()
    changed[:, 0] += 1.0
    moved = np.abs(temporal(changed, training=False) - temporal(x, training=False)).max(axis=(0, 2))
    assert moved[1] > 0 and moved[2] == 0


@pytest.mark.parametrize("name", slow_if_in({"resnet50"}))  # temporal_resnet50 covers its layers
def test_save_and_load_reproduce_outputs(name, tmp_path):
    model = build_model(name, **SMALL[name])
    x = random_inputs(model, batch=2)
    path = tmp_path / f"{name}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(loaded(x, training=False), model(x, training=False))
    assert loaded.count_params() == model.count_params()
    assert len(loaded.trainable_weights) == len(model.trainable_weights)


@pytest.fixture
def mixed_float16():
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


@pytest.mark.parametrize("name", slow_if_in(SLOW_TO_COMPILE))
def test_mixed_precision_and_xla_train_every_model(name, mixed_float16):
    model = build_model(name, num_classes=3, **SMALL[name])
    assert any(layer.compute_dtype == "float16" for layer in model.layers)
    assert model.output.dtype == "float32"
    model.compile(optimizer=keras.optimizers.Adam(1e-4), loss=keras.losses.CategoricalCrossentropy(from_logits=True),
                  jit_compile=True)
    x = random_inputs(model, batch=2)
    y = np.eye(3, dtype="float32")[[0, 2]]
    assert np.isfinite(model.train_on_batch(x, y))
    # Float16 convolutions run eagerly on a CPU are slow: the symbolic dtype is enough here.
    output = build_model(name, mode=EMBEDDING, **SMALL[name]).output
    assert all(o.dtype == "float32" for o in (output.values() if isinstance(output, dict) else [output]))


@pytest.mark.parametrize("name", ["sync_audio", "content_identity_audio", "caption_crnn"])
def test_raw_audio_is_read_in_float32_under_mixed_precision(name, mixed_float16):
    # The DualCam's int32 samples reach 7e8 in simulated speech; float16 ends at 65,504.
    model = build_model(name, mode=EMBEDDING)
    audio = np.random.default_rng(0).uniform(-7e8, 7e8, (1, *model.inputs[0].shape[1:])).astype("float32")
    assert np.all(np.isfinite(model(audio, training=False)))


def test_avmodel_learns_a_separable_task():
    keras.utils.set_random_seed(5)
    model = build_model("avmodel", num_classes=2, video_frames=1, acoustic_frames=2, frame_shape=(32, 32, 3))
    rng = np.random.default_rng(5)
    labels = np.arange(8) % 2
    acoustic = rng.standard_normal((8, 2, 36, 48, 12)).astype("float32")
    acoustic[:, :, :18] += np.where(labels == 1, 1.0, -1.0)[:, None, None, None, None]  # upper half: the label
    # The untrained ResNet-50's frozen batch norms hold 0/1 statistics and do not rescale:
    # small frames keep its features near the size a pretrained one gives.
    video = 0.01 * rng.standard_normal((8, 1, 32, 32, 3)).astype("float32")
    x = [video, acoustic]
    # Eager: ten small steps cost less than tracing the ResNet-50 graph.
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(optimizer=keras.optimizers.Adam(1e-4), loss=loss, run_eagerly=True)
    first = model.evaluate(x, labels, verbose=0)
    for _ in range(10):
        model.train_on_batch(x, labels)
    assert model.evaluate(x, labels, verbose=0) < 0.7 * first
    # Only the acoustic stream and the shared head train; the video stream is frozen.
    head = model.get_layer("fc1").trainable_weights + model.get_layer("fc2").trainable_weights
    acoustic_stream = model.get_layer("dualcamnet_v2").trainable_weights
    assert len(model.trainable_weights) == len(head) + len(acoustic_stream) == 4 + 8
