"""The raw files of both datasets, as the DualCam writes them (the trees they lie in are the
specs' levels, `dataloader.datasets`): names, readers and writers.

A recording directory holds one file per frame i (from 1) in each of three directories:
    MFCC_Image/Data_{i}.mat   a MATLAB 5 file whose variable MFCC is the acoustic image,
                              float32 (36, 48, 12)
    audio/A_{i:06d}.dc        int32 (128, 1024) little-endian, Fortran order, no header (ACIVW)
    audio/A_{i:06d}.npy       int32 (mics, 1024), a NumPy file (AVIA)
    video/I_{i:06d}.bmp       480 x 640, 24-bit BMP (ACIVW)
    video/I_{i:06d}.jpeg      480 x 640 JPEG (AVIA)
and a simulated recording's raw directory its ground truth, `ground_truth.json` (below).

Every reader refuses a malformed file with a RawDataError naming it, never with a library's
exception: the converter stops on it with one line, or skips the recording (--skip_bad).
The writers make the files the simulator writes (`dualcam.layouts`).

Ground truth (`GROUND_TRUTH`, a JSON object). The simulator's older keys ("frames", the
number of video frames; "frames_per_second", 12; "sources", one object per sound source;
the scene's labels) are joined by
    "offset_s"  the array's clock against the video: audio sample n was heard at video
                time n / 12,288 - offset_s, so a positive offset is how long the audio (and
                the acoustic images) lag the video; whole samples
    "events"    every sound event: "class" (a class name of either flavour, the specs'
                `class_names`), "role" ("target", "secondary" or "background"), "source"
                (an index into "sources"), "onset" < "offset" in seconds of video time
                within the recording, "subject" (AVIA's subject number, as its directory
                names it, or null), "instance" (the sound's variant), and per video frame
                from "first_frame" while it sounds, "pixels" [u, v] and "position_m" [x, y, z]
    "caption"   one sentence about the scene
    "phrases"   {"phrase", "class", "segments"}: a phrase that occurs verbatim in the
                caption (one that begins it may have its first letter capitalised), the
                class it names (or null), and when it sounds: sorted, disjoint [onset,
                offset] pairs, video seconds
A recording without "events" (a real one, or simulated before events were written) has no
ground truth to carry: `read_ground_truth` returns None. `frame_activity` turns events and
phrases into how much of each video frame every class and phrase sounds.
"""
from __future__ import annotations

import dataclasses
import io
import json
import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import scipy.io
from PIL import Image, UnidentifiedImageError

from dataloader.camera import ACOUSTIC_IMAGE_SHAPE, FRAME_SAMPLES, FRAMES_PER_SECOND, NUM_MICS, SAMPLE_RATE
from dataloader.datasets import DATASETS, dataset_spec

ACOUSTIC_IMAGE_DIR, AUDIO_DIR, VIDEO_DIR = "MFCC_Image", "audio", "video"
MAT_SUFFIX = ".mat"
MAT_KEY = "MFCC"  # the .mat variable that holds the acoustic image
GROUND_TRUTH = "ground_truth.json"  # in a simulated recording's raw directory
JPEG_START, JPEG_END = b"\xff\xd8\xff", b"\xff\xd9"
# scipy stamps the creation time into a .mat header; a fixed header keeps files
# byte-identical for the same seed.
_MAT_HEADER = b"MATLAB 5.0 MAT-file, written by dualcam".ljust(116, b" ")


class RawDataError(ValueError):
    """A raw input file is missing, truncated or malformed. The message is one line, whatever
    a library said about the file."""

    def __init__(self, path: str | os.PathLike, problem: str):
        problem = " ".join(str(problem).split())
        super().__init__(f"{path}: {problem}")
        self.path = str(path)
        self.problem = problem

    def __reduce__(self):  # rebuilt from its parts when it crosses a process pool
        return type(self), (self.path, self.problem)


def mat_name(i: int) -> str:
    return f"Data_{i}.mat"


def dc_name(i: int) -> str:
    return f"A_{i:06d}.dc"


def npy_name(i: int) -> str:
    return f"A_{i:06d}.npy"


def bmp_name(i: int) -> str:
    return f"I_{i:06d}.bmp"


def jpeg_name(i: int) -> str:
    return f"I_{i:06d}.jpeg"


FILE_NAMES = {MAT_SUFFIX: mat_name, ".dc": dc_name, ".npy": npy_name, ".bmp": bmp_name, ".jpeg": jpeg_name}
IMAGE_FORMATS = {".bmp": "BMP", ".jpeg": "JPEG"}  # PIL's names of the video files' formats


# ----------------------------------------------------------------------------- writers


def mat_bytes(acoustic_image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    scipy.io.savemat(buffer, {MAT_KEY: np.asarray(acoustic_image, dtype=np.float32)}, format="5")
    data = buffer.getvalue()
    return _MAT_HEADER + data[len(_MAT_HEADER):]


def dc_bytes(audio: np.ndarray) -> bytes:
    """One frame of all microphones, (mics, samples) int32, as the DualCam writes it."""
    return np.asarray(audio, dtype="<i4").tobytes(order="F")


def npy_bytes(audio: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(audio, dtype=np.int32))
    return buffer.getvalue()


def image_bytes(frame_rgb: np.ndarray, fmt: str) -> bytes:
    buffer = io.BytesIO()
    options = {"quality": 95} if fmt == "JPEG" else {}
    Image.fromarray(np.asarray(frame_rgb, dtype=np.uint8), "RGB").save(buffer, format=fmt, **options)
    return buffer.getvalue()


AUDIO_WRITERS = {".dc": dc_bytes, ".npy": npy_bytes}


# ----------------------------------------------------------------------------- readers


def _file_bytes(path: str | os.PathLike) -> bytes:
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise RawDataError(path, "missing file") from None
    except IsADirectoryError:
        raise RawDataError(path, "a directory, not a file") from None
    except OSError as err:
        raise RawDataError(path, f"cannot read the file ({err.strerror})") from None
    if not data:
        raise RawDataError(path, "empty file")
    return data


def non_finite(values: np.ndarray) -> str:
    """'N non-finite values (NaN or inf)', or '' if every value is finite."""
    count = values.size - np.count_nonzero(np.isfinite(values))
    return f"{count} non-finite values (NaN or inf)" if count else ""


def read_mat(path: str | os.PathLike, round_to_float32: bool = False) -> np.ndarray:
    """The acoustic image of a .mat file as float32, not padded: real floating point, three
    axes, every value finite. float64 values float32 cannot hold exactly are refused, or
    with `round_to_float32` rounded, as AVIA's converter cast them."""
    data = _file_bytes(path)
    try:
        contents = scipy.io.loadmat(io.BytesIO(data))
    except Exception as err:  # scipy raises IndexError, TypeError, OSError... for bad bytes
        raise RawDataError(path, f"not a readable .mat file ({err})") from None
    if MAT_KEY not in contents:
        found = sorted(k for k in contents if not k.startswith("__"))
        raise RawDataError(path, f"no '{MAT_KEY}' variable (found {found})")
    image = contents[MAT_KEY]
    if not isinstance(image, np.ndarray):
        raise RawDataError(path, f"{MAT_KEY} is a {type(image).__name__}, expected a float32 array")
    if image.dtype.kind != "f":
        raise RawDataError(path, f"{MAT_KEY} is {image.dtype.name}, expected float32")
    if image.ndim != 3:
        raise RawDataError(path, f"{MAT_KEY} has shape {image.shape}, expected 3 axes {ACOUSTIC_IMAGE_SHAPE}")
    problem = non_finite(image)
    if problem:
        raise RawDataError(path, f"{MAT_KEY} has {problem}")
    with np.errstate(over="ignore"):  # values beyond float32's range are refused below
        values = image.astype(np.float32)
    changed = np.count_nonzero(values != image)
    if changed and not round_to_float32:
        raise RawDataError(path, f"{MAT_KEY} is {image.dtype.name}, and {changed} of its values are not exactly "
                                 "float32")
    problem = non_finite(values)
    if problem:
        raise RawDataError(path, f"{MAT_KEY} has {problem} once cast to float32 (beyond its range)")
    return values


def read_dc(path: str | os.PathLike, mics: int = NUM_MICS, samples: int = FRAME_SAMPLES) -> np.ndarray:
    """One .dc frame as (mics, samples) int32."""
    raw = _file_bytes(path)
    expected = mics * samples * 4
    if len(raw) != expected:
        raise RawDataError(path, f"{len(raw)} bytes, expected {expected} ({mics} mics x {samples} int32 samples)")
    return np.frombuffer(raw, dtype="<i4").reshape((mics, samples), order="F")


def read_npy(path: str | os.PathLike) -> np.ndarray:
    """One .npy frame as (mics, samples) int32: one plain array, nothing pickled, no bytes
    missing or left over. The header is checked before the body is read, so a header
    claiming a huge array allocates nothing."""
    data = _file_bytes(path)
    stream = io.BytesIO(data)
    try:
        major, _ = np.lib.format.read_magic(stream)
        read_header = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
        shape, fortran_order, dtype = read_header(stream)
    except ValueError as err:  # numpy reports every malformed magic string or header so
        raise RawDataError(path, f"not a readable .npy file ({err})") from None
    if dtype != np.int32 or len(shape) != 2 or shape[0] < 1 or shape[1] != FRAME_SAMPLES:
        raise RawDataError(path, f"audio is {dtype} {shape}, expected int32 (mics, {FRAME_SAMPLES}) with mics >= 1")
    body, expected = len(data) - stream.tell(), shape[0] * shape[1] * dtype.itemsize
    if body != expected:
        raise RawDataError(path, f"{body} bytes of data after the header, which says {expected} ({dtype} {shape})")
    audio = np.frombuffer(data, dtype, offset=stream.tell())
    return audio.reshape(shape, order="F" if fortran_order else "C")


AUDIO_READERS = {".dc": read_dc, ".npy": read_npy}


def _decoded(path: str | os.PathLike, data: bytes) -> np.ndarray:
    """Every pixel decoded (a body cut short or broken is an error), as RGB (H, W, 3) uint8."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            return np.asarray(image.convert("RGB"))
    except UnidentifiedImageError:
        raise RawDataError(path, "not an image file (unknown format)") from None
    except Exception as err:  # decoders raise OSError, ValueError, SyntaxError, struct.error... for bad bytes
        raise RawDataError(path, f"not a readable image ({err})") from None


def read_image(path: str | os.PathLike) -> np.ndarray:
    """An RGB frame (H, W, 3) uint8."""
    return _decoded(path, _file_bytes(path))


def read_jpeg(path: str | os.PathLike) -> tuple[bytes, np.ndarray]:
    """A JPEG file's bytes and its RGB pixels (H, W, 3) uint8.

    The whole body is decoded: libjpeg refuses a broken one. Damage it decodes without an
    error (a few altered bytes, or a body cut short then closed with an end-of-image marker)
    gives grey or shifted blocks, which no decoder here reports.
    """
    data = _file_bytes(path)
    if not data.startswith(JPEG_START):
        raise RawDataError(path, "not a JPEG file (no start-of-image marker)")
    if not data.rstrip(b"\0").endswith(JPEG_END):
        raise RawDataError(path, f"truncated JPEG file ({len(data)} bytes, no end-of-image marker)")
    return data, _decoded(path, data)


# ----------------------------------------------------------------------------- ground truth


EVENT_ROLES = ("target", "secondary", "background")
_SECONDS_TOLERANCE = 1e-6  # JSON's decimal times against frames / 12
_SAMPLES_TOLERANCE = 1e-3  # offset_s * 12,288 against a whole number of samples


@dataclasses.dataclass(frozen=True)
class SoundEvent:
    """One sound of a scene, times in seconds of video time."""

    name: str  # its "class": a class name of either flavour
    role: str  # one of EVENT_ROLES
    source: int  # its index in the ground truth's "sources"
    onset: float
    offset: float
    subject: int | None = None  # AVIA's subject number (its directory number)
    instance: str | None = None  # the sound's variant


@dataclasses.dataclass(frozen=True)
class Phrase:
    text: str  # occurs verbatim in the caption
    name: str | None  # the class it names
    segments: tuple[tuple[float, float], ...]  # sorted, disjoint (onset, offset), video seconds


@dataclasses.dataclass(frozen=True)
class GroundTruth:
    """What a simulated recording's records carry of its `GROUND_TRUTH` (see the module's docstring)."""

    frames: int  # video frames of the recording
    offset: float  # seconds the audio (and the acoustic images) lag the video
    events: tuple[SoundEvent, ...]
    caption: str
    phrases: tuple[Phrase, ...]

    @property
    def subject(self) -> int:
        """The subject number of the target events (the earliest that names one), -1 if none does."""
        named = sorted((event.onset, event.subject) for event in self.events
                       if event.role == "target" and event.subject is not None)
        return named[0][1] if named else -1


class _Invalid(ValueError):
    """A problem of a ground truth's contents, which the reader names its file in."""


def _required(mapping: dict, key: str, where: str = ""):
    if key not in mapping:
        raise _Invalid(f"{where}no '{key}'")
    return mapping[key]


def _number(value, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _Invalid(f"{where} is {value!r}, expected a finite number")
    return float(value)


def _integer(value, where: str, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value >= high):
        expected = f"an integer in {low}..{high - 1}" if high is not None else f"an integer of at least {low}"
        raise _Invalid(f"{where} is {value!r}, expected {expected}")
    return value


def _string(value, where: str) -> str:
    if not isinstance(value, str):
        raise _Invalid(f"{where} is {value!r}, expected a string")
    return value


def _list(value, where: str) -> list:
    return _json_type(value, where, list, "a list")


def _object(value, where: str) -> dict:
    return _json_type(value, where, dict, "an object")


def _json_type(value, where: str, kind: type, name: str):
    if not isinstance(value, kind):
        raise _Invalid(f"{where} is a {type(value).__name__}, expected {name}")
    return value


def _class_name(value, where: str, known: frozenset[str]) -> str:
    name = _string(value, where)
    if name not in known:
        raise _Invalid(f"{where} {name!r} is not a class of the datasets (dataloader.datasets)")
    return name


def _interval(onset, offset, where: str, seconds: float) -> tuple[float, float]:
    onset, offset = _number(onset, f"{where} onset"), _number(offset, f"{where} offset")
    if not 0 <= onset < offset <= seconds + _SECONDS_TOLERANCE:
        raise _Invalid(f"{where} runs from {onset} to {offset} s, expected 0 <= onset < offset <= {seconds:g} "
                       "(the recording's frames / 12)")
    return onset, offset


def _points(value, where: str, size: int) -> int:
    """The number of points of a list of [x, y(, z)] points."""
    for i, point in enumerate(_list(value, where)):
        if not isinstance(point, list) or len(point) != size:
            raise _Invalid(f"{where}[{i}] is {point!r}, expected {size} numbers")
        for coordinate in point:
            _number(coordinate, f"{where}[{i}]")
    return len(value)


def _event(value, where: str, sources: int, frames: int, known: frozenset[str]) -> SoundEvent:
    event = _object(value, where)
    subject, instance = event.get("subject"), event.get("instance")
    onset, offset = _interval(_required(event, "onset", f"{where}: "), _required(event, "offset", f"{where}: "),
                              where, frames / FRAMES_PER_SECOND)
    role = _string(_required(event, "role", f"{where}: "), f"{where} role")
    if role not in EVENT_ROLES:
        raise _Invalid(f"{where} role is {role!r}, expected one of {', '.join(EVENT_ROLES)}")
    parsed = SoundEvent(
        name=_class_name(_required(event, "class", f"{where}: "), f"{where} class", known),
        role=role,
        source=_integer(_required(event, "source", f"{where}: "), f"{where} source (an index into sources)", 0,
                        sources),
        onset=onset, offset=offset,
        subject=None if subject is None else _integer(subject, f"{where} subject", 1),
        instance=None if instance is None else _string(instance, f"{where} instance"),
    )
    first = _integer(event.get("first_frame", 0), f"{where} first_frame", 0, frames)
    for key, size in (("pixels", 2), ("position_m", 3)):
        if key in event and first + _points(event[key], f"{where} {key}", size) > frames:
            raise _Invalid(f"{where} {key} run past the recording's {frames} frames from first_frame {first}")
    return parsed


def phrase_in_caption(phrase: str, caption: str) -> bool:
    """Whether `phrase` occurs verbatim in `caption`, or begins it with its first letter
    capitalised, as a sentence begins (the simulator's captions do)."""
    return phrase in caption or (bool(phrase) and caption.startswith(phrase[:1].upper() + phrase[1:]))


def _phrase(value, where: str, caption: str, seconds: float, known: frozenset[str]) -> Phrase:
    phrase = _object(value, where)
    text = _string(_required(phrase, "phrase", f"{where}: "), f"{where} phrase")
    if not text or not phrase_in_caption(text, caption):
        raise _Invalid(f"{where} {text!r} does not occur in the caption {caption!r}")
    name = phrase.get("class")
    segments = []
    for i, segment in enumerate(_list(_required(phrase, "segments", f"{where}: "), f"{where} segments")):
        if not isinstance(segment, list) or len(segment) != 2:
            raise _Invalid(f"{where} segments[{i}] is {segment!r}, expected [onset, offset]")
        segments.append(_interval(*segment, f"{where} segments[{i}]", seconds))
        if i and segments[i][0] < segments[i - 1][1]:
            raise _Invalid(f"{where} segments are not sorted and disjoint: {list(segments[i - 1])} then "
                           f"{list(segments[i])}")
    return Phrase(text, None if name is None else _class_name(name, f"{where} class", known), tuple(segments))


def _ground_truth(truth: dict) -> GroundTruth:
    frames = _integer(_required(truth, "frames"), "frames", 1)
    rate = truth.get("frames_per_second", FRAMES_PER_SECOND)
    if rate != FRAMES_PER_SECOND:
        raise _Invalid(f"frames_per_second is {rate!r}, the camera's is {FRAMES_PER_SECOND}")
    sources = len(_list(truth.get("sources", []), "sources"))
    offset = _number(_required(truth, "offset_s"), "offset_s")
    if abs(offset * SAMPLE_RATE - round(offset * SAMPLE_RATE)) > _SAMPLES_TOLERANCE:
        raise _Invalid(f"offset_s is {offset}, not a whole number of samples (1/{SAMPLE_RATE} s)")
    known = frozenset(name for spec in DATASETS.values() for name in spec.class_names)
    events = tuple(_event(event, f"events[{i}]", sources, frames, known)
                   for i, event in enumerate(_list(truth["events"], "events")))
    caption = _string(_required(truth, "caption"), "caption")
    phrases = tuple(_phrase(phrase, f"phrases[{i}]", caption, frames / FRAMES_PER_SECOND, known)
                    for i, phrase in enumerate(_list(_required(truth, "phrases"), "phrases")))
    return GroundTruth(frames, offset, events, caption, phrases)


def read_ground_truth(path: str | os.PathLike) -> GroundTruth | None:
    """The ground truth in the file at `path` (a recording's raw directory / GROUND_TRUTH),
    checked; None if there is no such file, or it holds no "events" (nothing to carry). A
    malformed one raises RawDataError naming the file and the problem."""
    if not os.path.lexists(path):
        return None
    data = _file_bytes(path)
    try:
        truth = json.loads(data)
    except ValueError as err:  # JSONDecodeError, UnicodeDecodeError
        raise RawDataError(path, f"not valid JSON ({err})") from None
    if not isinstance(truth, dict):
        raise RawDataError(path, f"holds a JSON {type(truth).__name__}, expected an object")
    if "events" not in truth:
        return None
    try:
        return _ground_truth(truth)
    except _Invalid as err:
        raise RawDataError(path, str(err)) from None


def frame_coverage(intervals: Sequence[tuple[float, float]], frames: int) -> np.ndarray:
    """(frames,) float64: the fraction of each video frame t, [t/12, (t+1)/12) s, that the
    union of the (onset, offset) intervals, in seconds, covers."""
    merged: list[list[float]] = []
    for onset, offset in sorted(intervals):
        if merged and onset <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], offset)
        else:
            merged.append([onset, offset])
    t = np.arange(frames, dtype=np.float64)
    coverage = np.zeros(frames)
    for onset, offset in merged:  # in frames, so that a boundary on a frame's edge is exact
        coverage += np.clip(np.minimum(offset * FRAMES_PER_SECOND, t + 1) - np.maximum(onset * FRAMES_PER_SECOND, t),
                            0.0, 1.0)
    return np.minimum(coverage, 1.0)


def frame_activity(truth: GroundTruth, flavour: str) -> tuple[np.ndarray, np.ndarray]:
    """Per video frame of the recording: `activity` (frames, C) float32, how much of each
    frame the events of each of the flavour's C classes cover together (in its spec's
    `class_names` order; events of other names are left out), and `phrase_activity`
    (frames, P) float32, likewise for the segments of each of the P phrases."""
    class_names = dataset_spec(flavour).class_names
    activity = np.zeros((truth.frames, len(class_names)), np.float32)
    for c, name in enumerate(class_names):
        activity[:, c] = frame_coverage([(e.onset, e.offset) for e in truth.events if e.name == name], truth.frames)
    phrase_activity = np.zeros((truth.frames, len(truth.phrases)), np.float32)
    for p, phrase in enumerate(truth.phrases):
        phrase_activity[:, p] = frame_coverage(phrase.segments, truth.frames)
    return activity, phrase_activity
