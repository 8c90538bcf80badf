"""Evaluates a run (its best checkpoint, a given one, or its stage randomly initialised) on
split lists: kNN, cross-modal retrieval, classification and sound-source localisation.

The stage is rebuilt from the run's `config.json` (the effective flags main.py wrote) with
main.py's own functions (`trainer.cli.complete_config`, `build`, `dataset`,
`trainer.checkpoints.restore_weights`), so an evaluation sees the networks, inputs and
windows training saw. What is measured (see `evaluation.extract` for the features):

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

Results are a plain dict (JSON-ready; layout in `evaluate_run`); `format_table` prints one
or several side by side.
"""
from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import tensorflow as tf

from dataloader.config import ACOUSTIC_IMAGE
from dataloader.schema import ACIVW, AVIA
from dualcam.layouts import ACIVW_CLASSES, AVIA_ACTIONS
from evaluation import localise, metrics
from evaluation.extract import Extraction, Extractor
from logger.callbacks import write_hparams, write_projector
from trainer import cli, experiment
from trainer.checkpoints import restore_weights
from trainer.experiment import FlagError

RUN_CONFIG = "config.json"
CLASS_NAMES = {ACIVW: ACIVW_CLASSES, AVIA: AVIA_ACTIONS}
MAP_NAMES = ("attention", "audio_map", "video_map", "acoustic_energy", "acoustic_energy_12x16", "centre")


def find_run_dir(checkpoint: str | Path) -> Path | None:
    """The run directory holding a checkpoint: the nearest parent with a config.json."""
    for parent in Path(checkpoint).resolve().parents:
        if (parent / RUN_CONFIG).is_file():
            return parent
    return None


def run_checkpoint(run_dir: str | Path) -> Path:
    """The checkpoint main.py --mode test restores, `checkpoints/best`; a run trained without
    validation has none, and then its `checkpoints/last`."""
    for name in ("best", "last"):
        directory = Path(run_dir) / "checkpoints" / name
        if tf.train.latest_checkpoint(str(directory)):
            return directory
    raise FlagError("exp_name", f"{run_dir}: no checkpoint in checkpoints/best nor checkpoints/last (train the run, "
                    "or evaluate its stage --random_init)")


def knn_loader(loader, seed: int, crops: int = 1):
    """The loader of kNN run `seed`: `crops` random training windows per clip, all kept, as
    they are (not mirrored)."""
    return dataclasses.replace(loader, training=True, seed=seed, number_of_crops=crops, drop_remainder=False,
                               mirror=False)


def build(config: dict, checkpoint: str | Path | None):
    """main.py's stage for a configuration, with the checkpoint's weights (None: as
    training starts from the configuration's seed). Returns (config, plan, stage)."""
    config = dict(config)
    config["mode"] = "train" if config.get("train_file") else "test"
    config, plan = cli.complete_config(config)
    stage = cli.build(config, plan, tf.distribute.get_strategy())
    if checkpoint is not None:
        restore_weights(stage, checkpoint)
    elif config["mode"] == "train":
        cli.orient_audio_map(config, plan, stage)
    return config, plan, stage


def _configuration(run_dir: str | Path | None, config: dict | None, overrides: dict) -> dict:
    """The run's effective flags, updated with `config`, then with the overrides that are set."""
    merged = json.loads((Path(run_dir) / RUN_CONFIG).read_text()) if run_dir is not None else {}
    merged.update(config or {})
    merged.update({key: value for key, value in overrides.items() if value is not None})
    if not merged.get("test_file"):
        raise FlagError("test_file", "needed: the run's configuration names no test list")
    return merged


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


def _localisation(test: Extraction, plan: experiment.Plan, raw_root: str | Path, tolerance: float) -> dict:
    truth = localise.true_positions(test.recording, test.first_second, plan.loader.sample_length, plan.flavour,
                                    raw_root)
    maps = {"centre": (localise.centre_map(len(test)), localise.FULL_VIEW)}
    for name in ("attention", "audio_map", "video_map"):
        if getattr(test, name) is not None:
            maps[name] = (getattr(test, name), localise.video_view(plan.loader))
    if test.acoustic_energy is not None:
        maps["acoustic_energy"] = (test.acoustic_energy, localise.FULL_VIEW)
        maps["acoustic_energy_12x16"] = (localise.pool(test.acoustic_energy, 3), localise.FULL_VIEW)
    result = {"tolerance_px": tolerance, "image_size": list(localise.IMAGE_SIZE), "windows": len(test)}
    for name in MAP_NAMES:
        if name in maps:
            scores = localise.localise(maps[name][0], truth, maps[name][1], tolerance)
            result[name] = {key: value for key, value in scores.items() if key != "tolerance_px"}
    return result


def evaluate_run(run_dir: str | Path | None = None, *, config: dict | None = None,
                 checkpoint: str | Path | None = None, random_init: bool = False, train_file: str | None = None,
                 valid_file: str | None = None, test_file: str | None = None, data_root: str | None = None,
                 raw_root: str | Path | None = None, batch_size: int | None = None, runs: int = 5,
                 knn_crops: int = 1, tolerance: float = localise.DEFAULT_TOLERANCE,
                 tensorboard: str | Path | None = None, name: str | None = None) -> dict:
    """Evaluates a run's stage on test windows (kNN also on training and validation ones).

    The stage comes from `run_dir`'s config.json, updated with `config` (or from `config`
    alone: main.py's flags as a dict, e.g. {"model_1": "ResNet18_v1", "model_2":
    "DualCamHybridNet", "train_file": ...}); lists default to the configuration's. Weights:
    `checkpoint`, else the run's best (`run_checkpoint`), or none with `random_init`.
    `raw_root` enables localisation; `tensorboard` is a directory to write the projector
    embeddings, the confusion matrix image and the results as hparams into.

    Returns {"name", "run": {what was evaluated}, "samples": {"test", "validation",
    "train_per_run"}, and as the stage allows: "triplet_accuracy", "knn": {feature:
    {"test_accuracy_mean", "test_accuracy_std", "k": [per run], "runs": [{"seed", "k",
    "validation_accuracy", "test_accuracy"}]}}, "retrieval": {"audio_to_video",
    "video_to_audio": {"rank_K", "mAP"}}, "classification": {"accuracy",
    "per_class_accuracy", "confusion_matrix", "class_names"}, "localisation":
    {"tolerance_px", "image_size", "windows", map: {"pointing_accuracy", "mean_error_px",
    "median_error_px"}}}.
    """
    if checkpoint is not None and run_dir is None:
        run_dir = find_run_dir(checkpoint)
    overrides = {"train_file": train_file, "valid_file": valid_file, "test_file": test_file, "data_root": data_root,
                 "batch_size": batch_size}
    merged = _configuration(run_dir, config, overrides)
    if random_init:
        checkpoint = None
    elif checkpoint is None:
        if run_dir is None:
            raise ValueError("name a run or a checkpoint, or evaluate the stage with random_init")
        checkpoint = run_checkpoint(run_dir)
    config, plan, stage = build(merged, checkpoint)
    label = experiment.LABEL[plan.flavour]

    def dataset(list_file: str, loader, training: bool = False) -> tf.data.Dataset:
        # steps_per_epoch would cut the kNN training windows short. The order is kept: the kNN
        # training windows come in a training loader's order, which is otherwise whichever
        # window is ready first, and the order of the samples moves kNN's ties and the last
        # bits of sums, so two evaluations of one checkpoint would differ.
        return cli.dataset(list_file, loader, {**config, "steps_per_epoch": None, "deterministic": True},
                           training=training, metadata=True)

    # Blocks as long as a window hold one window each: every kNN run would draw the same ones.
    draws, knn_crops = (1, 1) if plan.loader.total_length == plan.loader.sample_length else (runs, knn_crops)
    evaluation = dataclasses.replace(plan.loader, training=False)
    if raw_root is not None and ACOUSTIC_IMAGE not in evaluation.inputs:
        # The acoustic-energy baseline needs the acoustic images, whatever the stage reads.
        evaluation = dataclasses.replace(evaluation, inputs=(*evaluation.inputs, ACOUSTIC_IMAGE))
    extract = Extractor(stage)
    test = extract(dataset(config["test_file"], evaluation), (label,), maps=True)
    results: dict = {
        "name": name or f"{config.get('exp_name', 'stage')}{' (random init)' if random_init else ''}",
        "run": {"run_dir": None if run_dir is None else str(run_dir),
                "checkpoint": None if checkpoint is None else str(checkpoint), "random_init": random_init,
                "stage": plan.stage, "flavour": plan.flavour, "networks": plan.networks,
                "sample_length": plan.loader.sample_length, "batch_size": config["batch_size"],
                **{key: config.get(key) for key in ("train_file", "valid_file", "test_file")},
                "raw_root": None if raw_root is None else str(raw_root), "knn_runs": runs, "knn_crops": knn_crops},
        "samples": {"test": len(test)},
    }
    if test.triplet_counts is not None:
        correct, total = test.triplet_counts
        results["triplet_accuracy"] = correct / total if total else None

    if config.get("train_file") and config.get("valid_file") and runs > 0:
        valid = extract(dataset(config["valid_file"], plan.loader), (label,))
        trains = [extract(dataset(config["train_file"], knn_loader(plan.loader, seed, knn_crops), True),
                          (label,)).in_window_order() for seed in range(draws)]
        trains *= runs // draws
        results["samples"].update(validation=len(valid), train_per_run=len(trains[0]))
        results["knn"] = {feature: _knn(feature, trains, valid, test, label) for feature in test.features}

    names = list(CLASS_NAMES[plan.flavour])
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
        results["localisation"] = _localisation(test, plan, raw_root, tolerance)
    if tensorboard is not None:
        write_tensorboard(tensorboard, results, test, label, names, config)
    return results


def flat_metrics(results: dict) -> dict[str, float]:
    """The scalar results under slash-separated names; per-run, per-class and settings left out."""
    flat = {}

    def walk(prefix: str, value) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key not in ("runs", "tolerance_px", "windows"):
                    walk(f"{prefix}/{key}", item)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            flat[prefix] = float(value)

    for section in ("triplet_accuracy", "knn", "retrieval", "classification", "localisation"):
        if results.get(section) is not None:
            walk(section, results[section])
    return flat


def write_tensorboard(log_dir: str | Path, results: dict, test: Extraction, label: str, names: Sequence[str],
                      config: dict) -> None:
    log_dir = Path(log_dir)
    class_labels = [names[i] for i in test.labels[label]]
    for feature, values in test.features.items():
        write_projector(str(log_dir / f"projector_{feature}"), values, class_labels)
    if "classification" in results:
        with tf.summary.create_file_writer(str(log_dir / "images")).as_default():
            image = confusion_image(np.array(results["classification"]["confusion_matrix"]), names)
            tf.summary.image("confusion_matrix", image[None], step=0)
    write_hparams(str(log_dir), {key: value for key, value in config.items() if key != "networks"},
                  flat_metrics(results))


def confusion_image(matrix: np.ndarray, names: Sequence[str], cell: int = 28) -> np.ndarray:
    """A confusion matrix (rows: true class, columns: predicted) as an RGB uint8 picture:
    cells shaded by the share of their row, counts written in them, class names on the left."""
    from PIL import Image, ImageDraw

    n = len(matrix)
    margin = 8 + 6 * max(len(str(name)) for name in names)
    picture = Image.new("RGB", (margin + n * cell + 1, cell + n * cell + 1), "white")
    draw = ImageDraw.Draw(picture)
    rows = matrix.sum(axis=1, keepdims=True)
    shares = np.divide(matrix, rows, out=np.zeros(matrix.shape), where=rows > 0)
    for i in range(n):
        draw.text((4, cell + i * cell + cell // 3), str(names[i]), fill="black")
        draw.text((margin + i * cell + cell // 3, cell // 3), str(i), fill="black")
        for j in range(n):
            level = int(255 * (1 - shares[i, j]))
            box = (margin + j * cell, cell + i * cell, margin + (j + 1) * cell, cell + (i + 1) * cell)
            draw.rectangle(box, fill=(level, level, 255), outline=(200, 200, 200))
            if matrix[i, j]:
                draw.text((box[0] + 3, box[1] + cell // 3), str(int(matrix[i, j])),
                          fill="white" if shares[i, j] > 0.5 else "black")
    return np.asarray(picture)


def _rows(results: dict) -> list[tuple[str, str]]:
    splits = {"test": "test windows", "validation": "validation windows", "train_per_run": "training windows per run"}
    rows = [(splits[split], str(count)) for split, count in results.get("samples", {}).items()]
    if results.get("triplet_accuracy") is not None:
        rows.append(("triplet accuracy", f"{results['triplet_accuracy']:.3f}"))
    for feature, knn in results.get("knn", {}).items():
        rows.append((f"kNN {feature} accuracy", f"{knn['test_accuracy_mean']:.3f} ± {knn['test_accuracy_std']:.3f}"))
        rows.append((f"kNN {feature} k per run", " ".join(str(k) for k in knn["k"])))
        if "train_class_share" in knn:  # results saved before it was measured lack it
            rows.append((f"{feature} variance / class share",
                         f"{knn['train_variance']:.4f} / {knn['train_class_share']:.2f}"))
    for direction, scores in results.get("retrieval", {}).items():
        for key, value in scores.items():
            rows.append((f"{direction.replace('_to_', ' -> ')} {key.replace('rank_', 'Rank-')}", f"{value:.3f}"))
    classification = results.get("classification")
    if classification:
        rows.append(("classification accuracy", f"{classification['accuracy']:.3f}"))
        for name, value in zip(classification["class_names"], classification["per_class_accuracy"]):
            if value is not None:
                rows.append((f"  accuracy of {name}", f"{value:.3f}"))
    localisation = results.get("localisation")
    if localisation:
        tolerance = localisation["tolerance_px"]
        for name in MAP_NAMES:
            if name in localisation:
                scores = localisation[name]
                rows.append((f"{name}: pointing within {tolerance:g} px", f"{scores['pointing_accuracy']:.3f}"))
                rows.append((f"{name}: mean / median error px",
                             f"{scores['mean_error_px']:.1f} / {scores['median_error_px']:.1f}"))
    return rows


def format_table(results: dict | Sequence[tuple[str, dict]]) -> str:
    """One evaluation's results, or several (name, results) side by side, as a text table;
    a metric a model lacks shows as '-'."""
    models = [(results.get("name", "value"), results)] if isinstance(results, dict) else list(results)
    columns = [dict(_rows(result)) for _, result in models]
    metrics_order = list(dict.fromkeys(label for _, result in models for label, _ in _rows(result)))
    header = ["metric", *(name for name, _ in models)]
    body = [[label, *(column.get(label, "-") for column in columns)] for label in metrics_order]
    widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return "  ".join([cells[0].ljust(widths[0]), *(c.rjust(w) for c, w in zip(cells[1:], widths[1:]))]).rstrip()

    return "\n".join([line(header), "  ".join("-" * w for w in widths), *(line(row) for row in body)])
