"""Phrase grounding in time (evaluation.grounding): frame scores, normalisation, frame-level and
event-based precision, recall and F1, against hand computations."""
import warnings

import numpy as np
import pytest

from evaluation.grounding import (
    THRESHOLDS,
    at_threshold,
    best_threshold,
    event_prf,
    frame_prf,
    normalise,
    phrase_scores,
    segments,
)

FRAME = 1 / 12  # seconds a frame


# --- frame scores ------------------------------------------------------------------------


def test_phrase_scores_mean_and_max_over_the_words():
    similarity = np.array([[0.2, 0.4], [0.0, 0.6], [1.0, 0.0]])
    np.testing.assert_allclose(phrase_scores(similarity, "mean"), [0.3, 0.3, 0.5])
    np.testing.assert_allclose(phrase_scores(similarity, "max"), [0.4, 0.6, 1.0])
    with pytest.raises(ValueError, match="'mean' or 'max'"):
        phrase_scores(similarity, "median")


def test_normalise_scales_each_row_to_0_1():
    np.testing.assert_allclose(normalise(np.array([1.0, 3.0, 2.0])), [0.0, 1.0, 0.5])
    np.testing.assert_allclose(normalise(np.array([[1.0, 3.0, 2.0], [4.0, 0.0, 2.0]])),
                               [[0.0, 1.0, 0.5], [1.0, 0.0, 0.5]])


def test_normalise_of_a_constant_row_is_zeros_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        flat = normalise(np.array([[2.0, 2.0, 2.0], [1.0, 3.0, 2.0]]))
    np.testing.assert_array_equal(flat, [[0.0, 0.0, 0.0], [0.0, 1.0, 0.5]])


# --- frame-level precision, recall and F1 --------------------------------------------------

# Two pairs of different lengths.
SCORES = [np.array([0.1, 0.5, 0.9, 0.3]), np.array([0.6, 0.2, 0.05])]
TRUTH = [np.array([False, True, True, False]), np.array([True, False, True])]


def test_frame_prf_counts_every_frame_of_every_pair():
    prf = frame_prf(SCORES, TRUTH, thresholds=np.array([0.25, 0.5, 0.55]))
    np.testing.assert_array_equal(prf["thresholds"], [0.25, 0.5, 0.55])
    # 0.25: predicted A1 A2 A3 B0 -> tp A1 A2 B0, fp A3, fn B2.
    # 0.5: predicted A1 (its score is the threshold) A2 B0 -> tp 3, fp 0, fn B2.
    # 0.55: predicted A2 B0 -> tp 2, fp 0, fn A1 B2.
    np.testing.assert_allclose(prf["precision"], [3 / 4, 1.0, 1.0])
    np.testing.assert_allclose(prf["recall"], [3 / 4, 3 / 4, 2 / 4])
    np.testing.assert_allclose(prf["f1"], [3 / 4, 2 * 0.75 / 1.75, 2 * 0.5 / 1.5])


def test_frame_prf_of_a_constant_map_predicts_nothing():
    scores = normalise(phrase_scores(np.zeros((5, 3)), "mean"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        prf = frame_prf([scores], [np.array([True, True, False, False, False])])
    assert len(prf["f1"]) == len(THRESHOLDS)
    for name in ("precision", "recall", "f1"):
        np.testing.assert_array_equal(prf[name], np.zeros(len(THRESHOLDS)))


def test_frame_prf_without_truth_has_zero_recall():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        prf = frame_prf([np.array([0.0, 0.5, 1.0])], [np.zeros(3, bool)], thresholds=np.array([0.4]))
    assert (prf["precision"][0], prf["recall"][0], prf["f1"][0]) == (0.0, 0.0, 0.0)


def test_the_grid_is_the_originals():
    assert len(THRESHOLDS) == 99
    assert (THRESHOLDS[0], THRESHOLDS[49], THRESHOLDS[-1]) == (0.01, 0.5, 0.99)


def test_best_threshold_is_the_first_of_the_highest_f1():
    prf = {"thresholds": np.array([0.1, 0.2, 0.3, 0.4]), "f1": np.array([0.2, 0.5, 0.5, 0.1])}
    assert best_threshold(prf) == 0.2
    assert best_threshold(frame_prf(SCORES, TRUTH, thresholds=np.array([0.25, 0.5, 0.55]))) == 0.5


def test_at_threshold_reads_a_grid_entry():
    prf = frame_prf(SCORES, TRUTH)
    at = at_threshold(prf, 0.55)
    assert at == pytest.approx({"threshold": 0.55, "precision": 1.0, "recall": 0.5, "f1": 2 / 3})
    assert at_threshold(prf, 0.55 + 1e-12) == at
    with pytest.raises(ValueError, match="not on the grid"):
        at_threshold(prf, 0.555)


# --- events ------------------------------------------------------------------------------


def test_segments_are_runs_of_true_frames():
    active = np.array([True, True, False, False, True, False, True, True])
    assert segments(active, 0.5) == [(0.0, 1.0), (2.0, 2.5), (3.0, 4.0)]
    assert segments(np.zeros(4, bool), 0.5) == []
    assert segments(np.ones(3, bool), 0.25) == [(0.0, 0.75)]


def _frames(length: int, *runs: tuple[int, int]) -> np.ndarray:
    """`length` frames, True over each [first, end) run."""
    active = np.zeros(length, bool)
    for first, end in runs:
        active[first:end] = True
    return active


REFERENCE = _frames(48, (12, 24))  # onset 1 s


@pytest.mark.parametrize("start, hit", [
    (12, True),
    (14, True),  # onset 2/12 s late: within the 0.2 s collar
    (10, True),  # 2/12 s early
    (15, False),  # 3/12 = 0.25 s late
    (16, False),  # 4/12 s late, the nearest a frame gets to 0.3 s
    (8, False),  # 4/12 s early
])
def test_an_onset_within_the_collar_is_a_hit(start, hit):
    result = event_prf([_frames(48, (start, 24))], [REFERENCE], FRAME)
    expected = 1.0 if hit else 0.0
    assert result == pytest.approx({"precision": expected, "recall": expected, "f1": expected, "t_collar": 0.2})


def test_a_wider_collar_takes_a_later_onset():
    result = event_prf([_frames(48, (15, 24))], [REFERENCE], FRAME, t_collar=0.3)
    assert result == pytest.approx({"precision": 1.0, "recall": 1.0, "f1": 1.0, "t_collar": 0.3})


def test_event_prf_of_two_pairs():
    truth = [REFERENCE, _frames(48, (0, 6), (30, 36)), np.zeros(20, bool)]
    predicted = [
        _frames(48, (13, 21), (40, 46)),  # a hit (1/12 s late) and a false alarm
        _frames(48, (0, 4), (34, 41)),  # a hit at 0 s and one 4/12 s late: a miss and a false alarm
        np.zeros(20, bool),  # nothing to find, nothing found
    ]
    result = event_prf(predicted, truth, FRAME)
    precision, recall = 2 / 4, 2 / 3  # 2 hits of 4 estimated and 3 reference events
    assert result == pytest.approx({"precision": precision, "recall": recall,
                                    "f1": 2 * precision * recall / (precision + recall), "t_collar": 0.2})
    assert result["f1"] == pytest.approx(4 / 7)


def test_event_prf_with_nothing_to_count_is_zero_not_nan():
    # sed_eval gives NaN precision without estimates, NaN recall without references.
    nothing_found = event_prf([np.zeros(48, bool)], [REFERENCE], FRAME)
    assert nothing_found == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "t_collar": 0.2}
    nothing_at_all = event_prf([np.zeros(48, bool)], [np.zeros(48, bool)], FRAME)
    assert nothing_at_all == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "t_collar": 0.2}
    false_alarm = event_prf([REFERENCE], [np.zeros(48, bool)], FRAME)
    assert false_alarm == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "t_collar": 0.2}
