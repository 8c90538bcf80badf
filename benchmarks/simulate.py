"""Simulation throughput: recording-seconds simulated per wall-second, on 1 and 2 workers
(target: above real time per core), for ACIVW scenes and for AVIA subjects speaking (eSpeak
NG), striking and whistling; the time to render one video frame of two objects (target:
under 8 ms), and how much faster than real time each class's sound is synthesised (target:
at least 50 times).

    .venv/bin/python benchmarks/simulate.py [--seconds 6] [--recordings 4]

Each run simulates into a fresh temporary directory (so nothing is skipped), including the
one-off cost of building each worker's beamformer. The last line is JSON.
"""
from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import tempfile
import timeit

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import logger.quiet  # noqa: E402, F401  (before anything imports tensorflow)
from dataloader.datasets import AVIA_SPEC  # noqa: E402
from dualcam.render import VisualObject, render_frame  # noqa: E402
from dualcam.simulate import simulate_dataset  # noqa: E402
from dualcam.sounds import SOUND_NAMES, Variation, synthesize  # noqa: E402


def frame_milliseconds() -> float:
    """Best of 5 means over 10 renders of a frame with two moving objects."""
    objects = [VisualObject("shopping_cart", (200, 240), 100, angle=0.2, phase=0.3),
               VisualObject("typing", (440, 260), 100, phase=0.6)]
    rng = np.random.default_rng(0)
    render_frame(objects, 2, rng)
    return 1000 * min(timeit.repeat(lambda: render_frame(objects, 2, rng), repeat=5, number=10)) / 10


def synthesis_speed(seconds: float = 5.0) -> dict[str, float]:
    """Per sound, recording-seconds synthesised per wall-second (best of 2)."""
    return {name: seconds / min(timeit.repeat(functools.partial(synthesize, name, seconds, Variation(seed=1)),
                                              repeat=2, number=1))
            for name in SOUND_NAMES}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=6.0, help="length of each recording")
    parser.add_argument("--recordings", type=int, default=4, help="recordings per run")
    args = parser.parse_args()
    result = {"recording_seconds_per_run": args.seconds * args.recordings}
    actions = [AVIA_SPEC.class_names.index(name) for name in ("speaking", "hammering", "whistling", "typing")]
    runs = {"acivw": dict(classes=range(args.recordings), recordings_per_class=1),
            "avia": dict(locations=[2], subjects=[3], actions=actions[:args.recordings])}
    for flavour, selection in runs.items():
        for workers in (1, 2):
            with tempfile.TemporaryDirectory() as out:
                summary = simulate_dataset(out, flavour, seconds=args.seconds, seed=7, workers=workers,
                                           progress=False, **selection)
            rate = summary["seconds_simulated"] / summary["wall_seconds"]
            print(f"{flavour}, {workers} worker(s): {summary['seconds_simulated']:.0f} s of recordings in "
                  f"{summary['wall_seconds']:.1f} s -> {rate:.2f} x real time, {rate / workers:.2f} per core",
                  file=sys.stderr)
            result[f"{flavour}_recording_seconds_per_second_{workers}_workers"] = round(rate, 3)
    result["render_frame_ms"] = round(frame_milliseconds(), 2)
    print(f"one frame of two objects renders in {result['render_frame_ms']} ms (target < 8)", file=sys.stderr)
    speed = synthesis_speed()
    slowest = min(speed, key=speed.get)
    print(f"sound synthesis: slowest {slowest} at {speed[slowest]:.0f} x real time (target >= 50)", file=sys.stderr)
    result["synthesis_x_real_time_slowest"] = round(speed[slowest], 1)
    result["cores"] = os.cpu_count()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
