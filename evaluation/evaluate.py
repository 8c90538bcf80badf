"""Evaluates a run (its best checkpoint, a given one, or its stage randomly initialised) on
split lists: kNN, cross-modal retrieval, classification and sound-source localisation (a
sync, content_identity or caption_alignment run: offset prediction, verification, or
caption retrieval and phrase grounding: `evaluation.sync`, `evaluation.identity`,
`evaluation.captions`).

The stage is rebuilt from the run's `config.json` (the effective flags main.py wrote) with
main.py's own functions (`trainer.plan.complete`, `trainer.experiment.build`,
`trainer.data.dataset`, `trainer.checkpoints.restore_weights`), so an evaluation sees the
networks, inputs and windows training saw. The features and maps are the stage's own
(`outputs`, see `evaluation.extract`). What is measured (see `evaluation.extract` for the features):

- kNN (A): for every feature, k in 7, 9, .., 15 chosen on validation, accuracy on test
  (`metrics.knn`), in `runs` runs. A checkpoint is deterministic, so the runs differ by
  their training windows: run r takes `knn_crops` random windows per training clip (a
  block of the run's total_length), drawn as the loader draws training crops with seed r
  (epoch 0). Blocks as long as a window ((A)'s 2-s blocks of 2-s samples) hold one window
  each: every run would draw the same ones, so they are extracted once, each once, as
  (A)'s kNN took them, and the runs agree; validation and test use
  the evaluation windows (consecutive, non-overlapping). Reported: every run, the mean and
  the (population, ddof 0) standard deviation of the test accuracy, and the chosen k's.
  Beside it, on run 0's training windows, the feature's variance and its class share
  (`metrics.class_share`): the share is the part of the spread kNN can classify by, and the
  variance shows whether training collapsed the features onto a common direction.
- Retrieval (self-supervised stages): test audio queries against the test videos and the
  reverse, by the distance the loss trains, d(a_i, v_j) = |x_ij - y_i|^2 (as (A)'s
  retrieval ranked audio to video; video to audio reads the same matrix by column); a hit
  is the same class; Rank-1/2/5/10/30 (those no larger than the gallery) and mAP
  (`metrics.retrieval`).
- Classification (stages with logits): accuracy, per-class accuracy, confusion matrix.
- Triplet accuracy on test (self-supervised stages), as main.py --mode test reports it.
- Localisation (with the simulator's raw recordings, `raw_root`): on the test windows, the
  peak of each map against the target's true position (`evaluation.localise`): the
  audio-visual attention map (self-supervised stages) and, to tell which branch localises,
  the audio map alone (sum over channels of a) and the video map alone (of v * v); the
  self-supervised objective is indifferent to whether the audio map rises or falls with the
  sound's energy, and only when it rises does the attention point at the source. Then the
  acoustic-image energy at its
  own 36 x 48 resolution and pooled to the 12 x 16 of the attention map, and the image
  centre (the trivial baseline). The energy is beamformed, so it tells how well the data
  can be localised; the attention map against it tells whether learning kept that.

Results are a plain dict (JSON-ready; layout in `evaluate_run`); `evaluation.report` prints
them as a table and writes them to TensorBoard.
"""
from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import tensorflow as tf

from dataloader.camera import IMAGE_SIZE
from dataloader.config import ACOUSTIC_IMAGE
from evaluation import captions, identity, localise, metrics, sync
from evaluation.extract import Extraction, Extractor
from evaluation.report import MAP_NAMES, flat_metrics, write_tensorboard
from logger.callbacks import write_hparams
from trainer import data, experiment, plan, session
from trainer.checkpoints import restore_weights
from trainer.config import FlagError, RunConfig
from trainer.rundir import RunDir, find_run_dir


def run_checkpoint(run_dir: str | Path) -> Path:
    """The checkpoint main.py --mode test restores, `checkpoints/best`; a run trained without
    validation has none, and then its `checkpoints/last`."""
    run = RunDir(Path(run_dir))
    for directory in (run.best, run.last):
        if tf.train.latest_checkpoint(str(directory)):
            return directory
    raise FlagError("exp_name", f"{run_dir}: no checkpoint in checkpoints/best nor checkpoints/last (train the run, "
                    "or evaluate its stage --random_init)")


def knn_loader(loader, seed: int, crops: int = 1):
    """The loader of kNN run `seed`: `crops` random training windows per clip, all kept, as
    they are (not mirrored)."""
    return dataclasses.replace(loader, training=True, seed=seed, number_of_crops=crops, drop_remainder=False,
                               mirror=False)


def build(config: RunConfig | dict, checkpoint: str | Path | None):
    """main.py's stage for a configuration (or a dict of its flags), with the checkpoint's
    weights (None: as training starts from the configuration's seed). Returns (config,
    plan, stage)."""
    config = config if isinstance(config, RunConfig) else _of_flags(config)
    config, planned = plan.complete(config.replace(mode="train" if config.train_file else "test"))
    stage = experiment.build(config, planned, tf.distribute.get_strategy())
    if checkpoint is not None:
        restore_weights(stage, checkpoint)
    elif config.mode == "train":
        session.orient_audio_map(config, planned, stage)
    return config, planned, stage


def _configuration(run_dir: str | Path | None, config: dict | None, overrides: dict) -> RunConfig:
    """The run's effective flags, updated with `config`, then with the overrides that are set."""
    merged = json.loads(RunDir(Path(run_dir)).config.read_text()) if run_dir is not None else {}
    merged.update(config or {})
    merged.update({key: value for key, value in overrides.items() if value is not None})
    if not merged.get("test_file"):
        raise FlagError("test_file", "needed: the run's configuration names no test list")
    return _of_flags(merged)


def _of_flags(values: dict) -> RunConfig:
    """The configuration of main.py's flags as a dict; one that names no run directory has
    none (to keep statistics in), unlike main.py's default."""
    return RunConfig.from_dict({"checkpoint_dir": None, **values})


def _knn(name: str, trains: Sequence[Extraction], valid: Extraction, test: Extraction, label: str) -> dict:
    runs = []
    for seed, train in enumerate(trains):
        scores = metrics.knn((train.features[name], train.labels[label]),
                             (valid.features[name], valid.labels[label]), (test.features[name], test.labels[label]))
        runs.append({"seed": seed, **scores})
    accuracy = np.array([run["test_accuracy"] for run in runs])
    spread = metrics.class_share(trains[0].features[name], trains[0].labels[label])
    return {"test_accuracy_mean": float(accuracy.mean()), "test_accuracy_std": float(accuracy.std()),
            "k": [run["k"] for run in runs], "runs": runs,
            **{f"train_{key}": value for key, value in spread.items()}}


def _localisation(test: Extraction, planned: plan.Plan, raw_root: str | Path, tolerance: float) -> dict:
    truth = localise.true_positions(test.recording, test.first_second, planned.loader.sample_length,
                                    planned.flavour, raw_root)
    scored = truth.heard >= localise.HEARD
    maps = {"centre": (localise.centre_map(len(test)), localise.FULL_VIEW)}
    for name in ("attention", "audio_map", "video_map"):
        if getattr(test, name) is not None:
            maps[name] = (getattr(test, name), localise.video_view(planned.loader))
    if test.acoustic_energy is not None:
        maps["acoustic_energy"] = (test.acoustic_energy, localise.FULL_VIEW)
        maps["acoustic_energy_12x16"] = (test.acoustic_energy_pooled, localise.FULL_VIEW)
    result = {"tolerance_px": tolerance, "image_size": list(IMAGE_SIZE), "windows": int(scored.sum()),
              "windows_without_target": int((~scored).sum())}
    if not scored.any():
        return result
    for name in MAP_NAMES:
        if name in maps:
            scores = localise.localise(maps[name][0][scored], truth.positions[scored], maps[name][1], tolerance)
            result[name] = {key: value for key, value in scores.items() if key != "tolerance_px"}
    return result


def evaluate_run(run_dir: str | Path | None = None, *, config: dict | None = None,
                 checkpoint: str | Path | None = None, random_init: bool = False, train_file: str | None = None,
                 valid_file: str | None = None, test_file: str | None = None, data_root: str | None = None,
                 raw_root: str | Path | None = None, batch_size: int | None = None, runs: int = 5,
                 knn_crops: int = 1, tolerance: float = localise.DEFAULT_TOLERANCE,
                 tensorboard: str | Path | None = None, name: str | None = None,
                 candidates: Sequence[float] | None = None, trials: str | None = None,
                 trials_out: str | Path | None = None, clip_seconds: int = identity.CLIP_SECONDS) -> dict:
    """Evaluates a run's stage on test windows (kNN also on training and validation ones).

    The stage comes from `run_dir`'s config.json, updated with `config` (or from `config`
    alone: main.py's flags as a dict, e.g. {"model_1": "ResNet18_v1", "model_2":
    "DualCamHybridNet", "train_file": ...}); lists default to the configuration's. Weights:
    `checkpoint`, else the run's best (`run_checkpoint`), or none with `random_init`.
    `raw_root` enables localisation; `tensorboard` is a directory to write the projector
    embeddings, the confusion matrix image and the results as hparams into. A sync run is
    measured by offset prediction over `candidates` ("sync": `evaluation.sync`); a
    content_identity run by verification on clips of `clip_seconds` with the trials of
    `trials`, else trials made from the test list and written to `trials_out`
    ("identity": `evaluation.identity`).

    Returns {"name", "run": {what was evaluated}, "samples": {"test", "validation",
    "train_per_run"}, and as the stage allows: "triplet_accuracy", "knn": {feature:
    {"test_accuracy_mean", "test_accuracy_std", "k": [per run], "runs": [{"seed", "k",
    "validation_accuracy", "test_accuracy"}]}}, "retrieval": {"audio_to_video",
    "video_to_audio": {"rank_K", "mAP"}}, "classification": {"accuracy",
    "per_class_accuracy", "confusion_matrix", "class_names"}, "localisation":
    {"tolerance_px", "image_size", "windows" (scored: the target sounds in at least half
    of their frames), "windows_without_target", map: {"pointing_accuracy", "mean_error_px",
    "median_error_px"}}}.
    """
    if checkpoint is not None and run_dir is None:
        found = find_run_dir(checkpoint)
        run_dir = found.path if found else None
    overrides = {"train_file": train_file, "valid_file": valid_file, "test_file": test_file, "data_root": data_root,
                 "batch_size": batch_size}
    merged = _configuration(run_dir, config, overrides)
    if random_init:
        checkpoint = None
    elif checkpoint is None:
        if run_dir is None:
            raise ValueError("name a run or a checkpoint, or evaluate the stage with random_init")
        checkpoint = run_checkpoint(run_dir)
    config, planned, stage = build(merged, checkpoint)
    run = {"run_dir": None if run_dir is None else str(run_dir),
           "checkpoint": None if checkpoint is None else str(checkpoint), "random_init": random_init,
           "stage": planned.stage, "flavour": planned.flavour, "networks": planned.networks,
           **{key: getattr(config, key) for key in ("train_file", "valid_file", "test_file")}}
    name = name or f"{config.exp_name}{' (random init)' if random_init else ''}"
    # Stages measured their own way: the results' section and how.
    own = {"sync": ("sync", lambda: sync.evaluate_stage(stage, planned, config, candidates)),
           "content_identity": ("identity", lambda: identity.evaluate_stage(
               stage, planned, config, trials, None if trials_out is None else str(trials_out), clip_seconds)),
           "caption_alignment": ("captions", lambda: captions.evaluate_stage(stage, planned, config, raw_root))}
    if planned.stage in own:
        section, measure = own[planned.stage]
        results = {"name": name, "run": run, section: measure()}
        if tensorboard is not None:
            settings = {key: value for key, value in config.as_dict().items()
                        if key not in ("networks", "config_changes")}
            write_hparams(str(tensorboard), settings, flat_metrics(results))
        return results
    label = planned.dataset.class_label

    def dataset(list_file: str, loader, training: bool = False) -> tf.data.Dataset:
        # steps_per_epoch would cut the kNN training windows short. The order is kept: the kNN
        # training windows come in a training loader's order, which is otherwise whichever
        # window is ready first, and the order of the samples moves kNN's ties and the last
        # bits of sums, so two evaluations of one checkpoint would differ.
        return data.dataset(list_file, loader, config.replace(steps_per_epoch=None, deterministic=True),
                            training=training, metadata=True)

    # Blocks as long as a window hold one window each: every kNN run would draw the same ones.
    loader = planned.loader
    draws, knn_crops = (1, 1) if loader.total_length == loader.sample_length else (runs, knn_crops)
    evaluation = dataclasses.replace(loader, training=False)
    if raw_root is not None and ACOUSTIC_IMAGE not in evaluation.inputs:
        # The acoustic-energy baseline needs the acoustic images, whatever the stage reads.
        evaluation = dataclasses.replace(evaluation, inputs=(*evaluation.inputs, ACOUSTIC_IMAGE))
    extract = Extractor(stage)
    test = extract(dataset(config.test_file, evaluation), (label,), maps=True)
    results: dict = {
        "name": name,
        "run": {**run, "sample_length": loader.sample_length, "batch_size": config.batch_size,
                "raw_root": None if raw_root is None else str(raw_root), "knn_runs": runs, "knn_crops": knn_crops},
        "samples": {"test": len(test)},
    }
    if test.triplet_counts is not None:
        correct, total = test.triplet_counts
        results["triplet_accuracy"] = correct / total if total else None

    if config.train_file and config.valid_file and runs > 0:
        valid = extract(dataset(config.valid_file, loader), (label,))
        trains = [extract(dataset(config.train_file, knn_loader(loader, seed, knn_crops), True),
                          (label,)).in_window_order() for seed in range(draws)]
        trains *= runs // draws
        results["samples"].update(validation=len(valid), train_per_run=len(trains[0]))
        results["knn"] = {feature: _knn(feature, trains, valid, test, label) for feature in test.features}

    names = list(planned.dataset.class_names)
    if test.audio_cells is not None:
        labels = test.labels[label]
        distances = test.attention_distances()
        results["retrieval"] = {"audio_to_video": metrics.retrieval(distances, labels, labels),
                                "video_to_audio": metrics.retrieval(distances.T, labels, labels)}
    if "logits" in test.features:
        predictions = np.argmax(test.features["logits"], axis=-1)
        results["classification"] = {**metrics.classification(test.labels[label], predictions, len(names)),
                                     "class_names": names}
    if raw_root is not None:
        results["localisation"] = _localisation(test, planned, raw_root, tolerance)
    if tensorboard is not None:
        write_tensorboard(tensorboard, results, test, label, names, config.as_dict())
    return results
