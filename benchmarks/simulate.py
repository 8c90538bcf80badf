"""Simulation throughput: recording-seconds simulated per wall-second, on 1 and 2 workers.

    .venv/bin/python benchmarks/simulate.py [--seconds 6] [--recordings 4]

Each run simulates ACIVW recordings into a fresh temporary directory (so nothing is
skipped), including the one-off cost of building each worker's beamformer. The last line
is JSON.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from dualcam.simulate import simulate_dataset  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=6.0, help="length of each recording")
    parser.add_argument("--recordings", type=int, default=4, help="recordings per run")
    args = parser.parse_args()
    result = {"recording_seconds_per_run": args.seconds * args.recordings}
    for workers in (1, 2):
        with tempfile.TemporaryDirectory() as out:
            summary = simulate_dataset(out, "acivw", seconds=args.seconds, seed=7, workers=workers,
                                       classes=range(args.recordings), recordings_per_class=1, progress=False)
        rate = summary["seconds_simulated"] / summary["wall_seconds"]
        print(f"{workers} worker(s): {summary['seconds_simulated']:.0f} s of recordings in "
              f"{summary['wall_seconds']:.1f} s -> {rate:.2f} x real time", file=sys.stderr)
        result[f"recording_seconds_per_second_{workers}_workers"] = round(rate, 3)
    result["cores"] = os.cpu_count()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
