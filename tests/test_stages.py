"""Each stage's gradient step lowers its loss on a fixed batch, with the papers' networks."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from models.registry import build_model
from trainer.losses import map_agreement_loss
from trainer.stages import (
    Distiller,
    SelfSupervised,
    Supervised,
    TrackEpoch,
    Transfer,
    recording_ids,
    redraw_weights,
)


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
    stage.fit(tf.data.Dataset.from_tensors(data).repeat(steps), epochs=1, shuffle=False, verbose=0)
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


def test_self_supervised_optional_terms_are_added_and_reported(rng):
    keras.utils.set_random_seed(0)
    audio_net = build_model("dualcamnet", mode="embedding", num_frames=2)
    video_net = build_model("resnet18_v1", mode="embedding", num_frames=1)
    data = _batch(rng)
    plain = SelfSupervised(audio_net, video_net)
    extended = SelfSupervised(audio_net, video_net, cross_modal_weight=0.5, map_agreement_weight=2.0)
    for stage in (plain, extended):
        stage.compile(optimizer=keras.optimizers.Adam(1e-3))
    base = plain.evaluate(data, verbose=0, return_dict=True)
    logs = extended.evaluate(data, verbose=0, return_dict=True)
    assert "cross_modal_loss" not in base and "map_agreement_loss" not in base
    assert logs["cross_modal_loss"] > 0.0 and logs["map_agreement_loss"] > 0.0
    expected = base["loss"] + 0.5 * logs["cross_modal_loss"] + 2.0 * logs["map_agreement_loss"]
    assert logs["loss"] == pytest.approx(expected, rel=1e-5)
    cross_modal = SelfSupervised(audio_net, video_net, cross_modal_weight=0.5)
    cross_modal.compile(optimizer=keras.optimizers.Adam(1e-3))
    before, after = _losses_over_steps(cross_modal, data, steps=6)
    assert after < before
    # With the audio map held still, the agreement term moves the video map towards it.
    audio_net.trainable = False
    agreement = SelfSupervised(audio_net, video_net, map_agreement_weight=10.0)
    agreement.compile(optimizer=keras.optimizers.Adam(1e-3))

    def disagreement():  # in training mode, as the steps see the batch norms
        audio, video, _ = agreement.maps(data, training=True)
        return float(map_agreement_loss(tf.reduce_sum(audio, axis=-1), tf.reduce_sum(tf.square(video), axis=-1)))

    first = disagreement()
    agreement.fit(tf.data.Dataset.from_tensors(data).repeat(6), epochs=1, shuffle=False, verbose=0)
    assert disagreement() < first


def _self_supervised_stage(seed=0):
    keras.utils.set_random_seed(seed)
    return SelfSupervised(build_model("dualcamnet", mode="embedding", num_frames=2),
                          build_model("resnet18_v1", mode="embedding", num_frames=1))


def test_audio_map_energy_correlation_by_hand(rng):
    stage = _self_supervised_stage()
    data = _batch(rng)
    audio = stage.maps(data)[0].numpy().sum(axis=-1)
    energy = data["acoustic_image"][..., 0].mean(axis=1).reshape(4, 12, 3, 16, 3).mean(axis=(2, 4))
    expected = np.mean([np.corrcoef(a.ravel(), e.ravel())[0, 1] for a, e in zip(audio, energy)])
    assert stage.audio_map_energy_correlation(data) == pytest.approx(expected, abs=1e-4)


def test_redraw_weights_is_seeded_and_keeps_zero_biases():
    net = build_model("dualcamnet", mode="embedding", num_frames=2)
    redraw_weights(net, 3)
    first = [w.numpy() for w in net.weights]
    redraw_weights(net, 4)
    other = [w.numpy() for w in net.weights]
    redraw_weights(net, 3)
    np.testing.assert_array_equal(first[0], net.weights[0].numpy())
    assert not np.allclose(first[0], other[0])
    assert all(not w.any() for w, v in zip(first, net.weights) if "bias" in v.path)
    assert np.std(first[0]) == pytest.approx(0.01 * 0.88, rel=0.2)  # truncated N(0, 0.01)


def test_orient_audio_map_draws_until_the_map_rises_with_the_energy(rng):
    data = _batch(rng)
    for row in range(4):  # a loud source somewhere in every sample
        top, left = rng.integers(0, 30), rng.integers(0, 42)
        data["acoustic_image"][row, :, top:top + 6, left:left + 6, 0] += 4.0
    stage = _self_supervised_stage()
    start = stage.audio_map_energy_correlation(data)
    kept = [w.numpy() for w in stage.audio_net.weights]
    assert stage.orient_audio_map(data, minimum=start - 1.0) == {"audio_map_energy_correlation": start,
                                                                  "redraws": 0}
    assert all(np.array_equal(a, b.numpy()) for a, b in zip(kept, stage.audio_net.weights))
    # Asked for more than the first draw gives, it draws until it has it or runs out.
    result = stage.orient_audio_map(data, seed=1, draws=5, minimum=start + 0.05)
    assert result["redraws"] >= 1
    assert result["audio_map_energy_correlation"] == pytest.approx(stage.audio_map_energy_correlation(data))
    assert result["audio_map_energy_correlation"] >= start + 0.05 or result["redraws"] == 5


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
