import itertools

import numpy as np
import pytest

from dataloader.datasets import ACIVW_SPEC, AVIA_SPEC
from dualcam import looks
from dualcam.render import (
    BACKDROPS,
    EMITTERS,
    IMPACTS,
    MACHINES,
    VisualObject,
    emitter_offset,
    render_frame,
    subject_look,
)
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


@pytest.mark.parametrize("name", AVIA_SPEC.class_names)
def test_a_look_dresses_every_action_and_keeps_its_centre(name):
    obj = VisualObject(name, (300.4, 250.2), 120, angle=0.3, phase=0.3, activity=0.6, look=subject_look(6))
    assert np.any(_frame([obj]) != _frame([VisualObject(name, (300.4, 250.2), 120, angle=0.3, phase=0.3,
                                                         activity=0.6)]))
    u, v = _centre_of_mass(_object_mask([obj]))
    assert np.hypot(u - obj.center[0], v - obj.center[1]) < 3


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
    with pytest.raises(ValueError, match="activity"):
        VisualObject("train", (0, 0), 10, activity=1.5)
    with pytest.raises(ValueError, match="phase"):
        VisualObject("clapping", (0, 0), 10, phase=-0.1)
    with pytest.raises(ValueError, match="centroid, emitter"):
        VisualObject("train", (0, 0), 10, anchor="feet")


def _coloured(frame, colour):
    """Pixels of `colour` give or take the sensor noise."""
    return np.all(np.abs(frame.astype(int) - colour) <= 3, axis=-1)


def test_emitter_anchor_puts_the_emitter_at_the_centre(monkeypatch):
    # A probe shape whose emitter is the centre of a small disc of its own colour.
    probe = (looks.Box(-0.5, 0.3, 0.4, 0.2, (20, 200, 20)), looks.Ellipse(0.6, -0.4, 0.1, 0.1, (200, 20, 200)))
    monkeypatch.setitem(looks.SHAPES, "probe", lambda phase, activity, look: probe)
    monkeypatch.setitem(looks.EMITTERS, "probe", (0.6, -0.4))
    for centre, angle in (((300.3, 200.8), 0.0), ((250.6, 260.1), 0.7), ((410.0, 190.5), -2.5)):
        frame = _frame([VisualObject("probe", centre, 80, angle=angle, anchor="emitter")], background=8)
        u, v = _centre_of_mass(_coloured(frame, (200, 20, 200)))
        assert np.hypot(u - centre[0], v - centre[1]) < 0.2, (centre, angle, u, v)
    # A speaker of any look, turned: the open mouth (its emitter) is centred on `center`.
    centre = (301.3, 207.8)
    for subject in (2, 7):
        obj = VisualObject("speaking", centre, 150, angle=0.4, activity=1.0, look=subject_look(subject),
                           anchor="emitter")
        u, v = _centre_of_mass(_coloured(_frame([obj], background=8), (120, 30, 40)))  # looks._MOUTH
        assert np.hypot(u - centre[0], v - centre[1]) < 0.3, (subject, u, v)


def test_emitter_offset_scales_and_turns_like_the_drawing():
    x, y = EMITTERS["train"]
    np.testing.assert_allclose(emitter_offset("train", 100, 0.0), (100 * x, 100 * y))
    np.testing.assert_allclose(emitter_offset("train", 100, np.pi / 2), (-100 * y, 100 * x), atol=1e-9)  # clockwise


@pytest.mark.parametrize("name", SOUND_NAMES)
def test_every_emitter_is_on_or_beside_its_object_at_the_contact(name):
    centre = (320.3, 240.7)
    mask = _object_mask([VisualObject(name, centre, 100, phase=0.5, anchor="emitter")], background=8)
    rows, cols = np.nonzero(mask)
    # Only the wheel-level midpoints (train, cart) and the road between the lanes are off the drawing.
    assert np.hypot(cols + 0.5 - centre[0], rows + 0.5 - centre[1]).min() < 0.25 * 100


def _mouth_pixels(name, activity, colour):
    obj = VisualObject(name, (320, 240), 150, activity=activity, look=subject_look(3))
    return _coloured(_frame([obj], background=8), colour).sum()


def test_the_speakers_mouth_opens_with_the_activity():
    counts = [_mouth_pixels("speaking", a, (120, 30, 40)) for a in (0.0, 0.25, 0.5, 0.75, 1.0)]  # looks._MOUTH
    assert all(a < b for a, b in zip(counts, counts[1:])), counts
    assert counts[0] < 0.2 * counts[-1]  # closed: a thin line


def test_the_whistlers_lips_purse_while_sounding():
    lips = [_mouth_pixels("whistling", a, (175, 85, 90)) for a in (0.0, 0.25)]  # looks._LIPS
    assert lips[0] == 0 < lips[1]
    holes = [_mouth_pixels("whistling", a, (90, 25, 30)) for a in (0.25, 0.5, 0.75, 1.0)]  # looks._HOLE
    assert all(a < b for a, b in zip(holes, holes[1:])), holes


def test_subjects_keep_their_look_and_differ_from_each_other():
    frames = [_frame([VisualObject("typing", (320, 240), 110, look=subject_look(s))]).astype(int) for s in range(1, 10)]
    again = _frame([VisualObject("typing", (320, 240), 110, look=subject_look(4))])
    np.testing.assert_array_equal(frames[3], again)
    person = _object_mask([VisualObject("typing", (320, 240), 110)])
    for a, b in itertools.combinations(range(9), 2):
        changed = np.any(np.abs(frames[a] - frames[b]) > 30, axis=-1)
        assert changed.sum() > 0.2 * person.sum(), (a + 1, b + 1)  # the shirt alone is a third of the person
    default = VisualObject("typing", (320, 240), 110)
    np.testing.assert_array_equal(_frame([default]), _frame([VisualObject("typing", (320, 240), 110,
                                                                          look=looks.DEFAULT_LOOK)]))


@pytest.mark.parametrize("name", MACHINES)
def test_machines_are_still_when_silent_and_shake_when_sounding(name):
    def frame(phase, activity):
        return _frame([VisualObject(name, (320, 240), 100, phase=phase, activity=activity, anchor="emitter")])

    np.testing.assert_array_equal(frame(0.1, 0.0), frame(0.6, 0.0))
    changed = np.any(frame(0.1, 1.0) != frame(0.13, 1.0), axis=-1)
    drawn = [_object_mask([VisualObject(name, (320, 240), 100, phase=p, activity=1.0, anchor="emitter")])
             for p in (0.1, 0.13)]
    assert changed.sum() > 50 and not np.any(changed & ~(drawn[0] | drawn[1]))


@pytest.mark.parametrize("name", MACHINES + ("speaking", "whistling"))
def test_cycles_do_not_jump_when_the_phase_wraps(name):
    def frame(phase):
        return _frame([VisualObject(name, (320, 240), 100, phase=phase, activity=0.7, anchor="emitter")])

    np.testing.assert_array_equal(frame(0.0), frame(1.0))


@pytest.mark.parametrize("name", IMPACTS)
def test_impact_strokes_rest_at_both_ends_and_move_fastest_at_the_contact(name):
    def frame(phase, anchor="emitter"):
        return _frame([VisualObject(name, (320, 240), 150, phase=phase, look=subject_look(5), anchor=anchor)], 8)

    for anchor in ("emitter", "centroid"):
        np.testing.assert_array_equal(frame(0.0, anchor), frame(1.0, anchor))
    phases = np.linspace(0, 1, 41)
    frames = [frame(p) for p in phases]
    changes = [np.any(a != b, axis=-1).sum() for a, b in zip(frames, frames[1:])]
    fastest = phases[np.argmax(changes)] + 0.5 * (phases[1] - phases[0])
    assert abs(fastest - 0.5) < 0.15, changes
    assert np.any(frames[0] != frames[20], axis=-1).sum() > 100  # the contact is not the rest pose
