"""The demo that `make demo` runs: simulate a small ACIVW-style dataset with the DualCam
simulator and show what was written.

    .venv/bin/python demo.py [--out demo_output] [--seconds 4] [--recordings_per_class 2]
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from dualcam.geometry import GEOMETRY_FILENAME
from dualcam.layouts import ACIVW_CLASSES, GROUND_TRUTH
from dualcam.simulate import simulate_dataset


def describe_raw(root: Path) -> None:
    recordings = sorted(root.glob("class_*/data_*"))
    print(f"\n{len(recordings)} recordings under {root} (array geometry: {root / GEOMETRY_FILENAME})")
    for recording in recordings:
        truth = json.loads((recording / GROUND_TRUTH).read_text())
        sources = ", ".join(f"{s['name']} ({s['role']})" for s in truth["sources"])
        counts = {kind: len(list((recording / kind).iterdir())) for kind in ("MFCC_Image", "audio", "video")}
        print(f"  {recording.relative_to(root)}: {truth['class_name']:<14} {truth['frames']} frames "
              f"{counts}  sources: {sources}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="demo_output", help="where everything is written")
    parser.add_argument("--seconds", type=float, default=4.0, help="length of each simulated recording")
    parser.add_argument("--recordings_per_class", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    raw = Path(args.out) / "acivw_raw"
    print(f"Simulating {len(ACIVW_CLASSES)} classes x {args.recordings_per_class} recordings x "
          f"{args.seconds:g} s into {raw}")
    summary = simulate_dataset(raw, "acivw", seconds=args.seconds, workers=args.workers,
                               recordings_per_class=args.recordings_per_class)
    print(json.dumps(summary))
    describe_raw(raw)


if __name__ == "__main__":
    main()
