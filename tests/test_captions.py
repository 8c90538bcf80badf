import numpy as np
import pytest

from dualcam import captions


def _segments(*pairs):
    return np.array(pairs, dtype=float).reshape(-1, 2)


def test_compose_orders_by_onset_and_says_while_or_then_and_background_last():
    parts = [
        ("a man speaks", _segments((2.0, 4.0)), False),
        ("a drone buzzes", _segments((0.5, 3.0)), False),
        ("a train passes", _segments((1.0, 9.0)), True),
        ("a hammer strikes", _segments((5.0, 6.0)), False),
    ]
    assert captions.compose(parts) == ("A drone buzzes while a man speaks, then a hammer strikes, "
                                       "and in the background a train passes.")
    background = [("traffic roars", _segments((0, 1)), True), ("a drill whirs", _segments((0, 1)), True)]
    assert captions.compose(background) == "In the background, traffic roars and a drill whirs."


def test_every_phrase_parses_back_to_its_sound_in_order():
    rng = np.random.default_rng(0)
    for name in captions.PHRASES:
        for who in captions.WHO:
            text = captions.phrase(rng, name, who)
            caption = captions.compose([(text, _segments((0, 1)), False),
                                        ("a drone hovers", _segments((2, 3)), False)])
            parsed = captions.parse(caption)
            assert parsed == [(text, name), ("a drone hovers", "drone")], caption


def test_phrases_name_one_sound_each():
    names_of: dict[str, set[str]] = {}
    for name, templates in captions.PHRASES.items():
        for template in templates:
            for who in captions.WHO:
                names_of.setdefault(template.format(who=who), set()).add(name)
    assert all(len(names) == 1 for names in names_of.values())


def test_unknown_who_is_refused():
    with pytest.raises(ValueError, match="who"):
        captions.phrase(np.random.default_rng(0), "clapping", "a dog")
