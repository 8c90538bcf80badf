"""Sound-source localisation against the simulator's ground truth.

Truth. A simulated raw recording holds `ground_truth.json`, whose `sources[0]` is the
target with the pixel position (u, v) of where its sound comes from in the 480 x 640 camera
image at every video frame (12 a second; frame 0 is the first frame of record Data_001), and
whose `events` say when each source sounds. A window of L seconds starting at record s covers
frames (s - 1) * 12 ... (s - 1 + L) * 12 - 1; its true position is the mean of the target's
positions over those of its frames in which the target sounds (over all of them if it
is silent throughout the window, or the truth has no events). AVIA records wrap around when
a recording is shorter than 30 s, so there frame f is frame f % n_frames.

Where a converted recording's raw directory is:
    ACIVW  OUT/class_c/data_vvv                      -> RAW/class_c/data_vvv
    AVIA   OUT/Location_l/Subject_s/Action_{a+1:03d} -> RAW/[raw/]Location_l/Subject_s/Action_{a:03d}
(the AVIA converter numbers actions from 1, the raw tree from 0; RAW may be the raw tree or
the root `dualcam.simulate` wrote, which holds it as `raw/`).

Maps. A (h, w) map covers a box of the camera image, in its pixels: the acoustic image
covers the whole image (the DualCam's grid, `dualcam.geometry.Geometry.grid_pixels`), the
video networks' maps cover the part of the image their input frames show (`video_view`).
A map cell is taken to look at the centre of its share of the box: the attention map is a
product of the audio map, whose cells are pooled acoustic cells, with the video map, and
the loss makes the two agree cell by cell, so the audio geometry is the reference.
Errors are in pixels of the 480 x 640 image.
"""
from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

from dataloader.camera import IMAGE_HEIGHT, IMAGE_WIDTH
from dataloader.config import LoaderConfig
from dataloader.datasets import dataset_spec
from dataloader.raw import GROUND_TRUTH, GroundTruth, frame_coverage, read_ground_truth
from dataloader.schema import FRAMES_PER_RECORD
from evaluation import metrics
from trainer.stages import MAP_GRID


class View(NamedTuple):
    """A box of the camera image, in its pixels: top-left corner (u0, v0) and size."""

    u0: float
    v0: float
    height: float
    width: float


FULL_VIEW = View(0.0, 0.0, float(IMAGE_HEIGHT), float(IMAGE_WIDTH))
# One cell (40 px) of the 12 x 16 audio-visual maps: a peak in the truth's cell is always within
# it (at most 28 px off), a peak in a neighbouring cell only when the truth lies near their side.
DEFAULT_TOLERANCE = IMAGE_WIDTH / MAP_GRID[1]
HEARD = 0.5  # the least share of a window's frames in which the target sounds, for it to be scored


def raw_recording_dir(recording: str, flavour: str, raw_root: str | Path) -> Path:
    """The raw directory of a converted recording directory (see the module's docstring)."""
    spec = dataset_spec(flavour)
    relative = spec.relative_dir(spec.raw_numbers(spec.numbers_of(recording)))
    nested = Path(raw_root) / "raw" / relative  # the root dualcam.simulate wrote, of a dataset of two roots
    return nested if spec.two_roots and nested.is_dir() else Path(raw_root) / relative


class RecordingTruth(NamedTuple):
    """A simulated raw recording's ground truth (None if simulated before events were written),
    and each of its sources' role and pixels (frames, 2) in every frame."""

    truth: GroundTruth | None
    roles: tuple[str | None, ...]
    pixels: tuple[np.ndarray, ...]


@functools.lru_cache(maxsize=4096)
def recording_truth(directory: str) -> RecordingTruth:
    path = Path(directory) / GROUND_TRUTH
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no ground truth (localisation needs the simulator's raw recordings; "
                                "check --raw_root)")
    sources = json.loads(path.read_text())["sources"]
    return RecordingTruth(read_ground_truth(path), tuple(source.get("role") for source in sources),
                          tuple(np.asarray(source["pixels"], dtype=np.float64) for source in sources))


@functools.lru_cache(maxsize=4096)
def _target_track(directory: str) -> tuple[np.ndarray, np.ndarray]:
    """The target's pixels (frames, 2), and whether it sounds in each frame."""
    recorded = recording_truth(directory)
    if not recorded.roles or recorded.roles[0] != "target":
        raise ValueError(f"{Path(directory) / GROUND_TRUTH}: sources[0] is not the target")
    pixels = recorded.pixels[0]
    if recorded.truth is None:  # simulated before events were written: the target always sounds
        return pixels, np.ones(len(pixels), dtype=bool)
    sounding = frame_coverage([(e.onset, e.offset) for e in recorded.truth.events if e.source == 0], len(pixels)) > 0
    return pixels, sounding


class Truth(NamedTuple):
    """Where the target is in each window, and in what share of the window's frames it sounds."""

    positions: np.ndarray  # (N, 2) (u, v) pixels
    heard: np.ndarray  # (N,) in [0, 1]


def true_positions(recordings: Sequence[str], first_seconds: Sequence[int], sample_length: int, flavour: str,
                   raw_root: str | Path) -> Truth:
    """The mean (u, v) of the target over each window's frames in which it sounds, and the
    share of the frames in which it does."""
    positions, heard = np.empty((len(recordings), 2)), np.empty(len(recordings))
    span = np.arange(sample_length * FRAMES_PER_RECORD)
    for i, (recording, second) in enumerate(zip(recordings, first_seconds)):
        directory = raw_recording_dir(recording, flavour, raw_root)
        track, sounding = _target_track(str(directory))
        frames = (int(second) - 1) * FRAMES_PER_RECORD + span
        if dataset_spec(flavour).record_seconds is not None:  # its records wrap around a shorter recording
            frames = frames % len(track)
        elif frames[-1] >= len(track):
            raise ValueError(f"{directory}: window at second {second} ends at frame {frames[-1]}, but the ground "
                             f"truth has {len(track)} frames")
        sounds = frames[sounding[frames]]
        positions[i] = track[sounds if len(sounds) else frames].mean(axis=0)
        heard[i] = len(sounds) / len(frames)
    return Truth(positions, heard)


def video_view(loader: LoaderConfig) -> View:
    """The box of the camera image the loader's video frames show.

    Records hold the whole camera image (ACIVW resized to short side 224 with truncated
    sizes, AVIA at 480 x 640); the loader resizes the short side to `video_short_side`
    (rounding) and cuts out the centre `video_size`."""
    height, width = dataset_spec(loader.flavour).record_video_shape[:2]
    short = loader.video_short_side
    if short is not None and min(height, width) != short:
        scale = short / min(height, width)
        height, width = round(height * scale), round(width * scale)
    crop_h, crop_w = loader.video_size
    top, left = (height - crop_h) // 2, (width - crop_w) // 2
    to_v, to_u = IMAGE_HEIGHT / height, IMAGE_WIDTH / width
    return View(left * to_u, top * to_v, crop_h * to_v, crop_w * to_u)


def localise(heat: np.ndarray, truth: np.ndarray, view: View = FULL_VIEW, tolerance: float = DEFAULT_TOLERANCE) -> dict:
    """`metrics.localisation` of (N, h, w) maps covering the `view` box of the image; truth
    and errors in image pixels."""
    return metrics.localisation(heat, truth - np.array([view.u0, view.v0]), (view.height, view.width), tolerance)


def centre_map(n: int) -> np.ndarray:
    """A 1 x 1 map per sample: its peak is the centre of the view, the trivial baseline."""
    return np.zeros((n, 1, 1))
