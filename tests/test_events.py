import numpy as np
import pytest

from dualcam import events
from dualcam.events import Timing


def test_merge_joins_overlapping_and_touching_intervals_and_sorts():
    merged = events.merge([(3.0, 4.0), (0.0, 1.0), (0.5, 2.0), (2.0, 2.5), (5.0, 5.5)])
    np.testing.assert_array_equal(merged, [[0.0, 2.5], [3.0, 4.0], [5.0, 5.5]])
    assert events.merge(np.zeros((0, 2))).shape == (0, 2)


def test_clip_keeps_the_parts_inside():
    clipped = events.clip([(-1.0, 0.5), (0.7, 0.8), (0.9, 3.0), (4.0, 5.0)], 0.0, 2.0)
    np.testing.assert_array_equal(clipped, [[0.0, 0.5], [0.7, 0.8], [0.9, 2.0]])


def test_gain_is_zero_outside_one_inside_with_ramps_inside_the_events():
    times = np.array([0.99, 1.0, 1.01, 1.02, 1.5, 1.98, 2.0, 2.01, 2.5])
    gain = events.gain(np.array([[1.0, 2.0]]), times, ramp=0.02)
    np.testing.assert_allclose(gain, [0.0, 0.0, 0.5, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0], atol=1e-12)
    short = events.gain(np.array([[0.0, 0.01]]), np.array([0.005]), ramp=0.02)  # ramps meet in the middle
    assert short[0] == pytest.approx(1.0)


def test_draw_is_irregular_within_its_ranges_and_covers_the_span():
    rng = np.random.default_rng(0)
    timing = Timing((1.0, 3.0), (0.5, 1.5))
    drawn = events.draw(rng, timing, 0.0, 200.0)
    lengths, pauses = np.diff(drawn, axis=1)[:, 0], drawn[1:, 0] - drawn[:-1, 1]
    assert np.all(lengths[1:-1] >= 1.0) and np.all(lengths <= 3.0)
    assert np.all(pauses >= 0.5) and np.all(pauses <= 1.5)
    assert drawn[0, 0] >= 0.0 and drawn[-1, 1] <= 200.0
    # Not periodic: onsets are not a multiple of any period (their spacing varies widely).
    assert np.std(np.diff(drawn[:, 0])) > 0.3


def test_draw_always_sounds_within_the_recording():
    timing = Timing((0.2, 0.3), (20.0, 30.0))  # pauses far longer than the recording
    for seed in range(30):
        drawn = events.draw(np.random.default_rng(seed), timing, -1.0, 3.0, within=(0.0, 2.0))
        assert np.any((drawn[:, 0] < 2.0) & (drawn[:, 1] > 0.0)), seed


def test_strokes_pass_half_at_each_impact_and_rest_between():
    impacts = np.array([1.0, 3.0])
    times = np.array([0.0, 0.88, 0.94, 1.0, 1.06, 1.12, 2.0, 2.94, 3.0])
    phase = events.strokes(impacts, times, stroke=0.12)
    np.testing.assert_allclose(phase, [0.0, 0.0, 0.25, 0.5, 0.75, 1.0, 1.0, 0.25, 0.5], atol=1e-12)
    np.testing.assert_array_equal(events.strokes(np.array([]), times, 0.1), np.zeros(len(times)))
    np.testing.assert_allclose(events.strokes(np.array([2.0]), np.array([1.95, 2.05]), 0.1), [0.25, 0.75])
