"""Verification trials, crop scores and the EER (evaluation.verification), and the identity and
content measures of a content_identity run (evaluation.identity), against hand computations."""
import itertools

import librosa
import numpy as np
import pytest
import scipy.fft

from evaluation import identity
from evaluation.identity import SCORERS, Clip, content_hits, mean_mfcc
from evaluation.verification import (
    CROPS,
    Trial,
    clip_name,
    crop_score,
    crop_starts,
    equal_error_rate,
    make_trials,
    read_trials,
    write_trials,
)

RATE = 12_288


def _roc_eer(same, scores):
    """The EER by hand: every threshold t (each score, and one above them all) calls a trial
    the same subject when its score is >= t; at the threshold where |FNR - FPR| is smallest,
    the larger of the two."""
    same, scores = np.asarray(same, bool), np.asarray(scores, np.float64)
    thresholds = np.concatenate([[np.inf], np.sort(np.unique(scores))[::-1]])
    false_positive = np.array([np.mean(scores[~same] >= t) for t in thresholds])
    false_negative = np.array([np.mean(scores[same] < t) for t in thresholds])
    at = np.argmin(np.abs(false_negative - false_positive))
    return max(false_positive[at], false_negative[at])


# --- the equal error rate ---------------------------------------------------------------


def test_equal_error_rate_by_hand():
    # by descending score: + + - + - + - -. Threshold 0.6 accepts 3 of 4 positives (FNR 1/4)
    # and 1 of 4 negatives (FPR 1/4): the rates meet there, EER 1/4.
    same = [True, True, False, True, False, True, False, False]
    scores = [0.9, 0.8, 0.7, 0.6, 0.4, 0.3, 0.2, 0.1]
    assert _roc_eer(same, scores) == 0.25
    assert equal_error_rate(same, scores) == 0.25
    # the order of the trials does not matter, nor the scale of the scores
    order = np.random.default_rng(3).permutation(8)
    assert equal_error_rate(np.array(same)[order], 10 * np.array(scores)[order] - 4) == 0.25


def test_equal_error_rate_at_the_ends():
    same = [True, True, True, True, False, False, False, False]
    scores = [0.9, 0.8, 0.7, 0.6, 0.4, 0.3, 0.2, 0.1]
    assert _roc_eer(same, scores) == 0.0
    assert equal_error_rate(same, scores) == 0.0
    # reversed: every negative above every positive, the rates meet only at 1
    reversed_scores = [-s for s in scores]
    assert _roc_eer(same, reversed_scores) == 1.0
    assert equal_error_rate(same, reversed_scores) == 1.0


def test_equal_error_rate_sees_every_threshold():
    # by descending score: + + - + + - - -. Threshold 0.9 accepts 3 of 4 positives and 1 of 4
    # negatives: FNR = FPR = 1/4. It lies in the middle of the ROC's vertical run from
    # (1/4, 1/2) to (1/4, 1), the kind of point roc_curve drops by default (then 0.5).
    same = [True, True, False, True, True, False, False, False]
    scores = [0.99, 0.98, 0.95, 0.9, 0.8, 0.5, 0.4, 0.3]
    assert _roc_eer(same, scores) == 0.25
    assert equal_error_rate(same, scores) == 0.25


@pytest.mark.parametrize("same", [[True, True, True], [False, False, False]])
def test_equal_error_rate_needs_both_kinds_of_trial(same):
    with pytest.raises(ValueError, match="same subject and of different"):
        equal_error_rate(same, [0.1, 0.5, 0.9])


# --- crops ------------------------------------------------------------------------------


def test_crop_starts_are_evenly_spaced_from_first_to_last():
    starts = crop_starts(100, 10)
    assert len(starts) == CROPS == 10
    np.testing.assert_array_equal(starts, [0, 10, 20, 30, 40, 50, 60, 70, 80, 90])
    # an uneven spacing is rounded: steps of 30 / 9 = 3.33 frames
    starts = crop_starts(50, 20, 10)
    assert starts[0] == 0 and starts[-1] == 30
    np.testing.assert_array_equal(starts, np.round(np.arange(10) * 30 / 9))
    assert set(np.diff(starts)) == {3, 4}
    np.testing.assert_array_equal(crop_starts(48, 48, 4), [0, 0, 0, 0])
    np.testing.assert_array_equal(crop_starts(12, 2, 3), [0, 5, 10])


def test_a_crop_longer_than_the_clip_is_refused():
    with pytest.raises(ValueError, match="a crop of 49 does not fit in 48"):
        crop_starts(48, 49)


def test_crop_score_is_the_mean_cosine_of_every_pair_of_crops(rng):
    first = rng.normal(size=(10, 6)) * rng.uniform(0.5, 3.0, size=(10, 1))
    second = rng.normal(size=(10, 6)) * rng.uniform(0.5, 3.0, size=(10, 1))
    cosines = [a @ b / (np.linalg.norm(a) * np.linalg.norm(b)) for a, b in itertools.product(first, second)]
    assert len(cosines) == 100
    got = crop_score(first, second)
    assert got == pytest.approx(np.mean(cosines), rel=1e-12)
    # the mean of the cosines is the dot product of the mean unit vectors
    mean_first = np.mean([a / np.linalg.norm(a) for a in first], axis=0)
    mean_second = np.mean([b / np.linalg.norm(b) for b in second], axis=0)
    assert got == pytest.approx(mean_first @ mean_second, rel=1e-12)
    assert crop_score(first, first) == pytest.approx(mean_first @ mean_first, rel=1e-12)
    assert crop_score(first, second) == pytest.approx(crop_score(second, first), rel=1e-12)


# --- trial lists ------------------------------------------------------------------------


def test_clip_names():
    assert clip_name("s01/rec_3", 4, 7) == "s01/rec_3/Data_004-007"


def test_make_trials_pairs_clips_of_different_recordings():
    names = ["a", "b", "c", "d", "e"]
    recordings = ["r1", "r1", "r2", "r2", "r3"]
    subjects = [0, 0, 0, 1, 1]
    # (a, b) and (c, d) share a recording and are left out
    expected = [Trial(True, "a", "c"), Trial(False, "a", "d"), Trial(False, "a", "e"),
                Trial(True, "b", "c"), Trial(False, "b", "d"), Trial(False, "b", "e"),
                Trial(False, "c", "e"), Trial(True, "d", "e")]
    assert make_trials(names, subjects, recordings) == expected


def test_make_trials_refuses_repeated_names():
    with pytest.raises(ValueError, match="distinct"):
        make_trials(["a", "b", "a"], [0, 1, 0], ["r1", "r2", "r3"])


def test_trials_round_trip_as_label_file1_file2(tmp_path):
    trials = [Trial(True, "r1/Data_000-003", "r2/Data_004-007"), Trial(False, "r1/Data_000-003", "r3/Data_000-003")]
    path = tmp_path / "trials.txt"
    write_trials(path, trials)
    assert path.read_text() == "1 r1/Data_000-003 r2/Data_004-007\n0 r1/Data_000-003 r3/Data_000-003\n"
    assert not (tmp_path / "trials.txt.partial").exists()
    assert read_trials(path) == trials
    assert read_trials(str(path)) == trials
    # blank lines and surrounding spaces are no trials, and no error
    path.write_text("\n1  a   b \n\n0 a c\n")
    assert read_trials(path) == [Trial(True, "a", "b"), Trial(False, "a", "c")]


@pytest.mark.parametrize("bad", ["2 a c", "1 a", "1 a b c", "yes a b"])
def test_a_bad_trial_line_is_named_by_file_and_line(tmp_path, bad):
    path = tmp_path / "trials.txt"
    path.write_text(f"1 a b\n{bad}\n0 a d\n")
    with pytest.raises(ValueError, match=r"trials\.txt:2: expected 'label file1 file2'") as raised:
        read_trials(path)
    assert str(path) in str(raised.value)


@pytest.mark.parametrize("text", ["", "\n  \n"])
def test_a_trial_list_without_trials_is_refused(tmp_path, text):
    path = tmp_path / "trials.txt"
    path.write_text(text)
    with pytest.raises(ValueError, match="no trials"):
        read_trials(path)


# --- identity scores --------------------------------------------------------------------


def _clips():
    """Seven clips of seven recordings: subjects 0, 0, 1, 2, 2, 3, 4. The identity embeddings
    are the subject's one-hot row (plus a little noise), so identity separates perfectly; the
    other scorers' are random."""
    rng = np.random.default_rng(7)
    subjects = [0, 0, 1, 2, 2, 3, 4]
    clips = []
    for index, subject in enumerate(subjects):
        embeddings = {scorer: rng.normal(size=(CROPS, 5)) for scorer in SCORERS}
        embeddings["identity"] = np.eye(5)[subject] + 0.01 * rng.normal(size=(CROPS, 5))
        clips.append(Clip(f"r{index}/Data_000-003", f"r{index}", subject, embeddings, content_hits=0,
                          content_steps=1))
    return clips


def test_score_counts_trials_per_group():
    clips = _clips()
    trials = make_trials([c.name for c in clips], [c.subject for c in clips], [c.recording for c in clips])
    assert len(trials) == 21  # every pair of 7 clips of 7 recordings
    result = identity.score(clips, trials, trained_subjects={0, 1, 2}, source="trials.txt")
    # all: the same subject in (r0, r1) and (r3, r4), 19 others. Seen: the 10 pairs among
    # r0..r4 (subjects 0, 0, 1, 2, 2), same 2. Unseen: only (r5, r6), subjects 3 and 4.
    assert result["trials"] == {"all": {"same": 2, "different": 19}, "seen": {"same": 2, "different": 8},
                                "unseen": {"same": 0, "different": 1}}
    for scorer in SCORERS:
        assert set(result[scorer]) == {"all", "seen", "unseen"}
        assert result[scorer]["unseen"] is None  # no same-subject trial: no EER
    assert result["identity"]["all"] == 0.0 and result["identity"]["seen"] == 0.0
    assert result["chance"] == {"all": 0.5, "seen": 0.5, "unseen": None}  # like every scorer
    # the other scorers' EERs are the EERs (tested above) of the crop scores computed by
    # hand; not `_roc_eer`: with 2 positives among 21 trials, FPR 9/19 and 10/19 tie at
    # |FNR - FPR| = 1/38 and the pick between them is rounding
    by_name = {c.name: c for c in clips}
    same = np.array([t.same for t in trials])
    seen = np.array([by_name[t.first].subject < 3 and by_name[t.second].subject < 3 for t in trials])
    for scorer in ("video_identity", "content", "mean_mfcc"):
        scores = []
        for t in trials:
            a, b = by_name[t.first].embeddings[scorer], by_name[t.second].embeddings[scorer]
            a = a / np.linalg.norm(a, axis=1, keepdims=True)
            b = b / np.linalg.norm(b, axis=1, keepdims=True)
            scores.append(np.mean(a @ b.T))
        scores = np.array(scores)
        assert result[scorer]["all"] == equal_error_rate(same, scores)
        assert result[scorer]["seen"] == equal_error_rate(same[seen], scores[seen])


def test_score_without_training_subjects_has_one_group():
    clips = _clips()
    trials = make_trials([c.name for c in clips], [c.subject for c in clips], [c.recording for c in clips])
    result = identity.score(clips, trials, trained_subjects=None)
    assert result["trials"] == {"all": {"same": 2, "different": 19}}
    assert result["identity"] == {"all": 0.0}
    # with subjects 1 and 3 trained, seen is the one trial (r2, r5), of different subjects,
    # and unseen the 10 pairs among r0, r1, r3, r4, r6 (subjects 0, 0, 2, 2, 4)
    result = identity.score(clips, trials, trained_subjects={1, 3})
    assert result["trials"]["seen"] == {"same": 0, "different": 1}
    assert result["identity"]["seen"] is None
    assert result["trials"]["unseen"] == {"same": 2, "different": 8}
    assert result["identity"]["unseen"] == 0.0


def test_score_refuses_a_trial_of_an_unknown_clip():
    clips = _clips()
    trials = [Trial(True, clips[0].name, clips[1].name), Trial(False, clips[0].name, "elsewhere/Data_000-003")]
    with pytest.raises(ValueError, match="trials.txt: clip elsewhere/Data_000-003 is not among"):
        identity.score(clips, trials, trained_subjects=None, source="trials.txt")


# --- content top-1 ----------------------------------------------------------------------


def test_content_hits_count_the_steps_whose_nearest_audio_step_is_their_own():
    # two crops of 5 steps: crop 0 matches everywhere, crop 1's audio steps 1 and 2 swapped
    video = np.stack([np.eye(5), np.eye(5)])
    audio = np.stack([np.eye(5), np.eye(5)[[0, 2, 1, 3, 4]]])
    assert content_hits(video, audio) == 5 + 3
    # nearest by cosine, not by dot product: scales change nothing
    scales = np.random.default_rng(2).uniform(0.1, 10.0, size=(2, 5, 1))
    assert content_hits(0.5 * video, scales * audio) == 8
    # video step 0 is nearer audio step 0 by cosine (0.995) but nearer audio step 1 by the
    # dot product (5.5 against 1)
    video = np.eye(3)[None].copy()
    video[0, 0] = [1.0, 0.1, 0.0]
    audio = np.eye(3)[None].copy()
    audio[0, 1] = [5.0, 5.0, 0.0]
    assert content_hits(video, audio) == 3
    assert content_hits(video, audio[:, [1, 0, 2]]) == 1  # only step 2 keeps its own


# --- the mean-MFCC baseline -------------------------------------------------------------


def test_mean_mfcc_by_hand(rng):
    audio = (1000 * rng.standard_normal(4000)).astype(np.float32)
    got = mean_mfcc(audio)
    # python_speech_features' MFCCs by hand: pre-emphasis 0.97, rectangular frames of 512
    # every 256, zero-padded at the end to ceil(4000 / 256) = 16 frames
    x = audio.astype(np.float64)
    emphasised = np.append(x[0], x[1:] - 0.97 * x[:-1])
    frames = int(np.ceil(len(x) / 256))
    assert frames == 16
    padded = np.pad(emphasised, (0, frames * 256 + 512 - len(x)))
    framed = np.stack([padded[i * 256:i * 256 + 512] for i in range(frames)])
    power = np.abs(np.fft.rfft(framed, 512)) ** 2 / 512
    bank = librosa.filters.mel(sr=RATE, n_fft=512, n_mels=40, htk=True, norm=None)
    log_mel = np.log(np.maximum(power @ bank.T, 1e-10))
    cepstra = scipy.fft.dct(log_mel, type=2, norm="ortho", axis=-1)[:, :20]
    cepstra *= 1 + 11 * np.sin(np.pi * np.arange(20) / 22)
    expected = cepstra[:, 1:].mean(axis=0)  # c0 (the level) left out
    assert got.shape == (19,)
    np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-3 * np.abs(expected).max())
    # the level is left out: a louder copy has the same MFCCs 1..19
    np.testing.assert_allclose(mean_mfcc(10 * audio), got, rtol=1e-3, atol=1e-3 * np.abs(expected).max())


def test_a_clip_name_with_white_space_is_not_written(tmp_path):
    with pytest.raises(ValueError, match="white space"):
        write_trials(tmp_path / "trials.txt", [Trial(True, "a b/Data_001-002", "c/Data_001-002")])
    assert not list(tmp_path.iterdir())
