"""Checks of a run's flags that find a user's mistake before anything is read or written:
list files that are missing or name missing records, counts below their least value,
windows longer than their blocks or than every recording, weight and checkpoint files that
are not there. Each raises `FlagError` naming the flag."""
from __future__ import annotations

import os

import tensorflow as tf

from dataloader.pipeline import record_paths
from dataloader.schema import FRAMES_PER_RECORD
from dataloader.windows import find_clips
from trainer.experiment import FlagError

LISTS = ("train_file", "valid_file", "test_file")
# Flags that are counts: their least value.
LEAST = {"batch_size": 1, "sample_length": 1, "total_length": 1, "number_of_crops": 1, "num_epochs": 1,
         "nr_frames": 1, "block_size": 1, "steps_per_epoch": 1, "save_every_steps": 0, "logical_cpus": 0}
WEIGHT_FILES = ("visual_init_checkpoint", "acoustic_init_checkpoint", "student_init_checkpoint",
                "teacher_restore_checkpoint", "resnet50_weights", "soundnet_weights")
CHECKPOINTS = ("init_checkpoint", "restore_checkpoint")


def listed_clips(config: dict, flag: str) -> list:
    """The clips of the list a flag names, after checking that the list exists and names
    existing records (statting them is cheap; the pipeline would fail on them much later)."""
    path = config[flag]
    if not os.path.isfile(path):
        raise FlagError(flag, f"no such file: {path}")
    try:
        records = record_paths(path, config.get("data_root"))
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


def check_values(config: dict) -> None:
    for flag, least in LEAST.items():
        if config.get(flag) is not None and config[flag] < least:
            raise FlagError(flag, f"{config[flag]}: must be at least {least}")
    if config.get("learning_rate") is not None and not config["learning_rate"] > 0:
        raise FlagError("learning_rate", f"{config['learning_rate']}: must be positive")


def check_lengths(config: dict, clips: dict[str, list]) -> None:
    sample_length = config["sample_length"]
    if config["total_length"] < sample_length:
        raise FlagError("total_length", f"blocks of {config['total_length']} s cannot hold a window of "
                        f"--sample_length {sample_length} s")
    if config.get("nr_frames") and config["nr_frames"] > FRAMES_PER_RECORD * sample_length:
        raise FlagError("nr_frames", f"{config['nr_frames']}: a sample of {sample_length} s has "
                        f"{FRAMES_PER_RECORD * sample_length} frames")
    for flag, listed in clips.items():
        longest = max(len(clip.paths) for clip in listed)
        if longest < sample_length:
            raise FlagError("sample_length", f"{sample_length} s is longer than every recording of --{flag} "
                            f"{config[flag]} (the longest has {longest} s)")


def check_files(config: dict) -> None:
    for flag in WEIGHT_FILES:
        if config.get(flag) and not os.path.isfile(config[flag]):
            raise FlagError(flag, f"no weights file at {config[flag]} (give a .weights.h5 exported by a run)")
    for flag in CHECKPOINTS:
        if config.get(flag) and not is_checkpoint(config[flag]):
            raise FlagError(flag, f"no checkpoint at {config[flag]} (give a run's checkpoints/best or /last)")


def is_checkpoint(path: str) -> bool:
    """Whether `path` is a checkpoint's prefix or a directory holding one."""
    return bool(tf.train.latest_checkpoint(path)) if os.path.isdir(path) else os.path.isfile(f"{path}.index")
