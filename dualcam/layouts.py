"""Simulated recordings written in the directory layout of their dataset (the trees of
`dataloader.datasets`, the files of `dataloader.raw`), each with the ground truth of its scene
(`ground_truth.json`: class, source pixel positions per frame) in its raw directory.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from dataloader import raw
from dataloader.camera import ACOUSTIC_IMAGE_SHAPE, FRAME_SAMPLES, IMAGE_SIZE
from dataloader.datasets import DatasetSpec


def _write_tree(final_dir: Path, files: dict[str, bytes]) -> None:
    """Writes files under a temporary sibling directory and renames it into place, so a
    recording directory either is complete or does not exist."""
    final_dir.parent.mkdir(parents=True, exist_ok=True)
    partial = final_dir.with_name(final_dir.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    for relative, payload in files.items():
        path = partial / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(payload)
    shutil.rmtree(final_dir, ignore_errors=True)
    partial.rename(final_dir)


def _check_recording(acoustic_images: np.ndarray, audio: np.ndarray, frames: np.ndarray) -> None:
    n = len(acoustic_images)
    if acoustic_images.shape[1:] != ACOUSTIC_IMAGE_SHAPE:
        raise ValueError(f"acoustic images must be (T, {', '.join(map(str, ACOUSTIC_IMAGE_SHAPE))}), "
                         f"got {acoustic_images.shape}")
    if audio.shape[0] != n or audio.shape[2] != FRAME_SAMPLES:
        raise ValueError(f"audio must be (T={n}, mics, {FRAME_SAMPLES}), got {audio.shape}")
    if frames.shape != (n, *IMAGE_SIZE, 3):
        raise ValueError(f"frames must be (T={n}, {', '.join(map(str, IMAGE_SIZE))}, 3), got {frames.shape}")


def write_recording(
    spec: DatasetSpec, mat_root: str | Path, raw_root: str | Path, numbers: tuple[int, ...],
    acoustic_images: np.ndarray, audio: np.ndarray, frames: np.ndarray, truth: dict, mics: int | None = None,
) -> Path:
    """Writes one recording, its levels' `numbers`, into its directory of each root (one
    directory, if the roots are the same): acoustic images (T, 36, 48, 12), audio
    (T, 128, 1024) int32 of which `mics` microphones (from mic 0; all by default) go into the
    audio files, frames (T, 480, 640, 3) RGB uint8. Returns its raw directory."""
    _check_recording(acoustic_images, audio, frames)
    mat_files = {f"{raw.ACOUSTIC_IMAGE_DIR}/{raw.mat_name(t + 1)}": raw.mat_bytes(acoustic_images[t])
                 for t in range(len(acoustic_images))}
    raw_files = {raw.GROUND_TRUTH: json.dumps(truth, indent=1).encode()}
    audio_name, write_audio = raw.FILE_NAMES[spec.audio_suffix], raw.AUDIO_WRITERS[spec.audio_suffix]
    video_name, video_format = raw.FILE_NAMES[spec.video_suffix], raw.IMAGE_FORMATS[spec.video_suffix]
    for t in range(len(audio)):
        raw_files[f"{raw.AUDIO_DIR}/{audio_name(t + 1)}"] = write_audio(audio[t, :mics])
        raw_files[f"{raw.VIDEO_DIR}/{video_name(t + 1)}"] = raw.image_bytes(frames[t], video_format)
    relative = spec.relative_dir(numbers)
    mat_dir, raw_dir = Path(mat_root) / relative, Path(raw_root) / relative
    if mat_dir == raw_dir:
        _write_tree(raw_dir, {**mat_files, **raw_files})
    else:  # the raw tree last: its directory marks the recording complete
        _write_tree(mat_dir, mat_files)
        _write_tree(raw_dir, raw_files)
    return raw_dir
