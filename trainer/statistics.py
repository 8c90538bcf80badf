"""The statistics files a run's loader normalises its inputs with (acoustic images,
spectrograms): which file a run reads, and making sure it is sound and the right one."""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from absl import logging

from dataloader import stats
from dataloader.config import ACOUSTIC_IMAGE, SPECTROGRAM
from dataloader.normalisation import load_acoustic_image_normalisation, load_normalisation
from trainer.config import FlagError, RunConfig
from trainer.rundir import RunDir

STATS_RECORDS = 400  # 1-s records spread through the list: the 12 means and stds settle long before


@dataclasses.dataclass(frozen=True)
class Statistics:
    """A statistics file a run's loader reads: which input, the flag naming the file, the
    flag that says whether the input is scaled at all, and how to do without."""

    input: str
    flag: str
    loader_path: str  # the LoaderConfig field that holds it
    enabled: str
    what: str
    without: str
    needed: str  # why a run without a file or a run directory cannot start


STATISTICS = (
    Statistics(ACOUSTIC_IMAGE, "acoustic_image_stats", "acoustic_image_stats_path", "standardise_acoustic_images",
               "acoustic-image", "--nostandardise_acoustic_images",
               "acoustic images are standardised with dataset statistics: give a file (python -m dataloader.stats LIST "
               "--input acoustic_image --out FILE), a run directory (--checkpoint_dir and --exp_name) to compute them "
               "into, or --nostandardise_acoustic_images"),
    Statistics(SPECTROGRAM, "stats_file", "stats_path", "normalize", "spectrogram", "--nonormalize",
               "spectrograms are normalised with training-set statistics: give a file (python -m dataloader.stats "
               "LIST --preset hearnet_b --out FILE), a run directory (--checkpoint_dir and --exp_name) to compute them "
               "into, or --nonormalize"),
)


def own_file(config: RunConfig, statistics: Statistics) -> str | None:
    """The run directory's file of these statistics; None without a run directory."""
    if not (config.checkpoint_dir and config.exp_name):
        return None
    return str(RunDir.of(config.checkpoint_dir, config.exp_name).statistics(statistics.input))


def statistics_files(config: RunConfig, inputs: tuple[str, ...]) -> dict[str, str | None]:
    """The statistics file of each input the loader scales, by flag: the one given, else the
    run's own (computed from the training list when the run starts, see `input_statistics`),
    None when the input is not scaled. A file the user gave must exist."""
    files = {}
    for statistics in STATISTICS:
        path = getattr(config, statistics.flag)
        if not getattr(config, statistics.enabled) or statistics.input not in inputs:
            files[statistics.flag] = None if not getattr(config, statistics.enabled) else path
            continue
        if not path:
            path = own_file(config, statistics)
            if path is None:
                raise FlagError(statistics.flag, statistics.needed)
        elif path != own_file(config, statistics) and not os.path.isfile(path):
            raise FlagError(statistics.flag, f"no such file: {path}")
        files[statistics.flag] = path
    return files


def input_statistics(config: RunConfig, plan) -> None:
    """Makes sure the statistics files the run's loader reads (acoustic images, spectrograms)
    are sound and the ones it should read.

    The run's own file (in its directory) is computed from its training list when missing,
    and computed again when it no longer matches that list's record files (their
    fingerprint) or the loader settings, or is unsound; a test of the run takes it as it
    is. A file the user gave is taken whatever list it was computed from (a frozen teacher
    must see its own run's statistics), and that list is logged when it is not the training
    list. Either is refused (FlagError) when missing, holding non-finite values, or of the
    wrong shape or settings."""
    for statistics in STATISTICS:
        path = getattr(plan.loader, statistics.loader_path)
        if path is None:
            continue
        if config.mode == "train" and path == own_file(config, statistics):
            source = _own_statistics_source(config, plan, statistics.input)
            stale = _unusable(path, plan, statistics) or stats.stale_reason(path, stats.provenance(**source))
            if stale is not None:
                if os.path.isfile(path):
                    logging.warning("%s: computing the %s statistics again: %s", path, statistics.what, stale)
                Path(path).parent.mkdir(parents=True, exist_ok=True)
                stats.save_statistics(path, stats.compute_statistics(**source))
            continue
        if not os.path.isfile(path):
            raise FlagError(statistics.flag, f"{path}: no {statistics.what} statistics; give the training run's with "
                            f"--{statistics.flag}, or {statistics.without} if it trained without")
        if (problem := _unusable(path, plan, statistics)) is not None:
            raise FlagError(statistics.flag, problem)
        recorded = stats.recorded_provenance(path)
        if config.mode == "train" and (recorded is None or recorded["fingerprint"] != stats.provenance(
                **_own_statistics_source(config, plan, statistics.input))["fingerprint"]):
            logging.warning("%s: %s statistics of %s, not of --train_file %s; used as given", path, statistics.what,
                            recorded["list"] if recorded else "a list it does not record (an older file)",
                            config.train_file)


def _own_statistics_source(config: RunConfig, plan, input_name: str) -> dict:
    """The arguments of `stats.compute_statistics` and `stats.provenance` for a run's own
    statistics of an input."""
    if input_name == ACOUSTIC_IMAGE:  # 1-s windows of records spread through the list
        loader = stats.acoustic_image_config(config.train_file, config.data_root, plan.flavour)
        return {"records": config.train_file, "config": loader, "root": config.data_root,
                "input_name": ACOUSTIC_IMAGE, "max_records": STATS_RECORDS}
    # every window of the training list, as the stats tool and (B)'s compute_stats
    return {"records": config.train_file, "config": plan.loader, "root": config.data_root,
            "input_name": SPECTROGRAM}


def _unusable(path: str, plan, statistics: Statistics) -> str | None:
    """Why the loader would refuse the statistics file at `path` (missing, not finite, of
    another shape or settings), None when it takes it."""
    if not os.path.isfile(path):
        return "missing"
    load = load_acoustic_image_normalisation if statistics.input == ACOUSTIC_IMAGE else load_normalisation
    try:
        load(plan.loader)
    except (ValueError, FloatingPointError) as err:
        return str(err)
    return None
