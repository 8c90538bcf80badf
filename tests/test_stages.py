"""Each stage's gradient step lowers its loss on a fixed batch, with the papers' networks."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from models.registry import build_model
from trainer.stages import Distiller, SelfSupervised, Supervised, TrackEpoch, Transfer, recording_ids


def _batch(rng, batch=4, acoustic_frames=2, video_frames=1, classes=10):
    ids = np.arange(batch) % 2  # two recordings, two samples each
    return {
        "acoustic_image": rng.normal(size=(batch, acoustic_frames, 36, 48, 12)).astype(np.float32)
        + ids[:, None, None, None, None],
        "video": rng.normal(size=(batch, video_frames, 224, 298, 3)).astype(np.float32),
        "spectrogram": rng.normal(size=(batch, 200, 1, 257)).astype(np.float32),
        "classes": tf.one_hot(ids, classes),
        "video_index": tf.one_hot(ids, 61),
    }


def _losses_over_steps(stage, data, steps):
    first = stage.evaluate(data, verbose=0, return_dict=True)["loss"]
    stage.fit(tf.data.Dataset.from_tensors(data).repeat(steps), epochs=1, verbose=0)
    return first, stage.evaluate(data, verbose=0, return_dict=True)["loss"]


def test_recording_ids_combine_labels():
    data = {"classes": tf.one_hot([1, 1, 2], 10), "video_index": tf.one_hot([3, 4, 3], 61)}
    ids = recording_ids(data, ("classes", "video_index")).numpy()
    assert ids[0] != ids[1] and ids[0] != ids[2] and ids[1] != ids[2]
    assert ids[0] == 1 * 61 + 3


def test_self_supervised_step_lowers_loss(rng):
    keras.utils.set_random_seed(0)
    stage = SelfSupervised(build_model("dualcamnet", mode="embedding", num_frames=2),
                           build_model("resnet18_v1", mode="embedding", num_frames=1))
    stage.compile(optimizer=keras.optimizers.Adam(1e-3))
    before, after = _losses_over_steps(stage, _batch(rng), steps=6)
    assert after < before


def test_self_supervised_cross_modal_term_is_added_and_reported(rng):
    keras.utils.set_random_seed(0)
    audio_net = build_model("dualcamnet", mode="embedding", num_frames=2)
    video_net = build_model("resnet18_v1", mode="embedding", num_frames=1)
    data = _batch(rng)
    plain = SelfSupervised(audio_net, video_net)
    extended = SelfSupervised(audio_net, video_net, cross_modal_weight=0.5)
    for stage in (plain, extended):
        stage.compile(optimizer=keras.optimizers.Adam(1e-3))
    base = plain.evaluate(data, verbose=0, return_dict=True)
    logs = extended.evaluate(data, verbose=0, return_dict=True)
    assert "cross_modal_loss" not in base and logs["cross_modal_loss"] > 0.0
    expected = base["loss"] + 0.5 * logs["cross_modal_loss"]
    assert logs["loss"] == pytest.approx(expected, rel=1e-5)
    before, after = _losses_over_steps(extended, data, steps=6)
    assert after < before


def test_self_supervised_switches_to_batch_hard(rng):
    stage = SelfSupervised(build_model("dualcamnet", mode="embedding", num_frames=2),
                           build_model("resnet18_v1", mode="embedding", num_frames=1), hard_from_epoch=1)
    stage.compile(optimizer=keras.optimizers.Adam(0.0))
    data = _batch(rng)
    callback = TrackEpoch()
    callback.set_model(stage)
    all_loss = stage.evaluate(data, verbose=0, return_dict=True)["loss"]
    callback.on_epoch_begin(1)
    hard_loss = stage.evaluate(data, verbose=0, return_dict=True)["loss"]
    assert hard_loss >= all_loss - 1e-6 and hard_loss != all_loss


def test_transfer_step_lowers_loss(rng):
    keras.utils.set_random_seed(0)
    teacher = build_model("dualcamnet", mode="embedding", num_frames=2)
    stage = Transfer(build_model("hearnet_a", mode="embedding"), build_model("resnet18_v1", mode="embedding",
                                                                             num_frames=1), teacher, alpha=0.5)
    stage.compile(optimizer=keras.optimizers.Adam(1e-4))
    teacher_weights = [w.copy() for w in teacher.get_weights()]
    before, after = _losses_over_steps(stage, _batch(rng), steps=6)
    assert after < before
    for old, new in zip(teacher_weights, teacher.get_weights()):
        np.testing.assert_array_equal(old, new)  # frozen


def test_supervised_step_lowers_loss(rng):
    keras.utils.set_random_seed(0)
    stage = Supervised(build_model("hearnet_a", num_classes=10), ["spectrogram"], label_key="classes")
    stage.compile(optimizer=keras.optimizers.Adam(1e-4))
    before, after = _losses_over_steps(stage, _batch(rng), steps=5)
    assert after < before


@pytest.mark.parametrize("original", [False, True])
def test_distillation_step_lowers_loss(rng, original):
    keras.utils.set_random_seed(0)
    data = _batch(rng, acoustic_frames=12, classes=14)
    data["action"] = data.pop("classes")
    teacher = build_model("dualcamnet_v2_teacher", num_frames=12)
    stage = Distiller(build_model("hearnet_a", num_classes=14), teacher, ["spectrogram"], temperature=3.0,
                      weight=0.7, original=original)
    stage.compile(optimizer=keras.optimizers.Adam(1e-4))
    before, after = _losses_over_steps(stage, data, steps=5)
    assert after < before
    assert not teacher.trainable


def test_batch_norm_momentum_is_set_in_nested_networks_and_used():
    from trainer.experiment import set_batch_norm_momentum

    inner = keras.Sequential([keras.Input((3,)), keras.layers.BatchNormalization(momentum=0.997)])
    outer = keras.Sequential([keras.Input((3,)), keras.layers.Dense(3), inner, keras.layers.BatchNormalization()])
    set_batch_norm_momentum(outer, 0.5)
    norms = [inner.layers[0], outer.layers[-1]]
    assert [norm.momentum for norm in norms] == [0.5, 0.5]
    batch = np.full((4, 3), 2.0, np.float32)
    inner(batch, training=True)
    np.testing.assert_allclose(inner.layers[0].moving_mean.numpy(), 1.0)  # 0.5 * 0 + 0.5 * 2
