"""The content_identity stage and its networks: what each network gives per time step, the
2-s crops the stage cuts, its two losses against numpy on the networks' own outputs (two
clips of one subject in the batch), the learned logit scales and what trains them, and the
refusal of records that name no subject and of samples shorter than a crop."""
import keras
import numpy as np
import pytest
import scipy.stats
import tensorflow as tf

from dataloader.camera import FRAME_SAMPLES
from dataloader.config import AUDIO, VIDEO_FRAMES
from dataloader.datasets import ACIVW_SPEC, AVIA_SPEC
from models.content_identity import CONTENT, EMBEDDING_SIZE, FFT_LENGTH, HOP, IDENTITY, MEL_BANDS, SAMPLE_FRAMES, WINDOW
from models.layers import EMBEDDING, LogMel
from models.registry import build_model
from trainer.config import FlagError, RunConfig
from trainer.content_identity import ContentIdentity, crop_first_frames
from trainer.stage_specs import STAGES

FRAMES = 30  # samples of 2.5 s: the centred crop starts at frame 3
FRAME_SHAPE = (24, 32, 3)  # small frames, for speed


def _stage(seed: int = 3, subject_targets: bool = True) -> ContentIdentity:
    keras.utils.set_random_seed(seed)
    video = build_model("content_identity_video", mode=EMBEDDING, frame_shape=FRAME_SHAPE)
    audio = build_model("content_identity_audio", mode=EMBEDDING)
    stage = ContentIdentity(video, audio, AVIA_SPEC.subject, subject_targets=subject_targets, seed=seed)
    stage.compile(optimizer=keras.optimizers.Adam(1e-3))
    return stage


def _batch(rng, subjects) -> dict:
    subjects = np.asarray(subjects)
    return {VIDEO_FRAMES: rng.uniform(-100, 100, (len(subjects), FRAMES, *FRAME_SHAPE)).astype(np.float32),
            AUDIO: rng.integers(-20_000, 20_000, (len(subjects), FRAMES * FRAME_SAMPLES, 1)).astype(np.int32),
            "subject": np.eye(9, dtype=np.float32)[subjects]}


def _normalised(x):
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def _log_softmax(logits, keep):
    kept = np.where(keep, logits, -np.inf)
    return kept - np.log(np.sum(np.exp(kept - kept.max()), axis=-1, keepdims=True)) - kept.max()


def _matching(logits, keep, targets=None):
    """Mean cross-entropy of rows and of columns over the kept entries, each to its diagonal,
    or spread evenly over `targets`."""
    targets = np.broadcast_to(np.eye(logits.shape[-1], dtype=bool), logits.shape) if targets is None else targets

    def mean(z, kept, wanted):
        return -np.mean(np.sum(np.where(wanted, _log_softmax(z, kept), 0.0), axis=-1) / wanted.sum(axis=-1))

    def transposed(x):
        return np.swapaxes(x, -1, -2)

    return 0.5 * (mean(logits, keep, targets) + mean(transposed(logits), transposed(keep), transposed(targets)))


def test_each_network_gives_content_and_identity_per_step_of_two_frames():
    video = build_model("content_identity_video", mode=EMBEDDING)
    audio = build_model("content_identity_audio", mode=EMBEDDING)
    assert video.output_shape == audio.output_shape == (None, 12, 2, EMBEDDING_SIZE)  # 24 frames, 2 s
    with pytest.raises(ValueError, match="even number of frames"):
        build_model("content_identity_video", num_frames=5)
    with pytest.raises(ValueError, match="even number of video frames"):
        build_model("content_identity_audio", num_samples=3 * FRAME_SAMPLES)


def test_log_mel_has_four_frames_a_video_frame_each_band_standardised(rng):
    audio = rng.standard_normal((2, 6 * FRAME_SAMPLES, 1)).astype(np.float32)
    bands = LogMel(WINDOW, HOP, FFT_LENGTH, MEL_BANDS, standardise=True)(audio).numpy()
    assert bands.shape == (2, 24, 40, 1)
    np.testing.assert_allclose(bands.mean(axis=1), 0.0, atol=1e-4)
    np.testing.assert_allclose(bands.std(axis=1), 1.0, atol=1e-3)


def test_crops_are_uniform_over_the_starts_that_fit_fresh_every_step_and_centred_in_evaluation():
    draws = np.concatenate([crop_first_frames(1000, 36, tf.constant([5, step], tf.int64)).numpy()[:, 0]
                            for step in range(3)])
    assert draws.min() == 0 and draws.max() == 12  # 13 starts fit in 3 s
    assert scipy.stats.chisquare(np.bincount(draws, minlength=13)).pvalue > 0.01  # uniform
    np.testing.assert_array_equal(crop_first_frames(4, 36, tf.constant([5, 2], tf.int64)),
                                  crop_first_frames(4, 36, tf.constant([5, 2], tf.int64)))  # reproducible
    assert crop_first_frames(2, 36, None).numpy().tolist() == [[6], [6]]
    assert crop_first_frames(1, SAMPLE_FRAMES, tf.constant([1, 1], tf.int64)).numpy().tolist() == [[0]]
    with pytest.raises(ValueError, match="crops 24 frames"):
        crop_first_frames(1, 12, None)


@pytest.mark.parametrize("subject_targets", [True, False])
def test_the_stage_losses_equal_numpy_with_two_clips_of_one_subject(rng, subject_targets):
    stage = _stage(subject_targets=subject_targets)
    stage.content_logits.scale.assign(7.0)
    stage.identity_logits.scale.assign(4.0)
    batch = _batch(rng, [0, 3, 0, 5])  # clips 0 and 2: one subject
    loss, out = stage.compute_terms(batch, training=False)
    crop = slice(3, 3 + SAMPLE_FRAMES)  # the centred crop of 30 frames
    video = stage.video_net(batch[VIDEO_FRAMES][:, crop], training=False).numpy().astype(np.float64)
    samples = batch[AUDIO][:, crop.start * FRAME_SAMPLES:crop.stop * FRAME_SAMPLES].astype(np.float32)
    audio = stage.audio_net(samples, training=False).numpy().astype(np.float64)

    content = 7.0 * np.einsum("btd,bsd->bts", _normalised(video[:, :, CONTENT]), _normalised(audio[:, :, CONTENT])) - 5
    expected_content = _matching(content, np.ones(content.shape, bool))
    identity = 4.0 * _normalised(video[:, :, IDENTITY].mean(1)) @ _normalised(audio[:, :, IDENTITY].mean(1)).T - 5
    same = np.array([0, 3, 0, 5])[:, None] == np.array([0, 3, 0, 5])[None, :]
    if subject_targets:  # clips 0 and 2 are each other's targets too
        expected_identity = _matching(identity, np.ones((4, 4), bool), same)
    else:  # each other's pair is left out: not a negative
        expected_identity = _matching(identity, ~same | np.eye(4, dtype=bool))

    np.testing.assert_allclose(out["content"].numpy(), content, rtol=1e-4, atol=1e-4)
    assert float(stage.content_loss.result()) == pytest.approx(expected_content, rel=1e-4)
    assert float(stage.identity_loss.result()) == pytest.approx(expected_identity, rel=1e-4)
    assert float(loss) == pytest.approx(expected_content + expected_identity, rel=1e-4)
    # Top-1: a video step's nearest audio step is its own; a clip's nearest audio is of its subject.
    hits = np.argmax(content, axis=-1) == np.arange(SAMPLE_FRAMES // 2)
    assert float(stage.content_accuracy.result()) == pytest.approx(hits.mean())
    subjects = np.array([0, 3, 0, 5])
    right = subjects[np.argmax(identity, axis=1)] == subjects
    assert float(stage.identity_accuracy.result()) == pytest.approx(right.mean())


def test_logit_scales_start_at_ten_and_minus_five_train_and_bear_no_weight_decay(rng):
    stage = _stage()
    for layer in (stage.content_logits, stage.identity_logits):
        assert (float(layer.scale), float(layer.bias)) == (10.0, -5.0)
        assert layer in stage.trained
    decay = float(stage.regularisation())
    assert decay > 0  # the networks' kernels are decayed ...
    stage.content_logits.scale.assign(50.0)
    stage.identity_logits.bias.assign(3.0)
    assert float(stage.regularisation()) == decay  # ... the scales are not
    batch = _batch(rng, [0, 1, 2])
    with tf.GradientTape() as tape:
        loss, _ = stage.compute_terms(batch, training=True)
    scales = [stage.content_logits.scale, stage.content_logits.bias, stage.identity_logits.scale,
              stage.identity_logits.bias]
    gradients = tape.gradient(loss, scales)
    assert gradients[0] is not None and float(gradients[0]) != 0.0 and float(gradients[2]) != 0.0
    # A bias shifts a whole softmax: no gradient reaches it.
    assert abs(float(gradients[1])) < 1e-6 and abs(float(gradients[3])) < 1e-6


def test_a_train_step_changes_the_logit_scales(rng):
    stage = _stage()
    stage.train_step(_batch(rng, [0, 1, 2, 3]))
    assert float(stage.content_logits.scale) != 10.0 and float(stage.identity_logits.scale) != 10.0


def test_records_without_subjects_are_refused_in_one_line():
    spec = STAGES["content_identity"]
    keys = {"video_net": (VIDEO_FRAMES,), "audio_net": (AUDIO,)}
    with pytest.raises(FlagError, match="acivw records name no subject"):
        spec.make({"video_net": None, "audio_net": None}, keys, RunConfig(sample_length=3), ACIVW_SPEC)
    with pytest.raises(FlagError, match="--sample_length: 1: the content_identity stage crops 2 s"):
        spec.make({"video_net": None, "audio_net": None}, keys, RunConfig(sample_length=1), AVIA_SPEC)


def test_the_identity_targets_flag_reaches_the_stage():
    nets = {"video_net": _stage().video_net, "audio_net": _stage().audio_net}
    keys = {"video_net": (VIDEO_FRAMES,), "audio_net": (AUDIO,)}
    for value, subject_targets in (("subject", True), ("own", False)):
        stage = STAGES["content_identity"].make(nets, keys, RunConfig(sample_length=3, identity_targets=value),
                                                AVIA_SPEC)
        assert stage.subject_targets is subject_targets
