"""Camera frames of simulated scenes: a backdrop, the sounding objects, sensor noise.

Each sound (see `dualcam.sounds`) has a look made of a few primitives in object units
(`_SHAPES`: x to the right, y down, the largest half-extent about 1), scaled by the
object's size, turned by its angle and animated by its phase. The AVIA actions share a
seated person; what the hands do and hold tells the actions apart.

An object's pixel centre of mass is placed at its `center` (to half a pixel), so the
centre is the ground-truth source position whatever the shape or animation phase.
Pixel (row i, column j) covers image coordinates [j, j + 1) x [i, i + 1).
"""
from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from dataloader.camera import IMAGE_HEIGHT, IMAGE_WIDTH
from dualcam.sounds import SOUND_NAMES

# Everything drawn stays within [8, 247] and the sensor noise within +-3, so the noise is
# added in uint8 without overflow or a clipping pass.
_LOW, _HIGH, _NOISE = 8, 247, 3

Colour = tuple[int, int, int]


@dataclass(frozen=True)
class VisualObject:
    name: str  # one of SOUND_NAMES
    center: tuple[float, float]  # (u, v) pixels: where the object's centre of mass lands
    size: float  # pixels: the object's largest half-extent
    hue_shift: float = 0.0  # radians, a rotation of every colour about the grey axis
    angle: float = 0.0  # radians, clockwise on screen (v points down)
    phase: float = 0.0  # animation phase in [0, 1)

    def __post_init__(self):
        if self.name not in _SHAPES:
            raise ValueError(f"unknown object {self.name!r}; known objects: {', '.join(SOUND_NAMES)}")
        if not self.size > 0:
            raise ValueError(f"size must be positive, got {self.size}")


# ----------------------------------------------------------------------------- primitives


@dataclass(frozen=True)
class _Ellipse:
    x: float
    y: float
    rx: float
    ry: float
    colour: Colour
    texture: str | None = None

    def extent(self) -> tuple[float, float, float, float]:
        return self.x - self.rx, self.x + self.rx, self.y - self.ry, self.y + self.ry

    def inside(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return ((x - self.x) / self.rx) ** 2 + ((y - self.y) / self.ry) ** 2 <= 1.0


@dataclass(frozen=True)
class _Box:
    x: float
    y: float
    hx: float
    hy: float
    colour: Colour
    texture: str | None = None

    def extent(self) -> tuple[float, float, float, float]:
        return self.x - self.hx, self.x + self.hx, self.y - self.hy, self.y + self.hy

    def inside(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return (np.abs(x - self.x) <= self.hx) & (np.abs(y - self.y) <= self.hy)


@dataclass(frozen=True)
class _Bar:
    """A segment with round ends, `w` its half-width: arms, sticks, handles."""

    x0: float
    y0: float
    x1: float
    y1: float
    w: float
    colour: Colour
    texture: str | None = None

    def extent(self) -> tuple[float, float, float, float]:
        return (min(self.x0, self.x1) - self.w, max(self.x0, self.x1) + self.w,
                min(self.y0, self.y1) - self.w, max(self.y0, self.y1) + self.w)

    def inside(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        dx, dy = self.x1 - self.x0, self.y1 - self.y0
        t = np.clip(((x - self.x0) * dx + (y - self.y0) * dy) / max(dx * dx + dy * dy, 1e-12), 0.0, 1.0)
        return (x - self.x0 - t * dx) ** 2 + (y - self.y0 - t * dy) ** 2 <= self.w**2


@dataclass(frozen=True)
class _Polygon:
    """A convex polygon, vertices in either winding order."""

    points: tuple[tuple[float, float], ...]
    colour: Colour
    texture: str | None = None

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


_Primitive = _Ellipse | _Box | _Bar | _Polygon


# ----------------------------------------------------------------------------- textures
# Each maps object coordinates (of the pixels inside a primitive) and the phase to a
# shade that multiplies the colour and the pixels kept (True: all); holes show the backdrop.


def _spray(x, y, phase):
    streaks = np.sin(2 * np.pi * (9 * x + 0.3 * np.sin(5 * y + 2 * np.pi * phase)))
    return 0.85 + 0.15 * np.cos(2 * np.pi * (4 * y - 2 * phase)), streaks > -0.5


def _wire_grid(x, y, phase):
    return 1.0, ((7 * x) % 1.0 < 0.22) | ((7 * y) % 1.0 < 0.22)


def _keys(x, y, phase):
    return np.where(((14 * x) % 1.0 < 0.2) | ((12 * y) % 1.0 < 0.25), 0.5, 1.0), True


def _foil(x, y, phase):
    return np.where((25 * y) % 1.0 < 0.5, 0.75, 1.0), True


def _crumple(x, y, phase):
    return 0.8 + 0.2 * np.sin(23 * x + 13 * y + 2 * np.pi * phase) * np.sin(19 * y - 11 * x), True


def _waves(x, y, phase):
    return 0.85 + 0.15 * np.sin(2 * np.pi * (5 * x + 3 * y + phase)), True


_TEXTURES: dict[str, Callable] = {
    "spray": _spray, "wire_grid": _wire_grid, "keys": _keys,
    "foil": _foil, "crumple": _crumple, "waves": _waves,
}

# ----------------------------------------------------------------------------- looks

_DARK, _BLACK, _METAL, _WOOD = (45, 45, 50), (30, 30, 32), (165, 168, 175), (150, 105, 60)
_PAPER = (240, 240, 232)
_SKIN, _HAIR, _SHIRT, _TABLE = (225, 180, 150), (70, 45, 30), (70, 105, 160), (120, 85, 55)


def _static(*primitives: _Primitive) -> Callable[[float], tuple[_Primitive, ...]]:
    return lambda phase: primitives


def _car(x: float, y: float, colour: Colour) -> tuple[_Primitive, ...]:
    return (
        _Box(x, y - 0.09, 0.12, 0.05, (60, 70, 90)),
        _Box(x, y, 0.22, 0.07, colour),
        _Ellipse(x - 0.13, y + 0.08, 0.045, 0.045, _BLACK),
        _Ellipse(x + 0.13, y + 0.08, 0.045, 0.045, _BLACK),
    )


def _traffic(phase: float) -> tuple[_Primitive, ...]:
    # Two lanes driving opposite ways; a car leaving one side comes back on the other.
    lanes = ((-0.7, -0.3, 1, (200, 40, 40)), (0.3, -0.3, 1, (235, 200, 40)),
             (-0.2, 0.3, -1, (40, 80, 190)), (0.75, 0.3, -1, (235, 235, 235)))
    return sum((_car((x + 0.5 * direction * phase + 1.0) % 2.0 - 1.0, y, colour)
                for x, y, direction, colour in lanes), ())


def _drone(phase: float) -> tuple[_Primitive, ...]:
    rotors = [(sx * 0.62, sy * 0.62) for sx in (-1, 1) for sy in (-1, 1)]
    blade = 6 * np.pi * phase
    return (
        *(_Ellipse(x, y, 0.32, 0.32, (150, 155, 165)) for x, y in rotors),
        _Bar(-0.62, -0.62, 0.62, 0.62, 0.07, _DARK),
        _Bar(-0.62, 0.62, 0.62, -0.62, 0.07, _DARK),
        _Ellipse(0, 0, 0.22, 0.22, (40, 40, 45)),
        _Ellipse(0, -0.1, 0.04, 0.04, (230, 40, 40)),
        *(_Bar(x - 0.28 * np.cos(blade), y - 0.28 * np.sin(blade), x + 0.28 * np.cos(blade),
               y + 0.28 * np.sin(blade), 0.03, _BLACK) for x, y in rotors),
    )


def _fountain(phase: float) -> tuple[_Primitive, ...]:
    return (
        _Ellipse(0, -0.05, 0.55, 0.7, (175, 215, 240), "spray"),
        _Box(0, -0.2, 0.05, 0.6, (225, 240, 247)),
        _Box(0, 0.66, 0.8, 0.04, (90, 140, 200)),
        _Box(0, 0.8, 0.9, 0.12, (150, 145, 135)),
    )


def _boat(phase: float) -> tuple[_Primitive, ...]:
    return (
        _Box(0, 0.38, 1.0, 0.12, (40, 80, 160), "waves"),
        _Polygon(((-1.0, -0.1), (1.0, -0.1), (0.75, 0.3), (-0.8, 0.3)), (240, 240, 235)),
        _Polygon(((-0.875, 0.15), (0.844, 0.15), (0.75, 0.3), (-0.8, 0.3)), (180, 45, 40)),  # antifouling
        _Box(0, 0.05, 0.85, 0.025, (200, 40, 40)),
        _Box(-0.15, -0.3, 0.35, 0.2, (170, 195, 215)),
        _Box(-0.15, -0.32, 0.25, 0.07, (60, 90, 120)),
    )


_TRAIN_RED = (150, 30, 35)
_PINK, _DARK_PINK = (235, 130, 175), (215, 110, 155)


def _person(left: tuple[float, float], right: tuple[float, float], *props: _Primitive,
            behind: Sequence[_Primitive] = (), face: Sequence[_Primitive] = ()) -> tuple[_Primitive, ...]:
    """A person seated at a table, hands at `left` and `right`; props go between the arms
    and the hands (held), `behind` before the body."""
    return (
        *behind,
        _Box(0, 0.5, 0.85, 0.05, _TABLE),
        _Ellipse(0, -0.8, 0.16, 0.1, _HAIR),
        _Ellipse(0, -0.68, 0.15, 0.17, _SKIN),
        *face,
        _Box(0, -0.48, 0.05, 0.05, _SKIN),
        _Box(0, -0.1, 0.26, 0.38, _SHIRT),
        _Bar(-0.24, -0.42, *left, 0.06, _SHIRT),
        _Bar(0.24, -0.42, *right, 0.06, _SHIRT),
        *props,
        _Ellipse(*left, 0.065, 0.065, _SKIN),
        _Ellipse(*right, 0.065, 0.065, _SKIN),
    )


_LEFT_REST, _RIGHT_REST = (-0.32, 0.38), (0.32, 0.38)


def _open(phase: float) -> float:
    """0 at the stroke (phase 0.5), 1 at the ends of the movement."""
    return abs(float(np.cos(np.pi * phase)))


def _clapping(phase):
    gap = 0.04 + 0.2 * _open(phase)
    return _person((-gap, -0.2), (gap, -0.2))


def _snapping(phase):
    flash = (_Ellipse(0.5, -0.64, 0.04, 0.04, (247, 220, 60)),) if phase < 0.2 else ()
    return _person(_LEFT_REST, (0.42, -0.55), *flash)


def _speaking(phase):
    mouth = _Ellipse(0, -0.6, 0.05, 0.01 + 0.035 * abs(np.sin(2 * np.pi * phase)), (120, 30, 40))
    return _person((-0.3, 0.3), (0.35, 0.1 + 0.1 * np.sin(2 * np.pi * phase)), face=(mouth,))


def _whistling(phase):
    return _person(_LEFT_REST, _RIGHT_REST, face=(_Ellipse(0, -0.6, 0.025, 0.03, (90, 25, 30)),))


def _kendama(phase):
    ball = (0.35 + 0.15 * np.sin(2 * np.pi * phase), -0.6 - 0.25 * abs(np.sin(np.pi * phase)))
    return _person(
        _LEFT_REST, (0.35, -0.05),
        _Bar(0.35, -0.05, 0.35, -0.38, 0.025, _WOOD), _Box(0.35, -0.4, 0.08, 0.025, _WOOD),
        _Ellipse(*ball, 0.06, 0.06, (200, 30, 30)),
    )


def _clicking(phase):
    press = 0.015 if phase < 0.5 else 0.0
    mouse = (_Box(0.45, 0.44, 0.15, 0.02, (30, 40, 90)), _Ellipse(0.45, 0.4, 0.08, 0.05, (220, 220, 225)))
    return _person(_LEFT_REST, (0.45, 0.33 + press), behind=mouse)


def _typing(phase):
    bob = 0.02 * np.sin(2 * np.pi * phase)
    keyboard = _Box(0, 0.4, 0.42, 0.06, (60, 60, 65), "keys")
    return _person((-0.18, 0.33 + bob), (0.18, 0.33 - bob), behind=(keyboard,))


def _knocking(phase):
    door = _Box(0.78, -0.15, 0.07, 0.55, (110, 70, 35))
    return _person(_LEFT_REST, (0.6 - 0.12 * _open(phase), -0.2), behind=(door,))


def _hammering(phase):
    lift = _open(phase)
    hand = (0.4, 0.15 - 0.3 * lift)
    tilt = 0.9 - 1.6 * lift  # radians below horizontal: down onto the nail at the stroke
    head = (hand[0] + 0.3 * np.cos(tilt), hand[1] + 0.3 * np.sin(tilt))
    ax, ay = -0.1 * np.sin(tilt), 0.1 * np.cos(tilt)
    return _person(
        _LEFT_REST, hand,
        _Bar(*hand, *head, 0.025, _WOOD),
        _Bar(head[0] - ax, head[1] - ay, head[0] + ax, head[1] + ay, 0.045, _DARK),
        behind=(_Box(0.55, 0.42, 0.18, 0.03, (190, 160, 110)),),
    )


def _peanut(phase):
    shells = tuple(_Ellipse(x, 0.43, 0.03, 0.02, (200, 170, 110)) for x in (-0.45, -0.35, 0.5))
    return _person((-0.1, 0.05), (0.1, 0.05), _Ellipse(0, 0.02, 0.09, 0.05, (200, 170, 110)), behind=shells)


def _ripping(phase):
    gap = 0.15 + 0.1 * phase
    return _person((-gap - 0.1, -0.1), (gap + 0.1, -0.1),
                   _Box(-gap, -0.1, 0.12, 0.2, _PAPER), _Box(gap, -0.1, 0.12, 0.2, _PAPER))


def _crumpling(phase):
    r = 0.15 * (1 + 0.2 * np.sin(2 * np.pi * phase))
    corners = tuple((r * np.cos(a), 0.05 + 0.8 * r * np.sin(a)) for a in np.linspace(0, 2 * np.pi, 7)[:-1])
    return _person((-r, 0.05), (r, 0.05), _Polygon(corners, (170, 230, 235), "crumple"))


def _shaking(phase):
    lift = 0.08 * np.sin(2 * np.pi * phase)
    return _person(_LEFT_REST, (0.35, -0.2 + lift), _Box(0.5, -0.35 + lift, 0.18, 0.24, _PAPER))


def _dropping(phase):
    y, turn = -0.2 + 0.6 * phase**2, 1.5 * phase  # falls from the hand, accelerating and turning
    dx, dy = 0.22 * np.sin(turn), 0.22 * np.cos(turn)
    return _person(_LEFT_REST, (0.5, -0.35), behind=(_Bar(0.5 - dx, y - dy, 0.5 + dx, y + dy, 0.03, _WOOD),))


_SHAPES: dict[str, Callable[[float], tuple[_Primitive, ...]]] = {
    "train": _static(
        _Box(0, 0, 1.0, 0.3, _TRAIN_RED),
        _Box(0, -0.27, 1.0, 0.04, (70, 70, 75)),
        *(_Box(-0.78 + 0.26 * i, -0.08, 0.08, 0.09, (205, 215, 225)) for i in range(7)),
        _Box(0, 0.22, 1.0, 0.04, (235, 200, 60)),
        *(_Ellipse(x, 0.33, 0.07, 0.07, _BLACK) for x in (-0.8, -0.6, 0.6, 0.8)),
    ),
    "boat": _boat,
    "drone": _drone,
    "fountain": _fountain,
    "drill": _static(  # an L: body and chuck along the top, grip and battery down the left
        _Box(0.0, -0.35, 0.55, 0.2, (230, 190, 30)),
        _Box(0.63, -0.35, 0.09, 0.12, _BLACK),
        _Bar(0.72, -0.35, 1.0, -0.35, 0.03, _METAL),
        _Box(-0.25, 0.15, 0.15, 0.35, _BLACK),
        _Box(-0.25, 0.6, 0.3, 0.12, (230, 190, 30)),
    ),
    "razor": _static(
        _Box(0, 0.2, 0.32, 0.8, (190, 195, 210)),
        _Box(0, -0.75, 0.42, 0.15, (120, 125, 135), "foil"),
        _Ellipse(0, 0.1, 0.09, 0.09, (40, 90, 180)),
    ),
    "hair_dryer": _static(  # a T: the barrel across, the handle down
        _Box(-0.15, 0.2, 0.16, 0.5, _DARK_PINK),
        _Box(0.05, -0.45, 0.75, 0.22, _PINK),
        _Ellipse(-0.7, -0.45, 0.18, 0.28, _DARK_PINK),
        _Box(0.88, -0.45, 0.1, 0.16, (70, 70, 75)),
    ),
    "hoover": _static(
        _Bar(-0.55, -0.95, 0.15, 0.45, 0.045, (160, 160, 165)),
        _Ellipse(-0.55, -0.95, 0.07, 0.07, _BLACK),
        _Box(0.35, 0.55, 0.45, 0.25, (205, 35, 40)),
        _Ellipse(0.3, 0.5, 0.16, 0.16, (90, 90, 95)),
        _Ellipse(0.0, 0.82, 0.1, 0.1, _BLACK),
        _Ellipse(0.7, 0.82, 0.1, 0.1, _BLACK),
    ),
    "shopping_cart": _static(
        _Polygon(((-0.9, -0.55), (0.8, -0.55), (0.6, 0.35), (-0.7, 0.35)), _METAL, "wire_grid"),
        _Bar(-0.9, -0.55, 0.8, -0.55, 0.025, _METAL),
        _Bar(-0.7, 0.6, 0.6, 0.6, 0.03, _METAL),
        _Bar(-0.65, 0.35, -0.65, 0.75, 0.025, _METAL),
        _Bar(0.55, 0.35, 0.55, 0.75, 0.025, _METAL),
        _Bar(-1.0, -0.7, -0.9, -0.55, 0.05, (200, 40, 40)),
        _Ellipse(-0.65, 0.82, 0.08, 0.08, _BLACK),
        _Ellipse(0.55, 0.82, 0.08, 0.08, _BLACK),
    ),
    "traffic": _traffic,
    "clapping": _clapping,
    "snapping_fingers": _snapping,
    "speaking": _speaking,
    "whistling": _whistling,
    "playing_kendama": _kendama,
    "clicking": _clicking,
    "typing": _typing,
    "knocking": _knocking,
    "hammering": _hammering,
    "peanut_breaking": _peanut,
    "paper_ripping": _ripping,
    "plastic_crumpling": _crumpling,
    "paper_shaking": _shaking,
    "stick_dropping": _dropping,
}


# ----------------------------------------------------------------------------- drawing


def _hue_rotation(radians: float) -> np.ndarray:
    """Rotation of RGB about the grey axis (Rodrigues): shifts hue, keeps grey levels."""
    k = np.full(3, 1 / np.sqrt(3))
    cross = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.cos(radians) * np.eye(3) + np.sin(radians) * cross + (1 - np.cos(radians)) * np.outer(k, k)


def _pixels(image: np.ndarray) -> np.ndarray:
    """An (H, W, 3) uint8 array seen as (H, W) 3-byte pixels: masked copies move whole
    pixels instead of channels, three times fewer elements."""
    return image.view("V3")[..., 0]


def _draw(frame: np.ndarray, obj: VisualObject) -> None:
    primitives = _SHAPES[obj.name](obj.phase)
    rotation = _hue_rotation(obj.hue_shift)
    # Python floats keep the coordinate arrays float32, twice as fast as float64 here.
    cos, sin, size = float(np.cos(obj.angle)), float(np.sin(obj.angle)), float(obj.size)
    ou, ov = float(obj.center[0]), float(obj.center[1])
    boxes = []  # each primitive's pixel bounding box: the rotated box around its local extent
    for primitive in primitives:
        x0, x1, y0, y1 = primitive.extent()
        x, y, hx, hy = 0.5 * (x0 + x1), 0.5 * (y0 + y1), 0.5 * (x1 - x0), 0.5 * (y1 - y0)
        u, v = ou + size * (x * cos - y * sin), ov + size * (x * sin + y * cos)
        ru = size * (abs(cos) * hx + abs(sin) * hy) + 1
        rv = size * (abs(sin) * hx + abs(cos) * hy) + 1
        boxes.append((int(np.floor(v - rv)), int(np.ceil(v + rv)),
                      int(np.floor(u - ru)), int(np.ceil(u + ru))))
    top, left = min(b[0] for b in boxes), min(b[2] for b in boxes)
    shape = (max(b[1] for b in boxes) - top, max(b[3] for b in boxes) - left)
    patch, mask = np.zeros(shape + (3,), dtype=np.uint8), np.zeros(shape, dtype=bool)
    pixels = _pixels(patch)
    for primitive, (v0, v1, u0, u1) in zip(primitives, boxes):
        du = (np.arange(u0, u1, dtype=np.float32) + (0.5 - ou))[None, :]
        dv = (np.arange(v0, v1, dtype=np.float32) + (0.5 - ov))[:, None]
        x, y = (du * cos + dv * sin) / size, (dv * cos - du * sin) / size
        inside = primitive.inside(x, y)
        colour = rotation @ np.array(primitive.colour, dtype=float)
        region = (slice(v0 - top, v1 - top), slice(u0 - left, u1 - left))
        if primitive.texture is None:
            np.copyto(pixels[region], _pixels(np.clip(colour, _LOW, _HIGH).astype(np.uint8)), where=inside)
        else:
            xs, ys = x[inside], y[inside]
            shade, keep = _TEXTURES[primitive.texture](xs, ys, obj.phase)
            keep = np.broadcast_to(keep, xs.shape)
            colours = np.clip(colour * np.broadcast_to(shade, xs.shape)[:, None], _LOW, _HIGH)
            inside[inside] = keep
            pixels[region][inside] = _pixels(np.ascontiguousarray(colours[keep], dtype=np.uint8))
        mask[region] |= inside
    total = mask.sum()
    if total == 0:  # smaller than a pixel
        return
    rows, cols = np.arange(shape[0]) + 0.5, np.arange(shape[1]) + 0.5
    top += round(ov - (top + mask.sum(axis=1) @ rows / total))
    left += round(ou - (left + mask.sum(axis=0) @ cols / total))
    # Clip the patch to the frame.
    v0, u0 = max(top, 0), max(left, 0)
    v1, u1 = min(top + shape[0], frame.shape[0]), min(left + shape[1], frame.shape[1])
    if v0 < v1 and u0 < u1:
        inside = (slice(v0 - top, v1 - top), slice(u0 - left, u1 - left))
        np.copyto(_pixels(frame)[v0:v1, u0:u1], pixels[inside], where=mask[inside])


def _mix(a: Colour, b: Colour, t: np.ndarray) -> np.ndarray:
    return np.array(a, dtype=float) + (np.array(b) - np.array(a)) * np.clip(t, 0, 1)[..., None]


def _split(v: np.ndarray, horizon: float, above: np.ndarray, below: np.ndarray) -> np.ndarray:
    return np.where((v < horizon)[..., None], above, below)


def _sky(v: np.ndarray) -> np.ndarray:
    return _mix((110, 160, 220), (200, 220, 240), v / 0.6)


def _countryside(u, v, grain):
    return _split(v, 0.6, _sky(v), _mix((120, 140, 80), (90, 100, 60), (v - 0.6) / 0.4))


def _office(u, v, grain):
    wall = _mix((215, 205, 180), (200, 190, 165), v) * (1 - 0.06 * ((u * 6) % 1 < 0.01))[..., None]
    return _split(v, 0.8, wall, _mix((130, 130, 135), (110, 110, 115), v))


def _grass(u, v, grain):
    return _split(v, 0.35, _sky(v), _mix((70, 140, 50), (50, 110, 35), v) + 8 * grain[..., None])


def _anechoic(u, v, grain):
    return _mix((70, 70, 75), (140, 140, 145), np.abs((u * 24) % 1 - 0.5) + np.abs((v * 18) % 1 - 0.5))


def _water(u, v, grain):
    waves = 10 * np.sin(2 * np.pi * (40 * v + 3 * u))[..., None]
    return _split(v, 0.4, _sky(v), _mix((40, 100, 160), (20, 60, 120), (v - 0.4) / 0.6) + waves)


def _street(u, v, grain):
    buildings = _mix((150, 120, 110), (100, 110, 130), (u * 7) % 1)
    lane_marks = (np.abs(v - 0.8) < 0.01) & ((u * 10) % 1 < 0.5)
    road = _mix((95, 95, 100), (70, 70, 75), v) + 60 * lane_marks[..., None]
    return _split(v, 0.25, _sky(v), _split(v, 0.55, buildings, road))


def _tiles(u, v, grain):
    grout = ((u * 16) % 1 < 0.05) | ((v * 12) % 1 < 0.06)
    return _mix((230, 235, 235), (170, 170, 160), grout.astype(float))


def _railway(u, v, grain):
    gravel = _mix((140, 130, 115), (110, 100, 90), v) + 12 * grain[..., None]
    rails = (np.abs(v - 0.75) < 0.006) | (np.abs(v - 0.85) < 0.008)
    image = _split(v, 0.5, _sky(v), _split(v, 0.6, np.array([80, 120, 70.0]), gravel))
    return np.where(rails[..., None], np.array([90, 90, 95.0]), image)


def _garden(u, v, grain):
    hedge = _mix((60, 110, 50), (40, 85, 35), (v - 0.3) / 0.3) + 14 * grain[..., None]
    joints = ((u * 10) % 1 < 0.03) | ((v * 14) % 1 < 0.04)
    paving = _mix((200, 190, 170), (150, 145, 130), joints.astype(float))
    return _split(v, 0.3, _sky(v), _split(v, 0.6, hedge, paving))


def _shop(u, v, grain):
    checker = ((u * 8).astype(int) + (v * 6).astype(int)) % 2
    shelves = _mix((200, 90, 60), (60, 120, 190), (u * 5) % 1)
    return _split(v, 0.5, shelves, _mix((225, 225, 225), (200, 200, 200), checker.astype(float)))


# Scene id (the position) -> backdrop, which maps image coordinates in [0, 1] and a fixed
# grain to RGB. The last three are the AVIA locations, in the order of its spec's `locations`.
BACKDROPS: dict[str, Callable] = {
    "countryside": _countryside, "park": _grass, "lake": _water, "street": _street, "railway": _railway,
    "bathroom": _tiles, "shop": _shop, "anechoic": _anechoic, "office": _office, "outdoor": _garden,
}


@functools.lru_cache(maxsize=32)
def _backdrop(background: int, height: int, width: int) -> np.ndarray:
    v = np.broadcast_to((np.arange(height)[:, None] + 0.5) / height, (height, width))
    u = np.broadcast_to((np.arange(width)[None, :] + 0.5) / width, (height, width))
    grain = np.random.default_rng(background).standard_normal((height, width))
    draw = list(BACKDROPS.values())[background]
    image = np.clip(np.broadcast_to(draw(u, v, grain), (height, width, 3)), _LOW, _HIGH).astype(np.uint8)
    image.flags.writeable = False
    return image


def render_frame(objects: Sequence[VisualObject], background: int, rng: np.random.Generator,
                 height: int = IMAGE_HEIGHT, width: int = IMAGE_WIDTH) -> np.ndarray:
    """An RGB uint8 (height, width, 3) frame: the backdrop, then the objects in order, then
    sensor noise drawn from `rng` (its only use)."""
    if not 0 <= background < len(BACKDROPS):
        names = ", ".join(f"{i} {name}" for i, name in enumerate(BACKDROPS))
        raise ValueError(f"background must be a scene id ({names}), got {background}")
    frame = _backdrop(background, height, width).copy()
    for obj in objects:
        _draw(frame, obj)
    frame += rng.integers(0, 2 * _NOISE + 1, frame.shape, dtype=np.uint8)
    frame -= _NOISE
    return frame
