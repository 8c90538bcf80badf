"""HearNet's per-frequency-bin statistics of a training list, and the file that holds them.

    python -m dataloader.stats LIST --preset hearnet_a --out stats_a.npz [--root ROOT]

The statistics are of the spectrogram the loader makes (the same resampling, peak
normalisation and STFT) before normalisation, over every frame of the list's evaluation
windows (its consecutive non-overlapping windows of `sample_length` seconds), so every
second of the list counts once. The original computed them but never shipped them.

The file (.npz):
    mean, std      float64 (bins,); std is the population one (ddof 0), as np.std's
    min, max       float64 (bins,)
    count          spectrogram frames;  windows: windows they came from
    frame_length, frame_step, fft_length, sample_length: the settings they were computed
                   with; the loader refuses statistics of other settings
    list           the list file they were computed on
A (normalisation "mean_std") uses (x - mean) / std, B ("min_max") (x - min) / (max - min);
a bin with no spread is only shifted.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from collections.abc import Sequence

import numpy as np

from dataloader.config import DEFAULT_THROUGHPUT, SPECTROGRAM, LoaderConfig, Throughput

SETTINGS = ("frame_length", "frame_step", "fft_length", "sample_length")


def compute_statistics(
    records: str | os.PathLike | Sequence[str],
    config: LoaderConfig,
    root: str | os.PathLike | None = None,
    batch_size: int = 32,
    throughput: Throughput = DEFAULT_THROUGHPUT,
) -> dict[str, np.ndarray]:
    from dataloader.pipeline import make_dataset

    config = dataclasses.replace(config, inputs=(SPECTROGRAM,), training=False, normalisation=None, stats_path=None)
    bins = config.spectrogram_bins
    count, windows = 0, 0
    mean, m2 = np.zeros(bins), np.zeros(bins)
    low, high = np.full(bins, np.inf), np.full(bins, -np.inf)
    for batch in make_dataset(records, config, throughput, batch_size=batch_size, root=root):
        frames = batch[SPECTROGRAM].numpy().reshape(-1, bins).astype(np.float64)
        windows += batch[SPECTROGRAM].shape[0]
        # Chan et al.'s pairwise update: exact in float64 whatever the number of batches.
        batch_mean = frames.mean(axis=0)
        delta = batch_mean - mean
        total = count + len(frames)
        mean += delta * len(frames) / total
        m2 += ((frames - batch_mean) ** 2).sum(axis=0) + delta**2 * count * len(frames) / total
        count = total
        low, high = np.minimum(low, frames.min(axis=0)), np.maximum(high, frames.max(axis=0))
    if count == 0:
        raise ValueError(f"{records}: no window of {config.sample_length} s to compute statistics on")
    settings = {key: np.int64(getattr(config, key)) for key in SETTINGS}
    return {"mean": mean, "std": np.sqrt(m2 / count), "min": low, "max": high, "count": np.int64(count),
            "windows": np.int64(windows), **settings}


def save_statistics(path: str | os.PathLike, statistics: dict[str, np.ndarray], list_name: str = "") -> None:
    """Written under a temporary name and renamed, so a file at `path` is complete."""
    path = os.fspath(path)
    temporary = path + ".partial.npz"
    np.savez(temporary, list=np.str_(list_name), **statistics)
    os.replace(temporary, path)


def load_normalisation(config: LoaderConfig) -> tuple[np.ndarray, np.ndarray] | tuple[None, None]:
    """(shift, scale) float32 (bins,) for `config.normalisation`, or (None, None) without."""
    if config.normalisation is None:
        return None, None
    if config.stats_path is None:
        raise ValueError(f"normalisation {config.normalisation!r} needs statistics: compute them with "
                         "`python -m dataloader.stats TRAINING_LIST --preset ... --out FILE` and set stats_path")
    with np.load(config.stats_path) as stats:
        wrong = [f"{key} {int(stats[key])} (loader: {getattr(config, key)})" for key in SETTINGS
                 if int(stats[key]) != getattr(config, key)]
        if wrong:
            raise ValueError(f"{config.stats_path}: statistics of other settings: {', '.join(wrong)}")
        if config.normalisation == "mean_std":
            shift, scale = stats["mean"], stats["std"]
        else:
            shift, scale = stats["min"], stats["max"] - stats["min"]
    scale = np.where(scale > 0, scale, 1.0)
    return shift.astype(np.float32), scale.astype(np.float32)


def main(argv: Sequence[str] | None = None) -> int:
    from dataloader.presets import PRESETS

    spectrogram_presets = sorted(name for name, preset in PRESETS.items() if SPECTROGRAM in preset.inputs)
    parser = argparse.ArgumentParser(prog="python -m dataloader.stats", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("list", help="training list: one record path per line")
    parser.add_argument("--preset", required=True, choices=spectrogram_presets,
                        help="the loader settings the statistics are for")
    parser.add_argument("--out", required=True, help="the .npz file to write")
    parser.add_argument("--root", help="the directory relative paths in the list are relative to")
    parser.add_argument("--batch_size", type=int, default=32)
    args = parser.parse_args(argv)
    try:
        statistics = compute_statistics(args.list, PRESETS[args.preset], args.root, args.batch_size)
        save_statistics(args.out, statistics, os.path.abspath(args.list))
    except (OSError, ValueError) as err:
        parser.exit(1, f"{parser.prog}: error: {err}\n")
    print(f"{args.out}: statistics of {statistics['count']} frames from {statistics['windows']} windows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
