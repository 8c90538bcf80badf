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
    fingerprint    sha256 of its record files' sorted paths, sizes and modification times
    provenance     JSON: the loader settings that shape the statistics (SHAPED_BY) and
                   max_records; with the fingerprint, what a run checks before reusing a file
Files without a fingerprint predate it. Statistics of data holding non-finite values are
refused, never written, and a file holding any is refused when loaded.
Spectrograms: A (normalisation "mean_std") uses (x - mean) / std, B ("min_max")
(x - min) / (max - min). Acoustic images: (x - mean) / std. A channel with no spread is
only shifted.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from collections.abc import Sequence

import numpy as np

from dataloader.camera import COEFFICIENTS
from dataloader.config import (
    ACOUSTIC_IMAGE,
    DEFAULT_THROUGHPUT,
    FIRST_SECOND,
    RECORDING,
    SPECTROGRAM,
    LoaderConfig,
    Throughput,
)
from dataloader.datasets import FLAVOURS
from dataloader.normalisation import (
    SETTINGS,
    NonFiniteStatisticsError,
    count_non_finite,
    load_acoustic_image_normalisation,
    load_normalisation,
)
from dataloader.pipeline import describe_read_error, make_dataset, record_paths
from dataloader.windows import fingerprint

__all__ = ["NonFiniteStatisticsError", "compute_statistics", "load_acoustic_image_normalisation", "load_normalisation",
           "provenance", "save_statistics", "stale_reason"]

# The loader settings that change what the statistics of a list are, recorded with them: the
# loader checks SETTINGS against its own, a run reuses its file only if all of these match.
SHAPED_BY = {SPECTROGRAM: ("flavour", "resampler", *SETTINGS[SPECTROGRAM]),
             ACOUSTIC_IMAGE: ("flavour", "sample_length")}


def provenance(records: str | os.PathLike | Sequence[str], config: LoaderConfig, root: str | os.PathLike | None = None,
               input_name: str = SPECTROGRAM, max_records: int | None = None) -> dict:
    """What `compute_statistics` with these arguments computes from: the list file (empty
    for a sequence of paths), the fingerprint of all its records and the settings that shape
    the statistics."""
    listed = isinstance(records, str | os.PathLike)
    return {"list": os.path.abspath(records) if listed else "", "fingerprint": fingerprint(record_paths(records, root)),
            "settings": {**{key: getattr(config, key) for key in SHAPED_BY[input_name]}, "max_records": max_records}}


def recorded_provenance(path: str | os.PathLike) -> dict | None:
    """The provenance a statistics file records, None for a file written before it did."""
    with np.load(path) as saved:
        if "fingerprint" not in saved:
            return None
        return {"list": str(saved["list"]), "fingerprint": str(saved["fingerprint"]),
                "settings": json.loads(str(saved["provenance"]))}


def stale_reason(path: str | os.PathLike, expected: dict) -> str | None:
    """Why the statistics at `path` are not those `expected` (a `provenance`) describes,
    None when they are; the list file's own path may differ."""
    recorded = recorded_provenance(path)
    if recorded is None:
        return "it records no fingerprint of its list (written by an older version)"
    if recorded["settings"] != expected["settings"]:
        return f"it was computed with {recorded['settings']}, not {expected['settings']}"
    if recorded["fingerprint"] != expected["fingerprint"]:
        return f"the record files of {recorded['list'] or 'its list'} changed since"
    return None


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
    if input_name not in SETTINGS:
        raise ValueError(f"no statistics for input {input_name!r}: one of {tuple(SETTINGS)}")
    config = dataclasses.replace(config, inputs=(input_name,), training=False, normalisation=None, stats_path=None,
                                 acoustic_image_stats_path=None)
    channels = config.spectrogram_bins if input_name == SPECTROGRAM else COEFFICIENTS
    source = provenance(records, config, root, input_name, max_records)
    paths = _spread_evenly(record_paths(records, root), max_records)
    count, windows, non_finite, first_non_finite = 0, 0, 0, ""
    mean, m2 = np.zeros(channels), np.zeros(channels)
    low, high = np.full(channels, np.inf), np.full(channels, -np.inf)
    for batch in make_dataset(paths, config, throughput, batch_size=batch_size):
        data = batch[input_name].numpy()
        values = data.reshape(-1, channels).astype(np.float64)
        windows += len(data)
        bad = np.count_nonzero(~np.isfinite(data.reshape(len(data), -1)), axis=1)  # per window
        if bad.any() and not non_finite:
            window = int(np.flatnonzero(bad)[0])
            first_non_finite = (f" (the first in the window of {batch[RECORDING][window].numpy().decode()} from "
                                f"second {int(batch[FIRST_SECOND][window])})")
        non_finite += int(bad.sum())
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
    if non_finite:
        raise NonFiniteStatisticsError(f"{records}: {non_finite} non-finite {input_name} values among "
                                       f"{count * channels}{first_non_finite}; no statistics computed")
    settings = {key: np.int64(getattr(config, key)) for key in SETTINGS[input_name]}
    return {"input": np.str_(input_name), "mean": mean, "std": np.sqrt(m2 / count), "min": low, "max": high,
            "count": np.int64(count), "windows": np.int64(windows), **settings, "list": np.str_(source["list"]),
            "fingerprint": np.str_(source["fingerprint"]), "provenance": np.str_(json.dumps(source["settings"]))}


def save_statistics(path: str | os.PathLike, statistics: dict[str, np.ndarray]) -> None:
    """Written under a temporary name and renamed, so a file at `path` is complete; never
    with a non-finite value."""
    path = os.fspath(path)
    if non_finite := count_non_finite(statistics):
        raise NonFiniteStatisticsError(f"{path}: {non_finite} non-finite values in the statistics of "
                                       f"{statistics.get('list') or 'their records'}; not written")
    temporary = f"{path}.{os.getpid()}.partial.npz"  # workers of one run may write the same file
    np.savez(temporary, **statistics)
    os.replace(temporary, path)


def main(argv: Sequence[str] | None = None) -> int:
    import logger.quiet  # noqa: F401  (before tensorflow is imported, below)
    from dataloader.presets import PRESETS
    from dataloader.windows import read_list

    spectrogram_presets = sorted(name for name, preset in PRESETS.items() if SPECTROGRAM in preset.inputs)
    parser = argparse.ArgumentParser(prog="python -m dataloader.stats", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("list", help="training list: one record path per line")
    parser.add_argument("--input", choices=tuple(SETTINGS), default=SPECTROGRAM)
    parser.add_argument("--preset", choices=spectrogram_presets,
                        help="the loader settings spectrogram statistics are for (needed with --input spectrogram)")
    parser.add_argument("--flavour", choices=FLAVOURS,
                        help="acoustic images: the list's dataset flavour (default: recognised from the list)")
    parser.add_argument("--out", required=True, help="the .npz file to write")
    parser.add_argument("--root", help="the directory relative paths in the list are relative to")
    parser.add_argument("--max_records", type=int, help="use this many records, spread evenly through the list")
    parser.add_argument("--batch_size", type=int, default=32)
    args = parser.parse_args(argv)

    def refuse(flag: str, problem: str) -> None:
        parser.exit(2, f"{parser.prog}: error: {flag}: {problem}\n")

    if not os.path.isfile(args.list):
        refuse("list", f"no such file: {args.list}")
    try:
        read_list(args.list, args.root)
    except ValueError as err:  # relative paths without a root
        refuse("--root", str(err))
    if not os.path.isdir(os.path.dirname(os.path.abspath(args.out))):
        refuse("--out", f"no such directory: {os.path.dirname(os.path.abspath(args.out))}")
    if args.input == SPECTROGRAM and args.preset is None:
        refuse("--preset", "needed with --input spectrogram")
    for flag in ("max_records", "batch_size"):
        if getattr(args, flag) is not None and getattr(args, flag) < 1:
            refuse(f"--{flag}", f"{getattr(args, flag)}: must be at least 1")
    import tensorflow as tf  # for its errors: the pipeline reports a bad record as one

    try:
        config = PRESETS[args.preset] if args.input == SPECTROGRAM else acoustic_image_config(args.list, args.root,
                                                                                                args.flavour)
        statistics = compute_statistics(args.list, config, args.root, args.batch_size, input_name=args.input,
                                        max_records=args.max_records)
        save_statistics(args.out, statistics)
    except (OSError, ValueError, FloatingPointError) as err:
        parser.exit(1, f"{parser.prog}: error: {err}\n")
    except tf.errors.OpError as err:  # a bad record
        parser.exit(1, f"{parser.prog}: error: {describe_read_error(err)}\n")
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
