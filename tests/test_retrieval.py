"""Clip <-> caption retrieval (evaluation.retrieval): hit rates with expected tie-breaking, gallery
metrics and the original's protocol, against hand computations."""
import numpy as np
import pytest

from evaluation.retrieval import gallery_metrics, hit_rates, protocol_recall

# --- hit rates and gallery metrics ------------------------------------------------------

# Row 0 ranks its relevant item first, row 1 its two relevant ones 2nd and 3rd, row 2 its one
# last, row 3 first.
HAND_SCORES = np.array([
    [0.9, 0.1, 0.2, 0.3],
    [0.8, 0.5, 0.1, 0.2],
    [0.7, 0.6, 0.3, 0.4],
    [0.1, 0.2, 0.3, 0.9],
])
HAND_RELEVANT = np.array([
    [1, 0, 0, 0],
    [0, 1, 0, 1],
    [0, 0, 1, 0],
    [0, 0, 0, 1],
], bool)


def test_hit_rates_of_a_hand_ranked_case():
    hits = hit_rates(HAND_SCORES, HAND_RELEVANT, ks=(1, 2, 3, 4, 5))
    np.testing.assert_array_equal(hits[1], [1, 0, 0, 1])
    np.testing.assert_array_equal(hits[2], [1, 1, 0, 1])
    np.testing.assert_array_equal(hits[3], [1, 1, 0, 1])
    np.testing.assert_array_equal(hits[4], [1, 1, 1, 1])
    np.testing.assert_array_equal(hits[5], [1, 1, 1, 1])


def test_gallery_metrics_of_a_hand_ranked_case():
    result = gallery_metrics(HAND_SCORES, HAND_RELEVANT, ks=(1, 2, 5))
    assert set(result) == {"r1", "r2", "mAP"}  # 5 is larger than the gallery of 4
    assert result["r1"] == pytest.approx(2 / 4)
    assert result["r2"] == pytest.approx(3 / 4)
    # Average precision: the mean over the relevant items of the precision at their ranks.
    row_aps = [1.0, (1 / 2 + 2 / 3) / 2, 1 / 4, 1.0]
    assert result["mAP"] == pytest.approx(np.mean(row_aps))
    assert result["mAP"] == pytest.approx(17 / 24)


def test_gallery_metrics_default_ks_leave_out_those_past_the_gallery():
    scores = np.random.default_rng(0).random((6, 6))
    assert set(gallery_metrics(scores, np.eye(6, dtype=bool))) == {"r1", "r5", "mAP"}


def test_a_relevant_item_tied_with_an_irrelevant_one_hits_at_1_half_the_time():
    hits = hit_rates(np.array([[0.5, 0.5, 0.1]]), np.array([[True, False, False]]), ks=(1, 2, 3))
    assert hits[1][0] == pytest.approx(0.5)
    assert hits[2][0] == pytest.approx(1.0)
    assert hits[3][0] == pytest.approx(1.0)


def test_two_relevant_items_tied_with_two_irrelevant_ones():
    relevant = np.array([[True, True, False, False, False]])
    hits = hit_rates(np.array([[0.7, 0.7, 0.7, 0.7, 0.1]]), relevant, ks=(1, 2, 3))
    assert hits[1][0] == pytest.approx(1 - 2 / 4)  # 1 - C(2, 1) / C(4, 1)
    assert hits[2][0] == pytest.approx(1 - 1 / 6)  # 1 - C(2, 2) / C(4, 2)
    assert hits[3][0] == pytest.approx(1.0)  # C(2, 3) = 0: three draws cannot all be irrelevant


def test_irrelevant_items_above_the_tie_shift_it_down():
    relevant = np.array([[False, True, True, False, False]])
    hits = hit_rates(np.array([[0.9, 0.7, 0.7, 0.7, 0.7]]), relevant, ks=(1, 2, 3))
    assert hits[1][0] == 0.0
    assert hits[2][0] == pytest.approx(0.5)
    assert hits[3][0] == pytest.approx(5 / 6)


def test_a_relevant_item_below_the_best_relevant_one_does_not_count():
    relevant = np.array([[True, False, True]])
    hits = hit_rates(np.array([[0.5, 0.5, 0.1]]), relevant, ks=(1,))
    assert hits[1][0] == pytest.approx(0.5)


def test_expected_tie_breaking_agrees_with_random_tie_breaks():
    rng = np.random.default_rng(7)
    scores = rng.integers(0, 3, size=(8, 9)).astype(float)  # few levels: many ties
    relevant = rng.random((8, 9)) < 0.25
    relevant[np.arange(8), rng.integers(0, 9, 8)] = True
    ks = range(1, 10)
    expected = hit_rates(scores, relevant, ks)
    trials = 20_000
    for row in range(len(scores)):
        # Integer scores, so a uniform key in [0, 1) breaks only the ties.
        order = np.argsort(-scores[row] + rng.random((trials, scores.shape[1])), axis=1)
        ranked_relevant = relevant[row][order]
        for k in ks:
            simulated = np.mean(ranked_relevant[:, :k].any(axis=1))
            assert simulated == pytest.approx(expected[k][row], abs=0.01), (row, k)


def test_a_row_without_a_relevant_item_is_an_error():
    with pytest.raises(ValueError, match="no relevant item"):
        hit_rates(np.ones((2, 3)), np.array([[True, False, False], [False, False, False]]), ks=(1,))


# --- the original's protocol -------------------------------------------------------------


def _both(result: dict, key: str) -> list[float]:
    return [result["audio_to_caption"][key], result["caption_to_audio"][key]]


def test_perfect_scores_always_hit():
    result = protocol_recall(np.eye(40), np.arange(40), repeats=3)
    assert result["gallery"] == 30
    assert _both(result, "r1") == [1.0, 1.0]
    assert _both(result, "r5") == [1.0, 1.0]
    assert _both(result, "r1_std") == [0.0, 0.0]
    assert result["repeats"] == 3


def test_constant_scores_hit_at_chance():
    result = protocol_recall(np.zeros((40, 40)), np.arange(40), repeats=3)
    assert result["chance"] == pytest.approx({"r1": 1 / 30, "r5": 5 / 30})
    assert _both(result, "r1") == pytest.approx([1 / 30, 1 / 30], abs=1e-12)
    assert _both(result, "r5") == pytest.approx([5 / 30, 5 / 30], abs=1e-12)


def test_fewer_recordings_than_the_gallery_use_them_all():
    result = protocol_recall(np.zeros((10, 10)), np.arange(10), ks=(1, 5, 20), repeats=2)
    assert result["gallery"] == 10
    assert result["chance"] == pytest.approx({"r1": 0.1, "r5": 0.5})
    assert set(result["audio_to_caption"]) == {"r1", "r1_std", "r5", "r5_std"}  # 20 > the gallery
    assert _both(result, "r1") == pytest.approx([0.1, 0.1], abs=1e-12)


def test_a_gallery_of_every_recording_is_the_whole_matrix():
    # One item a recording and every recording in the gallery: each query sees the full
    # matrix row (or column), whatever the draws.
    scores = np.random.default_rng(3).random((6, 6))
    result = protocol_recall(scores, np.arange(6), ks=(1, 5), repeats=4)
    by_rows = gallery_metrics(scores, np.eye(6, dtype=bool), ks=(1, 5))
    by_columns = gallery_metrics(scores.T, np.eye(6, dtype=bool), ks=(1, 5))
    for direction, whole in (("audio_to_caption", by_rows), ("caption_to_audio", by_columns)):
        assert result[direction]["r1"] == pytest.approx(whole["r1"])
        assert result[direction]["r5"] == pytest.approx(whole["r5"])
        assert result[direction]["r1_std"] == pytest.approx(0.0, abs=1e-12)


def test_random_scores_are_reproducible_for_a_seed_and_differ_across_seeds():
    rng = np.random.default_rng(11)
    scores, groups = rng.random((90, 90)), np.repeat(np.arange(45), 2)
    first = protocol_recall(scores, groups, repeats=5, seed=3)
    assert first == protocol_recall(scores, groups, repeats=5, seed=3)
    other = protocol_recall(scores, groups, repeats=5, seed=4)
    assert _both(first, "r1") != _both(other, "r1")
    assert first["audio_to_caption"]["r1_std"] > 0


def test_items_of_the_same_recording_are_never_impostors():
    # Three items a recording; an item scores 1 against itself, 2 against the other items of
    # its recording (the same caption text), 0 elsewhere: any of them in the gallery would
    # beat the own item.
    groups = np.repeat(np.arange(12), 3)
    same = groups[:, None] == groups[None, :]
    scores = np.where(same, 2.0, 0.0)
    np.fill_diagonal(scores, 1.0)
    result = protocol_recall(scores, groups, repeats=5)
    assert result["gallery"] == 12
    assert _both(result, "r1") == [1.0, 1.0]


def test_a_single_recording_is_an_error():
    with pytest.raises(ValueError, match="at least 2 recordings"):
        protocol_recall(np.eye(3), np.zeros(3, int))
