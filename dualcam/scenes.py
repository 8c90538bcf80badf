"""Scenes of the simulated camera, and the recording each one produces.

A scene is drawn from a random generator (`acivw_scene`, `avia_scene`) and rendered by
`record`: sources are placed in 3-D from their image positions and depths, their sounds
propagate to the 128 microphones (plus early reflections in a room), diffuse background
noise and sensor noise are added, the signals are quantised to int32, and the acoustic
images are computed from those int32 samples by the beamformer, exactly as convert_data.py
would for a real recording with raw audio only. Nothing of the acoustic image is painted
from the ground truth.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from dataloader.camera import FRAMES_PER_SECOND, IMAGE_SIZE
from dataloader.datasets import ACIVW, ACIVW_SPEC, AVIA, AVIA_SPEC
from dualcam import render, sounds
from dualcam.beamforming import INT32_FULL_SCALE, acoustic_images
from dualcam.geometry import Geometry
from dualcam.propagation import NoiseField, block_times, point_source, quantise, sensor_noise

_PREROLL = 2048  # samples of sound before t = 0: the longest travel time (~15 m) and a block
_MARGIN = 48.0  # pixels a drifting source keeps from the image border


@dataclasses.dataclass(frozen=True)
class Source:
    """A sounding (or, with level None, silent) object."""

    name: str
    start_uv: tuple[float, float]  # pixels at t = 0
    velocity: tuple[float, float]  # pixels per second; reflected at the image margins
    depth: float  # metres along the optical axis
    size: float  # metres: the object's half-extent, drawn at size * focal / depth pixels
    level_db: float | None  # RMS dBFS at 1 m; None for a silent distractor
    variation: sounds.Variation
    hue_shift: float = 0.0
    angle: float = 0.0

    def pixels(self, times: np.ndarray, image_size: tuple[int, int]) -> np.ndarray:
        """Image positions (len(times), 2) along a straight drift folded back at the margins."""
        height, width = image_size
        low = np.array([_MARGIN, _MARGIN])
        span = np.array([width, height]) - 2 * _MARGIN
        travelled = np.asarray(self.start_uv) - low + np.outer(times, self.velocity)
        folded = np.mod(travelled, 2 * span)
        return low + np.where(folded > span, 2 * span - folded, folded)


@dataclasses.dataclass(frozen=True)
class Room:
    """The acoustics around the camera."""

    name: str
    diffuse_db: float  # diffuse background noise, RMS dBFS per microphone
    sensor_db: float = -80.0  # self-noise of each capsule and converter
    wind_db: float | None = None  # turbulence at the capsules (outdoors)
    walls: tuple[float, ...] | None = None  # x-, x+, y- (ceiling), y+ (floor), z-, z+ in metres
    reflection: float = 0.0  # pressure reflection coefficient of the walls


@dataclasses.dataclass(frozen=True)
class Scene:
    sources: tuple[Source, ...]  # the first is the recording's class; silent ones are distractors
    room: Room
    background: int  # backdrop id for the renderer
    seconds: float
    label: dict  # what the recording is: class or action, location, subject, ...


ROOMS = {
    "open": Room("open", diffuse_db=-48.0),
    "anechoic": Room("anechoic", diffuse_db=-62.0),
    "office": Room("office", diffuse_db=-52.0, walls=(-3.0, 3.0, -1.4, 1.6, -1.0, 7.0), reflection=0.6),
    "outdoor": Room("outdoor", diffuse_db=-44.0, wind_db=-40.0),
}


def _uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(rng.uniform(low, high))


def _draw_source(rng: np.random.Generator, name: str, level_db: float | None, subject: int | None = None,
                 image_size: tuple[int, int] = IMAGE_SIZE, max_speed: float = 12.0) -> Source:
    height, width = image_size
    speed, heading = _uniform(rng, 0.0, max_speed), _uniform(rng, 0.0, 2 * np.pi)
    return Source(
        name=name,
        start_uv=(_uniform(rng, 1.5 * _MARGIN, width - 1.5 * _MARGIN),
                  _uniform(rng, 1.5 * _MARGIN, height - 1.5 * _MARGIN)),
        velocity=(speed * np.cos(heading), speed * np.sin(heading)),
        depth=_uniform(rng, 2.0, 5.0),
        size=_uniform(rng, 0.25, 0.4),
        level_db=level_db,
        variation=sounds.sample_variation(rng, subject=subject),
        hue_shift=_uniform(rng, -0.05, 0.05),
        angle=_uniform(rng, -0.3, 0.3),
    )


def _others(rng: np.random.Generator, names: tuple[str, ...], exclude: str) -> str:
    return str(rng.choice([n for n in names if n != exclude]))


def acivw_scene(rng: np.random.Generator, class_index: int, video_index: int, seconds: float) -> Scene:
    """One ACIVW recording: the class's object, perhaps a quieter second source and a silent
    look-alike of another class, outdoors-like diffuse noise."""
    classes = ACIVW_SPEC.class_names
    name = classes[class_index]
    target_db = _uniform(rng, -16.0, -8.0)
    sources = [_draw_source(rng, name, target_db)]
    if rng.random() < 0.3:
        sources.append(_draw_source(rng, _others(rng, classes, name), target_db - _uniform(rng, 8.0, 14.0)))
    if rng.random() < 0.5:
        sources.append(_draw_source(rng, _others(rng, classes, name), None))
    room = dataclasses.replace(ROOMS["open"], diffuse_db=_uniform(rng, -52.0, -40.0))
    return Scene(tuple(sources), room, background=int(rng.integers(0, 7)), seconds=seconds,
                 label={"classes": class_index, "class_name": name, "location": video_index})


def avia_scene(rng: np.random.Generator, location: int, subject: int, action: int, seconds: float) -> Scene:
    """One AVIA recording: a subject performing an action near the image centre, in one of
    three acoustically different locations (1 anechoic, 2 office, 3 outdoor)."""
    name = AVIA_SPEC.class_names[action]
    source = _draw_source(rng, name, _uniform(rng, -18.0, -12.0), subject=subject, max_speed=4.0)
    source = dataclasses.replace(source, start_uv=(_uniform(rng, 220.0, 420.0), _uniform(rng, 180.0, 300.0)),
                                 depth=_uniform(rng, 1.5, 3.0))
    room_name = AVIA_SPEC.extra["locations"][location - 1]
    return Scene((source,), ROOMS[room_name], background=7 + location - 1, seconds=seconds,
                 label={"action": action, "action_name": name, "location": location, "subject": subject,
                        "room": room_name})


# The scene of one recording of each flavour, from a generator, the recording's numbers and its length.
SCENES = {ACIVW: acivw_scene, AVIA: avia_scene}


def _image_sources(position: np.ndarray, room: Room) -> list[tuple[np.ndarray, float]]:
    """First-order mirror images of a source in the room's six walls (early reflections)."""
    if room.walls is None:
        return []
    images = []
    for axis in range(3):
        for wall in room.walls[2 * axis:2 * axis + 2]:
            mirrored = position.copy()
            mirrored[..., axis] = 2 * wall - position[..., axis]
            images.append((mirrored, room.reflection))
    return images


def _db(level: float) -> float:
    return 10.0 ** (level / 20.0)


def _pink(freqs: np.ndarray) -> np.ndarray:
    return np.where(freqs > 20.0, 1.0 / np.sqrt(np.maximum(freqs, 50.0)), 0.0)


def _wind(freqs: np.ndarray) -> np.ndarray:
    return np.where(freqs > 10.0, 1.0 / (1.0 + (freqs / 80.0) ** 2), 0.0)


def record(scene: Scene, geometry: Geometry, noise: NoiseField, rng: np.random.Generator) -> dict:
    """Simulates a scene. Returns int32 audio (T, M, 1024), acoustic images (T, 36, 48, 12),
    RGB frames (T, 480, 640, 3) and the ground truth."""
    fs, n_frame = geometry.sample_rate, geometry.frame_samples
    num_frames = int(round(scene.seconds * FRAMES_PER_SECOND))
    num_samples = num_frames * n_frame
    times = block_times(num_samples, fs)
    field = np.zeros((geometry.num_mics, num_samples))
    for source in scene.sources:
        if source.level_db is None:
            continue
        signal = sounds.synthesize(source.name, (num_samples + 2 * _PREROLL) / fs, source.variation, fs)
        position = geometry.back_project(source.pixels(times, geometry.image_size), source.depth)
        for where, gain in [(position, 1.0)] + _image_sources(position, scene.room):
            field += point_source(signal, _PREROLL, where, geometry.mic_positions, fs, geometry.speed_of_sound,
                                  num_samples, gain=gain * _db(source.level_db))
    field += _db(scene.room.diffuse_db) * noise.generate(num_samples, rng, _pink)
    if scene.room.wind_db is not None:
        gusts = 1.0 + 0.8 * np.sin(2 * np.pi * _uniform(rng, 0.1, 0.4) * np.arange(num_samples) / fs
                                   + _uniform(rng, 0, 2 * np.pi))
        field += _db(scene.room.wind_db) * gusts * noise.generate(num_samples, rng, _wind, coherent=False)
    field += _db(scene.room.sensor_db) * sensor_noise(geometry.num_mics, num_samples, rng)

    # The recorder's gain is set per recording so the loudest sample stays 1 dB below full
    # scale: impulsive sounds (a finger snap peaks ~100x its RMS) would otherwise clip.
    gain_db = min(0.0, -1.0 - 20 * np.log10(np.abs(field).max() + 1e-30))
    audio = quantise(field * _db(gain_db)).reshape(geometry.num_mics, num_frames, n_frame).transpose(1, 0, 2)
    audio = np.ascontiguousarray(audio)
    images = acoustic_images(audio, geometry)

    frame_times = (np.arange(num_frames) + 0.5) / FRAMES_PER_SECOND
    tracks = [source.pixels(frame_times, geometry.image_size) for source in scene.sources]
    frames = np.empty((num_frames,) + tuple(geometry.image_size) + (3,), dtype=np.uint8)
    focal = geometry.focal_length
    for t in range(num_frames):
        objects = [
            render.VisualObject(s.name, tuple(track[t]), s.size * focal / s.depth, s.hue_shift, s.angle,
                                phase=float(frame_times[t] * s.variation.rate) % 1.0)
            for s, track in sorted(zip(scene.sources, tracks), key=lambda st: -st[0].depth)
        ]
        frames[t] = render.render_frame(objects, scene.background, rng, *geometry.image_size)
    truth = {
        **scene.label,
        "frames": num_frames,
        "frames_per_second": FRAMES_PER_SECOND,
        "acoustics": dataclasses.asdict(scene.room),
        "recorder_gain_db": round(gain_db, 2),
        "peak_dbfs": float(20 * np.log10(np.abs(audio).max() / INT32_FULL_SCALE + 1e-12)),
        "sources": [
            {"name": s.name, "role": _role(i, s), "level_db": s.level_db, "depth_m": s.depth,
             "size_m": s.size, "pixels": np.round(track, 2).tolist()}
            for i, (s, track) in enumerate(zip(scene.sources, tracks))
        ],
    }
    return {"audio": audio, "images": images, "frames": frames, "truth": truth}


def _role(index: int, source: Source) -> str:
    if index == 0:
        return "target"
    return "distractor" if source.level_db is None else "secondary"
