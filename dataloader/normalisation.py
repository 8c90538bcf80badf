"""Reading the statistics files of `dataloader.stats` (layout in its docstring): what the
loader normalises spectrograms and acoustic images with. Apart from their computation,
which runs the loader, so the loader reads them without importing what runs it."""
from __future__ import annotations

import numpy as np

from dataloader.camera import COEFFICIENTS
from dataloader.config import ACOUSTIC_IMAGE, SPECTROGRAM, LoaderConfig

# The loader settings a spectrogram's statistics hold, which the loader must share.
SETTINGS = {SPECTROGRAM: ("frame_length", "frame_step", "fft_length", "sample_length"), ACOUSTIC_IMAGE: ()}
VALUES = ("mean", "std", "min", "max")


class NonFiniteStatisticsError(FloatingPointError):
    """The data of a list, or a statistics file, holds NaN or infinite values."""


def count_non_finite(statistics) -> int:
    return sum(int(np.count_nonzero(~np.isfinite(statistics[key]))) for key in VALUES if key in statistics)


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
            channels = config.spectrogram_bins if input_name == SPECTROGRAM else COEFFICIENTS
            if shift.shape != (channels,) or scale.shape != (channels,):
                raise ValueError(f"{path}: statistics of {shift.shape} {input_name} channels, not of ({channels},)")
            if non_finite := count_non_finite(stats):
                raise NonFiniteStatisticsError(f"{path}: {non_finite} non-finite values (NaN or inf) in its "
                                               "statistics; compute them again with python -m dataloader.stats")
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
