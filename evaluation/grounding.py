"""Phrase grounding in time, as the audio-caption alignment system (Xie et al., ICASSP 2022)
was evaluated: how well a phrase's frame scores find the frames where the phrase sounds.

A (clip, phrase) pair has a (T, Q) similarity of the clip's T frames to the phrase's Q words
(already max(0, a.w)) and T truth booleans. The words' mean or max scores each frame, the
scores are min-max normalised per pair, and a frame is predicted where its score reaches a
threshold. Two views:

- frame level: precision, recall and F1 over every frame of every pair (micro average) at
  each threshold of a grid; the threshold of the best validation F1 is then read on test;
- event level: runs of predicted frames against runs of true ones, scored by sed_eval's
  event-based metrics (onsets within a collar, DCASE's convention).
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import dcase_util
import numpy as np
import sed_eval
from sklearn.metrics import roc_auc_score

THRESHOLDS = np.round(np.arange(0.01, 1.0, 0.01), 2)  # the original's grid
EVENT_LABEL = "phrase"


def phrase_scores(similarity: np.ndarray, how: str) -> np.ndarray:
    """(T,) frame scores of a (T, Q) frame-word similarity: the mean or the max over the words."""
    if how == "mean":
        return np.mean(similarity, axis=-1)
    if how == "max":
        return np.max(similarity, axis=-1)
    raise ValueError(f"how must be 'mean' or 'max', got {how!r}")


def normalise(scores: np.ndarray) -> np.ndarray:
    """Scores min-max scaled to [0, 1] over the last axis (per clip-phrase, as the original).
    A constant row, where the original divided by zero, becomes zeros: nothing stands out."""
    scores = np.asarray(scores, np.float64)
    low = scores.min(axis=-1, keepdims=True)
    spread = scores.max(axis=-1, keepdims=True) - low
    return np.divide(scores - low, spread, out=np.zeros_like(scores), where=spread > 0)


def frame_prf(scores: Sequence[np.ndarray], truth: Sequence[np.ndarray], thresholds: np.ndarray = THRESHOLDS) -> dict:
    """{"thresholds", "precision", "recall", "f1"}, arrays over the thresholds, counted over
    every frame of every pair (pairs may differ in length). A frame is predicted when its
    score >= the threshold. Precision is 0 when nothing is predicted, recall 0 when nothing
    is true, F1 0 when both are 0."""
    if len(scores) != len(truth):
        raise ValueError(f"{len(scores)} score vectors but {len(truth)} truth vectors")
    thresholds = np.asarray(thresholds, np.float64)
    frames = np.concatenate([np.ravel(s) for s in scores]).astype(np.float64)
    true = np.concatenate([np.ravel(t) for t in truth]).astype(bool)
    if frames.shape != true.shape:
        raise ValueError(f"{frames.size} scored frames but {true.size} truth frames")
    predicted = _at_or_above(frames, thresholds)
    true_positive = _at_or_above(frames[true], thresholds)
    precision = _ratio(true_positive, predicted)
    recall = _ratio(true_positive, np.full(len(thresholds), true.sum()))
    f1 = _ratio(2 * precision * recall, precision + recall)
    return {"thresholds": thresholds, "precision": precision, "recall": recall, "f1": f1}


def _at_or_above(values: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """How many values are >= each threshold, by one sort rather than a frames x thresholds mask."""
    return len(values) - np.searchsorted(np.sort(values), thresholds, side="left")


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    numerator = np.asarray(numerator, np.float64)
    return np.divide(numerator, denominator, out=np.zeros_like(numerator), where=denominator > 0)


def best_threshold(prf: dict) -> float:
    """The threshold of the highest F1 of `frame_prf`'s result, the lowest one on ties."""
    return float(prf["thresholds"][np.argmax(prf["f1"])])


def at_threshold(prf: dict, threshold: float) -> dict:
    """{"threshold", "precision", "recall", "f1"} of `frame_prf`'s result at `threshold`, which
    must be on its grid (within 1e-9: a threshold read on validation, applied on test)."""
    at = int(np.argmin(np.abs(prf["thresholds"] - threshold)))
    if abs(prf["thresholds"][at] - threshold) > 1e-9:
        raise ValueError(f"threshold {threshold} is not on the grid (nearest {prf['thresholds'][at]})")
    return {name: float(prf[key][at]) for name, key in
            (("threshold", "thresholds"), ("precision", "precision"), ("recall", "recall"), ("f1", "f1"))}


def frame_auc(scores: Sequence[np.ndarray], truth: Sequence[np.ndarray]) -> dict:
    """{"auc": the mean over pairs of the ROC AUC of a pair's frame scores against its true
    frames (scikit-learn's), "auc_pairs": how many had both true and false frames}: how well a
    phrase's score tells its frames apart whatever the threshold, and whatever share of the
    frames it sounds in (which the frame-level F1 depends on)."""
    values = [roc_auc_score(t, s) for s, t in zip(scores, truth) if 0 < np.count_nonzero(t) < len(t)]
    return {"auc": float(np.mean(values)) if values else None, "auc_pairs": len(values)}


def segments(active: np.ndarray, frame_seconds: float) -> list[tuple[float, float]]:
    """(onset, offset) seconds of each run of consecutive True frames, frame i covering
    [i * frame_seconds, (i + 1) * frame_seconds)."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], np.asarray(active, bool).astype(np.int8), [0]])))
    return [(float(start * frame_seconds), float(end * frame_seconds)) for start, end in zip(edges[::2], edges[1::2])]


def event_prf(predicted: Sequence[np.ndarray], truth: Sequence[np.ndarray], frame_seconds: float,
              t_collar: float = 0.2, percentage_of_length: float = 0.2) -> dict:
    """{"precision", "recall", "f1", "t_collar"} of the predicted frames' runs against the true
    ones, by sed_eval's event-based metrics: onsets only, an estimate matching a reference
    when their onsets are within `t_collar` seconds (`percentage_of_length` would only bear
    on offsets). Each pair is its own file with one event label. sed_eval gives NaN where a
    ratio has nothing to count (precision with no estimated event, recall with no reference
    one, F1 when either is NaN); those are 0.0 here, as in `frame_prf`.
    """
    if len(predicted) != len(truth):
        raise ValueError(f"{len(predicted)} predicted vectors but {len(truth)} truth vectors")
    metrics = sed_eval.sound_event.EventBasedMetrics(
        event_label_list=[EVENT_LABEL], evaluate_onset=True, evaluate_offset=False,
        # sed_eval takes only floats here: an int or a numpy float32 would be a ValueError.
        t_collar=float(t_collar), percentage_of_length=float(percentage_of_length))
    for pair, (estimate, reference) in enumerate(zip(predicted, truth)):
        metrics.evaluate(reference_event_list=_events(reference, frame_seconds, f"{pair}"),
                         estimated_event_list=_events(estimate, frame_seconds, f"{pair}"))
    overall = metrics.overall_f_measure()
    values = {"precision": overall["precision"], "recall": overall["recall"], "f1": overall["f_measure"]}
    return {name: 0.0 if math.isnan(value) else float(value) for name, value in values.items()} | {
        "t_collar": float(t_collar)}


def _events(active: np.ndarray, frame_seconds: float, filename: str) -> dcase_util.containers.MetaDataContainer:
    return dcase_util.containers.MetaDataContainer([
        {"filename": filename, "event_label": EVENT_LABEL, "onset": onset, "offset": offset}
        for onset, offset in segments(active, frame_seconds)])
