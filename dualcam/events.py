"""Timelines: when a source sounds, as events (onset, offset) in seconds, and the gain that
turns a continuous sound into those events.

Event lengths and the pauses between them are drawn log-uniformly from ranges, so a
timeline is irregular: no period to lock on to, which an audio-visual offset could
otherwise be guessed from.
"""
from __future__ import annotations

import dataclasses

import numpy as np

RAMP = 0.02  # seconds an event's gain takes to rise and to fall, inside the event


@dataclasses.dataclass(frozen=True)
class Timing:
    """How long a source's events last and the pauses between them (seconds, ranges)."""

    on: tuple[float, float]
    off: tuple[float, float]


def log_uniform(rng: np.random.Generator, bounds: tuple[float, float], size=None) -> np.ndarray:
    low, high = np.log(bounds[0]), np.log(bounds[1])
    return np.exp(rng.uniform(low, high, size))


def draw(rng: np.random.Generator, timing: Timing, start: float, stop: float,
         within: tuple[float, float] | None = None) -> np.ndarray:
    """Events (K, 2) covering [start, stop) from a random phase, at least one of them
    overlapping `within` (default: [start, stop))."""
    within = within or (start, stop)
    events, t = [], start - rng.uniform(0.0, timing.on[1] + timing.off[1])
    while t < stop:
        length = float(log_uniform(rng, timing.on))
        if t + length > start:
            events.append((max(t, start), min(t + length, stop)))
        t += length + float(log_uniform(rng, timing.off))
    events = np.array(events, dtype=np.float64).reshape(-1, 2)
    if not np.any((events[:, 0] < within[1]) & (events[:, 1] > within[0])):  # a long pause: open one inside
        length = min(float(log_uniform(rng, timing.on)), 0.5 * (within[1] - within[0]))
        onset = rng.uniform(within[0], within[1] - length)
        events = merge(np.vstack([events, [(onset, onset + length)]]))
    return events


def merge(events: np.ndarray) -> np.ndarray:
    """The union of intervals (K, 2), sorted and disjoint; touching intervals join."""
    events = np.asarray(events, dtype=np.float64).reshape(-1, 2)
    events = events[np.argsort(events[:, 0], kind="stable")]
    merged: list[list[float]] = []
    for onset, offset in events:
        if merged and onset <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], offset)
        else:
            merged.append([onset, offset])
    return np.array(merged, dtype=np.float64).reshape(-1, 2)


def clip(events: np.ndarray, start: float, stop: float) -> np.ndarray:
    """The parts of the events within [start, stop)."""
    events = np.clip(np.asarray(events, dtype=np.float64).reshape(-1, 2), start, stop)
    return events[events[:, 1] > events[:, 0]]


def gain(events: np.ndarray, times: np.ndarray, ramp: float = RAMP) -> np.ndarray:
    """0 outside the events, 1 inside them, with linear ramps of `ramp` seconds (or half the
    event, if shorter) inside each event's ends."""
    out = np.zeros(len(times))
    for onset, offset in events:
        r = min(ramp, 0.5 * (offset - onset))
        out = np.maximum(out, np.interp(times, [onset, onset + r, offset - r, offset], [0.0, 1.0, 1.0, 0.0],
                                        left=0.0, right=0.0))
    return out


def strokes(impacts: np.ndarray, times: np.ndarray, stroke: float) -> np.ndarray:
    """The animation phase of a struck object at `times`: 0.5 at each impact, moving through
    [0, 1] within `stroke` seconds either side of the nearest one, at rest (0 before, 1 after)
    between strokes."""
    if len(impacts) == 0:
        return np.zeros(len(times))
    impacts = np.sort(impacts)
    right = np.clip(np.searchsorted(impacts, times), 1, len(impacts) - 1) if len(impacts) > 1 else np.zeros(
        len(times), dtype=int)
    left = np.maximum(right - 1, 0)
    nearest = np.where(np.abs(times - impacts[left]) <= np.abs(times - impacts[right]), impacts[left], impacts[right])
    return np.clip(0.5 + (times - nearest) / (2 * stroke), 0.0, 1.0)
