"""The sync stage's pairs and loss, and offset prediction (evaluation.sync) on hand-made
cases: an oracle distance, the exact random baseline, the cross-correlation baseline."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from dataloader.camera import FRAME_SAMPLES, SAMPLE_RATE
from dataloader.config import ACOUSTIC_IMAGE, AUDIO, OFFSET, VIDEO_FRAMES
from evaluation import sync as offsets
from models.sync import WINDOW_FRAMES, WINDOW_SAMPLES
from trainer import losses, sync

SCALE = 2 ** 20  # the test audio holds its sample's number above this, and a time below it


def test_contrastive_loss_by_hand():
    distances = tf.constant([0.2, 0.7, 1.5, 0.3])
    same = tf.constant([1, 1, 0, 0])
    # 0.2^2, 0.7^2, max(1 - 1.5, 0)^2, (1 - 0.3)^2
    expected = (0.04 + 0.49 + 0.0 + 0.49) / 4
    assert float(losses.contrastive_loss(distances, same, 1.0)) == pytest.approx(expected, rel=1e-6)
    assert float(losses.contrastive_loss(distances, same, 2.0)) == pytest.approx(
        (0.04 + 0.49 + 0.25 + 1.7 ** 2) / 4, rel=1e-6)


@pytest.mark.parametrize("count", [2, 3, 6])
def test_derangements_have_no_fixed_point_and_change_every_step(count):
    drawn = [sync.derangements(64, count, tf.constant([7, step])).numpy() for step in range(20)]
    for order in drawn:
        assert (np.sort(order, axis=1) == np.arange(count)).all()  # permutations
        assert (order != np.arange(count)).all()  # no window keeps its own audio
    if count > 2:  # two windows have one derangement
        assert not all((drawn[0] == other).all() for other in drawn[1:])
    if count == 3:  # both derangements of 3 are drawn, about equally often
        rows = np.concatenate(drawn)
        share = np.mean((rows == [1, 2, 0]).all(axis=1))
        assert 0.4 < share < 0.6


def test_windows_per_sample_leave_room_for_the_largest_offset():
    assert sync.windows_per_sample(36, 0.0) == 7  # 35 of 36 frames
    assert sync.windows_per_sample(36, 0.5) == 6  # 6 frames (0.5 s) kept free
    assert sync.windows_per_sample(24, 0.4) == 3


@pytest.mark.parametrize("seed", [None, [3, 1], [3, 2]])
def test_windows_and_their_audio_stay_inside_the_sample(seed):
    frames, samples, count = 36, 36 * FRAME_SAMPLES, 6
    shifts = tf.constant([0, 6144, -6144, 100, -100, 5000])  # up to +-0.5 s
    first = sync.first_frames(frames, samples, shifts, count, None if seed is None else tf.constant(seed)).numpy()
    starts = first * FRAME_SAMPLES + shifts.numpy()[:, None]
    assert (first >= 0).all() and (first + WINDOW_FRAMES <= frames).all()
    assert (starts >= 0).all() and (starts + WINDOW_SAMPLES <= samples).all()
    assert (np.diff(first, axis=1) == WINDOW_FRAMES).all()  # non-overlapping


def test_an_offset_beyond_the_largest_is_refused():
    with pytest.raises(tf.errors.InvalidArgumentError, match="max_offset"):
        sync.first_frames(36, 36 * FRAME_SAMPLES, tf.constant([SAMPLE_RATE]), 6, None)


def _oracle_networks():
    """A visual net giving (sample, time of its window's first frame) from frames that hold
    them, and an audio net giving (sample, time) of its window's first sample from audio that
    holds sample * SCALE + the video time it belongs to (in samples)."""
    frames = keras.Input((WINDOW_FRAMES, 2, 2, 2))
    visual = keras.Model(frames, keras.layers.Lambda(lambda x: x[:, 0, 0, 0, :])(frames))
    audio = keras.Input((WINDOW_SAMPLES, 1))

    def split(x):
        value = x[:, 0, 0]
        sample = tf.floor(value / SCALE)
        return tf.stack([sample, (value - sample * SCALE) / FRAME_SAMPLES], axis=1)

    return visual, keras.Model(audio, keras.layers.Lambda(split)(audio))


def _batch(offsets_s, frames=36, key=VIDEO_FRAMES):
    batch = len(offsets_s)
    shifts = np.round(np.asarray(offsets_s) * SAMPLE_RATE).astype(np.int64)
    video = np.zeros((batch, frames, 2, 2, 2), np.float32)
    video[..., 0] = np.arange(batch)[:, None, None, None]
    video[..., 1] = np.arange(frames)[None, :, None, None]
    # Audio sample n of sample b plays what the video showed at n - shift: it lags by the offset.
    times = np.arange(frames * FRAME_SAMPLES)[None, :] - shifts[:, None]
    audio = (np.arange(batch)[:, None] * SCALE + times)[..., None].astype(np.int32)
    return {key: tf.constant(video), AUDIO: tf.constant(audio), OFFSET: tf.constant(offsets_s, tf.float32)}


@pytest.mark.parametrize("seed", [None, [1, 4]])
def test_pairs_in_sync_are_aligned_and_deranged_ones_never_are(seed):
    visual, audio = _oracle_networks()
    stage = sync.Sync(visual, audio, (VIDEO_FRAMES,), windows=6, seed=1)
    data = _batch([0.0, 0.25, -0.5, 0.5, 0.1234])
    positive, negative = stage.pair_distances(data, seed=None if seed is None else tf.constant(seed))
    # In sync: the same sample and the same time, so the floor of the distance.
    np.testing.assert_allclose(positive.numpy(), np.sqrt(1e-7), rtol=1e-3)
    # Out of sync: the same sample (no window crosses recordings), another window, at least 5 frames away.
    assert (negative.numpy() >= WINDOW_FRAMES - 1e-3).all()
    assert (np.abs(negative.numpy() - np.round(negative.numpy() / 5) * 5) < 1e-3).all()


def test_acoustic_images_are_paired_on_the_microphones_clock():
    visual, audio = _oracle_networks()
    stage = sync.Sync(visual, audio, (ACOUSTIC_IMAGE,), windows=6, seed=1)
    data = _batch([0.0, 0.0], key=ACOUSTIC_IMAGE)
    data[OFFSET] = tf.constant([0.3, -0.3])  # the video's offset: not the acoustic images'
    positive, _ = stage.pair_distances(data)
    np.testing.assert_allclose(positive.numpy(), np.sqrt(1e-7), rtol=1e-3)


def test_a_stage_step_reports_loss_accuracy_and_distances():
    visual, audio = _oracle_networks()
    stage = sync.Sync(visual, audio, (VIDEO_FRAMES,), windows=6, seed=1)
    loss, out = stage.compute_terms(_batch([0.0, 0.2]), training=False)
    # Positives at distance ~0 and negatives at 5 or more: no loss, every pair right.
    assert float(loss) == pytest.approx(1e-7 / 2, abs=1e-7)
    assert float(stage.accuracy.result()) == 1.0
    assert out["distances"].shape == (2 * 2 * 6,)


# Offset prediction

def _recording(offset: float, seconds: int = 6, name: str = "r", group: str = "g") -> offsets.Recording:
    frames = 12 * seconds
    return offsets.Recording(name=name, audio=np.zeros(frames * FRAME_SAMPLES), visual={},
                             motion=np.zeros(frames), offset=offset, group=group)


def _oracle(recording: offsets.Recording):
    """Zero distance exactly when a window's audio starts where its video's sound does."""
    shift = offsets.shift_samples(recording.offset)
    return (lambda first: (first * FRAME_SAMPLES + shift)[:, None].astype(float),
            lambda starts: starts[:, None].astype(float))


def test_with_an_oracle_distance_every_offset_is_recovered():
    candidates = offsets.grid(-0.5, 0.5, 0.045)
    truths = candidates[::3]
    recordings = [_recording(float(t), name=f"r{i}") for i, t in enumerate(truths)]
    results = offsets.evaluate(iter(recordings), candidates, _oracle, visual_clock=True)
    assert [row["predicted"] for row in results["predictions"]] == pytest.approx(list(truths))
    assert results["model"]["accuracy"] == 1.0 and results["model"]["mean_error_ms"] == pytest.approx(0, abs=1e-9)
    assert results["random"]["accuracy"] == pytest.approx(offsets.random_accuracy(candidates, truths))


def test_the_random_baselines_formula_matches_drawing_at_random():
    rng = np.random.default_rng(0)
    truths = rng.uniform(-0.4, 0.4, 300)
    candidates = offsets.candidates_from_offsets(rng.uniform(-0.4, 0.4, 200))
    drawn = rng.choice(candidates, size=(2000, len(truths)))
    simulated = offsets.is_correct(drawn - truths).mean()
    exact = offsets.random_accuracy(candidates, truths)
    # 600,000 draws: the simulation's standard error is under 0.0006
    assert simulated == pytest.approx(exact, abs=0.002)
    assert 0.15 < exact < 0.25  # a 170-ms window among candidates over 800 ms


def test_candidates_are_the_lower_edges_of_non_empty_bins():
    np.testing.assert_allclose(offsets.candidates_from_offsets([0.2, 0.0, 0.01, 0.05]), [0.0, 0.045, 0.18])
    np.testing.assert_allclose(offsets.candidates_from_offsets([0.3, 0.3]), [0.3])
    np.testing.assert_allclose(offsets.grid(-0.09, 0.09, 0.045), [-0.09, -0.045, 0.0, 0.045, 0.09])


def test_the_window_is_strict():
    assert offsets.is_correct([-0.1249, 0.0449, 0.0]).all()
    assert not offsets.is_correct([-0.125, 0.045, -0.2, 0.1]).any()


def test_a_candidate_that_leaves_no_window_is_never_predicted():
    recording = _recording(0.0, seconds=1)  # 12 frames: two windows
    scores = offsets.mean_distances(recording, [-0.9, 0.0], *_oracle(recording))
    assert np.isnan(scores[0]) and scores[1] == 0.0
    assert offsets.lowest(scores, [-0.9, 0.0]) == 0.0


def test_cross_correlation_finds_the_offset_of_impacts():
    rng = np.random.default_rng(3)
    frames, offset = 96, 0.25
    impacts = np.sort(rng.choice(np.arange(6, frames - 6), 9, replace=False))
    motion = np.zeros(frames)
    motion[impacts] = 1.0 + rng.uniform(0, 1, len(impacts))
    audio = 0.01 * rng.standard_normal(frames * FRAME_SAMPLES)
    for impact in impacts:  # a decaying burst from the instant of the impact, heard `offset` later
        start = impact * FRAME_SAMPLES - FRAME_SAMPLES // 2 + offsets.shift_samples(offset)
        audio[start:start + 2000] += rng.standard_normal(2000) * np.exp(-np.arange(2000) / 500)
    candidates = offsets.grid(-0.5, 0.5, 0.045)
    predicted = offsets.lowest(offsets.cross_correlation_scores(motion, audio, candidates), candidates)
    assert offsets.is_correct([predicted - offset])[0]


def test_frame_motion_by_hand():
    frames = np.zeros((3, 2, 2, 1))
    frames[1] = 1.0
    frames[2, 0, 0] = 3.0
    # |1 - 0|^2 * 4 pixels; then (3 - 1)^2 + 3 * (0 - 1)^2
    np.testing.assert_allclose(offsets.frame_motion(frames), [0.0, 4.0, 7.0])


def test_scores_by_group_and_without_truth():
    rows = [_recording(0.1, name="a", group="x"), _recording(-0.2, name="b", group="y"), _recording(0.0, name="c")]
    rows[2].offset = None  # a user's recording: predicted, not scored
    results = offsets.evaluate(iter(rows), offsets.grid(-0.3, 0.3, 0.05), _oracle_or_zero, visual_clock=True)
    assert results["recordings"] == 3 and results["model"]["recordings"] == 2
    assert set(results["model"]["by_group"]) == {"x", "y"}
    assert results["predictions"][2]["offset"] is None


def _oracle_or_zero(recording):
    return _oracle(offsets.Recording(recording.name, recording.audio, {}, recording.motion, recording.offset or 0.0,
                                     recording.group))


def test_acoustic_image_models_are_scored_against_their_own_clock():
    recordings = [_recording(0.3, name="a")]
    candidates = offsets.grid(-0.5, 0.5, 0.05)
    # A model that finds the microphones' own sync (0) is right for acoustic images.
    results = offsets.evaluate(iter(recordings), candidates, lambda r: _oracle(_recording(0.0)), visual_clock=False)
    assert results["model"]["accuracy"] == 1.0
    assert results["random"]["accuracy"] == pytest.approx(offsets.random_accuracy(candidates, [0.0]))


def test_recordings_are_joined_from_consecutive_seconds():
    from dataloader.config import FIRST_SECOND, RECORDING

    def second(name, number, value):
        return {RECORDING: name.encode(), FIRST_SECOND: number, "classes": np.eye(3)[1],
                VIDEO_FRAMES: np.full((12, 2, 2, 3), value, np.float32),
                AUDIO: np.full((FRAME_SAMPLES * 12, 1), value, np.int32), OFFSET: 0.25}

    seconds = [second("a", 0, 0), second("a", 1, 1), second("a", 3, 3), second("b", 0, 5)]
    batches = [{key: tf.constant(np.stack([s[key] for s in part])) for key in seconds[0]}
               for part in (seconds[:3], seconds[3:])]
    recordings = list(offsets.read_recordings(batches, (VIDEO_FRAMES,), "classes", ["x", "y", "z"], VIDEO_FRAMES,
                                              AUDIO, OFFSET))
    assert [(r.name, r.frames, r.group, r.offset) for r in recordings] == [
        ("a", 24, "y", 0.25), ("a", 12, "y", 0.25), ("b", 12, "y", 0.25)]  # a gap starts another
    np.testing.assert_array_equal(recordings[0].visual[VIDEO_FRAMES][:, 0, 0, 0], np.repeat([0, 1], 12))
    np.testing.assert_array_equal(recordings[0].audio[::FRAME_SAMPLES * 12], [0, 1])
    np.testing.assert_array_equal(recordings[0].motion, np.repeat([0.0, 12.0, 0.0], [12, 1, 11]))


@pytest.mark.parametrize("cell, corner", [((18, 24), (42, 66)), ((0, 47), (0, 128)), ((35, 0), (80, 0))])
def test_the_crop_is_around_the_acoustic_peak_and_inside_the_frame(cell, corner):
    from models.sync import CropAroundPeak

    video = np.zeros((1, 5, 144, 192, 2), np.float32)
    video[..., 0] = np.arange(144)[:, None]  # each pixel holds its row and column
    video[..., 1] = np.arange(192)[None, :]
    acoustic = np.zeros((1, 5, 36, 48, 12), np.float32)
    acoustic[0, :, cell[0], cell[1], 0] = 1.0  # the loudest cell; other coefficients do not count
    acoustic[0, :, 5, 5, 1] = 9.0
    crop = CropAroundPeak(64)([video, acoustic]).numpy()
    assert crop.shape == (1, 5, 64, 64, 2)
    # cell (r, c) is centred at pixel ((r + 0.5) * 4, (c + 0.5) * 4) of 144 x 192; the crop starts 32 before
    np.testing.assert_array_equal(crop[0, 0, :, 0, 0], corner[0] + np.arange(64))
    np.testing.assert_array_equal(crop[0, 0, 0, :, 1], corner[1] + np.arange(64))
