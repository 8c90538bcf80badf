"""Camera frames of simulated scenes: a backdrop, the sounding objects, sensor noise.

Each sound (see `dualcam.sounds`) has a shape made of a few primitives in object units
(`dualcam.looks.SHAPES`: x to the right, y down, the largest half-extent about 1), scaled
by the object's size, turned by its angle and animated by its phase and activity. The
AVIA actions share a seated person, drawn in the `Look` of the object (one per subject:
`subject_look`, re-exported here).

Where an object lands (`anchor`):
- "centroid": its pixel centre of mass is at `center` (to half a pixel), whatever the
  shape or the animation;
- "emitter": the point its sound comes from (`EMITTERS`, object units, scaled and turned
  with the object: `emitter_offset`) is at `center` (to float rounding), so `center` is the
  ground-truth position of the sound.
A sounding machine shakes off that place by up to looks.SHAKE[name] * activity * size pixels
along each of its axes (below).

`activity` in [0, 1] is the object's sound level at the frame's instant:
- speaking: the mouth opens with it (closed at 0, fully open at 1), and the gesturing
  hand swings with the phase as far as the activity; whistling: the lips are pursed
  around a hole that widens with it while it is above 0, and the mouth is closed at 0;
- machines (`MACHINES`): each shakes, moving and turning by amounts proportional to the
  activity in directions that change with the phase (`looks.shake`; not the fountain
  and traffic, whose spray and cars move instead); the fountain's spray rises with it;
  moving parts (drone rotors, drill bit, razor foil, cars, spray, waves) run with the
  phase while it is above 0. At activity 0 a machine is drawn the same at every phase:
  silence looks still;
- the other actions do not use it.

`phase` in [0, 1]: for machines and voices a cycle that the scene advances (periodic: 0
and 1 look the same). For impact actions (`IMPACTS`) one stroke: 0.5 is the contact (the
sound), 0 and 1 the same rest pose, the movement fastest near 0.5, so a scene can set
phase = clip(0.5 + (t - t_impact) / (2 * stroke), 0, 1) around the nearest impact and the
object holds its rest pose between impacts.

Pixel (row i, column j) covers image coordinates [j, j + 1) x [i, i + 1).
"""
from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from dataloader.camera import IMAGE_HEIGHT, IMAGE_WIDTH
from dualcam.looks import DEFAULT_LOOK, EMITTERS, IMPACTS, MACHINES, SHAPES, Colour, Look, shake, subject_look
from dualcam.sounds import SOUND_NAMES

__all__ = ["BACKDROPS", "EMITTERS", "IMPACTS", "MACHINES", "Look", "VisualObject", "emitter_offset",
           "render_frame", "subject_look"]

# Everything drawn stays within [8, 247] and the sensor noise within +-3, so the noise is
# added in uint8 without overflow or a clipping pass.
_LOW, _HIGH, _NOISE = 8, 247, 3

ANCHORS = ("centroid", "emitter")


@dataclass(frozen=True)
class VisualObject:
    name: str  # one of SOUND_NAMES
    center: tuple[float, float]  # (u, v) pixels: where the anchor lands
    size: float  # pixels: the object's largest half-extent
    hue_shift: float = 0.0  # radians, a rotation of every colour about the grey axis
    angle: float = 0.0  # radians, clockwise on screen (v points down)
    phase: float = 0.0  # animation phase in [0, 1], see the module's docstring
    activity: float = 0.0  # sound level at this instant in [0, 1], see the module's docstring
    look: Look | None = None  # a person's look; None: DEFAULT_LOOK
    anchor: str = "centroid"  # one of ANCHORS: what lands at `center`

    def __post_init__(self):
        if self.name not in SHAPES:
            raise ValueError(f"unknown object {self.name!r}; known objects: {', '.join(SOUND_NAMES)}")
        if not self.size > 0:
            raise ValueError(f"size must be positive, got {self.size}")
        if not (0 <= self.phase <= 1 and 0 <= self.activity <= 1):
            raise ValueError(f"phase and activity must be in [0, 1], got {self.phase}, {self.activity}")
        if self.anchor not in ANCHORS:
            raise ValueError(f"unknown anchor {self.anchor!r}; known anchors: {', '.join(ANCHORS)}")


def emitter_offset(name: str, size: float, angle: float = 0.0) -> tuple[float, float]:
    """(du, dv) pixels from an object's origin (object point (0, 0)) to its emitter, for an
    object of `size` pixels turned by `angle` radians (clockwise on screen)."""
    x, y = EMITTERS[name]
    cos, sin = float(np.cos(angle)), float(np.sin(angle))
    return size * (x * cos - y * sin), size * (x * sin + y * cos)


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
    primitives = SHAPES[obj.name](obj.phase, obj.activity, obj.look or DEFAULT_LOOK)
    rotation = _hue_rotation(obj.hue_shift)
    dx, dy, turn = shake(obj.name, obj.phase, obj.activity)
    angle, size = obj.angle + turn, float(obj.size)
    # Python floats keep the coordinate arrays float32, twice as fast as float64 here.
    cos, sin = float(np.cos(angle)), float(np.sin(angle))
    # Where the anchor lands, shaken along the object's axes, and where the origin goes.
    tu, tv = float(obj.center[0]) + size * (dx * cos - dy * sin), float(obj.center[1]) + size * (dx * sin + dy * cos)
    eu, ev = emitter_offset(obj.name, size, angle) if obj.anchor == "emitter" else (0.0, 0.0)
    ou, ov = tu - eu, tv - ev
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
            shade, keep = primitive.texture(xs, ys)
            keep = np.broadcast_to(keep, xs.shape)
            colours = np.clip(colour * np.broadcast_to(shade, xs.shape)[:, None], _LOW, _HIGH)
            inside[inside] = keep
            pixels[region][inside] = _pixels(np.ascontiguousarray(colours[keep], dtype=np.uint8))
        mask[region] |= inside
    total = mask.sum()
    if total == 0:  # smaller than a pixel
        return
    if obj.anchor == "centroid":  # whole pixels, so the drawing is not resampled
        rows, cols = np.arange(shape[0]) + 0.5, np.arange(shape[1]) + 0.5
        top += round(tv - (top + mask.sum(axis=1) @ rows / total))
        left += round(tu - (left + mask.sum(axis=0) @ cols / total))
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
