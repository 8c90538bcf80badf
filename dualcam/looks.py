"""What each simulated object looks like, in object units: x to the right, y down, the
largest half-extent about 1. `dualcam.render` scales, turns and places these on the frame.

`SHAPES` maps a sound name to a function of (phase, activity, look) returning primitives
drawn in order; `EMITTERS` gives the point each object's sound comes from; `shake` how far
a running machine sits off its place. The AVIA actions share a seated person (`_person`)
whose colours, build and hair come from a `Look`, one per subject (`subject_look`); what
the hands do and hold tells the actions apart. The mouth and the hands are where each
action puts them whatever the look, so an emitter does not depend on the subject.
"""
from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

Colour = tuple[int, int, int]

# ----------------------------------------------------------------------------- primitives


@dataclass(frozen=True)
class Ellipse:
    x: float
    y: float
    rx: float
    ry: float
    colour: Colour
    texture: Callable | None = None  # (x, y) -> (shade, kept pixels), see the textures below

    def extent(self) -> tuple[float, float, float, float]:
        return self.x - self.rx, self.x + self.rx, self.y - self.ry, self.y + self.ry

    def inside(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return ((x - self.x) / self.rx) ** 2 + ((y - self.y) / self.ry) ** 2 <= 1.0


@dataclass(frozen=True)
class Box:
    x: float
    y: float
    hx: float
    hy: float
    colour: Colour
    texture: Callable | None = None

    def extent(self) -> tuple[float, float, float, float]:
        return self.x - self.hx, self.x + self.hx, self.y - self.hy, self.y + self.hy

    def inside(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return (np.abs(x - self.x) <= self.hx) & (np.abs(y - self.y) <= self.hy)


@dataclass(frozen=True)
class Bar:
    """A segment with round ends, `w` its half-width: arms, sticks, handles."""

    x0: float
    y0: float
    x1: float
    y1: float
    w: float
    colour: Colour
    texture: Callable | None = None

    def extent(self) -> tuple[float, float, float, float]:
        return (min(self.x0, self.x1) - self.w, max(self.x0, self.x1) + self.w,
                min(self.y0, self.y1) - self.w, max(self.y0, self.y1) + self.w)

    def inside(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        dx, dy = self.x1 - self.x0, self.y1 - self.y0
        t = np.clip(((x - self.x0) * dx + (y - self.y0) * dy) / max(dx * dx + dy * dy, 1e-12), 0.0, 1.0)
        return (x - self.x0 - t * dx) ** 2 + (y - self.y0 - t * dy) ** 2 <= self.w**2


@dataclass(frozen=True)
class Polygon:
    """A convex polygon, vertices in either winding order."""

    points: tuple[tuple[float, float], ...]
    colour: Colour
    texture: Callable | None = None

    def extent(self) -> tuple[float, float, float, float]:
        x, y = zip(*self.points)
        return min(x), max(x), min(y), max(y)

    def inside(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        p = np.array(self.points)
        q = np.roll(p, -1, axis=0)
        winding = np.sign(np.sum(p[:, 0] * q[:, 1] - q[:, 0] * p[:, 1]))
        keep = np.ones(np.broadcast_shapes(x.shape, y.shape), dtype=bool)
        for (x0, y0), (x1, y1) in zip(p, q):
            keep &= winding * ((x1 - x0) * (y - y0) - (y1 - y0) * (x - x0)) >= 0
        return keep


Primitive = Ellipse | Box | Bar | Polygon

# ----------------------------------------------------------------------------- textures
# Each maps object coordinates (of the pixels inside a primitive) to a shade that
# multiplies the colour and the pixels kept (True: all); holes show what is behind. `t`
# moves an animated texture; a shape binds it with functools.partial.


def _spray(x, y, t=0.0):
    streaks = np.sin(2 * np.pi * (9 * x + 0.3 * np.sin(5 * y + 2 * np.pi * t)))
    return 0.85 + 0.15 * np.cos(2 * np.pi * (4 * y - 2 * t)), streaks > -0.5


def _wire_grid(x, y):
    return 1.0, ((7 * x) % 1.0 < 0.22) | ((7 * y) % 1.0 < 0.22)


def _keys(x, y):
    return np.where(((14 * x) % 1.0 < 0.2) | ((12 * y) % 1.0 < 0.25), 0.5, 1.0), True


def _foil(x, y, t=0.0):
    return np.where((25 * y + 2 * t) % 1.0 < 0.5, 0.75, 1.0), True


def _flutes(x, y, t=0.0):
    return np.where((12 * x - 4 * t) % 1.0 < 0.5, 0.6, 1.0), True


def _crumple(x, y):
    return 0.8 + 0.2 * np.sin(23 * x + 13 * y) * np.sin(19 * y - 11 * x), True


def _waves(x, y, t=0.0):
    return 0.85 + 0.15 * np.sin(2 * np.pi * (5 * x + 3 * y + t)), True


# ----------------------------------------------------------------------------- subjects

HAIR_STYLES = ("short", "long", "bun", "none")


@dataclass(frozen=True)
class Look:
    """A seated person's colours, build and hair. The defaults are the look of no subject."""

    skin: Colour = (225, 180, 150)
    hair: Colour = (70, 45, 30)
    shirt: Colour = (70, 105, 160)
    hair_style: str = "short"  # one of HAIR_STYLES
    shoulders: float = 1.0  # shoulder width factor
    head: float = 1.0  # head size factor

    def __post_init__(self):
        if self.hair_style not in HAIR_STYLES:
            raise ValueError(f"unknown hair style {self.hair_style!r}; known: {', '.join(HAIR_STYLES)}")
        if not (0.7 <= self.shoulders <= 1.3 and 0.7 <= self.head <= 1.3):
            raise ValueError(f"shoulders and head must be factors in [0.7, 1.3], got {self.shoulders}, {self.head}")


DEFAULT_LOOK = Look()

# Palette sizes are coprime, so no two subjects below 1260 share every feature; nine
# consecutive subjects never share a shirt colour, the most visible feature.
_SHIRTS = ((200, 50, 45), (230, 140, 40), (225, 205, 70), (55, 145, 70), (40, 155, 160),
           (45, 80, 185), (125, 70, 165), (225, 125, 170), (235, 235, 230))
_SKINS = ((242, 205, 175), (225, 180, 150), (195, 145, 110), (160, 110, 75), (110, 75, 50))
_HAIRS = ((30, 25, 25), (70, 45, 30), (125, 80, 45), (215, 185, 120), (150, 65, 35), (175, 175, 175), (95, 60, 40))
_BUILDS = ((0.9, 1.05), (1.12, 0.95), (1.0, 1.12), (0.85, 0.9))  # (shoulders, head)


def subject_look(subject: int) -> Look:
    """The look of AVIA subject `subject` (1, 2, ...): the same in every recording."""
    if isinstance(subject, bool) or not isinstance(subject, (int, np.integer)) or subject < 1:
        raise ValueError(f"a subject is a number from 1, got {subject!r}")
    i = int(subject) - 1
    shoulders, head = _BUILDS[(i + i // 4) % 4]
    return Look(skin=_SKINS[(2 * i) % 5], hair=_HAIRS[i % 7], shirt=_SHIRTS[i % 9],
                hair_style=HAIR_STYLES[(i + 1) % 4], shoulders=shoulders, head=head)


# ----------------------------------------------------------------------------- machines
# A machine's own motion (rotors, cars, spray, waves, bit, foil) runs only while it sounds,
# so silence looks still; its shake is added by the renderer (see `shake`).

_DARK, _BLACK, _METAL, _WOOD = (45, 45, 50), (30, 30, 32), (165, 168, 175), (150, 105, 60)
_PAPER, _TABLE = (240, 240, 232), (120, 85, 55)


def _running(phase: float, activity: float) -> float:
    """The phase a machine's moving parts see: frozen at 0 while it is silent."""
    return phase if activity > 0 else 0.0


def _car(x: float, y: float, colour: Colour) -> tuple[Primitive, ...]:
    return (
        Box(x, y - 0.09, 0.12, 0.05, (60, 70, 90)),
        Box(x, y, 0.22, 0.07, colour),
        Ellipse(x - 0.13, y + 0.08, 0.045, 0.045, _BLACK),
        Ellipse(x + 0.13, y + 0.08, 0.045, 0.045, _BLACK),
    )


def _traffic(phase, activity, look):
    # Two lanes driving opposite ways, one lap of the loop (2 units) per phase cycle, so the
    # cars are where they were when the phase wraps; a car leaving one side comes back on the other.
    lanes = ((-0.7, -0.3, 1, (200, 40, 40)), (0.3, -0.3, 1, (235, 200, 40)),
             (-0.2, 0.3, -1, (40, 80, 190)), (0.75, 0.3, -1, (235, 235, 235)))
    drive = 2.0 * _running(phase, activity)
    return sum((_car((x + direction * drive + 1.0) % 2.0 - 1.0, y, colour)
                for x, y, direction, colour in lanes), ())


def _drone(phase, activity, look):
    rotors = [(sx * 0.62, sy * 0.62) for sx in (-1, 1) for sy in (-1, 1)]
    # Whole half-turns per phase cycle (a blade is symmetric under a half-turn), so the
    # blades do not jump when the phase wraps; faster when louder, still when silent.
    blade = np.pi * phase * np.ceil(6 * activity)
    return (
        *(Ellipse(x, y, 0.32, 0.32, (150, 155, 165)) for x, y in rotors),
        Bar(-0.62, -0.62, 0.62, 0.62, 0.07, _DARK),
        Bar(-0.62, 0.62, 0.62, -0.62, 0.07, _DARK),
        Ellipse(0, 0, 0.22, 0.22, (40, 40, 45)),
        Ellipse(0, -0.1, 0.04, 0.04, (230, 40, 40)),
        *(Bar(x - 0.28 * np.cos(blade), y - 0.28 * np.sin(blade), x + 0.28 * np.cos(blade),
              y + 0.28 * np.sin(blade), 0.03, _BLACK) for x, y in rotors),
    )


def _fountain(phase, activity, look):
    height = 0.4 + 0.6 * activity  # of the full jet; the spray stands on the basin at y = 0.65
    spray = functools.partial(_spray, t=_running(phase, activity))
    return (
        Ellipse(0, 0.65 - 0.7 * height, 0.55, 0.7 * height, (175, 215, 240), spray),
        Box(0, 0.4 - 0.6 * height, 0.05, 0.6 * height, (225, 240, 247)),
        Box(0, 0.66, 0.8, 0.04, (90, 140, 200)),
        Box(0, 0.8, 0.9, 0.12, (150, 145, 135)),
    )


def _boat(phase, activity, look):
    return (
        Box(0, 0.38, 1.0, 0.12, (40, 80, 160), functools.partial(_waves, t=_running(phase, activity))),
        Polygon(((-1.0, -0.1), (1.0, -0.1), (0.75, 0.3), (-0.8, 0.3)), (240, 240, 235)),
        Polygon(((-0.875, 0.15), (0.844, 0.15), (0.75, 0.3), (-0.8, 0.3)), (180, 45, 40)),  # antifouling
        Box(0, 0.05, 0.85, 0.025, (200, 40, 40)),
        Box(-0.15, -0.3, 0.35, 0.2, (170, 195, 215)),
        Box(-0.15, -0.32, 0.25, 0.07, (60, 90, 120)),
        Bar(-1.02, 0.1, -1.02, 0.42, 0.02, _DARK),  # the outboard engine on the stern, its leg in the water
        Box(-1.04, 0.02, 0.06, 0.1, _DARK),
    )


def _train(phase, activity, look):
    return (
        Box(0, 0, 1.0, 0.3, (150, 30, 35)),
        Box(0, -0.27, 1.0, 0.04, (70, 70, 75)),
        *(Box(-0.78 + 0.26 * i, -0.08, 0.08, 0.09, (205, 215, 225)) for i in range(7)),
        Box(0, 0.22, 1.0, 0.04, (235, 200, 60)),
        *(Ellipse(x, 0.33, 0.07, 0.07, _BLACK) for x in (-0.8, -0.6, 0.6, 0.8)),
    )


def _drill(phase, activity, look):  # an L: body and chuck along the top, grip and battery down the left
    return (
        Box(0.0, -0.35, 0.55, 0.2, (230, 190, 30)),
        Box(0.63, -0.35, 0.09, 0.12, _BLACK),
        Bar(0.72, -0.35, 1.0, -0.35, 0.03, _METAL, functools.partial(_flutes, t=_running(phase, activity))),
        Box(-0.25, 0.15, 0.15, 0.35, _BLACK),
        Box(-0.25, 0.6, 0.3, 0.12, (230, 190, 30)),
    )


def _razor(phase, activity, look):
    return (
        Box(0, 0.2, 0.32, 0.8, (190, 195, 210)),
        Box(0, -0.75, 0.42, 0.15, (120, 125, 135), functools.partial(_foil, t=_running(phase, activity))),
        Ellipse(0, 0.1, 0.09, 0.09, (40, 90, 180)),
    )


_PINK, _DARK_PINK = (235, 130, 175), (215, 110, 155)


def _hair_dryer(phase, activity, look):  # a T: the barrel across, the handle down
    return (
        Box(-0.15, 0.2, 0.16, 0.5, _DARK_PINK),
        Box(0.05, -0.45, 0.75, 0.22, _PINK),
        Ellipse(-0.7, -0.45, 0.18, 0.28, _DARK_PINK),
        Box(0.88, -0.45, 0.1, 0.16, (70, 70, 75)),
    )


def _hoover(phase, activity, look):
    return (
        Bar(-0.55, -0.95, 0.15, 0.45, 0.045, (160, 160, 165)),
        Ellipse(-0.55, -0.95, 0.07, 0.07, _BLACK),
        Box(0.35, 0.55, 0.45, 0.25, (205, 35, 40)),
        Ellipse(0.3, 0.5, 0.16, 0.16, (90, 90, 95)),
        Ellipse(0.0, 0.82, 0.1, 0.1, _BLACK),
        Ellipse(0.7, 0.82, 0.1, 0.1, _BLACK),
    )


def _shopping_cart(phase, activity, look):
    return (
        Polygon(((-0.9, -0.55), (0.8, -0.55), (0.6, 0.35), (-0.7, 0.35)), _METAL, _wire_grid),
        Bar(-0.9, -0.55, 0.8, -0.55, 0.025, _METAL),
        Bar(-0.7, 0.6, 0.6, 0.6, 0.03, _METAL),
        Bar(-0.65, 0.35, -0.65, 0.75, 0.025, _METAL),
        Bar(0.55, 0.35, 0.55, 0.75, 0.025, _METAL),
        Bar(-1.0, -0.7, -0.9, -0.55, 0.05, (200, 40, 40)),
        Ellipse(-0.65, 0.82, 0.08, 0.08, _BLACK),
        Ellipse(0.55, 0.82, 0.08, 0.08, _BLACK),
    )


# Object units a machine moves off its place at full activity; the renderer adds the shake.
SHAKE: dict[str, float] = {
    "train": 0.012, "boat": 0.015, "drone": 0.03, "fountain": 0.0, "drill": 0.025, "razor": 0.02,
    "hair_dryer": 0.02, "hoover": 0.02, "shopping_cart": 0.02, "traffic": 0.0,
}
MACHINES = tuple(SHAKE)  # the continuously sounding objects


def shake(name: str, phase: float, activity: float) -> tuple[float, float, float]:
    """(dx, dy, turn): where a machine sits off its place, in object units along its own
    axes, and how far it turns, in radians; zeros when silent and for anything else.
    High harmonics of the phase, so frames a small phase step apart shake differently;
    each averages to zero over a phase cycle."""
    amplitude = SHAKE.get(name, 0.0) * activity
    if amplitude == 0:
        return 0.0, 0.0, 0.0
    cycle = 2 * np.pi * phase
    return (amplitude * float(np.cos(7 * cycle)), amplitude * float(np.sin(11 * cycle)),
            amplitude * float(np.sin(13 * cycle)))


# ----------------------------------------------------------------------------- the person

_MOUTH, _LIPS, _HOLE = (120, 30, 40), (175, 85, 90), (90, 25, 30)
_MOUTH_AT = (0.0, -0.6)  # where every look's mouth is


def _hair(look: Look, head_y: float) -> tuple[Primitive, ...]:
    """Drawn before the head, which covers the front."""
    h = look.head
    cap = Ellipse(0, head_y - 0.12 * h, 0.16 * h, 0.1 * h, look.hair)
    if look.hair_style == "short":
        return (cap,)
    if look.hair_style == "long":
        return Box(0, head_y + 0.08 * h, 0.18 * h, 0.2 * h, look.hair), cap
    if look.hair_style == "bun":
        return Ellipse(0, head_y - 0.24 * h, 0.08 * h, 0.07 * h, look.hair), cap
    return ()


def _person(look: Look, left: tuple[float, float], right: tuple[float, float], *props: Primitive,
            behind: Sequence[Primitive] = (), face: Sequence[Primitive] = ()) -> tuple[Primitive, ...]:
    """A person seated at a table, hands at `left` and `right`; props go between the arms
    and the hands (held), `behind` before the body, `face` on the head."""
    head_y = _MOUTH_AT[1] - 0.08 * look.head  # the head grows about the mouth, which stays put
    shoulder = 0.24 * look.shoulders
    return (
        *behind,
        Box(0, 0.5, 0.85, 0.05, _TABLE),
        *_hair(look, head_y),
        Ellipse(0, head_y, 0.15 * look.head, 0.17 * look.head, look.skin),
        *face,
        Box(0, -0.48, 0.05, 0.05, look.skin),
        Box(0, -0.1, 0.26 * look.shoulders, 0.38, look.shirt),
        Bar(-shoulder, -0.42, *left, 0.06, look.shirt),
        Bar(shoulder, -0.42, *right, 0.06, look.shirt),
        *props,
        Ellipse(*left, 0.065, 0.065, look.skin),
        Ellipse(*right, 0.065, 0.065, look.skin),
    )


_LEFT_REST, _RIGHT_REST = (-0.32, 0.38), (0.32, 0.38)
_CLOSED_MOUTH = Ellipse(*_MOUTH_AT, 0.05, 0.008, _MOUTH)


def _speaking(phase, activity, look):
    mouth = Ellipse(*_MOUTH_AT, 0.05, 0.008 + 0.042 * activity, _MOUTH)  # at 0 _CLOSED_MOUTH
    gesture = 0.1 * activity * np.sin(2 * np.pi * phase)
    return _person(look, (-0.3, 0.3), (0.35, 0.1 + gesture), face=(mouth,))


def _whistling(phase, activity, look):
    if activity == 0:
        return _person(look, _LEFT_REST, _RIGHT_REST, face=(_CLOSED_MOUTH,))
    pursed = (Ellipse(*_MOUTH_AT, 0.04, 0.035, _LIPS),  # around a hole that widens with the level
              Ellipse(*_MOUTH_AT, 0.012 + 0.012 * activity, 0.014 + 0.016 * activity, _HOLE))
    return _person(look, _LEFT_REST, _RIGHT_REST, face=pursed)


# Impact actions: phase 0.5 is the contact (the sound); phases 0 and 1 are the same rest
# pose, which the scene holds between impacts.


def _stroke(phase: float) -> float:
    """How far an impact's movement is from the contact: 1 at rest (phases 0 and 1), 0 at
    the contact (phase 0.5); it leaves rest smoothly and moves fastest at the contact."""
    return 1.0 - (1.0 - abs(2.0 * phase - 1.0)) ** 3


def _clapping(phase, activity, look):
    gap = 0.04 + 0.2 * _stroke(phase)
    return _person(look, (-gap, -0.2), (gap, -0.2))


def _snapping(phase, activity, look):
    hand, snap = (0.42, -0.55), 1 - _stroke(phase)
    turn = -1.3 + 2.6 * snap  # the finger flicks from up against the thumb down onto the palm
    finger = Bar(*hand, hand[0] + 0.11 * np.cos(turn), hand[1] + 0.11 * np.sin(turn), 0.025, look.skin)
    flash = (Ellipse(0.48, -0.6, 0.05 * snap, 0.05 * snap, (247, 220, 60)),) if snap > 0.2 else ()
    return _person(look, _LEFT_REST, hand, finger, *flash)


def _kendama(phase, activity, look):
    swing = _stroke(phase)  # 1: the ball hangs below the ken; 0: it lands in the cup
    ball = (0.35 + 0.25 * np.sin(np.pi * swing), -0.485 + 0.6 * swing)
    return _person(
        look, _LEFT_REST, (0.35, -0.05),
        Bar(0.35, -0.05, 0.35, -0.38, 0.025, _WOOD), Box(0.35, -0.4, 0.08, 0.025, _WOOD),
        Ellipse(*ball, 0.06, 0.06, (200, 30, 30)),
    )


def _clicking(phase, activity, look):
    press = 0.035 * (1 - _stroke(phase))
    mouse = (Box(0.45, 0.44, 0.15, 0.02, (30, 40, 90)), Ellipse(0.45, 0.4, 0.08, 0.05, (220, 220, 225)))
    return _person(look, _LEFT_REST, (0.45, 0.31 + press), behind=mouse)


def _typing(phase, activity, look):
    press = 0.03 * (1 - _stroke(phase))  # the right hand strikes a key as the left lifts
    keyboard = Box(0, 0.4, 0.42, 0.06, (60, 60, 65), _keys)
    return _person(look, (-0.18, 0.33 - press), (0.18, 0.33 + press), behind=(keyboard,))


def _knocking(phase, activity, look):
    door = Box(0.78, -0.15, 0.07, 0.55, (110, 70, 35))
    return _person(look, _LEFT_REST, (0.645 - 0.15 * _stroke(phase), -0.2), behind=(door,))


def _hammering(phase, activity, look):
    lift = _stroke(phase)
    hand = (0.4, 0.215 - 0.3 * lift)
    tilt = -0.9 * lift  # radians below horizontal: level, the head upright on the nail, at the stroke
    head = (hand[0] + 0.3 * np.cos(tilt), hand[1] + 0.3 * np.sin(tilt))
    ax, ay = -0.1 * np.sin(tilt), 0.1 * np.cos(tilt)
    board = (Box(0.62, 0.42, 0.16, 0.03, (190, 160, 110)), Bar(0.7, 0.372, 0.7, 0.39, 0.012, _METAL))
    return _person(
        look, _LEFT_REST, hand,
        Bar(*hand, *head, 0.025, _WOOD),
        Bar(head[0] - ax, head[1] - ay, head[0] + ax, head[1] + ay, 0.045, _DARK),
        behind=board,
    )


_SHELL = (200, 170, 110)


def _peanut(phase, activity, look):
    twist = 0.05 * (1 - _stroke(phase))  # the two halves shear apart as the shell cracks
    shells = tuple(Ellipse(x, 0.43, 0.03, 0.02, _SHELL) for x in (-0.45, -0.35, 0.5))
    return _person(look, (-0.1, 0.05 - twist), (0.1, 0.05 + twist),
                   Ellipse(-0.045, 0.02 - twist, 0.05, 0.05, _SHELL),
                   Ellipse(0.045, 0.02 + twist, 0.05, 0.05, _SHELL), behind=shells)


def _ripping(phase, activity, look):
    tear = 1 - _stroke(phase)
    gap, shear = 0.12 + 0.05 * tear, 0.05 * tear
    return _person(look, (-gap - 0.1, -0.1 - shear), (gap + 0.1, -0.1 + shear),
                   Box(-gap, -0.1 - shear, 0.12, 0.2, _PAPER), Box(gap, -0.1 + shear, 0.12, 0.2, _PAPER))


def _crumpling(phase, activity, look):
    squeeze = 1 - _stroke(phase)
    r = 0.15 * (1 - 0.25 * squeeze)
    corners = tuple((r * np.cos(a), 0.05 + 0.8 * r * np.sin(a)) for a in np.linspace(0, 2 * np.pi, 7)[:-1])
    return _person(look, (-r, 0.05), (r, 0.05),
                   Polygon(corners, (170, 230, 235), _crumple))


def _shaking(phase, activity, look):
    lift = 0.1 * (1 - _stroke(phase))  # a jerk down; the sheet's free edge swings twice as far
    sheet = Polygon(((0.32, -0.59 + lift), (0.68, -0.59 + 2 * lift), (0.68, -0.11 + 2 * lift), (0.32, -0.11 + lift)),
                    _PAPER)
    return _person(look, _LEFT_REST, (0.35, -0.2 + lift), sheet)


def _dropping(phase, activity, look):
    fall = 1 - _stroke(phase)  # 0 held upright in the hand, 1 lying on the table top (y = 0.45)
    y, turn = -0.2 + 0.62 * fall, 0.5 * np.pi * fall
    dx, dy = 0.22 * np.sin(turn), 0.22 * np.cos(turn)
    return _person(look, _LEFT_REST, (0.5, -0.35), behind=(Bar(0.5 - dx, y - dy, 0.5 + dx, y + dy, 0.03, _WOOD),))


Shape = Callable[[float, float, Look], tuple[Primitive, ...]]

SHAPES: dict[str, Shape] = {
    "train": _train, "boat": _boat, "drone": _drone, "fountain": _fountain, "drill": _drill,
    "razor": _razor, "hair_dryer": _hair_dryer, "hoover": _hoover, "shopping_cart": _shopping_cart,
    "traffic": _traffic,
    "clapping": _clapping, "snapping_fingers": _snapping, "speaking": _speaking, "whistling": _whistling,
    "playing_kendama": _kendama, "clicking": _clicking, "typing": _typing, "knocking": _knocking,
    "hammering": _hammering, "peanut_breaking": _peanut, "paper_ripping": _ripping,
    "plastic_crumpling": _crumpling, "paper_shaking": _shaking, "stick_dropping": _dropping,
}

IMPACTS = ("clapping", "snapping_fingers", "playing_kendama", "clicking", "typing", "knocking", "hammering",
           "peanut_breaking", "paper_ripping", "plastic_crumpling", "paper_shaking", "stick_dropping")

# Where each object's sound comes from, in object units; for an impact, where the contact
# is at phase 0.5.
EMITTERS: dict[str, tuple[float, float]] = {
    "train": (0.0, 0.33),  # wheel level, midway between the bogies
    "boat": (-1.04, 0.02),  # the outboard engine on the stern
    "drone": (0.0, 0.0),  # the body
    "fountain": (0.0, 0.62),  # where the water falls into the basin
    "drill": (0.63, -0.35),  # the chuck
    "razor": (0.0, -0.75),  # the head
    "hair_dryer": (0.9, -0.45),  # the nozzle
    "hoover": (0.35, 0.55),  # the body, its motor
    "shopping_cart": (-0.05, 0.82),  # wheel level, midway between the wheels
    "traffic": (0.0, 0.0),  # the road between the lanes
    "clapping": (0.0, -0.2),  # between the hands
    "snapping_fingers": (0.48, -0.6),  # the fingers
    "speaking": _MOUTH_AT,
    "whistling": _MOUTH_AT,
    "playing_kendama": (0.35, -0.43),  # the cup
    "clicking": (0.45, 0.4),  # the mouse
    "typing": (0.0, 0.4),  # the keyboard
    "knocking": (0.71, -0.2),  # the door where the knuckles hit
    "hammering": (0.7, 0.36),  # the nail
    "peanut_breaking": (0.0, 0.02),  # the shell between the hands
    "paper_ripping": (0.0, -0.1),  # the tear between the hands
    "plastic_crumpling": (0.0, 0.05),  # the bag between the hands
    "paper_shaking": (0.5, -0.2),  # the sheet at the jerk
    "stick_dropping": (0.5, 0.45),  # where the stick lands on the table top
}
