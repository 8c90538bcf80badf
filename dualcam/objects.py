"""The sounding objects of the scenes: where each kind is found, how loud it is and how it
is used over time, so that where a sound comes from carries information about what it is,
as in real recordings (a drone in the air, a hoover on the floor, a razor at the face).

Heights are of the object's centre above the floor; the camera is on a tripod at
CAMERA_HEIGHT, looking level, so the height and the distance set where the object appears.
AVIA's actions are all done by a person seated at a table, whose place they share; the
sound comes from the part that makes it (the render's emitters: a mouth, the hands, the
table top).
"""
from __future__ import annotations

import dataclasses

from dataloader.datasets import AVIA_SPEC
from dualcam.events import Timing

CAMERA_HEIGHT = 1.2  # metres


@dataclasses.dataclass(frozen=True)
class Place:
    """Where an object of a kind is found, and how loud it is (ranges, drawn uniformly)."""

    height: tuple[float, float]  # metres above the floor, of the object's centre
    depth: tuple[float, float]  # metres along the optical axis
    size: tuple[float, float]  # metres: the object's largest half-extent
    level_db: tuple[float, float]  # RMS dBFS at 1 m
    speed: float = 0.3  # largest drift, metres per second, across the image
    climbs: bool = False  # drifts up and down too


_PERSON = dict(height=(0.95, 1.1), depth=(1.8, 3.0), size=(0.7, 0.85), speed=0.05)

PLACES: dict[str, Place] = {
    "train": Place((1.5, 2.2), (9.0, 14.0), (4.0, 6.0), (6.0, 14.0), speed=0.5),
    "boat": Place((0.0, 0.6), (8.0, 14.0), (2.0, 3.5), (0.0, 8.0), speed=0.6),
    "drone": Place((1.8, 3.5), (4.0, 8.0), (0.25, 0.45), (-10.0, -2.0), speed=0.5, climbs=True),
    "fountain": Place((0.4, 1.2), (5.0, 9.0), (0.8, 1.5), (-6.0, 0.0), speed=0.0),
    "drill": Place((0.9, 1.4), (1.5, 3.0), (0.12, 0.2), (-14.0, -6.0), speed=0.1),
    "razor": Place((1.45, 1.7), (1.2, 2.2), (0.07, 0.1), (-26.0, -18.0), speed=0.05),
    "hair_dryer": Place((1.35, 1.7), (1.5, 2.5), (0.14, 0.22), (-16.0, -10.0), speed=0.1),
    "hoover": Place((0.3, 0.6), (2.5, 4.5), (0.5, 0.7), (-10.0, -4.0), speed=0.4),
    "shopping_cart": Place((0.4, 0.6), (3.0, 6.0), (0.5, 0.6), (-14.0, -8.0), speed=0.6),
    "traffic": Place((0.6, 1.0), (10.0, 15.0), (4.0, 7.0), (4.0, 10.0), speed=0.0),
    **{name: Place(level_db=(-22.0, -16.0) if name == "speaking" else (-18.0, -12.0), **_PERSON)
       for name in AVIA_SPEC.class_names},
}

# How long sources that are not struck or speaking sound at a time, and the pauses between.
TIMINGS: dict[str, Timing] = {
    "train": Timing((4.0, 9.0), (0.5, 2.0)),
    "boat": Timing((3.0, 8.0), (0.5, 2.0)),
    "drone": Timing((3.0, 8.0), (0.5, 1.5)),
    "fountain": Timing((5.0, 10.0), (0.3, 1.0)),
    "drill": Timing((1.5, 4.0), (0.4, 1.2)),
    "razor": Timing((1.5, 4.0), (0.4, 1.5)),
    "hair_dryer": Timing((2.0, 6.0), (0.4, 1.5)),
    "hoover": Timing((2.0, 6.0), (0.4, 1.5)),
    "shopping_cart": Timing((2.0, 5.0), (0.5, 2.0)),
    "traffic": Timing((4.0, 9.0), (0.5, 2.0)),
    "whistling": Timing((1.5, 4.0), (0.3, 1.0)),
    "plastic_crumpling": Timing((1.0, 3.0), (0.5, 1.5)),
    "paper_shaking": Timing((1.0, 3.0), (0.5, 1.5)),
    "paper_ripping": Timing((0.4, 1.2), (0.8, 2.5)),
}
# Sounds of no timeline of their own: a user's recording of a struck object, the formant voice.
DEFAULT_TIMING = Timing((1.0, 3.5), (0.3, 1.5))
SPEECH_PAUSES = (0.3, 1.5)  # seconds between a subject's sentences (each lasts as long as it is said)
# Cycles a second of the animation of what is not struck (default 1): traffic's cars drive a
# lap of the picture per cycle.
ANIMATION_HZ = {"traffic": 0.1}
STROKE = 0.12  # seconds a struck object's visible stroke takes either side of the impact

