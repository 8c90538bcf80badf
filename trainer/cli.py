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
from dataloader.windows import find_clips, seconds_in_no_window
from evaluation.extract import extract
from logger.callbacks import ImageLogger, write_hparams, write_projector
from trainer import experiment
from trainer.checkpoints import restore_weights, will_resume
from trainer.distribute import make_strategy, process_run_dir
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
    """Fills unset flags from the stage's recipe; the plan is remade with them."""
    config = dict(config)
    if config.get("embedding") is None:
        config["embedding"] = int(bool(config.get("model_1") or config.get("model_2")))
    config["tensorboard"] = config.get("tensorboard") or config.get("log_dir")
    list_file = config.get("train_file") if config["mode"] == "train" else config.get("test_file")
    if not list_file:
        raise ValueError(f"--mode {config['mode']} needs --{'train' if config['mode'] == 'train' else 'test'}_file")
    first = experiment.plan({**config, "sample_length": 1, "number_of_crops": 1}, list_file)
    filled = {key: value for key, value in recipe(first).items() if config.get(key) is None}
    config.update(filled)
    if "total_length" in filled:  # a longer sample than the recipe's makes its blocks as long
        config["total_length"] = max(config["total_length"], config["sample_length"])
    # Statistics files left unset are the run's own, computed from the training list when it starts (see `run`).
    if not config.get("normalize"):
        config["stats_file"] = None
    elif SPECTROGRAM in first.loader.inputs and not config.get("stats_file"):
        config["stats_file"] = _in_run_directory(config, SPECTROGRAM_STATS, (
            "spectrograms are normalised with training-set statistics: give stats_file (python -m dataloader.stats "
            "LIST --preset hearnet_b --out FILE), a run directory (checkpoint_dir and exp_name) to compute them into, "
            "or normalize False"))
    if not config.get("standardise_acoustic_images", True):
        config["acoustic_image_stats"] = None
    elif ACOUSTIC_IMAGE in first.loader.inputs and not config.get("acoustic_image_stats"):
        config["acoustic_image_stats"] = _in_run_directory(config, ACOUSTIC_IMAGE_STATS, (
            "acoustic images are standardised with dataset statistics: give acoustic_image_stats (python -m "
            "dataloader.stats LIST --input acoustic_image --out FILE), a run directory (checkpoint_dir and exp_name) "
            "to compute them into, or standardise_acoustic_images False"))
    plan = experiment.plan(config, list_file)
    config.update(stage=plan.stage, flavour=plan.flavour, networks=plan.networks)
    return config, plan


def run_directory(config: dict) -> Path:
    return Path(config["checkpoint_dir"]) / config["exp_name"]


def _in_run_directory(config: dict, name: str, problem: str) -> str:
    if not (config.get("checkpoint_dir") and config.get("exp_name")):
        raise ValueError(problem)
    return str(run_directory(config) / name)


def input_statistics(config: dict, plan: experiment.Plan) -> None:
    """Makes the statistics files the run's loader reads (acoustic images, spectrograms), from
    its training list, unless they exist (a resumed run keeps its own; an explicit file is
    never rewritten)."""
    for input_name, path, what, flags in (
        (ACOUSTIC_IMAGE, plan.loader.acoustic_image_stats_path, "acoustic-image",
         "--acoustic_image_stats, or --nostandardise_acoustic_images if it trained on unscaled ones"),
        (SPECTROGRAM, plan.loader.stats_path, "spectrogram",
         "--stats_file, or --nonormalize if it trained on unnormalised ones"),
    ):
        if path is None or os.path.isfile(path):
            continue
        if config["mode"] != "train":
            raise ValueError(f"{path}: no {what} statistics; give the training run's with {flags}")
        if input_name == ACOUSTIC_IMAGE:  # 1-s windows of records spread through the list
            loader = stats.acoustic_image_config(config["train_file"], config.get("data_root"), plan.flavour)
            values = stats.compute_statistics(config["train_file"], loader, config.get("data_root"),
                                              input_name=ACOUSTIC_IMAGE, max_records=STATS_RECORDS)
        else:  # every window of the training list, as the stats tool and (B)'s compute_stats
            values = stats.compute_statistics(config["train_file"], plan.loader, config.get("data_root"))
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        stats.save_statistics(path, values, os.path.abspath(config["train_file"]))


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
    input_statistics(config, plan)
    stage = build(config, plan, strategy)
    run_dir = process_run_dir(run_directory(config))
    logs_dir = Path(config["tensorboard"]) / config["exp_name"] if config.get("tensorboard") else run_dir / "logs"
    if config["mode"] == "test":
        return _test(config, plan, stage, run_dir, logs_dir)

    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.json").write_text(json.dumps(config, indent=1, default=str))
    for flag in ("init_checkpoint", "restore_checkpoint"):
        if config.get(flag):
            restore_weights(stage, config[flag])
    orientation = orient_audio_map(config, plan, stage, run_dir)
    validation = None
    if config.get("valid_file"):
        validation = dataset(config["valid_file"], plan.loader, config, training=False)
    callbacks = []
    if validation is not None and VIDEO_FRAMES in plan.loader.inputs:
        callbacks.append(ImageLogger(str(logs_dir), next(iter(validation))))
    summary = train(stage, lambda epoch: dataset(config["train_file"], plan.loader, config, epoch), validation,
                    config["num_epochs"], run_dir, plan.monitor, plan.monitor_mode, config["save_every_steps"],
                    callbacks, verbose=config.get("verbose", 2), logs_dir=logs_dir)
    summary["seconds_in_no_window"] = unused
    if orientation:
        summary["audio_map_orientation"] = orientation
    best = run_dir / "checkpoints" / "best"
    if validation is not None and best.is_dir():
        restore_weights(stage, best)
    summary["networks"] = _export_networks(stage, run_dir)
    write_hparams(str(logs_dir), {k: v for k, v in config.items() if k != "networks"}, {
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
