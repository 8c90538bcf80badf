"""How an evaluation's results are reported: a text table of one or several side by
side, and TensorBoard (projector embeddings, the confusion matrix image, the results as
hyper-parameters' metrics). The results are `evaluation.evaluate.evaluate_run`'s dict."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import tensorflow as tf

from evaluation.extract import Extraction
from logger.callbacks import write_hparams, write_projector

MAP_NAMES = ("attention", "audio_map", "video_map", "acoustic_energy", "acoustic_energy_12x16", "centre")


def flat_metrics(results: dict) -> dict[str, float]:
    """The scalar results under slash-separated names; per-run, per-class and settings left out."""
    flat = {}

    def walk(prefix: str, value) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key not in ("runs", "tolerance_px", "windows", "windows_without_target", "by_group"):
                    walk(f"{prefix}/{key}", item)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            flat[prefix] = float(value)

    for section in ("triplet_accuracy", "knn", "retrieval", "classification", "localisation", "sync", "identity",
                    "captions"):
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
    rows.extend(_sync_rows(results.get("sync")))
    rows.extend(_identity_rows(results.get("identity")))
    rows.extend(_caption_rows(results.get("captions")))
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


SYNC_METHODS = (("model", "model"), ("cross_correlation", "cross-correlation"), ("random", "random"))


def _sync_rows(sync: dict | None) -> list[tuple[str, str]]:
    """Offset prediction: recordings and candidates, then each method's accuracy within the
    window and its error, overall and per group."""
    if not sync:
        return []
    low, high = sync["window_ms"]
    rows = [("recordings", str(sync["recordings"])),
            ("candidate offsets", f"{len(sync['candidates'])}, {sync['candidates'][0]:+.3f} to "
                                  f"{sync['candidates'][-1]:+.3f} s")]
    for key, method in SYNC_METHODS:
        if key not in sync:
            continue
        scores = sync[key]
        rows.append((f"{method}: offset accuracy ({low:g} < error < {high:g} ms)", f"{scores['accuracy']:.3f}"))
        rows.append((f"{method}: error mean / sd ms", f"{scores['mean_error_ms']:.0f} / {scores['sd_error_ms']:.0f}"))
        for group, values in scores["by_group"].items():
            rows.append((f"  {method}: accuracy, {group}", f"{values['accuracy']:.3f}"))
    return rows


IDENTITY_NAMES = {"identity": "audio identity", "video_identity": "video identity", "content": "audio content",
                  "mean_mfcc": "mean-MFCC cosine"}


def _identity_rows(identity: dict | None) -> list[tuple[str, str]]:
    """Verification: clips and trials, each scorer's EER over all trials and the seen and
    unseen subjects' ones, and content top-1 against chance."""
    if not identity:
        return []
    eer = identity["eer"]
    rows = [("clips", f"{identity['clips']} of {identity['clip_seconds']} s, {identity['crops']} crops each")]
    for group, counts in eer["trials"].items():
        rows.append((f"trials, {group} (same / different)", f"{counts['same']} / {counts['different']}"))
    for key, groups in eer.items():
        for group, value in groups.items() if key != "trials" else ():
            shown = "-" if value is None else f"{100 * value:.1f} %"
            rows.append((f"{IDENTITY_NAMES.get(key, key)}: EER, {group}", shown))
    rows.append(("content top-1 (chance)", f"{identity['content_top1']:.3f} ({identity['content_chance']:.3f})"))
    return rows


GROUNDING_NAMES = {"mean": "phrase mean", "max": "phrase max", "random": "random scores"}
POINTING_NAMES = {"cell_shares": "phrase's cells", "acoustic_energy": "acoustic energy", "random_cell": "random cell",
                  "centre": "centre"}


def _caption_rows(captions: dict | None) -> list[tuple[str, str]]:
    """Retrieval (the protocol's and the whole gallery's, with chance and the ceiling of repeated
    captions), grounding in time (frame and event F1) and in space (pointing)."""
    if not captions:
        return []
    found = captions["retrieval"]
    protocol, ceiling = found["protocol"], found["ceiling"]["protocol"]
    rows = [("clips (recordings)", f"{found['clips']} ({found['recordings']})"),
            ("pooling", captions["pooling"]), ("retrieval gallery (protocol)", str(protocol["gallery"]))]
    for direction in ("audio_to_caption", "caption_to_audio"):
        shown = direction.replace("_to_", " -> ")
        for k in ("r1", "r5"):
            if k in protocol[direction]:
                rows.append((f"{shown} R@{k[1:]} (chance, ceiling)",
                             f"{protocol[direction][k]:.3f} ± {protocol[direction][f'{k}_std']:.3f} "
                             f"({protocol['chance'][k]:.3f}, {ceiling[direction][k]:.3f})"))
        gallery = found["gallery"][direction]
        rows.append((f"{shown}, all {found['clips']}: R@1/5/10, mAP",
                     " / ".join(f"{gallery[k]:.3f}" for k in ("r1", "r5", "r10", "mAP") if k in gallery)))
    time = captions["time"]
    rows.append(("grounding in time: phrases", f"{time['pairs']} (validation {time['validation_pairs']})"))
    rows.append(("frames in which the phrase sounds", f"{time['frames_true']:.3f}"))
    for key, name in GROUNDING_NAMES.items():
        frame, event = time[key]["frame"], time[key]["event"]
        rows.append((f"{name}: frame P / R / F1 at {frame['threshold']:.2f}",
                     f"{frame['precision']:.3f} / {frame['recall']:.3f} / {frame['f1']:.3f}"))
        rows.append((f"{name}: event F1 (onset within {event['t_collar']:g} s)", f"{event['f1']:.3f}"))
        if time[key]["auc"] is not None:
            rows.append((f"{name}: frame ROC AUC ({time[key]['auc_pairs']} phrases)", f"{time[key]['auc']:.3f}"))
    space = captions.get("space")
    if space:
        rows.append(("grounding in space: phrases in the picture", str(space["phrases"])))
        for key, name in POINTING_NAMES.items():
            if key in space:
                rows.append((f"{name}: pointing within {space['tolerance_px']:g} px / mean error px",
                             f"{space[key]['pointing_accuracy']:.3f} / {space[key]['mean_error_px']:.1f}"))
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
