"""A scene recorded by the simulated camera: the 128 microphone signals, the acoustic images
beamformed from them, the video frames, and the ground truth.

Sound. Each source's signal is made over the scene's timeline (`dualcam.scenes`), placed at
its emitter in 3-D, and propagated to the microphones (plus early reflections in a room);
diffuse background noise and sensor noise are added, the signals are quantised to int32,
and the acoustic images are computed from those int32 samples by the beamformer, exactly as
convert_data.py would for a real recording with raw audio only. Nothing of the acoustic
image is painted from the ground truth.

Time. The video is the reference. An array whose clock is `offset` behind the camera's
records at its sample n what sounded at video time n / 12,288 - offset: the microphone
signals and the acoustic images are shifted together against the frames, as on a real rig
out of sync.

Picture. Objects are drawn at their emitters (`render.VisualObject`, anchor "emitter"),
moving with their own sound: a struck object strikes at its impacts, a mouth opens with the
speech's level, a machine shakes with its own; a silent look-alike moves to a timeline of
its own that nobody hears.
"""
from __future__ import annotations

import dataclasses
import functools

import numpy as np

from dataloader.camera import FRAMES_PER_SECOND
from dualcam import events, objects, render, sounds, speech
from dualcam.beamforming import INT32_FULL_SCALE, acoustic_images
from dualcam.geometry import Geometry
from dualcam.looks import subject_look
from dualcam.propagation import NoiseField, block_times, point_sources, quantise, sensor_noise
from dualcam.scenes import Room, Scene, Source


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


@functools.lru_cache(maxsize=16)
def _sound_file(path: str, sample_rate: int) -> np.ndarray:
    return sounds.read_sound_file(path, sample_rate)


def emitted(source: Source, start: float, num_samples: int, sample_rate: int) -> np.ndarray:
    """What a source emits from video time `start`, `num_samples` samples: unit RMS while it
    sounds (a struck object: over its whole timeline), silence between its events."""
    times = start + np.arange(num_samples) / sample_rate
    seconds = num_samples / sample_rate
    if source.sound_file is not None:
        recording = _sound_file(source.sound_file[0], sample_rate)
        first = int(source.sound_file[1] * len(recording))
        return np.take(recording, first + np.arange(num_samples), mode="wrap") * events.gain(source.events, times)
    if source.impacts is not None:
        impacts = (source.impacts[0] - start, source.impacts[1])
        return sounds.synthesize(source.name, seconds, source.variation, sample_rate, impacts=impacts)
    if source.sentences:
        voice, out = speech.subject_voice(source.voice), np.zeros(num_samples)
        for onset, text in source.sentences:
            spoken = speech.speak(text, voice, sample_rate)  # unit RMS while voiced
            first = int(round((onset - start) * sample_rate))
            keep = slice(max(0, -first), max(0, min(len(spoken), num_samples - first)))
            out[first + keep.start:first + keep.stop] += spoken[keep]
        return out
    return sounds.synthesize(source.name, seconds, source.variation, sample_rate) * events.gain(source.events, times)


def _levels(signal: np.ndarray, start: float, frame_times: np.ndarray, sample_rate: int) -> np.ndarray:
    """RMS of the signal over each video frame's span, relative to the loudest frame's."""
    energy = np.concatenate([[0.0], np.cumsum(signal**2)])
    half = sample_rate / FRAMES_PER_SECOND / 2
    centre = (frame_times - start) * sample_rate
    low = np.clip(np.round(centre - half).astype(int), 0, len(signal))
    high = np.clip(np.round(centre + half).astype(int), 0, len(signal))
    rms = np.sqrt((energy[high] - energy[low]) / np.maximum(high - low, 1))
    return rms / rms.max() if rms.max() > 0 else rms


def _motion(source: Source, signal: np.ndarray | None, start: float, frame_times: np.ndarray,
            sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """(phase, activity) of the object at each frame: a struck object's strokes run through
    its impacts, anything else animates at its own rate and moves with its level."""
    if source.impacts is not None:
        phase = events.strokes(source.impacts[0], frame_times, objects.STROKE)
    elif source.name in sounds.STRUCK:
        phase = events.strokes(source.events[:, 0], frame_times, objects.STROKE)
    else:
        phase = (frame_times * source.variation.rate * objects.ANIMATION_HZ.get(source.name, 1.0)) % 1.0
    level = events.gain(source.events, frame_times) if signal is None else _levels(signal, start, frame_times,
                                                                                    sample_rate)
    return phase, np.clip(level, 0.0, 1.0)


def _event_truth(source: Source, index: int, seconds: float, track: np.ndarray, points: np.ndarray) -> list[dict]:
    out = []
    for onset, offset in events.merge(events.clip(np.round(source.events, 4), 0.0, seconds)):
        first = int(np.floor(onset * FRAMES_PER_SECOND))
        last = min(int(np.ceil(offset * FRAMES_PER_SECOND)), len(track))
        event = {"class": source.name, "role": source.role, "source": index, "onset": float(onset),
                 "offset": float(offset), "subject": source.subject, "instance": source.instance,
                 "first_frame": first, "pixels": np.round(track[first:last], 2).tolist(),
                 "position_m": np.round(points[first:last], 3).tolist()}
        if source.sentences:
            event["words"] = " ".join(text for start, text in source.sentences if onset <= start + 1e-3 < offset)
        out.append(event)
    return out


def record(scene: Scene, geometry: Geometry, noise: NoiseField, rng: np.random.Generator,
           images: bool = True) -> dict:
    """Simulates a scene. Returns int32 audio (T, M, 1024), acoustic images (T, 36, 48, 12),
    RGB frames (T, 480, 640, 3) and the ground truth. Without `images`, the acoustic images
    (most of the cost) are not beamformed and are None: for studies of the signals alone."""
    fs, n_frame = geometry.sample_rate, geometry.frame_samples
    num_frames = int(round(scene.seconds * FRAMES_PER_SECOND))
    num_samples = num_frames * n_frame
    pad = int(round(scene.margin * fs))
    start = -pad / fs  # video time of the first sample of every source's signal
    offset = scene.offset_samples / fs
    heard_at = block_times(num_samples, fs) - offset  # video time of each block the array records
    frame_times = (np.arange(num_frames) + 0.5) / FRAMES_PER_SECOND
    field = np.zeros((geometry.num_mics, num_samples))
    motion = []
    for source in scene.sources:
        signal = None if source.level_db is None else emitted(source, start, num_samples + 2 * pad, fs)
        motion.append(_motion(source, signal, start, frame_times, fs))
        if signal is None:
            continue
        position = geometry.back_project(source.pixels(heard_at, geometry.image_size), source.depth)
        images = [(where, gain * _db(source.level_db)) for where, gain in
                  [(position, 1.0)] + _image_sources(position, scene.room)]
        field += point_sources(signal, pad - scene.offset_samples, images, geometry.mic_positions, fs,
                               geometry.speed_of_sound, num_samples)
    field += _db(scene.room.diffuse_db) * noise.generate(num_samples, rng, _pink)
    if scene.room.wind_db is not None:
        gusts = 1.0 + 0.8 * np.sin(2 * np.pi * rng.uniform(0.1, 0.4) * np.arange(num_samples) / fs
                                   + rng.uniform(0, 2 * np.pi))
        field += _db(scene.room.wind_db) * gusts * noise.generate(num_samples, rng, _wind, coherent=False)
    field += _db(scene.room.sensor_db) * sensor_noise(geometry.num_mics, num_samples, rng)

    # The recorder's gain is set per recording so the loudest sample stays 1 dB below full
    # scale: impulsive sounds (a finger snap peaks ~100x its RMS) would otherwise clip.
    gain_db = min(0.0, -1.0 - 20 * np.log10(np.abs(field).max() + 1e-30))
    audio = quantise(field * _db(gain_db)).reshape(geometry.num_mics, num_frames, n_frame).transpose(1, 0, 2)
    audio = np.ascontiguousarray(audio)
    beamformed = acoustic_images(audio, geometry) if images else None

    tracks = [source.pixels(frame_times, geometry.image_size) for source in scene.sources]
    points = [geometry.back_project(track, source.depth) for source, track in zip(scene.sources, tracks)]
    frames = np.empty((num_frames,) + tuple(geometry.image_size) + (3,), dtype=np.uint8)
    focal = geometry.focal_length
    seen = sorted((i for i, s in enumerate(scene.sources) if s.seen), key=lambda i: -scene.sources[i].depth)
    looks = {i: subject_look(scene.sources[i].subject) for i in seen if scene.sources[i].subject is not None}
    for t in range(num_frames):
        drawn = [render.VisualObject(s.name, tuple(tracks[i][t]), s.size * focal / s.depth, s.hue_shift, s.angle,
                                     phase=float(motion[i][0][t]), activity=float(motion[i][1][t]),
                                     look=looks.get(i), anchor="emitter")
                 for i, s in ((i, scene.sources[i]) for i in seen)]
        frames[t] = render.render_frame(drawn, scene.background, rng, *geometry.image_size)
    truth = {
        **scene.label,
        "frames": num_frames,
        "frames_per_second": FRAMES_PER_SECOND,
        "offset_s": offset,
        "offset_samples": scene.offset_samples,
        "caption": scene.caption,
        "phrases": [{"phrase": text, "class": name, "segments": segments.tolist()}
                    for text, name, segments in scene.phrases],
        "events": sorted((event for i, s in enumerate(scene.sources) if s.level_db is not None
                          for event in _event_truth(s, i, scene.seconds, tracks[i], points[i])),
                         key=lambda e: (e["onset"], e["source"])),
        "acoustics": dataclasses.asdict(scene.room),
        "recorder_gain_db": round(gain_db, 2),
        "peak_dbfs": float(20 * np.log10(np.abs(audio).max() / INT32_FULL_SCALE + 1e-12)),
        "sources": [
            {"name": s.name, "role": s.role, "instance": s.instance, "subject": s.subject, "level_db": s.level_db,
             "depth_m": s.depth, "size_m": s.size, "pixels": np.round(track, 2).tolist(),
             "position_m": np.round(point, 3).tolist()}
            for s, track, point in zip(scene.sources, tracks, points)
        ],
    }
    return {"audio": audio, "images": beamformed, "frames": frames, "truth": truth}
