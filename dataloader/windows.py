"""From a list of record files to the windows a pipeline reads.

A list holds one record path per line (absolute, or relative to a root). The records of
one recording are the files of one directory, `Data_{s:03d}.tfrecord` holding second s.
A clip is a run of consecutive seconds of one recording present in the list: the whole
recording as the converters write it, or the blocks of it that a split list kept (AVIA's
original lists put neighbouring blocks of a recording in different splits), so a window
of consecutive seconds never spans a gap, nor two recordings.

Training windows are drawn in the graph from (seed, epoch) with stateless random ops: the
same seed gives the same crops, every epoch gives new ones, and the pipeline needs no
Python state, so it also runs on tf.data service workers.
"""
from __future__ import annotations

import dataclasses
import hashlib
import os
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from dataloader.config import FIRST_SECOND, RECORDING, LoaderConfig
from dataloader.datasets import flavour_of_record

if TYPE_CHECKING:
    import tensorflow as tf

RECORD_NAME = re.compile(r"Data_(\d+)\.tfrecord")
PATHS = "paths"
MIRROR = "mirror"  # bool, in training windows of a config with `mirror`


def read_list(path: str | os.PathLike, root: str | os.PathLike | None = None) -> list[str]:
    """The record paths of a list file; relative lines are taken relative to `root`."""
    with open(path) as file:
        lines = [line.strip() for line in file if line.strip()]
    relative = [line for line in lines if not os.path.isabs(line)]
    if relative and root is None:
        raise ValueError(f"{path}: holds relative paths ({relative[0]}); give the root they are relative to")
    return [line if os.path.isabs(line) else os.path.join(root, line) for line in lines]


def detect_flavour(list_file: str | os.PathLike, root: str | os.PathLike | None = None) -> str:
    """The flavour of a list's records, told by the directories its first one lies in."""
    return flavour_of_record(read_list(list_file, root)[0])


@dataclasses.dataclass(frozen=True)
class Clip:
    recording: str  # the recording's directory, as the list names it
    first_second: int
    paths: tuple[str, ...]  # seconds first_second, first_second + 1, ...


def fingerprint(paths: Sequence[str]) -> str:
    """sha256 over the records' sorted paths with their sizes and modification times: it
    changes when a record is added, removed or rewritten, without reading any."""
    digest = hashlib.sha256()
    for path in sorted(os.path.abspath(path) for path in paths):
        info = os.stat(path)
        digest.update(f"{path}\0{info.st_size}\0{info.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def find_clips(paths: Sequence[str], total_length: int | None = None) -> list[Clip]:
    """Clips in the order their recordings first appear in the list, each recording's in
    time order. With `total_length`, every run of consecutive seconds is cut into blocks of
    that many seconds (the last block holds what is left), each block a clip: the originals'
    `files.batch(total_length)`, without its blocks that spanned two recordings."""
    seconds: dict[str, dict[int, str]] = {}
    for path in paths:
        match = RECORD_NAME.fullmatch(os.path.basename(path))
        if match is None:
            raise ValueError(f"{path}: not a record file name (Data_NNN.tfrecord)")
        recording, second = os.path.dirname(path), int(match.group(1))
        records = seconds.setdefault(recording, {})
        if second in records:
            raise ValueError(f"{path}: second {second} of {recording} is listed twice ({records[second]})")
        records[second] = path
    clips = []
    for recording, records in seconds.items():
        run: list[int] = []
        for second in sorted(records):
            if run and (second != run[-1] + 1 or len(run) == total_length):
                clips.append(Clip(recording, run[0], tuple(records[s] for s in run)))
                run = []
            run.append(second)
        clips.append(Clip(recording, run[0], tuple(records[s] for s in run)))
    return clips


def first_records(paths: Sequence[str]) -> dict[str, str]:
    """Each recording's first record (its earliest second) among `paths`, recordings in
    list order."""
    first: dict[str, str] = {}
    for clip in find_clips(paths):
        first.setdefault(clip.recording, clip.paths[0])
    return first


def windows_per_epoch(clips: Sequence[Clip], config: LoaderConfig) -> int:
    """Samples one epoch holds (before batching)."""
    lengths = np.array([len(clip.paths) for clip in clips])
    if config.training:
        return int(np.sum(lengths >= config.sample_length)) * config.number_of_crops
    return int(np.sum(lengths // config.sample_length))


def seconds_in_no_window(clips: Sequence[Clip], config: LoaderConfig) -> int:
    """Seconds of the clips that no window of `config` can hold: training draws windows
    anywhere in a clip, so only clips shorter than a sample are lost; evaluation tiles each
    clip, losing its last seconds that do not fill a sample."""
    lengths = np.array([len(clip.paths) for clip in clips])
    if config.training:
        return int(lengths[lengths < config.sample_length].sum())
    return int(np.sum(lengths % config.sample_length))


def window_dataset(
    clips: Sequence[Clip], config: LoaderConfig, epochs: int | None = 1, first_epoch: int = 0
) -> tf.data.Dataset:
    """Windows as dicts: `paths` (sample_length,) string, `recording` string, `first_second`
    int32, and `mirror` bool for training with `config.mirror`. `epochs` None repeats
    forever; epoch numbers start at `first_epoch`, so a resumed run draws the crops it
    would have drawn."""
    import tensorflow as tf

    usable = [clip for clip in clips if len(clip.paths) >= config.sample_length]
    if not usable:
        raise ValueError(f"no clip of the list is as long as a sample ({config.sample_length} s)")
    lengths = np.array([len(clip.paths) for clip in usable], np.int64)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])  # of each clip in `table`
    table = tf.constant([path for clip in usable for path in clip.paths])
    recordings = tf.constant([clip.recording for clip in usable])
    first_seconds = tf.constant([clip.first_second for clip in usable], tf.int64)
    span = tf.range(config.sample_length, dtype=tf.int64)

    def window(clip: tf.Tensor, offset: tf.Tensor, mirror: tf.Tensor | None = None) -> dict[str, tf.Tensor]:
        features = {
            PATHS: tf.gather(table, tf.gather(starts, clip) + offset + span),
            RECORDING: tf.gather(recordings, clip),
            FIRST_SECOND: tf.cast(tf.gather(first_seconds, clip) + offset, tf.int32),
        }
        if mirror is not None:
            features[MIRROR] = mirror
        return features

    if not config.training:
        clip_index = np.repeat(np.arange(len(usable)), lengths // config.sample_length)
        offsets = np.concatenate([np.arange(n // config.sample_length) for n in lengths]) * config.sample_length
        windows = tf.data.Dataset.from_tensor_slices((clip_index, offsets.astype(np.int64))).map(window)
        return windows.repeat(epochs)

    positions = tf.constant(lengths - config.sample_length + 1, tf.float64)
    crops = config.number_of_crops
    clip_index = tf.constant(np.repeat(np.arange(len(usable)), crops), tf.int64)

    def epoch_windows(epoch: tf.Tensor) -> tf.data.Dataset:
        seed = tf.stack([tf.constant(config.seed, tf.int64), epoch])
        draws = tf.random.stateless_uniform([2, len(usable) * crops], seed=seed, dtype=tf.float64)
        offsets = tf.cast(tf.floor(draws[0] * tf.gather(positions, clip_index)), tf.int64)
        order = tf.argsort(draws[1])
        slices = (tf.gather(clip_index, order), tf.gather(offsets, order))
        if config.mirror:
            # A stream of its own, so mirroring leaves the crops as they are without it.
            mirror_seed = tf.random.experimental.stateless_fold_in(seed, 1)
            slices += (tf.random.stateless_uniform([len(usable) * crops], seed=mirror_seed) < 0.5,)
        return tf.data.Dataset.from_tensor_slices(slices)

    if epochs is None:
        epoch_numbers = tf.data.Dataset.counter(first_epoch)
    else:
        epoch_numbers = tf.data.Dataset.range(first_epoch, first_epoch + epochs)
    return epoch_numbers.flat_map(epoch_windows).map(window)
