"""Verification trials and their equal error rate, as the SyncNet trainer measured identity.

A trial pairs two clips ("files") and says whether the same subject is in both. Trial lists
are text, one trial a line, `label file1 file2` (label 1 for the same subject, 0 for
another), the original's format, so a list built once can be reused. A clip is named
`RECORDING/Data_FFF-LLL`: records FFF to LLL of a recording's directory.

Each clip is scored by 10 evenly spaced crops: two clips' score is the mean of the 10 x 10
cosines between their crops' embeddings. The EER is read from scikit-learn's ROC at the
threshold where the false-negative and false-positive rates are closest (the larger of the
two there, as the original), over every threshold: by default `roc_curve` drops the points on
straight runs of the curve, which can be the one where the rates meet (the original's EER
then read the run's end).
"""
from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence
from pathlib import Path

import numpy as np

CROPS = 10


@dataclasses.dataclass(frozen=True)
class Trial:
    same: bool
    first: str
    second: str


def clip_name(recording: str, first_second: int, last_second: int) -> str:
    return f"{recording}/Data_{first_second:03d}-{last_second:03d}"


def crop_starts(length: int, crop: int, count: int = CROPS) -> np.ndarray:
    """`count` evenly spaced starts of crops of `crop` inside `length` (frames or samples),
    the first at 0 and the last at length - crop."""
    if crop > length:
        raise ValueError(f"a crop of {crop} does not fit in {length}")
    return np.round(np.linspace(0, length - crop, count)).astype(np.int64)


def make_trials(names: Sequence[str], subjects: Sequence[int], recordings: Sequence[str]) -> list[Trial]:
    """Every pair of clips from two different recordings, in the clips' order: the same
    subject in other recordings (other positions, other locations) and every other subject."""
    if len(set(names)) != len(names):
        raise ValueError("clip names must be distinct")
    return [Trial(bool(subjects[i] == subjects[j]), names[i], names[j])
            for i, j in itertools.combinations(range(len(names)), 2) if recordings[i] != recordings[j]]


def write_trials(path: str | Path, trials: Sequence[Trial]) -> None:
    """The trials as `label file1 file2` lines, written whole or not at all; a clip name with
    white space, which the format cannot hold, is a ValueError."""
    spaced = next((name for t in trials for name in (t.first, t.second) if len(name.split()) != 1), None)
    if spaced is not None:
        raise ValueError(f"clip {spaced!r}: a name with white space cannot be written to a 'label file1 file2' list")
    path = Path(path)
    temporary = path.with_name(path.name + ".partial")
    temporary.write_text("".join(f"{int(t.same)} {t.first} {t.second}\n" for t in trials))
    temporary.replace(path)


def read_trials(path: str | Path) -> list[Trial]:
    """Trials of a `label file1 file2` list; a line of another form is a ValueError naming
    the file and line."""
    trials = []
    for number, line in enumerate(Path(path).read_text().splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split()
        if len(fields) != 3 or fields[0] not in ("0", "1"):
            raise ValueError(f"{path}:{number}: expected 'label file1 file2' with label 0 or 1, got {line.strip()!r}")
        trials.append(Trial(fields[0] == "1", fields[1], fields[2]))
    if not trials:
        raise ValueError(f"{path}: no trials")
    return trials


def unit(x: np.ndarray) -> np.ndarray:
    """Vectors on the last axis scaled to unit length (zero vectors stay zero)."""
    x = np.asarray(x, np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def crop_score(first: np.ndarray, second: np.ndarray) -> float:
    """The mean of the cosines between every crop embedding (C, D) of one clip and every
    one of the other's."""
    return float(np.mean(unit(first) @ unit(second).T))


def equal_error_rate(same: Sequence[bool], scores: Sequence[float]) -> float:
    """The EER of scores (higher: more likely the same subject), from scikit-learn's ROC."""
    from sklearn.metrics import roc_curve

    same = np.asarray(same, bool)
    if same.all() or not same.any():
        raise ValueError("the EER needs trials of the same subject and of different ones")
    false_positive, true_positive, _ = roc_curve(same, np.asarray(scores, np.float64), drop_intermediate=False)
    false_negative = 1.0 - true_positive
    at = int(np.argmin(np.abs(false_negative - false_positive)))
    return float(max(false_positive[at], false_negative[at]))
