"""Recordings of both flavours (their raw trees: `dataloader.datasets`; their files:
`dataloader.raw`), the TFRecord tree they convert to, and the reading of one second of a
recording as the arrays of one record.

A recording is named by its relative directory, which is the same in every tree:
    ACIVW  class_{c}/data_{v:03d}                               (one root, or a .mat root
                                                                  and a raw root)
    AVIA   Location_{l:02d}/Subject_{s:02d}/Action_{a:03d}       (a .mat root and a raw root)
Its records go to OUT/class_{c}/data_{v:03d}/ and to
OUT/Location_{l:02d}/Subject_{s:02d}/Action_{a+1:03d}/ (AVIA's raw action numbers start at
0, its converted ones at 1: the spec's `converted_dir`), as `Data_{s+1:03d}.tfrecord` for
second s. A simulated recording's records carry its ground truth (`dataloader.raw.GROUND_TRUTH`
in its raw directory, if it holds events) unless `ReadOptions.ground_truth` is off: each
record the rows of its own frames, and the whole recording's caption, phrases and offset.
"""
from __future__ import annotations

import dataclasses
import functools
import os
import re
from pathlib import Path

import cv2
import numpy as np

from dataloader.camera import ACOUSTIC_IMAGE_SHAPE, NUM_MICS
from dataloader.datasets import DATASETS, DatasetSpec, dataset_spec
from dataloader.raw import (
    ACOUSTIC_IMAGE_DIR,
    AUDIO_DIR,
    AUDIO_READERS,
    FILE_NAMES,
    GROUND_TRUTH,
    MAT_KEY,
    MAT_SUFFIX,
    VIDEO_DIR,
    GroundTruth,
    RawDataError,
    frame_activity,
    non_finite,
    read_ground_truth,
    read_image,
    read_jpeg,
    read_mat,
)
from dataloader.schema import ACOUSTIC_IMAGE, AUDIO_DATA, FRAMES_PER_RECORD, VIDEO, RecordTruth

VIDEO_TIME = "video_time.txt"
_VIDEO_TIME_LINE = re.compile(r"\s*video seconds:\s*(\d+)\s*")
JPEG, RAW_BGR = "jpeg", "raw_bgr"  # how records hold video: the camera's files, or decoded pixels


@dataclasses.dataclass(frozen=True)
class ReadOptions:
    """What a record holds and how its raw files are read."""

    modalities: tuple[str, ...]
    geometry_path: str | None = None  # the array geometry, to beamform recordings without MFCC_Image
    strict_shapes: bool = False  # AVIA: refuse acoustic images smaller than 36 x 48 x 12, not pad them
    raw_video: bool = False  # AVIA: decoded BGR pixels, as (B)'s published converter stored, not the JPEG files
    ground_truth: bool = True  # records carry the ground truth of recordings that have one

    def video_encoding(self, flavour: str) -> str:
        return JPEG if dataset_spec(flavour).keeps_video_files and not self.raw_video else RAW_BGR


def suffixes(spec: DatasetSpec) -> dict[str, str]:
    """The file type of each raw directory of a flavour's recordings."""
    return {ACOUSTIC_IMAGE_DIR: MAT_SUFFIX, AUDIO_DIR: spec.audio_suffix, VIDEO_DIR: spec.video_suffix}


def record_name(second: int) -> str:
    return f"Data_{second + 1:03d}.tfrecord"


def find_recording_dirs(root: str | os.PathLike, flavour: str) -> list[tuple[Path, tuple[int, ...]]]:
    """(relative directory, its numbers) of every recording directory under `root`, sorted.

    Names that do not match exactly (such as a writer's `data_001.partial`) are not recordings.
    """
    found = [(Path(), ())]
    for level in dataset_spec(flavour).levels:
        deeper = []
        for relative, numbers in found:
            try:
                entries = list(os.scandir(Path(root) / relative))
            except (FileNotFoundError, NotADirectoryError):
                continue
            for entry in entries:
                match = level.regex.fullmatch(entry.name)
                if match and entry.is_dir():
                    deeper.append((relative / entry.name, numbers + (int(match.group(1)),)))
        found = deeper
    return sorted(found, key=lambda item: str(item[0]))


def detect_flavour(root: str | os.PathLike) -> str:
    flavours = [flavour for flavour in DATASETS if find_recording_dirs(root, flavour)]
    if len(flavours) != 1:
        what = "recordings of both flavours" if flavours else "no recording directories"
        trees = ", ".join(f"{spec.flavour.upper()}: {spec.describe_tree()}" for spec in DATASETS.values())
        raise ValueError(f"{root}: {what} ({trees}); name the flavour with --flavour")
    return flavours[0]


@dataclasses.dataclass(frozen=True)
class Recording:
    flavour: str
    relative: Path
    numbers: tuple[int, ...]
    mat_dir: Path  # the recording's directory in the .mat tree
    raw_dir: Path  # ... and in the raw tree (the same directory for a one-root dataset)
    seconds: int  # records it converts to

    @property
    def spec(self) -> DatasetSpec:
        return dataset_spec(self.flavour)

    @property
    def labels(self) -> dict[str, int]:
        return self.spec.raw_labels(self.numbers)

    def modality_dir(self, name: str) -> Path:
        return (self.mat_dir if name == ACOUSTIC_IMAGE_DIR else self.raw_dir) / name

    def frame_file(self, name: str, number: int) -> Path:
        return self.modality_dir(name) / FILE_NAMES[suffixes(self.spec)[name]](number)

    @property
    def truth_file(self) -> Path:
        return self.raw_dir / GROUND_TRUTH

    def record_path(self, out_root: str | os.PathLike, second: int) -> Path:
        return Path(out_root) / self.spec.converted_dir(self.numbers) / record_name(second)

    def beamformed(self, modalities: tuple[str, ...]) -> bool:
        """Whether its acoustic images must come from its audio: it has no MFCC_Image."""
        return ACOUSTIC_IMAGE in modalities and not self.modality_dir(ACOUSTIC_IMAGE_DIR).is_dir()

    def frame_numbers(self, second: int, file_count: int) -> list[int]:
        """File numbers (from 1) of the 12 frames of one record; a flavour whose recordings
        all convert to the same seconds (AVIA) wraps around."""
        first = second * FRAMES_PER_RECORD
        indices = range(first, first + FRAMES_PER_RECORD)
        if self.spec.record_seconds is not None:
            return [index % file_count + 1 for index in indices]
        return [index + 1 for index in indices]


@dataclasses.dataclass(frozen=True)
class RecordingTruth:
    """A recording's ground truth, as its records carry it: per frame of the recording."""

    truth: GroundTruth
    activity: np.ndarray  # (frames, C) float32, the flavour's classes
    phrase_activity: np.ndarray  # (frames, P) float32

    def of_frames(self, numbers: list[int]) -> RecordTruth:
        """What the record of the frames with these file numbers (from 1) carries."""
        rows = np.asarray(numbers) - 1
        segments = [(p, onset, offset) for p, phrase in enumerate(self.truth.phrases)
                    for onset, offset in phrase.segments]
        return RecordTruth(activity=self.activity[rows], phrase_activity=self.phrase_activity[rows],
                           offset=self.truth.offset, caption=self.truth.caption,
                           phrases=tuple(phrase.text for phrase in self.truth.phrases),
                           phrase_segments=segments, subject=self.truth.subject)


def read_truth(recording: Recording, frames: int) -> RecordingTruth | None:
    """The ground truth of a recording of `frames` frames, or None if it has none to carry."""
    truth = read_ground_truth(recording.truth_file)
    if truth is None:
        return None
    if truth.frames != frames:
        raise RawDataError(recording.truth_file, f"describes {truth.frames} frames, the recording holds {frames}")
    return RecordingTruth(truth, *frame_activity(truth, recording.flavour))


def read_video_time(recording_dir: Path) -> int:
    path = recording_dir / VIDEO_TIME
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise RawDataError(
            path,
            "missing file: run `python framecount.py ROOT 0` on the raw dataset first, to count "
            "the seconds of each video",
        ) from None
    match = _VIDEO_TIME_LINE.fullmatch(text)
    if not match:
        raise RawDataError(path, f"expected 'video seconds: N', found {text[:60]!r}")
    return int(match.group(1))


def needed_dirs(modalities: tuple[str, ...], beamform_missing_images: bool) -> list[str]:
    """The raw directories that the modalities are read from."""
    needed = []
    if ACOUSTIC_IMAGE in modalities:
        needed.append(AUDIO_DIR if beamform_missing_images else ACOUSTIC_IMAGE_DIR)
    if AUDIO_DATA in modalities and AUDIO_DIR not in needed:
        needed.append(AUDIO_DIR)
    if VIDEO in modalities:
        needed.append(VIDEO_DIR)
    return needed


def discover(
    mat_root: str | os.PathLike,
    raw_root: str | os.PathLike,
    flavour: str,
    modalities: tuple[str, ...],
    beamform: bool,
) -> tuple[list[Recording], list[RawDataError]]:
    """The recordings to convert, and the problems of those that cannot be."""
    relatives = dict(find_recording_dirs(mat_root, flavour))
    relatives.update(find_recording_dirs(raw_root, flavour))
    record_seconds = dataset_spec(flavour).record_seconds
    recordings, problems = [], []
    for relative, numbers in sorted(relatives.items(), key=lambda item: str(item[0])):
        mat_dir, raw_dir = Path(mat_root) / relative, Path(raw_root) / relative
        try:
            probe = Recording(flavour, relative, numbers, mat_dir, raw_dir, 0)
            for name in needed_dirs(modalities, beamform and probe.beamformed(modalities)):
                if not probe.modality_dir(name).is_dir():
                    hint = f" (--beamform computes acoustic images from {NUM_MICS}-microphone audio)"
                    problem = "missing directory" + hint * (name == ACOUSTIC_IMAGE_DIR)
                    raise RawDataError(probe.modality_dir(name), problem)
            if record_seconds is None:
                # framecount.py writes beside the frames it counts, in the raw tree; the
                # original converter looked in the .mat tree: either will do.
                in_mat_tree = (mat_dir / VIDEO_TIME).exists() and not (raw_dir / VIDEO_TIME).exists()
                seconds = read_video_time(mat_dir if in_mat_tree else raw_dir)
            else:
                seconds = record_seconds
            recordings.append(dataclasses.replace(probe, seconds=seconds))
        except RawDataError as err:
            problems.append(err)
    return recordings, problems


def count_files(directory: Path, suffix: str) -> int:
    with os.scandir(directory) as entries:
        return sum(1 for entry in entries if entry.name.endswith(suffix))


def check_file_counts(recording: Recording, dirs: list[str]) -> dict[str, int]:
    """Files per modality directory; every modality must have one file per frame, and a
    recording converted to the seconds its video_time.txt counts (ACIVW's) the frames it promises."""
    types = suffixes(recording.spec)
    counts = {name: count_files(recording.modality_dir(name), types[name]) for name in dirs}
    described = ", ".join(f"{name}/ holds {n} {types[name]} files" for name, n in counts.items())
    if len(set(counts.values())) > 1:
        raise RawDataError(recording.raw_dir, f"{described}: every modality needs one file per frame")
    count = next(iter(counts.values()))
    needed = recording.seconds * FRAMES_PER_RECORD if recording.spec.record_seconds is None else 1
    if count < needed:
        raise RawDataError(recording.raw_dir, f"{described}, but {recording.seconds} s need {needed} frames")
    return counts


def acoustic_image(path: Path, spec: DatasetSpec, strict_shapes: bool) -> tuple[np.ndarray, bool]:
    """One acoustic image 36 x 48 x 12 float32, and whether it was zero padded.

    AVIA's converter cast float64 to float32 and zero padded smaller images at the front of
    each axis, and so do we, unless `strict_shapes`; (A)'s converter stored what it read,
    so an ACIVW image must have the record's shape, and float64 only values float32 holds.
    """
    pads = spec.pads_acoustic_images and not strict_shapes
    image = read_mat(path, round_to_float32=spec.rounds_acoustic_images)
    if image.shape == ACOUSTIC_IMAGE_SHAPE:
        return image, False
    if pads and all(size <= target for size, target in zip(image.shape, ACOUSTIC_IMAGE_SHAPE)):
        pad = [(target - size, 0) for target, size in zip(ACOUSTIC_IMAGE_SHAPE, image.shape)]
        return np.pad(image, pad), True
    if pads:
        problem = f"larger than {ACOUSTIC_IMAGE_SHAPE} (smaller ones are zero padded, as AVIA's converter did)"
    else:
        problem = f"expected {ACOUSTIC_IMAGE_SHAPE}" + " (--strict_shapes: not zero padded)" * spec.pads_acoustic_images
    raise RawDataError(path, f"{MAT_KEY} has shape {image.shape}, {problem}")


def resized_frame(path: Path, spec: DatasetSpec) -> np.ndarray:
    """A frame resized as (A)'s converter did: short side to the records', sizes truncated,
    OpenCV's bicubic (so the pixels equal those of the original converter)."""
    frame = read_image(path)
    height, width = frame.shape[:2]
    scale = spec.record_short_side / min(height, width)
    resized = cv2.resize(frame, (int(width * scale), int(height * scale)), interpolation=cv2.INTER_CUBIC)
    if resized.shape != spec.record_video_shape:
        record_height, record_width = spec.record_video_shape[:2]
        raise RawDataError(path, f"a frame of {height} x {width} resizes to {resized.shape[0]} x {resized.shape[1]}, "
                                 f"{spec.flavour.upper()} records hold {record_height} x {record_width} (3:4 frames)")
    return resized


def camera_file_frame(path: Path, spec: DatasetSpec, raw_video: bool) -> bytes | np.ndarray:
    """A frame as the camera's JPEG file, checked by decoding it whole; with `raw_video` its
    pixels as RGB, decoded by OpenCV as (B)'s published converter did (`cv2.imread`)."""
    data, pixels = read_jpeg(path)
    height, width = spec.record_video_shape[:2]
    if pixels.shape != spec.record_video_shape:
        raise RawDataError(path, f"frame is {pixels.shape[0]} x {pixels.shape[1]}, {spec.flavour.upper()} frames are "
                                 f"{height} x {width}")
    if not raw_video:
        return data
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if bgr is None or bgr.shape != spec.record_video_shape:
        raise RawDataError(path, f"OpenCV cannot decode it as a {height} x {width} frame")
    return bgr[..., ::-1]


@functools.lru_cache(maxsize=2)
def _geometry(path: str):
    from dualcam.geometry import Geometry

    try:
        return Geometry.load(path)
    except ValueError as err:
        raise RawDataError(path, str(err).removeprefix(f"{path}: ")) from None


def _beamformed(audio: list[np.ndarray], paths: list[Path], geometry_path: str) -> np.ndarray:
    from dualcam.beamforming import acoustic_images

    geometry = _geometry(geometry_path)
    for frame, path in zip(audio, paths):
        if frame.shape[0] != geometry.num_mics:
            problem = f"{frame.shape[0]} microphones; beamforming needs the array's {geometry.num_mics}"
            raise RawDataError(path, problem)
    images = acoustic_images(np.stack(audio), geometry)
    for image, path in zip(images, paths):
        problem = non_finite(image)
        if problem:
            raise RawDataError(path, f"its beamformed acoustic image has {problem}")
    return images


def _same_shapes(shapes: list[tuple], paths: list[Path], what: str) -> None:
    for shape, path in zip(shapes, paths):
        if shape != shapes[0]:
            raise RawDataError(path, f"{what} {shape} differs from the {shapes[0]} of {paths[0].name}")


def read_second(
    recording: Recording, second: int, options: ReadOptions, counts: dict[str, int],
    truth: RecordingTruth | None = None,
) -> tuple[dict, set[Path]]:
    """The keyword arguments of `schema.make_sequence_example` for one second, with the
    ground truth of its frames if `truth` is given, and the .mat files of it that were zero
    padded."""
    def paths(name: str) -> list[Path]:
        return [recording.frame_file(name, n) for n in recording.frame_numbers(second, counts[name])]

    arrays: dict = {}
    padded = set()
    spec = recording.spec
    modalities = options.modalities
    beamform = recording.beamformed(modalities)
    if AUDIO_DATA in modalities or beamform:
        files = paths(AUDIO_DIR)
        audio = [AUDIO_READERS[spec.audio_suffix](path) for path in files]
        _same_shapes([a.shape for a in audio], files, "audio of shape")
        if AUDIO_DATA in modalities:
            arrays[AUDIO_DATA] = np.stack([a[:spec.record_mics] for a in audio])
        if beamform:
            if options.geometry_path is None:
                problem = "missing directory, and no array geometry to beamform"
                raise RawDataError(recording.modality_dir(ACOUSTIC_IMAGE_DIR), problem)
            arrays[ACOUSTIC_IMAGE] = _beamformed(audio, files, options.geometry_path)
    if ACOUSTIC_IMAGE in modalities and not beamform:
        images = []
        for path in paths(ACOUSTIC_IMAGE_DIR):
            image, was_padded = acoustic_image(path, spec, options.strict_shapes)
            images.append(image)
            if was_padded:
                padded.add(path)
        arrays[ACOUSTIC_IMAGE] = np.stack(images)
    if VIDEO in modalities:
        if spec.keeps_video_files:
            frames = [camera_file_frame(path, spec, options.raw_video) for path in paths(VIDEO_DIR)]
            arrays[VIDEO] = np.stack(frames) if options.raw_video else frames
            arrays["video_shape"] = spec.record_video_shape
        else:
            arrays[VIDEO] = np.stack([resized_frame(path, spec) for path in paths(VIDEO_DIR)])
    if truth is not None:
        arrays["truth"] = truth.of_frames(recording.frame_numbers(second, truth.truth.frames))
    return arrays, padded
