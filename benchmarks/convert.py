"""Conversion throughput: recording-seconds converted per wall-second on 1 and 2 workers, by
the local converter and by the Beam pipeline on the DirectRunner (`--runner DirectRunner`),
and bytes written per recording-second, for both flavours, all modalities.

    .venv/bin/python benchmarks/convert.py [--acivw 4 15] [--avia 8 1]

The raw datasets (recordings, seconds each) are simulated once, untimed, and this process
imports TensorFlow and Beam before the first conversion. Each conversion writes into a
fresh directory and is timed end to end, as a user would see it: that includes starting the
local converter's 2 workers, each of which imports TensorFlow (5 to 10 s on two busy cores),
so small datasets understate what they do on large ones; the DirectRunner's workers are
threads of this process. An AVIA recording always gives 30 one-second records (shorter ones
wrap around), so its recording-seconds are the records written. The last line is JSON.
"""
from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import logger.quiet  # noqa: E402, F401  (before anything imports tensorflow)
from conversion.beam import convert_with_beam  # noqa: E402
from conversion.convert import convert_dataset  # noqa: E402
from conversion.framecount import count_seconds  # noqa: E402
from dualcam.simulate import simulate_dataset  # noqa: E402


def _measure(mat_root: Path, raw_root: Path, scratch: Path, flavour: str) -> dict:
    converters = {"": functools.partial(convert_dataset, progress=False),
                  "beam_direct_": functools.partial(convert_with_beam, runner="DirectRunner")}
    result = {}
    for name, convert in converters.items():
        for workers in (1, 2):
            summary = convert(mat_root, raw_root, scratch / f"{flavour}_{name}{workers}", workers=workers)
            rate = summary.seconds / summary.elapsed
            print(f"{flavour}, {name or 'local_'}{workers} worker(s): {summary.seconds} recording-seconds in "
                  f"{summary.elapsed:.1f} s -> {rate:.2f} per second, "
                  f"{summary.bytes_written / summary.seconds / 1e6:.2f} MB each", file=sys.stderr)
            result[f"{name}recording_seconds_per_second_{workers}_workers"] = round(rate, 3)
            result["recording_seconds"] = summary.seconds
            result["bytes_per_recording_second"] = round(summary.bytes_written / summary.seconds)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--acivw", type=float, nargs=2, default=(4, 15.0), metavar=("RECORDINGS", "SECONDS"))
    parser.add_argument("--avia", type=float, nargs=2, default=(8, 1.0), metavar=("RECORDINGS", "SECONDS"))
    args = parser.parse_args()
    import tensorflow  # noqa: F401  (here, untimed: the first conversion in this process would pay for it)

    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        acivw = scratch / "acivw_raw"
        simulate_dataset(acivw, "acivw", seconds=args.acivw[1], seed=5, workers=2,
                         classes=range(int(args.acivw[0])), recordings_per_class=1, progress=False)
        count_seconds(acivw, from_records=False)
        avia = scratch / "avia_raw"
        simulate_dataset(avia, "avia", seconds=args.avia[1], seed=5, workers=2, locations=[1], subjects=[1],
                         actions=range(int(args.avia[0])), progress=False)
        result = {
            "acivw": _measure(acivw, acivw, scratch, "acivw"),
            "avia": _measure(avia / "mat", avia / "raw", scratch, "avia"),
            "cores": os.cpu_count(),
        }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
