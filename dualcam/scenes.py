"""Scenes of the simulated camera: who and what sounds, where, and when.

A scene is drawn from a random generator (`acivw_scene`, `avia_scene`) and recorded by
`dualcam.recording.record`. Its sources are objects of the kinds of `dualcam.objects`,
placed where such objects are, each of its own variant (`dualcam.sounds.VARIANTS`), and
each with a timeline (`dualcam.events`): continuous sources sound in events, struck objects
are struck at drawn instants, a subject speaks sentences in its own voice
(`dualcam.speech`). A recording holds the class's object (the target), perhaps a quieter
second sound in view, perhaps a silent look-alike that moves without a sound, and sounds
from outside the picture at a lower level (background). Every sound is named in a caption.

Times are video seconds; a scene's timelines cover `margin` seconds either side of the
recording, since with an offset the array hears a little before or after the video.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from dataloader.camera import SAMPLE_RATE
from dataloader.datasets import ACIVW_SPEC, AVIA_SPEC
from dualcam import captions, events, objects, render, sounds, speech
from dualcam.geometry import Geometry, default_geometry

_MARGIN = 48.0  # pixels a drifting source keeps from the image border
_PREROLL = 2048  # samples of sound before the array's first: the longest travel time (~15 m) and a block
SPEECHES = ("espeak", "formant")  # how subjects speak: eSpeak NG's voices, or the built-in formant voice
STRANGERS = 1000  # voices from here on speak in the background: no subject has them


@dataclasses.dataclass(frozen=True)
class Options:
    """What a user chooses about every scene."""

    offsets: tuple[float, float] = (0.0, 0.0)  # seconds the array lags the video, drawn per recording
    sound_files: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (sound name, its recordings) to use
    speech: str = "espeak"
    background: tuple[int, int] = (0, 2)  # sounds from outside the picture, per recording

    def files(self, name: str) -> tuple[str, ...]:
        return dict(self.sound_files).get(name, ())


@dataclasses.dataclass(frozen=True, eq=False)
class Source:
    """A sounding object (or, with level None, a silent one) and its timeline."""

    name: str
    role: str  # target, secondary, background (out of the picture) or distractor (silent)
    start_uv: tuple[float, float]  # pixels of its emitter at t = 0
    velocity: tuple[float, float]  # pixels per second; reflected at the image margins
    depth: float  # metres along the optical axis
    size: float  # metres: the object's half-extent, drawn at size * focal / depth pixels
    level_db: float | None  # RMS dBFS at 1 m while it sounds; None for a silent look-alike
    variation: sounds.Variation
    events: np.ndarray  # (K, 2) seconds when it sounds (or, silent, would)
    impacts: tuple[np.ndarray, np.ndarray] | None = None  # struck: times (s) and indices in group
    sentences: tuple[tuple[float, str], ...] = ()  # speaking: (onset s, sentence)
    subject: int | None = None
    voice: int | None = None  # speaking: whose voice (`speech.subject_voice`): the subject's, or a stranger's
    sound_file: tuple[str, float] | None = None  # a user's recording and where its excerpt starts
    hue_shift: float = 0.0
    angle: float = 0.0

    @property
    def seen(self) -> bool:
        return self.role != "background"

    @property
    def instance(self) -> str:
        if self.sound_file is not None:
            return f"{self.name}/file:{self.sound_file[0]}"
        return f"{self.name}/{sounds.variants(self.name)[self.variation.variant].name}"

    def pixels(self, times: np.ndarray, image_size: tuple[int, int]) -> np.ndarray:
        """Its emitter's image positions (len(times), 2): a straight drift folded back at
        the margins; fixed, and out of the picture, for a background source."""
        if not self.seen:
            return np.broadcast_to(np.asarray(self.start_uv, dtype=np.float64), (len(times), 2)).copy()
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


@dataclasses.dataclass(frozen=True, eq=False)
class Scene:
    sources: tuple[Source, ...]  # the first is the recording's class
    room: Room
    background: int  # backdrop id for the renderer
    seconds: float
    label: dict  # what the recording is: class or action, location, subject, ...
    offset_samples: int = 0  # the array's clock behind the video's, in samples
    caption: str = ""
    phrases: tuple[tuple[str, str, np.ndarray], ...] = ()  # (phrase, sound name, segments (K, 2))

    @property
    def margin(self) -> float:
        return margin(self.offset_samples)


def margin(offset_samples: int) -> float:
    """Seconds of timeline a scene needs either side of the recording: what the array may
    hear of them, through travel times and its offset."""
    return (_PREROLL + abs(offset_samples)) / SAMPLE_RATE + 0.1


ROOMS = {
    "open": Room("open", diffuse_db=-48.0),
    "anechoic": Room("anechoic", diffuse_db=-62.0),
    "office": Room("office", diffuse_db=-52.0, walls=(-3.0, 3.0, -1.4, 1.6, -1.0, 7.0), reflection=0.6),
    "outdoor": Room("outdoor", diffuse_db=-44.0, wind_db=-40.0),
}


def _uniform(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    return float(rng.uniform(*bounds))


def _timeline(rng: np.random.Generator, name: str, variation: sounds.Variation, start: float, stop: float,
              seconds: float, options: Options, voice: int | None) -> dict:
    """The events of a source over [start, stop), and what makes them: impacts, sentences."""
    if name in sounds.STRUCK and not options.files(name):
        times, index = sounds.impact_schedule(name, stop - start, variation)
        times = times + start
        if not np.any((times >= 0) & (times < seconds)):  # a pause as long as the recording: strike once
            times, index = np.append(times, rng.uniform(0.1, 0.9) * seconds), np.append(index, 0)
            order = np.argsort(times, kind="stable")
            times, index = times[order], index[order]
        ring = sounds.ring_seconds(name)
        return {"events": events.merge(np.stack([times, times + ring], axis=1)), "impacts": (times, index)}
    if voice is not None:
        voice, sentences, t = speech.subject_voice(voice), [], start - rng.uniform(0.0, 2.0)
        while t < stop:
            text = str(rng.choice(speech.SENTENCES))
            length = len(speech.speak(text, voice)) / SAMPLE_RATE
            if t + length > start:
                sentences.append((t, text, length))
            t += length + float(events.log_uniform(rng, objects.SPEECH_PAUSES))
        spoken = np.array([(onset, onset + length) for onset, _, length in sentences]).reshape(-1, 2)
        return {"events": spoken, "sentences": tuple((onset, text) for onset, text, _ in sentences)}
    timing = objects.TIMINGS.get(name, objects.DEFAULT_TIMING)
    return {"events": events.draw(rng, timing, start, stop, within=(0.0, seconds))}


def _draw_source(rng: np.random.Generator, name: str, role: str, seconds: float, margin: float, options: Options,
                 geometry: Geometry, subject: int | None = None, level_db: float | None = None,
                 max_angle: float = 0.3) -> Source:
    place = objects.PLACES[name]
    height, width = geometry.image_size
    focal = geometry.focal_length
    depth, size = _uniform(rng, place.depth), _uniform(rng, place.size)
    centre_height = _uniform(rng, place.height)
    angle, hue_shift = _uniform(rng, (-max_angle, max_angle)), _uniform(rng, (-0.05, 0.05))
    hue_shift *= subject is None  # a subject's colours are theirs
    speed, heading = place.speed * rng.uniform() * focal / depth, rng.choice([-1.0, 1.0])
    velocity = (heading * speed, rng.normal(0.0, 0.3) * speed if place.climbs else 0.0)
    kinds = sounds.variants(name)
    variation = dataclasses.replace(sounds.sample_variation(rng, subject=subject),
                                    variant=int(rng.integers(len(kinds))))
    files = options.files(name)
    sound_file = (str(rng.choice(files)), float(rng.uniform())) if files else None
    if level_db is None and role != "distractor":
        level_db = _uniform(rng, place.level_db)
    if role == "background":  # beside or behind the camera's field of view, still
        azimuth = rng.choice([-1.0, 1.0]) * rng.uniform(0.9, 1.4)
        distance = depth * rng.uniform(1.0, 1.5)
        point = np.array([distance * np.sin(azimuth), objects.CAMERA_HEIGHT - centre_height,
                          distance * np.cos(azimuth)])
        uv, velocity, depth = tuple(geometry.project(point)), (0.0, 0.0), float(point[2])
    else:
        du, dv = render.emitter_offset(name, size * focal / depth, angle)
        v = geometry.principal_point()[1] + focal * (objects.CAMERA_HEIGHT - centre_height) / depth + dv
        uv = (rng.uniform(1.5 * _MARGIN, width - 1.5 * _MARGIN),
              float(np.clip(v, 1.5 * _MARGIN, height - 1.5 * _MARGIN)))
    voice = None
    if name == "speaking" and options.speech == "espeak":  # a stranger's voice is none of the subjects'
        voice = subject if subject is not None else STRANGERS + int(rng.integers(100))
    timeline = _timeline(rng, name, variation, -margin, seconds + margin, seconds, options, voice)
    return Source(name=name, role=role, start_uv=(float(uv[0]), float(uv[1])), velocity=velocity, depth=depth,
                  size=size, level_db=level_db, variation=variation, subject=subject, voice=voice,
                  sound_file=sound_file, hue_shift=hue_shift, angle=angle, **timeline)


def _received_db(source: Source) -> float:
    return source.level_db - 20 * np.log10(source.depth)


def _others(rng: np.random.Generator, names: tuple[str, ...], taken: set[str]) -> str:
    return str(rng.choice([n for n in names if n not in taken]))


def _background(rng: np.random.Generator, names: tuple[str, ...], target: Source, sources: list[Source],
                seconds: float, margin: float, options: Options, geometry: Geometry) -> list[Source]:
    """Sounds from outside the picture, 15 to 25 dB below the target where the camera is."""
    out = []
    for _ in range(int(rng.integers(options.background[0], options.background[1] + 1))):
        name = _others(rng, names, {s.name for s in sources + out})
        source = _draw_source(rng, name, "background", seconds, margin, options, geometry, level_db=0.0)
        level = _received_db(target) - rng.uniform(15.0, 25.0) + 20 * np.log10(np.linalg.norm(
            geometry.back_project(np.asarray(source.start_uv), source.depth)))
        out.append(dataclasses.replace(source, level_db=float(level)))
    return out


def _who(source: Source) -> str:
    if source.role == "background" or (source.subject is None and source.voice is None):
        return "someone"
    return f"a {speech.subject_voice(source.voice or source.subject).gender}"


def _captioned(rng: np.random.Generator, scene: Scene) -> Scene:
    parts = []
    for source in scene.sources:
        if source.level_db is None:
            continue
        segments = events.merge(events.clip(np.round(source.events, 4), 0.0, scene.seconds))
        if len(segments):
            parts.append((captions.phrase(rng, source.name, _who(source)), source.name, segments,
                          source.role == "background"))
    caption = captions.compose([(text, segments, background) for text, _, segments, background in parts])
    return dataclasses.replace(scene, caption=caption,
                               phrases=tuple((text, name, segments) for text, name, segments, _ in parts))


def _offset_samples(rng: np.random.Generator, options: Options) -> int:
    return int(round(rng.uniform(*options.offsets) * SAMPLE_RATE)) if options.offsets != (0.0, 0.0) else 0


def acivw_scene(rng: np.random.Generator, class_index: int, video_index: int, seconds: float,
                options: Options = Options(), geometry: Geometry | None = None) -> Scene:
    """One ACIVW recording: the class's object where such objects are, perhaps a quieter
    second source and a silent look-alike of other classes, sounds from out of the picture,
    outdoors-like diffuse noise."""
    geometry = geometry or default_geometry()
    classes = ACIVW_SPEC.class_names
    name = classes[class_index]
    offset = _offset_samples(rng, options)
    pad = margin(offset)
    target = _draw_source(rng, name, "target", seconds, pad, options, geometry)
    sources = [target]
    if rng.random() < 0.4:
        other = _others(rng, classes, {name})
        second = _draw_source(rng, other, "secondary", seconds, pad, options, geometry)
        level = _received_db(target) - rng.uniform(10.0, 16.0) + 20 * np.log10(second.depth)
        sources.append(dataclasses.replace(second, level_db=float(level)))
    if rng.random() < 0.5:
        sources.append(_draw_source(rng, _others(rng, classes, {s.name for s in sources}), "distractor", seconds,
                                    pad, options, geometry))
    sources += _background(rng, classes, target, sources, seconds, pad, options, geometry)
    room = dataclasses.replace(ROOMS["open"], diffuse_db=_uniform(rng, (-52.0, -40.0)))
    scene = Scene(tuple(sources), room, background=int(rng.integers(0, 7)), seconds=seconds,
                  label={"classes": class_index, "class_name": name, "location": video_index},
                  offset_samples=offset)
    return _captioned(rng, scene)


def avia_scene(rng: np.random.Generator, location: int, subject: int, action: int, seconds: float,
               options: Options = Options(), geometry: Geometry | None = None) -> Scene:
    """One AVIA recording: a subject, in their own look and voice, performing an action at a
    table in one of three acoustically different locations (1 anechoic, 2 office, 3
    outdoor), with sounds from out of the picture."""
    geometry = geometry or default_geometry()
    name = AVIA_SPEC.class_names[action]
    offset = _offset_samples(rng, options)
    room_name = AVIA_SPEC.extra["locations"][location - 1]
    pad = margin(offset)
    target = _draw_source(rng, name, "target", seconds, pad, options, geometry, subject=subject, max_angle=0.05)
    sources = [target] + _background(rng, AVIA_SPEC.class_names, target, [target], seconds, pad, options, geometry)
    scene = Scene(tuple(sources), ROOMS[room_name], background=7 + location - 1, seconds=seconds,
                  label={"action": action, "action_name": name, "location": location, "subject": subject,
                         "room": room_name},
                  offset_samples=offset)
    return _captioned(rng, scene)


# The scene of one recording of each flavour, from a generator, the recording's numbers, its
# length, the user's options and the camera.
SCENES = {"acivw": acivw_scene, "avia": avia_scene}

