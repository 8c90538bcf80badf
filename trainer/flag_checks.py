"""Checks of a run's flags that find a user's mistake before anything is read or written:
list files that are missing or name missing records, windows longer than their blocks or
than every recording, weight and checkpoint files that are not there. Each raises
`FlagError` naming the flag. (A value out of its range is refused by `RunConfig` itself.)"""
from __future__ import annotations

import os
import re

import tensorflow as tf

from dataloader.pipeline import record_paths
from dataloader.schema import FRAMES_PER_RECORD
from dataloader.windows import find_clips
from trainer.config import FlagError, RunConfig

LISTS = ("train_file", "valid_file", "test_file")
WEIGHT_FILES = ("visual_init_checkpoint", "acoustic_init_checkpoint", "student_init_checkpoint",
                "teacher_restore_checkpoint", "resnet50_weights", "soundnet_weights")
CHECKPOINTS = ("init_checkpoint", "restore_checkpoint")


def listed_clips(config: RunConfig, flag: str) -> list:
    """The clips of the list a flag names, after checking that the list exists and names
    existing records (statting them is cheap; the pipeline would fail on them much later)."""
    path = getattr(config, flag)
    if not os.path.isfile(path):
        raise FlagError(flag, f"no such file: {path}")
    try:
        records = record_paths(path, config.data_root)
    except ValueError as err:  # relative paths without a root
        raise FlagError((flag, "data_root"), str(err)) from None
    if not records:
        raise FlagError(flag, f"{path} names no record")
    missing = [record for record in records if not os.path.isfile(record)]
    if missing:
        raise FlagError(flag, f"{path} names {len(missing)} record files that do not exist, the first {missing[0]}")
    try:
        return find_clips(records)
    except ValueError as err:
        raise FlagError(flag, str(err)) from None


def check_lengths(config: RunConfig, clips: dict[str, list]) -> None:
    sample_length = config.sample_length
    if config.total_length < sample_length:
        raise FlagError("total_length", f"blocks of {config.total_length} s cannot hold a window of "
                        f"--sample_length {sample_length} s")
    if config.nr_frames and config.nr_frames > FRAMES_PER_RECORD * sample_length:
        raise FlagError("nr_frames", f"{config.nr_frames}: a sample of {sample_length} s has "
                        f"{FRAMES_PER_RECORD * sample_length} frames")
    for flag, listed in clips.items():
        longest = max(len(clip.paths) for clip in listed)
        if longest < sample_length:
            raise FlagError("sample_length", f"{sample_length} s is longer than every recording of --{flag} "
                            f"{getattr(config, flag)} (the longest has {longest} s)")


def check_files(config: RunConfig) -> None:
    for flag in WEIGHT_FILES:
        path = getattr(config, flag)
        if path and not os.path.isfile(path):
            raise FlagError(flag, f"no weights file at {path} (give a .weights.h5 exported by a run)")
    for flag in CHECKPOINTS:
        path = getattr(config, flag)
        if path and not is_checkpoint(path):
            raise FlagError(flag, f"no checkpoint at {path} (give a run's checkpoints/best or /last)")


def is_checkpoint(path: str) -> bool:
    """Whether `path` is a checkpoint's prefix or a directory holding one."""
    return bool(tf.train.latest_checkpoint(path)) if os.path.isdir(path) else os.path.isfile(f"{path}.index")


_SERVICE_ADDRESS = re.compile(r"(grpc://)?[^\s:/]+:\d+")


def check_input_services(config: RunConfig) -> None:
    """The input cache's directory, and the tf.data service's flags."""
    if config.clear_input_cache and not config.input_cache:
        raise FlagError("clear_input_cache", "needs --input_cache, the directory to clear")
    if config.input_cache and os.path.exists(config.input_cache) and not os.path.isdir(config.input_cache):
        raise FlagError("input_cache", f"{config.input_cache} is not a directory")
    if config.data_service_job and not config.data_service:
        raise FlagError("data_service_job", "needs --data_service, the dispatcher the job runs on")
    if config.data_service:
        if not _SERVICE_ADDRESS.fullmatch(config.data_service):
            raise FlagError("data_service", f"{config.data_service!r} is not a dispatcher address grpc://HOST:PORT")
        if config.deterministic:
            raise FlagError(("data_service", "deterministic"), "the service's workers hand out samples in no fixed "
                            "order; drop one of them")
