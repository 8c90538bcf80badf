"""Seconds per video. On a raw dataset, frames / 12 rounded down, written to each
recording's `video_time.txt`: the ACIVW converter converts that many seconds. On a
converted dataset, one second per record. Both also write `class_time.txt` in each ACIVW
class directory and three summaries at the root, under the original script's file names.
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from conversion.files import write_text_atomic
from conversion.recordings import VIDEO_TIME, count_files, detect_flavour, find_recording_dirs
from dataloader.datasets import dataset_spec
from dataloader.raw import VIDEO_DIR
from dataloader.schema import FRAMES_PER_RECORD

CLASS_TIME = "class_time.txt"
DATADIR_SUMMARY, CLASS_SUMMARY, VIDEO_SUMMARY = "datadir.txt", "timedataset.txt", "videodataset.txt"


@dataclasses.dataclass(frozen=True)
class VideoLength:
    relative: Path
    group: str  # ACIVW: its class directory; AVIA: its action, over locations and subjects
    seconds: int


def count_seconds(
    root: str | os.PathLike, from_records: bool, flavour: str | None = None
) -> list[VideoLength]:
    """Counts and writes video_time.txt and class_time.txt; returns the count per video."""
    root = Path(root)
    flavour = flavour or detect_flavour(root)
    spec = dataset_spec(flavour)
    lengths = []
    for relative, _ in find_recording_dirs(root, flavour):
        directory = root / relative
        if from_records:
            seconds = count_files(directory, ".tfrecord")
        else:
            frames_dir = directory / VIDEO_DIR
            frames = count_files(frames_dir, spec.video_suffix) if frames_dir.is_dir() else 0
            seconds = frames // FRAMES_PER_RECORD
        write_text_atomic(directory / VIDEO_TIME, f"video seconds: {seconds}")
        lengths.append(VideoLength(relative, relative.parts[spec.class_level], seconds))
    if spec.class_level == 0:  # a class is one directory only as the outermost level (ACIVW's)
        for group, members in _by_group(lengths).items():
            write_text_atomic(root / group / CLASS_TIME, f"class seconds: {sum(v.seconds for v in members)}")
    return lengths


def _by_group(lengths: list[VideoLength]) -> dict[str, list[VideoLength]]:
    groups: dict[str, list[VideoLength]] = {}
    for video in lengths:
        groups.setdefault(video.group, []).append(video)
    return groups


def write_summaries(root: str | os.PathLike, lengths: list[VideoLength]) -> str:
    """The three summary files (videos per class, seconds per class, seconds per video);
    returns their text."""
    root = Path(root)
    if not lengths:
        raise ValueError(f"{root}: no recordings to count")
    groups = _by_group(lengths)
    sizes = {group: len(members) for group, members in groups.items()}
    seconds = {group: sum(v.seconds for v in members) for group, members in groups.items()}
    fewest, most = min(sizes, key=sizes.get), max(sizes, key=sizes.get)
    shortest, longest = min(seconds, key=seconds.get), max(seconds, key=seconds.get)
    short_video = min(lengths, key=lambda v: v.seconds)
    long_video = max(lengths, key=lambda v: v.seconds)
    total = sum(seconds.values())
    texts = {
        DATADIR_SUMMARY: (
            f"Number of minimum datadir : {sizes[fewest]} in class {fewest}\n"
            f"Number of average datadir : {len(lengths) / len(groups):.2f}\n"
            f"Number of total datadir : {len(lengths)}\n"
            f"Number of maximum datadir : {sizes[most]} in class {most}\n"
        ),
        CLASS_SUMMARY: (
            f"Number of average seconds : {total / len(groups):.2f}\n"
            f"Number of maximum seconds : {seconds[longest]} in class {longest}\n"
            f"Number of minimum seconds : {seconds[shortest]} in class {shortest}\n"
        ),
        VIDEO_SUMMARY: (
            f"Total {total} Number of average seconds : {total / len(lengths):.2f}\n"
            f"Number of maximum seconds : {long_video.seconds} in video {long_video.relative}\n"
            f"Number of minimum seconds : {short_video.seconds} in video {short_video.relative}\n"
        ),
    }
    for name, text in texts.items():
        write_text_atomic(root / name, text)
    return "".join(texts.values())


def warnings(lengths: list[VideoLength], flavour: str, from_records: bool) -> list[str]:
    """What the counts tell about the conversion to come."""
    notes = []
    empty = [str(v.relative) for v in lengths if v.seconds == 0]
    if empty:
        notes.append(f"{len(empty)} recordings are under a second and give no record: {', '.join(empty[:5])}")
    record_seconds = dataset_spec(flavour).record_seconds
    if record_seconds is not None and not from_records:
        short = [v for v in lengths if 0 < v.seconds < record_seconds]
        if short:
            notes.append(f"{len(short)} recordings are shorter than {record_seconds} s: their records wrap around")
    return notes
