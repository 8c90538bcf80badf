import itertools

import numpy as np
import pytest

from dualcam.looks import EMITTERS, HAIR_STYLES, IMPACTS, MACHINES, SHAKE, SHAPES, Look, shake, subject_look
from dualcam.sounds import SOUND_NAMES


def test_every_sound_has_a_shape_and_an_emitter_and_one_kind_of_motion():
    assert tuple(SHAPES) == tuple(EMITTERS) == SOUND_NAMES
    voices = ("speaking", "whistling")
    assert sorted(MACHINES + IMPACTS + voices) == sorted(SOUND_NAMES)


def test_a_subject_looks_the_same_every_time():
    assert subject_look(4) == subject_look(4) and subject_look(4) is not subject_look(4)
    assert subject_look(np.int64(4)) == subject_look(4)


def test_the_first_nine_subjects_differ_in_shirt_and_vary_in_skin_hair_and_build():
    first = [subject_look(s) for s in range(1, 10)]
    for a, b in itertools.combinations(first, 2):
        assert np.abs(np.subtract(a.shirt, b.shirt)).max() > 40, (a, b)
    assert len({look.skin for look in first}) == 5
    assert len({look.hair for look in first}) == 7
    assert {look.hair_style for look in first} == set(HAIR_STYLES)
    assert len({(look.shoulders, look.head) for look in first}) == 4
    assert all(subject_look(s) != subject_look(s + 9) for s in range(1, 100))  # later subjects too


@pytest.mark.parametrize("subject", [0, -3, 1.5, True, "2"])
def test_subjects_are_numbers_from_one(subject):
    with pytest.raises(ValueError, match="subject"):
        subject_look(subject)


def test_bad_looks_are_rejected():
    with pytest.raises(ValueError, match="short, long, bun, none"):
        Look(hair_style="mohawk")
    with pytest.raises(ValueError, match="shoulders"):
        Look(shoulders=2.0)


def test_only_sounding_machines_shake_and_by_their_amplitude():
    phases = np.arange(1000) / 1000
    for name in SOUND_NAMES:
        assert shake(name, 0.3, 0.0) == (0.0, 0.0, 0.0)
        moves = np.array([shake(name, p, 0.5) for p in phases])
        assert np.abs(moves).max() == pytest.approx(0.5 * SHAKE.get(name, 0.0), rel=1e-3)
        np.testing.assert_allclose(moves.mean(axis=0), 0.0, atol=1e-12)  # it stays in place on average
    assert shake("drone", 0.1, 1.0) != shake("drone", 0.11, 1.0)  # a small phase step moves it
