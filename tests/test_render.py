import itertools

import numpy as np
import pytest

from dataloader.datasets import ACIVW_SPEC, AVIA_SPEC
from dualcam.render import BACKDROPS, VisualObject, render_frame
from dualcam.sounds import SOUND_NAMES


def _frame(objects, background=0, seed=0, **size):
    return render_frame(objects, background, np.random.default_rng(seed), **size)


def _object_mask(objects, background=0, seed=0):
    """Pixels the objects changed: the frame against the backdrop-only frame with the same
    sensor noise."""
    return np.any(_frame(objects, background, seed) != _frame([], background, seed), axis=-1)


def _centre_of_mass(mask):
    rows, cols = np.nonzero(mask)
    return cols.mean() + 0.5, rows.mean() + 0.5  # pixel centres in (u, v) image coordinates


def test_frame_shape_and_dtype():
    frame = _frame([VisualObject("train", (320, 240), 100)])
    assert frame.shape == (480, 640, 3) and frame.dtype == np.uint8
    assert _frame([VisualObject("train", (50, 40), 20)], height=90, width=120).shape == (90, 120, 3)


@pytest.mark.parametrize("name", SOUND_NAMES)
def test_centre_of_mass_is_the_object_centre(name):
    rng = np.random.default_rng(SOUND_NAMES.index(name))
    for _ in range(3):
        centre = (rng.uniform(150, 490), rng.uniform(130, 350))
        obj = VisualObject(name, centre, rng.uniform(30, 110), hue_shift=rng.uniform(-0.3, 0.3),
                           angle=rng.uniform(-np.pi, np.pi), phase=rng.uniform())
        mask = _object_mask([obj], background=int(rng.integers(len(BACKDROPS))))
        assert mask.sum() > 0.2 * obj.size**2
        u, v = _centre_of_mass(mask)
        assert np.hypot(u - obj.center[0], v - obj.center[1]) < 3, (obj, u, v)


def test_same_seed_same_frame_and_the_seed_only_moves_the_noise():
    objects = [VisualObject("drone", (200, 150), 80, phase=0.3), VisualObject("typing", (450, 300), 120)]
    np.testing.assert_array_equal(_frame(objects, 4, seed=1), _frame(objects, 4, seed=1))
    difference = _frame(objects, 4, seed=1).astype(int) - _frame(objects, 4, seed=2)
    assert np.abs(difference).max() <= 6  # two draws of +-3 sensor noise
    assert 2.0 < difference.std() < 3.5


def test_sensor_noise_is_mild_and_unbiased():
    frames = np.stack([_frame([], 1, seed) for seed in range(4)]).astype(float)
    noise = frames - frames.mean(axis=0)
    assert 1.0 < noise.std() < 2.5
    assert abs(noise.mean()) < 0.01


def test_backdrops_are_distinct_and_deterministic():
    frames = [_frame([], b).astype(float) for b in range(len(BACKDROPS))]
    for a, b in itertools.combinations(range(len(BACKDROPS)), 2):
        assert np.abs(frames[a] - frames[b]).mean() > 10, (BACKDROPS, a, b)
    assert tuple(BACKDROPS)[-3:] == AVIA_SPEC.extra["locations"]
    with pytest.raises(ValueError, match="anechoic"):
        _frame([], len(BACKDROPS))


def _mean_colour(name):
    obj = VisualObject(name, (320, 240), 100, phase=0.25)
    mask = _object_mask([obj], background=8)
    return _frame([obj], background=8)[mask].mean(axis=0)


def test_acivw_classes_differ_in_colour():
    colours = {name: _mean_colour(name) for name in ACIVW_SPEC.class_names}
    for a, b in itertools.combinations(ACIVW_SPEC.class_names, 2):
        assert np.linalg.norm(colours[a] - colours[b]) > 15, (a, b, colours[a], colours[b])


def test_every_class_looks_different():
    looks = {}
    crop = np.s_[80:400, 190:450]  # holds every object of size 110 at the centre
    for name in SOUND_NAMES:
        obj = VisualObject(name, (320, 240), 110, phase=0.25)
        mask = _object_mask([obj])
        assert mask[crop].sum() == mask.sum()
        looks[name] = (mask[crop], _frame([obj])[crop].astype(int))
    for a, b in itertools.combinations(SOUND_NAMES, 2):
        (mask_a, frame_a), (mask_b, frame_b) = looks[a], looks[b]
        union = mask_a | mask_b
        changed = np.any(np.abs(frame_a - frame_b) > 30, axis=-1) & union
        assert changed.sum() > 0.05 * union.sum(), (a, b)


def test_animation_phase_moves_parts_not_the_centre():
    masks = [_object_mask([VisualObject("clapping", (320, 240), 100, phase=p)]) for p in (0.0, 0.5)]
    assert np.sum(masks[0] != masks[1]) > 100
    for mask in masks:
        assert np.hypot(*np.subtract(_centre_of_mass(mask), (320, 240))) < 3


def test_hue_shift_recolours_and_angle_turns():
    plain = VisualObject("train", (320, 240), 100)
    shifted = VisualObject("train", (320, 240), 100, hue_shift=2.0)
    np.testing.assert_array_equal(_object_mask([plain]), _object_mask([shifted]))
    assert np.abs(_mean_colour_of(plain) - _mean_colour_of(shifted)).max() > 40
    rows, cols = np.nonzero(_object_mask([VisualObject("train", (320, 240), 100, angle=np.pi / 2)]))
    assert np.ptp(rows) > 190 and np.ptp(cols) < 90  # standing upright: tall and narrow


def _mean_colour_of(obj):
    return _frame([obj])[_object_mask([obj])].mean(axis=0)


def test_later_objects_are_drawn_on_top():
    under, over = VisualObject("boat", (320, 240), 120), VisualObject("hair_dryer", (330, 250), 60)
    top = _object_mask([over])
    np.testing.assert_array_equal(_frame([under, over])[top], _frame([over])[top])
    assert np.any(_frame([over, under])[top] != _frame([over])[top])


@pytest.mark.parametrize("shift", [(-300, -200), (300, 200), (-330, 0), (0, 235)])
def test_objects_over_the_edge_are_clipped(shift):
    inside = VisualObject("shopping_cart", (320.3, 240.6), 100, angle=0.3)
    moved = VisualObject("shopping_cart", (320.3 + shift[0], 240.6 + shift[1]), 100, angle=0.3)
    full, partial = _object_mask([inside]), _object_mask([moved])
    expected = np.zeros_like(full)
    du, dv = shift
    expected[max(dv, 0):480 + min(dv, 0), max(du, 0):640 + min(du, 0)] = \
        full[max(-dv, 0):480 + min(-dv, 0), max(-du, 0):640 + min(-du, 0)]
    assert 0 < partial.sum() < full.sum()
    assert np.sum(partial != expected) <= 0.01 * expected.sum()


def test_objects_outside_the_frame_change_nothing():
    far = [VisualObject("train", (-500, 240), 100), VisualObject("drone", (320, 2000), 50)]
    np.testing.assert_array_equal(_frame(far), _frame([]))


def test_bad_objects_are_rejected():
    with pytest.raises(ValueError, match="train.*stick_dropping"):
        VisualObject("violin", (0, 0), 10)
    with pytest.raises(ValueError, match="size"):
        VisualObject("train", (0, 0), 0)
