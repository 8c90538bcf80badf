"""Counts the seconds of every video of a dataset: run `framecount.py ROOT 0` on a raw
ACIVW dataset before convert_data.py, which converts the seconds it counts.

    python framecount.py ROOT 0    # frames (12 per second) of ROOT/class_*/data_*/video
    python framecount.py ROOT 1    # records of a converted dataset

Writes video_time.txt per video, class_time.txt per class, and datadir.txt,
timedataset.txt, videodataset.txt at ROOT. AVIA trees (Location_*/Subject_*/Action_*) are
counted the same way.
"""
import argparse
import os
import sys

import logger.quiet  # noqa: F401  (before anything imports tensorflow)
from conversion import framecount
from conversion.recordings import detect_flavour
from dataloader.datasets import FLAVOURS


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="framecount.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("path", help="dataset root")
    parser.add_argument("flag", type=int, choices=(0, 1),
                        help="0: count raw video frames, 1: count TFRecords")
    parser.add_argument("--flavour", "--layout", dest="flavour", choices=FLAVOURS,
                        help="the tree's dataset (default: recognised; --layout: its former name)")
    args = parser.parse_args(argv)
    if not os.path.isdir(args.path):
        parser.exit(2, f"{parser.prog}: error: path: no such directory: {args.path}\n")
    try:
        flavour = args.flavour or detect_flavour(args.path)
        lengths = framecount.count_seconds(args.path, bool(args.flag), flavour)
        print(framecount.write_summaries(args.path, lengths), end="")
    except (OSError, ValueError) as err:
        parser.exit(1, f"{parser.prog}: error: {err}\n")
    for note in framecount.warnings(lengths, flavour, bool(args.flag)):
        print(f"warning: {note}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
