"""The two datasets of the papers, one spec each: what a recording of each is labelled with,
how its raw tree is laid out, and what its records hold. The simulator, the converter, the
loader, the trainer and the evaluation read them from here.

The kind of dataset is its *flavour* ("acivw" or "avia"), in flags, records and code alike.

ACIVW (ECCV 2020), one root:
    ROOT/class_{c}/data_{v:03d}/MFCC_Image/Data_{i}.mat     key MFCC, float32 (36, 48, 12)
    ROOT/class_{c}/data_{v:03d}/audio/A_{i:06d}.dc          int32 (128, 1024), Fortran order
    ROOT/class_{c}/data_{v:03d}/video/I_{i:06d}.bmp         480 x 640, 24-bit BMP
AVIA (WACV 2020), a root of .mat files and a root of raw files with the same tree:
    MAT/Location_{l:02d}/Subject_{s:02d}/Action_{a:03d}/MFCC_Image/Data_{i}.mat
    RAW/Location_{l:02d}/Subject_{s:02d}/Action_{a:03d}/audio/A_{i:06d}.npy   int32 (mics, 1024)
    RAW/Location_{l:02d}/Subject_{s:02d}/Action_{a:03d}/video/I_{i:06d}.jpeg  480 x 640 JPEG
(the files: `dataloader.raw`). Frame indices i start at 1 in every file name; classes c and
actions a at 0; videos v, locations l and subjects s at 1 (as the original converters parse
them). Converted, a recording's records go to the same relative directory, except that
AVIA's converter numbers actions from 1.
"""
from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Callable
from pathlib import Path

from dataloader.camera import IMAGE_SIZE

ACIVW, AVIA = "acivw", "avia"
FLAVOURS = (ACIVW, AVIA)


@dataclasses.dataclass(frozen=True)
class Label:
    """A label of every record: its context key, the loader's name for it, and its one-hot
    depth (the originals')."""

    key: str
    name: str
    depth: int


@dataclasses.dataclass(frozen=True)
class Level:
    """One directory level of a raw tree: its name pattern (one number), the first number,
    and the record label its number gives (see `DatasetSpec.raw_labels`)."""

    pattern: str  # a format with one integer field, e.g. "data_{:03d}"
    first: int
    key: str

    @property
    def prefix(self) -> str:
        return self.pattern.split("{")[0]

    @property
    def regex(self) -> re.Pattern:
        return re.compile(re.escape(self.prefix) + r"(\d+)")

    def name(self, number: int) -> str:
        return self.pattern.format(number)


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    flavour: str
    labels: tuple[Label, ...]  # in the records' order
    class_label: str  # the loader's name of the label a classifier predicts
    class_names: tuple[str, ...]
    identity: tuple[str, ...]  # the loader's labels that together tell one recording from another
    subject: str | None  # the loader's label of who performs in a recording (None: recordings name nobody)
    levels: tuple[Level, ...]  # the raw tree's directory levels, outermost first
    audio_suffix: str  # the raw audio frames' file type
    video_suffix: str  # the raw video frames' file type
    raw_labels: Callable[[tuple[int, ...]], dict[str, int]]  # a recording's numbers -> record labels
    converted_offsets: tuple[int, ...]  # what the converted tree adds to each level's number
    record_video_shape: tuple[int, int, int]  # the frames the records hold (height, width, depth)
    video_short_side: int  # the loader's default: short side resized to, then a centre crop of
    video_size: tuple[int, int]
    spectrogram_step: int  # the paper's HearNet spectrogram: frame step at 22,050 Hz ...
    spectrogram_normalisation: str  # ... and how it is normalised
    record_seconds: int | None = None  # every recording converts to this many seconds (shorter ones wrap)
    two_roots: bool = False  # the .mat files ship in a root of their own, beside a root of the raw files
    # Where the two original converters differed, ours follows each, so its records equal theirs:
    record_mics: int | None = None  # microphones of the raw audio a record keeps (None: all it has)
    pads_acoustic_images: bool = False  # smaller acoustic images are zero padded at the front of each axis
    rounds_acoustic_images: bool = False  # float64 acoustic images are cast to float32, not refused if inexact
    keeps_video_files: bool = False  # records hold the camera's JPEG files; else frames decoded and resized
    extra: dict = dataclasses.field(default_factory=dict)  # named facts of one dataset only

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def record_short_side(self) -> int:
        """The short side of the frames the records hold (ACIVW's frames are resized to it)."""
        return min(self.record_video_shape[:2])

    @property
    def class_level(self) -> int:
        """The raw tree's level whose number is the class (ACIVW's class_K, AVIA's Action_NNN)."""
        key = self.label(self.class_label).key
        return next(i for i, level in enumerate(self.levels) if level.key == key)

    def label(self, name: str) -> Label:
        return next(label for label in self.labels if label.name == name)

    def number(self, numbers: tuple[int, ...], key: str) -> int:
        """The number of the level that gives label `key`, from a recording's numbers."""
        return next(n for level, n in zip(self.levels, numbers) if level.key == key)

    def describe_tree(self) -> str:
        """The raw tree's directory levels, for messages: e.g. class_*/data_*."""
        return "/".join(level.prefix + "*" for level in self.levels)

    def relative_dir(self, numbers: tuple[int, ...]) -> Path:
        """A recording's directory in its raw tree, relative to the root."""
        return Path(*(level.name(n) for level, n in zip(self.levels, numbers)))

    def converted_numbers(self, numbers: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(n + offset for n, offset in zip(numbers, self.converted_offsets))

    def raw_numbers(self, converted: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(n - offset for n, offset in zip(converted, self.converted_offsets))

    def numbers_of(self, directory: str | os.PathLike) -> tuple[int, ...]:
        """The numbers of a recording's directory (its last levels), raw or converted."""
        parts = Path(directory).parts[-len(self.levels):]
        found = [level.regex.fullmatch(part) for level, part in zip(self.levels, parts)]
        if len(parts) < len(self.levels) or not all(found):
            raise ValueError(f"{directory}: not a {self.flavour} recording directory ({self.describe_tree()})")
        return tuple(int(match.group(1)) for match in found)

    def converted_dir(self, numbers: tuple[int, ...]) -> Path:
        """A recording's directory in the converted tree, relative to its root."""
        return self.relative_dir(self.converted_numbers(numbers))

    def names_a_directory_of(self, path: str | os.PathLike) -> bool:
        """Whether a directory of `path` is named as this flavour's outermost level."""
        return any(self.levels[0].regex.fullmatch(part) for part in Path(path).parts[:-1])


ACIVW_SPEC = DatasetSpec(
    flavour=ACIVW,
    # `location` is the video's number inside its class (data_NNN), not a place.
    labels=(Label("classes", "classes", 10), Label("location", "video_index", 61)),
    class_label="classes",
    class_names=("train", "boat", "drone", "fountain", "drill", "razor", "hair_dryer", "hoover", "shopping_cart",
                 "traffic"),
    identity=("classes", "video_index"),
    subject=None,
    levels=(Level("class_{}", 0, "classes"), Level("data_{:03d}", 1, "location")),
    audio_suffix=".dc", video_suffix=".bmp",
    raw_labels=lambda numbers: {"classes": numbers[0], "location": numbers[1]},
    converted_offsets=(0, 0),
    # The original converter resized the short side to 224 with OpenCV, sizes truncated.
    record_video_shape=(224, 298, 3),
    video_short_side=224, video_size=(224, 298),
    spectrogram_step=219, spectrogram_normalisation="mean_std",
    record_mics=1,  # (A)'s converter kept microphone 0 of the 128
)
AVIA_SPEC = DatasetSpec(
    flavour=AVIA,
    labels=(Label("action", "action", 14), Label("location", "location", 3), Label("subject", "subject", 9)),
    class_label="action",
    class_names=("clapping", "snapping_fingers", "speaking", "whistling", "playing_kendama", "clicking", "typing",
                 "knocking", "hammering", "peanut_breaking", "paper_ripping", "plastic_crumpling", "paper_shaking",
                 "stick_dropping"),
    identity=("action", "location", "subject"),
    subject="subject",
    levels=(Level("Location_{:02d}", 1, "location"), Level("Subject_{:02d}", 1, "subject"),
            Level("Action_{:03d}", 0, "action")),
    audio_suffix=".npy", video_suffix=".jpeg",
    raw_labels=lambda numbers: {"action": numbers[2], "location": numbers[0] - 1, "subject": numbers[1] - 1},
    converted_offsets=(0, 0, 1),
    record_video_shape=(*IMAGE_SIZE, 3),  # the camera's frames
    video_short_side=256, video_size=(224, 224),
    spectrogram_step=220, spectrogram_normalisation="min_max",
    record_seconds=30,
    pads_acoustic_images=True, rounds_acoustic_images=True,  # as (B)'s converter cast and padded them
    keeps_video_files=True,  # (B)'s published converter decoded them, which --raw_video repeats
    two_roots=True,
    extra={"locations": ("anechoic", "office", "outdoor")},
)
DATASETS = {ACIVW: ACIVW_SPEC, AVIA: AVIA_SPEC}


def dataset_spec(flavour: str) -> DatasetSpec:
    if flavour not in DATASETS:
        raise ValueError(f"unknown flavour {flavour!r}; known: {', '.join(FLAVOURS)}")
    return DATASETS[flavour]


def flavour_of_record(path: str | os.PathLike) -> str:
    """The flavour of a record from the directories it lies in: AVIA's under Location_NN;
    any other is taken for ACIVW's (class_K, or wherever a user keeps them)."""
    return AVIA if AVIA_SPEC.names_a_directory_of(path) else ACIVW
