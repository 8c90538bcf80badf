"""Dataset statistics the loader normalises inputs with, and the file that holds them.

    python -m dataloader.stats LIST --preset hearnet_a --out stats_a.npz [--root ROOT]
    python -m dataloader.stats LIST --input acoustic_image --out acoustic_stats.npz

Two inputs have them:
- `spectrogram` (HearNet): per frequency bin, of the spectrogram the loader makes (the same
  resampling, peak normalisation and STFT) before normalisation. The original computed
  them but never shipped them.
- `acoustic_image` (DualCamNet): per coefficient (12), over every frame and cell. Unscaled,
  the coefficients' levels dwarf their variation (c0, the log energy, sits near -100 and
  varies by a few units across the image), so a freshly initialised DualCamNet gives every
  sample nearly the same output direction. Dataset statistics fix that and, unlike
  standardising each sample on its own, keep what tells samples apart: a sample's level
  and timbre (its coefficients' means) as well as their layout over the image.
They are taken over every frame of the list's evaluation windows (consecutive,
non-overlapping windows of `sample_length` seconds), so every second counts once; with
`max_records`, over that many records spread evenly through the list.

The file (.npz):
    input          "spectrogram" or "acoustic_image"
    mean, std      float64 (channels,); std is the population one (ddof 0), as np.std's
    min, max       float64 (channels,)
    count          values per channel;  windows: windows they came from
    frame_length, frame_step, fft_length, sample_length: the settings the spectrogram
                   statistics were computed with; the loader refuses other settings
    list           the list file they were computed on
Spectrograms: A (normalisation "mean_std") uses (x - mean) / std, B ("min_max")
(x - min) / (max - min). Acoustic images: (x - mean) / std. A channel with no spread is
only shifted.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from collections.abc import Sequence

import numpy as np

from dataloader.config import ACOUSTIC_IMAGE, DEFAULT_THROUGHPUT, SPECTROGRAM, LoaderConfig, Throughput

SETTINGS = {SPECTROGRAM: ("frame_length", "frame_step", "fft_length", "sample_length"), ACOUSTIC_IMAGE: ()}
ACOUSTIC_COEFFICIENTS = 12


def _spread_evenly(paths: list[str], count: int | None) -> list[str]:
    if count is None or count >= len(paths):
        return paths
    return [paths[i] for i in np.linspace(0, len(paths) - 1, count).astype(int)]


def compute_statistics(
    records: str | os.PathLike | Sequence[str],
    config: LoaderConfig,
    root: str | os.PathLike | None = None,
    batch_size: int = 32,
    throughput: Throughput = DEFAULT_THROUGHPUT,
    input_name: str = SPECTROGRAM,
    max_records: int | None = None,
) -> dict[str, np.ndarray]:
    from dataloader.pipeline import make_dataset, record_paths

    if input_name not in SETTINGS:
        raise ValueError(f"no statistics for input {input_name!r}: one of {tuple(SETTINGS)}")
    config = dataclasses.replace(config, inputs=(input_name,), training=False, normalisation=None, stats_path=None,
                                 acoustic_image_stats_path=None)
    channels = config.spectrogram_bins if input_name == SPECTROGRAM else ACOUSTIC_COEFFICIENTS
    paths = _spread_evenly(record_paths(records, root), max_records)
    count, windows = 0, 0
    mean, m2 = np.zeros(channels), np.zeros(channels)
    low, high = np.full(channels, np.inf), np.full(channels, -np.inf)
    for batch in make_dataset(paths, config, throughput, batch_size=batch_size):
        values = batch[input_name].numpy().reshape(-1, channels).astype(np.float64)
        windows += batch[input_name].shape[0]
        # Chan et al.'s pairwise update: exact in float64 whatever the number of batches.
        batch_mean = values.mean(axis=0)
        delta = batch_mean - mean
        total = count + len(values)
        mean += delta * len(values) / total
        m2 += ((values - batch_mean) ** 2).sum(axis=0) + delta**2 * count * len(values) / total
        count = total
        low, high = np.minimum(low, values.min(axis=0)), np.maximum(high, values.max(axis=0))
    if count == 0:
        raise ValueError(f"{records}: no window of {config.sample_length} s to compute statistics on")
    settings = {key: np.int64(getattr(config, key)) for key in SETTINGS[input_name]}
    return {"input": np.str_(input_name), "mean": mean, "std": np.sqrt(m2 / count), "min": low, "max": high,
            "count": np.int64(count), "windows": np.int64(windows), **settings}


def save_statistics(path: str | os.PathLike, statistics: dict[str, np.ndarray], list_name: str = "") -> None:
    """Written under a temporary name and renamed, so a file at `path` is complete."""
    path = os.fspath(path)
    temporary = f"{path}.{os.getpid()}.partial.npz"  # workers of one run may write the same file
    np.savez(temporary, list=np.str_(list_name), **statistics)
    os.replace(temporary, path)


def _load(path: str, input_name: str, config: LoaderConfig, shift_key: str, scale_key: str | None):
    try:
        with np.load(path) as stats:
            found = str(stats["input"]) if "input" in stats else SPECTROGRAM
            if found != input_name:
                raise ValueError(f"{path}: statistics of {found}, not of {input_name}")
            wrong = [f"{key} {int(stats[key])} (loader: {getattr(config, key)})" for key in SETTINGS[input_name]
                     if int(stats[key]) != getattr(config, key)]
            if wrong:
                raise ValueError(f"{path}: statistics of other settings: {', '.join(wrong)}")
            shift = stats[shift_key]
            scale = stats[scale_key] if scale_key else stats["max"] - stats["min"]
    except (OSError, KeyError, EOFError) as err:
        raise ValueError(f"{path}: not a statistics file of dataloader.stats ({err})") from None
    scale = np.where(scale > 0, scale, 1.0)
    return shift.astype(np.float32), scale.astype(np.float32)


def load_normalisation(config: LoaderConfig) -> tuple[np.ndarray, np.ndarray] | tuple[None, None]:
    """(shift, scale) float32 (bins,) of the spectrogram for `config.normalisation`, or
    (None, None) without."""
    if config.normalisation is None:
        return None, None
    if config.stats_path is None:
        raise ValueError(f"normalisation {config.normalisation!r} needs statistics: compute them with "
                         "`python -m dataloader.stats TRAINING_LIST --preset ... --out FILE` and set stats_path")
    scale_key = "std" if config.normalisation == "mean_std" else None
    return _load(config.stats_path, SPECTROGRAM, config, "mean" if scale_key else "min", scale_key)


def load_acoustic_image_normalisation(config: LoaderConfig) -> tuple[np.ndarray, np.ndarray]:
    """(mean, std) float32 (12,) of the acoustic-image coefficients at
    `config.acoustic_image_stats_path`."""
    return _load(config.acoustic_image_stats_path, ACOUSTIC_IMAGE, config, "mean", "std")


def main(argv: Sequence[str] | None = None) -> int:
    from dataloader.presets import PRESETS

    spectrogram_presets = sorted(name for name, preset in PRESETS.items() if SPECTROGRAM in preset.inputs)
    parser = argparse.ArgumentParser(prog="python -m dataloader.stats", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("list", help="training list: one record path per line")
    parser.add_argument("--input", choices=tuple(SETTINGS), default=SPECTROGRAM)
    parser.add_argument("--preset", choices=spectrogram_presets,
                        help="the loader settings spectrogram statistics are for (needed with --input spectrogram)")
    parser.add_argument("--flavour", choices=("acivw", "avia"),
                        help="acoustic images: the list's dataset flavour (default: recognised from the list)")
    parser.add_argument("--out", required=True, help="the .npz file to write")
    parser.add_argument("--root", help="the directory relative paths in the list are relative to")
    parser.add_argument("--max_records", type=int, help="use this many records, spread evenly through the list")
    parser.add_argument("--batch_size", type=int, default=32)
    args = parser.parse_args(argv)
    try:
        if args.input == SPECTROGRAM:
            if args.preset is None:
                parser.error("--input spectrogram needs --preset")
            config = PRESETS[args.preset]
        else:
            config = acoustic_image_config(args.list, args.root, args.flavour)
        statistics = compute_statistics(args.list, config, args.root, args.batch_size, input_name=args.input,
                                        max_records=args.max_records)
        save_statistics(args.out, statistics, os.path.abspath(args.list))
    except (OSError, ValueError) as err:
        parser.exit(1, f"{parser.prog}: error: {err}\n")
    print(f"{args.out}: {args.input} statistics of {statistics['count']} values per channel from "
          f"{statistics['windows']} windows")
    return 0


def acoustic_image_config(records: str | os.PathLike, root: str | os.PathLike | None = None,
                          flavour: str | None = None) -> LoaderConfig:
    """A loader of 1-s acoustic-image windows for a list of either flavour."""
    from dataloader.windows import detect_flavour

    return LoaderConfig(flavour=flavour or detect_flavour(records, root), inputs=(ACOUSTIC_IMAGE,))


if __name__ == "__main__":
    sys.exit(main())
