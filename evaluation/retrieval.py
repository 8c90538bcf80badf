"""Clip <-> caption retrieval, as the audio-caption alignment system (Xie et al., ICASSP 2022)
was evaluated, with scikit-learn's average precision.

`scores[i, j]` is the score of audio clip i against caption j, higher for a better match;
items are paired, caption i belonging to clip i. A query ranks a gallery by score and hits
at K when a relevant item is among the first K.

Ties are broken uniformly at random, and a hit rate is its expected value over those
tie-breaks, computed exactly. Simulated captions repeat word for word (two recordings of one
class may share a caption), their scores tie exactly, and neither "the relevant item comes
first" nor "it comes last" would be honest.

The original's protocol (`protocol_recall`) asks, for every recording, one of its items
against the items of 29 other recordings drawn at random, in both directions, and averages
over repeated draws. A recording's items share one caption text, so they are never each
other's impostors: the gallery holds one item per recording.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.metrics import average_precision_score

GALLERY_OTHERS = 29  # the original's gallery: the query's own item and 29 others
PROTOCOL_REPEATS = 20


def hit_rates(scores: np.ndarray, relevant: np.ndarray, ks: Sequence[int]) -> dict[int, np.ndarray]:
    """{k: (N,) probabilities} that a relevant item is among the first k of each row's
    gallery ranked by score, ties broken uniformly at random.

    With s* the best score of a row's relevant items, g the irrelevant items above s*, and
    t irrelevant and r relevant items at s*, the first relevant item is at g + j, j its place
    in a random order of the t + r tied ones: P(j <= m) = 1 - C(t, m) / C(t + r, m). A row
    without a relevant item is a ValueError.
    """
    scores = np.asarray(scores, np.float64)
    relevant = np.asarray(relevant, bool)
    if scores.shape != relevant.shape or scores.ndim != 2:
        raise ValueError(f"scores {scores.shape} and relevant {relevant.shape} must be the same (N, M)")
    empty = np.flatnonzero(~relevant.any(axis=1))
    if len(empty):
        raise ValueError(f"rows {empty[:10].tolist()} have no relevant item")
    best = np.where(relevant, scores, -np.inf).max(axis=1, keepdims=True)
    above = np.sum(~relevant & (scores > best), axis=1)
    tied_irrelevant = np.sum(~relevant & (scores == best), axis=1)
    tied_relevant = np.sum(relevant & (scores == best), axis=1)
    # m never exceeds k, and past t <= M - 1 draws the product is 0: no need for more columns.
    width = min(max(ks, default=0), scores.shape[1])
    all_irrelevant_first = _all_irrelevant_first(tied_irrelevant, tied_relevant, width)
    result = {}
    for k in ks:
        m = np.clip(k - above, 0, width)
        # Column 0 is 1: a k within the g irrelevant items above s* never hits.
        result[k] = 1.0 - np.take_along_axis(all_irrelevant_first, m[:, None], axis=1)[:, 0]
    return result


def _all_irrelevant_first(tied_irrelevant: np.ndarray, tied_relevant: np.ndarray, width: int) -> np.ndarray:
    """(N, width + 1): column m is C(t, m) / C(t + r, m), the chance that the first m of the
    t + r tied items in random order are all irrelevant, as prod_{i < m} (t - i) / (t + r - i);
    it is 0 for m > t."""
    i = np.arange(width)[None, :]
    t, r = tied_irrelevant[:, None], tied_relevant[:, None]
    # Clipping keeps the factors past i = t at 0 / 1 rather than negative or 0 / 0.
    factors = np.clip(t - i, 0, None) / np.maximum(t + r - i, 1)
    return np.concatenate([np.ones((len(t), 1)), np.cumprod(factors, axis=1)], axis=1)


def gallery_metrics(scores: np.ndarray, relevant: np.ndarray, ks: Sequence[int] = (1, 5, 10)) -> dict:
    """{"r1": mean hit@1, ..., "mAP": mean average precision} of every row's query against
    the whole gallery; a k larger than the gallery is left out."""
    scores = np.asarray(scores, np.float64)
    relevant = np.asarray(relevant, bool)
    ks = [k for k in ks if k <= scores.shape[1]]
    result = {f"r{k}": float(np.mean(hits)) for k, hits in hit_rates(scores, relevant, ks).items()}
    result["mAP"] = float(np.mean([average_precision_score(r, s) for r, s in zip(relevant, scores)]))
    return result


def protocol_recall(scores: np.ndarray, groups: np.ndarray, others: int = GALLERY_OTHERS,
                    repeats: int = PROTOCOL_REPEATS, ks: Sequence[int] = (1, 5), seed: int = 0) -> dict:
    """The original's recall at k, audio -> caption and caption -> audio.

    Per repeat, each recording (in sorted order) gives one of its items, at random, as the
    query (the original took one caption pair per YouTube id); the gallery is that item and
    one random item of each of `others` other recordings drawn without replacement (all of
    them if there are fewer). Audio -> caption ranks the gallery's captions by the query
    clip's row, caption -> audio the gallery's clips by the query caption's column. A
    direction's "r{k}" is the mean over repeats of the mean over queries, "r{k}_std" its
    standard deviation over repeats; a k larger than the gallery is left out. One generator,
    seeded once and drawn in a fixed order, makes a result reproducible.
    """
    scores = np.asarray(scores, np.float64)
    groups = np.asarray(groups)
    if scores.ndim != 2 or scores.shape[0] != scores.shape[1] or groups.shape != scores.shape[:1]:
        raise ValueError(f"scores {scores.shape} must be (N, N) and groups {groups.shape} (N,)")
    recordings, members = np.unique(groups, return_inverse=True)
    if len(recordings) < 2:
        raise ValueError(f"retrieval needs at least 2 recordings, got {len(recordings)}")
    gallery_size = 1 + min(others, len(recordings) - 1)
    ks = [k for k in ks if k <= gallery_size]
    own_first = np.zeros((len(recordings), gallery_size), bool)
    own_first[:, 0] = True
    rng = np.random.default_rng(seed)
    per_repeat = {"audio_to_caption": {k: [] for k in ks}, "caption_to_audio": {k: [] for k in ks}}
    for _ in range(repeats):
        galleries = _galleries(rng, members, gallery_size)
        queries = galleries[:, :1]
        directions = {"audio_to_caption": scores[queries, galleries], "caption_to_audio": scores[galleries, queries]}
        for direction, rows in directions.items():
            for k, hits in hit_rates(rows, own_first, ks).items():
                per_repeat[direction][k].append(float(np.mean(hits)))
    result = {direction: _mean_and_std(values) for direction, values in per_repeat.items()}
    result.update(gallery=gallery_size, chance={f"r{k}": k / gallery_size for k in ks}, repeats=repeats)
    return result


def _galleries(rng: np.random.Generator, members: np.ndarray, size: int) -> np.ndarray:
    """(recordings, size) item indices, a row per recording (`members` numbers each item's
    recording from 0): a random item of the recording first, then a random item of each of
    size - 1 other recordings drawn without replacement."""
    by_recording = np.argsort(members, kind="stable")
    counts = np.bincount(members)
    starts = np.cumsum(counts) - counts
    galleries = np.empty((len(counts), size), np.int64)
    for own in range(len(counts)):
        drawn = rng.choice(len(counts) - 1, size=size - 1, replace=False)
        drawn += drawn >= own  # indices among the other recordings -> recording indices
        chosen = np.concatenate([[own], drawn])
        galleries[own] = by_recording[starts[chosen] + rng.integers(counts[chosen])]
    return galleries


def _mean_and_std(values: dict[int, list[float]]) -> dict[str, float]:
    result = {}
    for k, per_repeat in values.items():
        result[f"r{k}"] = float(np.mean(per_repeat))
        result[f"r{k}_std"] = float(np.std(per_repeat))
    return result
