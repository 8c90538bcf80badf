"""What main.py does with its flags: build the stage, train or test it, write the run."""
from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import keras
import tensorflow as tf
from absl import logging

from dataloader import stats
from dataloader.config import ACOUSTIC_IMAGE, FIRST_SECOND, RECORDING, SPECTROGRAM, VIDEO_FRAMES, Throughput
from dataloader.pipeline import make_dataset, record_paths
from dataloader.schema import AVIA
from dataloader.windows import find_clips, seconds_in_no_window, window_dataset
from evaluation.extract import extract
from logger.callbacks import ImageLogger, write_hparams, write_projector
from trainer import experiment, flag_checks, restart
from trainer.checkpoints import restore_weights, will_resume
from trainer.distribute import make_strategy, process_run_dir
from trainer.experiment import FlagError
from trainer.run import train

ACOUSTIC_IMAGE_STATS = "acoustic_image_stats.npz"
SPECTROGRAM_STATS = "spectrogram_stats.npz"
STATS_RECORDS = 400  # 1-s records spread through the list: the 12 means and stds settle long before


def recipe(plan: experiment.Plan) -> dict:
    """The papers' settings for a stage, used for every flag left unset."""
    acoustic_only = all(experiment.INPUTS[name] == (ACOUSTIC_IMAGE,) for name in plan.networks.values())
    long_sample = 5 if plan.flavour == AVIA else 2
    if plan.stage in ("self_supervised", "transfer"):  # (A): every 2-s block of every recording, once
        return {"learning_rate": 1e-5, "batch_size": 64, "sample_length": 2, "total_length": 2, "number_of_crops": 1,
                "num_epochs": 20}
    if plan.stage == "supervised" and acoustic_only:
        return {"learning_rate": 1e-3, "batch_size": 32, "sample_length": 1, "total_length": 30, "number_of_crops": 30,
                "num_epochs": 100}
    return {"learning_rate": 1e-4, "batch_size": 32, "sample_length": long_sample, "total_length": 30,
            "number_of_crops": 6, "num_epochs": 100 if plan.stage == "supervised" else 10}


def complete_config(config: dict) -> tuple[dict, experiment.Plan]:
    """Fills unset flags from the stage's recipe; the plan is remade with them. A flag a user
    got wrong (a missing file, an unknown model, a bad value or combination) raises FlagError
    here, before anything is read or written."""
    config = dict(config)
    if config.get("embedding") is None:
        config["embedding"] = int(bool(config.get("model_1") or config.get("model_2")))
    config["tensorboard"] = config.get("tensorboard") or config.get("log_dir")
    list_flag = "train_file" if config["mode"] == "train" else "test_file"
    if not config.get(list_flag):
        raise FlagError(list_flag, f"--mode {config['mode']} needs a list of records")
    clips = {flag: flag_checks.listed_clips(config, flag) for flag in flag_checks.LISTS if config.get(flag)}
    flag_checks.check_values(config)
    list_file = config[list_flag]
    first = experiment.plan({**config, "sample_length": 1, "number_of_crops": 1}, list_file)
    filled = {key: value for key, value in recipe(first).items() if config.get(key) is None}
    config.update(filled)
    if "total_length" in filled:  # a longer sample than the recipe's makes its blocks as long
        config["total_length"] = max(config["total_length"], config["sample_length"])
    flag_checks.check_lengths(config, clips)
    # Statistics files left unset are the run's own, computed from the training list when it starts (see `run`).
    if not config.get("normalize"):
        config["stats_file"] = None
    elif SPECTROGRAM in first.loader.inputs and not config.get("stats_file"):
        config["stats_file"] = _in_run_directory(config, "stats_file", SPECTROGRAM_STATS, (
            "spectrograms are normalised with training-set statistics: give a file (python -m dataloader.stats "
            "LIST --preset hearnet_b --out FILE), a run directory (--checkpoint_dir and --exp_name) to compute them "
            "into, or --nonormalize"))
    if not config.get("standardise_acoustic_images", True):
        config["acoustic_image_stats"] = None
    elif ACOUSTIC_IMAGE in first.loader.inputs and not config.get("acoustic_image_stats"):
        config["acoustic_image_stats"] = _in_run_directory(config, "acoustic_image_stats", ACOUSTIC_IMAGE_STATS, (
            "acoustic images are standardised with dataset statistics: give a file (python -m dataloader.stats LIST "
            "--input acoustic_image --out FILE), a run directory (--checkpoint_dir and --exp_name) to compute them "
            "into, or --nostandardise_acoustic_images"))
    for statistics in STATISTICS:  # a file the user gave (the run's own may be computed yet)
        path = config.get(statistics.flag)
        given = path and statistics.input in first.loader.inputs and not _owned(config, statistics)
        if given and not os.path.isfile(path):
            raise FlagError(statistics.flag, f"no such file: {path}")
    flag_checks.check_files(config)
    plan = experiment.plan(config, list_file)
    config.update(stage=plan.stage, flavour=plan.flavour, networks=plan.networks)
    return config, plan


def run_directory(config: dict) -> Path:
    return Path(config["checkpoint_dir"]) / config["exp_name"]


def _own_file(config: dict, name: str) -> str | None:
    """The run directory's file `name`; None without a run directory."""
    if not (config.get("checkpoint_dir") and config.get("exp_name")):
        return None
    return str(run_directory(config) / name)


def _in_run_directory(config: dict, flag: str, name: str, problem: str) -> str:
    own = _own_file(config, name)
    if own is None:
        raise FlagError(flag, problem)
    return own


@dataclasses.dataclass(frozen=True)
class Statistics:
    """A statistics file a run's loader reads: which input, the flag naming the file, the
    run's own file name, and the flag that does without."""

    input: str
    flag: str
    file_name: str
    what: str
    without: str


STATISTICS = (
    Statistics(ACOUSTIC_IMAGE, "acoustic_image_stats", ACOUSTIC_IMAGE_STATS, "acoustic-image",
               "--nostandardise_acoustic_images"),
    Statistics(SPECTROGRAM, "stats_file", SPECTROGRAM_STATS, "spectrogram", "--nonormalize"),
)


def _owned(config: dict, statistics: Statistics) -> bool:
    """Whether the file the configuration names is the run directory's own, which the run
    computes from its training list (rather than one a user gave, maybe of another list)."""
    path = config.get(statistics.flag)
    return path is not None and path == _own_file(config, statistics.file_name)


def input_statistics(config: dict, plan: experiment.Plan) -> None:
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
        path = plan.loader.acoustic_image_stats_path if statistics.input == ACOUSTIC_IMAGE else plan.loader.stats_path
        if path is None:
            continue
        if config["mode"] == "train" and _owned(config, statistics):
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
        if config["mode"] == "train" and (recorded is None or recorded["fingerprint"] != stats.provenance(
                **_own_statistics_source(config, plan, statistics.input))["fingerprint"]):
            logging.warning("%s: %s statistics of %s, not of --train_file %s; used as given", path, statistics.what,
                            recorded["list"] if recorded else "a list it does not record (an older file)",
                            config["train_file"])


def _own_statistics_source(config: dict, plan: experiment.Plan, input_name: str) -> dict:
    """The arguments of `stats.compute_statistics` and `stats.provenance` for a run's own
    statistics of an input."""
    if input_name == ACOUSTIC_IMAGE:  # 1-s windows of records spread through the list
        loader = stats.acoustic_image_config(config["train_file"], config.get("data_root"), plan.flavour)
        return {"records": config["train_file"], "config": loader, "root": config.get("data_root"),
                "input_name": ACOUSTIC_IMAGE, "max_records": STATS_RECORDS}
    # every window of the training list, as the stats tool and (B)'s compute_stats
    return {"records": config["train_file"], "config": plan.loader, "root": config.get("data_root"),
            "input_name": SPECTROGRAM}


def _unusable(path: str, plan: experiment.Plan, statistics: Statistics) -> str | None:
    """Why the loader would refuse the statistics file at `path` (missing, not finite, of
    another shape or settings), None when it takes it."""
    if not os.path.isfile(path):
        return "missing"
    load = stats.load_acoustic_image_normalisation if statistics.input == ACOUSTIC_IMAGE else stats.load_normalisation
    try:
        load(plan.loader)
    except (ValueError, FloatingPointError) as err:
        return str(err)
    return None


def dataset(list_file: str, loader, config: dict, epoch: int = 0, training: bool = True,
            metadata: bool = False) -> tf.data.Dataset:
    """Batches of a list for `loader`: training crops of `epoch`, or the evaluation windows.
    Without `metadata`, the windows' recording names and first seconds are left out, since
    Keras would try to reduce them across replicas."""
    throughput = Throughput(prefetch=config.get("buffer_size") or -1, deterministic=config.get("deterministic") or None)
    loader = loader if training else dataclasses.replace(loader, training=False)
    batches = make_dataset(list_file, loader, throughput, batch_size=config["batch_size"], epochs=1,
                            first_epoch=epoch, root=config.get("data_root"))
    if training and config.get("steps_per_epoch"):
        batches = batches.take(config["steps_per_epoch"])
    if not metadata:
        batches = batches.map(lambda batch: {k: v for k, v in batch.items() if k not in (RECORDING, FIRST_SECOND)})
    options = tf.data.Options()
    # Windows come from a generator of clips, not from files: shard by element across workers.
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return batches.with_options(options)


def build(config: dict, plan: experiment.Plan, strategy: tf.distribute.Strategy):
    if config.get("mixed_precision"):
        keras.mixed_precision.set_global_policy("mixed_float16")
    keras.utils.set_random_seed(config.get("seed") or 0)
    if config.get("deterministic"):
        tf.config.experimental.enable_op_determinism()
    with strategy.scope():
        stage = experiment.build_stage(plan, config)
        # TF1's AdamOptimizer's epsilon, which both originals trained with (Keras' default is 1e-7).
        stage.compile(optimizer=keras.optimizers.Adam(config["learning_rate"], epsilon=1e-8),
                      jit_compile=bool(config.get("jit_compile")))
    return stage


def orient_audio_map(config: dict, plan: experiment.Plan, stage, run_dir: Path | None = None) -> dict | None:
    """`SelfSupervised.orient_audio_map` on the first training batch, for a self-supervised
    DualCamNet that starts from its initialisers: not when `run_dir` holds a state training
    will resume from (its weights replace these), nor from init checkpoints. evaluate.py's
    random-init baseline is the stage as training started. Every worker of a run draws the
    same batch and weights, so all agree."""
    if not config.get("orient_audio_map") or config.get("acoustic_init_checkpoint") or any(
            config.get(flag) for flag in ("init_checkpoint", "restore_checkpoint")):
        return None
    if run_dir is not None and will_resume(run_dir):
        return None
    if plan.stage != "self_supervised" or stage.audio_key != ACOUSTIC_IMAGE:
        return None
    # In the loader's order, not whichever window is ready first: evaluate.py must see the batch training saw.
    batch = next(iter(dataset(config["train_file"], plan.loader, {**config, "deterministic": True}, 0)))
    return stage.orient_audio_map(batch, config.get("seed") or 0)


def describe_batch(config: dict, plan: experiment.Plan, epoch: int, batch: int) -> str:
    """The windows of training batch `batch` of `epoch`, drawn again from (seed, epoch) without
    reading a record. Batches hold them in this order only with --deterministic; otherwise
    parallel reads reorder them within the epoch."""
    windows = window_dataset(find_clips(record_paths(config["train_file"], config.get("data_root")),
                                        plan.loader.total_length), plan.loader, epochs=1, first_epoch=epoch)
    size = config["batch_size"]
    names = ", ".join(f"{window[RECORDING].numpy().decode()} from {int(window[FIRST_SECOND])} s"
                      for window in windows.skip(batch * size).take(size))
    return names if config.get("deterministic") else f"{names} (in drawing order; exact with --deterministic)"


def _export_networks(stage, run_dir: Path) -> dict[str, str]:
    out = run_dir / "networks"
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for role, net in experiment.network_roles(stage).items():
        paths[role] = str(out / f"{role}.weights.h5")
        net.save_weights(paths[role])
    return paths


def unused_seconds(config: dict, plan: experiment.Plan) -> dict[str, int]:
    """Per list of the run, the seconds no window holds (see `windows.seconds_in_no_window`)."""
    lists = {"train_file": True, "valid_file": False} if config["mode"] == "train" else {"test_file": False}
    return {flag.removesuffix("_file"): seconds_in_no_window(
        find_clips(record_paths(config[flag], config.get("data_root")), plan.loader.total_length),
        dataclasses.replace(plan.loader, training=training)) for flag, training in lists.items() if config.get(flag)}


def run(config: dict) -> dict:
    config, plan = complete_config(config)
    unused = unused_seconds(config, plan)
    if any(unused.values()):
        logging.warning("seconds of the lists in no window (clips shorter than a %d-s sample, or tails of "
                        "evaluation clips): %s", plan.loader.sample_length, unused)
    # Before any TensorFlow op: a multi-worker strategy configures the runtime's collectives.
    strategy = make_strategy(config.get("logical_cpus") or 0)
    run_dir = process_run_dir(run_directory(config))
    logs_dir = Path(config["tensorboard"]) / config["exp_name"] if config.get("tensorboard") else run_dir / "logs"
    if config["mode"] == "test":
        input_statistics(config, plan)
        return _test(config, plan, build(config, plan, strategy), run_dir, logs_dir)

    with restart.undone_unless_trained([run_directory(config), run_dir, logs_dir]) as first_step:
        config = restart.resumed_config(config, run_dir)
        input_statistics(config, plan)
        stage = build(config, plan, strategy)
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "config.json").write_text(json.dumps(config, indent=1, default=str))
        for flag in ("init_checkpoint", "restore_checkpoint"):
            if config.get(flag):
                restore_weights(stage, config[flag])
        orientation = orient_audio_map(config, plan, stage, run_dir)
        validation = None
        if config.get("valid_file"):
            validation = dataset(config["valid_file"], plan.loader, config, training=False)
        callbacks = [first_step, restart.ConfiguredLearningRate(config["learning_rate"])]
        if validation is not None and VIDEO_FRAMES in plan.loader.inputs:
            callbacks.append(ImageLogger(str(logs_dir), next(iter(validation))))
        summary = train(stage, lambda epoch: dataset(config["train_file"], plan.loader, config, epoch), validation,
                        config["num_epochs"], run_dir, plan.monitor, plan.monitor_mode, config["save_every_steps"],
                        callbacks, verbose=config.get("verbose", 2), logs_dir=logs_dir,
                        describe_batch=lambda epoch, batch: describe_batch(config, plan, epoch, batch))
    summary["seconds_in_no_window"] = unused
    if orientation:
        summary["audio_map_orientation"] = orientation
    best = run_dir / "checkpoints" / "best"
    if validation is not None and best.is_dir():
        restore_weights(stage, best)
    summary["networks"] = _export_networks(stage, run_dir)
    write_hparams(str(logs_dir), {k: v for k, v in config.items() if k not in ("networks", restart.CONFIG_CHANGES)}, {
        k: v for k, v in summary["logs"].items() if k.startswith("val_")})
    return summary


def _test(config: dict, plan: experiment.Plan, stage, run_dir: Path, logs_dir: Path) -> dict:
    checkpoint = Path(config.get("restore_checkpoint") or run_dir / "checkpoints" / "best")
    restore_weights(stage, checkpoint)
    batches = dataset(config["test_file"], plan.loader, config, training=False)
    metrics = stage.evaluate(batches, verbose=0, return_dict=True)
    metrics = {key: float(value) for key, value in metrics.items()}
    # The projector shows the features evaluate.py measures: the audio embedding of the
    # self-supervised stages (summed audio map, L2-normalised), the logits of the others.
    label = experiment.LABEL[plan.flavour]
    extraction = extract(stage, dataset(config["test_file"], plan.loader, config, training=False, metadata=True),
                         (label,))
    if len(extraction):
        features = extraction.features.get("audio", extraction.features.get("logits"))
        write_projector(str(logs_dir / "projector"), features, [str(i) for i in extraction.labels[label]])
    out = (checkpoint if checkpoint.is_dir() else checkpoint.parent) / "metrics.json"
    out.write_text(json.dumps({"checkpoint": str(checkpoint), "test_file": config["test_file"], **metrics}, indent=1))
    return {"metrics_file": str(out), **metrics}
