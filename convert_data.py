"""Converts raw recordings into one GZIP TFRecord per second (see dataloader/schema.py).

    # ACIVW (run `python framecount.py ROOT_RAW_DIR 0` first)
    python convert_data.py ROOT_RAW_DIR OUT_DIR --modalities 0 1 2
    # AVIA: the root of the .mat files, then the root of the raw files
    python convert_data.py ROOT_DIR ROOT_RAW_DIR OUT_DIR --modalities 0 1 2

Modalities: 0 acoustic images, 1 raw audio, 2 video (default: all). The flavour (the
dataset, acivw or avia) is recognised from the directory names, or named with --flavour.
ACIVW converts the seconds framecount.py counted, frames resized to 224 x 298; AVIA
converts 30 seconds per recording, wrapping shorter ones around, and keeps the JPEG files
(--raw_video: the decoded pixels, as (B)'s published converter did). Records of a simulated
recording carry its ground truth (ground_truth.json with events: what sounds in each frame,
the caption and its phrases, the audio's offset), unless --no_ground_truth. A re-run resumes:
complete records are kept, the rest written. Bad input stops the run with one line naming
the file and the problem (exit code 1), or with --skip_bad leaves that recording out and
lists it at the end; an output that cannot be written stops it too, naming the output.

With --runner, the conversion runs as an Apache Beam pipeline on that runner (DirectRunner
here; DataflowRunner, FlinkRunner, SparkRunner on a cluster) and writes the same files. The
runner's options follow a `--` and go to Beam as they are; the roots and OUT_DIR must be on
a filesystem that this machine and every worker mount at the same paths (README.md has the
commands for Dataflow, Flink and Spark):
    python convert_data.py ROOT_RAW_DIR OUT_DIR --runner DirectRunner --workers 2
    python convert_data.py ROOT_RAW_DIR OUT_DIR --runner DataflowRunner -- --project P --region R ...
"""
import argparse
import os
import sys
from concurrent.futures.process import BrokenProcessPool

import logger.quiet  # noqa: F401  (before anything imports tensorflow)
from conversion.convert import convert_dataset
from dataloader.datasets import FLAVOURS
from dataloader.raw import RawDataError
from dataloader.schema import modalities_from_flags


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="convert_data.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("dirs", nargs="+", metavar="DIR", help="[ROOT_DIR] ROOT_RAW_DIR OUT_DIR")
    parser.add_argument("--modalities", nargs="*", type=int, choices=(0, 1, 2),
                        help="0: acoustic images, 1: raw audio, 2: video (default: all)")
    parser.add_argument("--flavour", "--layout", dest="flavour", choices=FLAVOURS,
                        help="the dataset (default: recognised; --layout: its former name)")
    parser.add_argument("--workers", type=int, default=1,
                        help="recordings converted in parallel (with --runner DirectRunner: its threads)")
    parser.add_argument("--skip_bad", action="store_true",
                        help="leave out recordings with missing, truncated or malformed files, and list them")
    parser.add_argument("--overwrite", action="store_true", help="write every record again")
    parser.add_argument("--beamform", action="store_true",
                        help="compute the acoustic images of recordings that have 128-microphone "
                             "audio but no MFCC_Image, with the array geometry file")
    parser.add_argument("--geometry", help="array geometry file (default: array_geometry.json at a root)")
    parser.add_argument("--strict_shapes", action="store_true",
                        help="AVIA: refuse acoustic images smaller than 36 x 48 x 12 instead of zero padding "
                             "them at the front, as (B)'s converter did (ACIVW always refuses them)")
    parser.add_argument("--raw_video", action="store_true",
                        help="AVIA: store the frames decoded by OpenCV, raw BGR 480 x 640 x 3 as (B)'s published "
                             "converter did and its loader reads, instead of the JPEG files (ACIVW's are raw)")
    parser.add_argument("--no_ground_truth", action="store_true",
                        help="leave the simulator's ground truth (ground_truth.json) out of the records")
    parser.add_argument("--quiet", action="store_true", help="no progress bar (a Beam pipeline shows none)")
    parser.add_argument("--runner", metavar="NAME",
                        help="run as an Apache Beam pipeline on this runner: DirectRunner, DataflowRunner, "
                             "FlinkRunner, SparkRunner...; the arguments after a -- are its pipeline options "
                             "(default: the local converter)")
    argv = sys.argv[1:] if argv is None else list(argv)
    # The runner's options go to Beam untouched, after a --: taken from among ours, a
    # mistyped flag of ours would pass silently as one of them.
    runner_args = []
    if "--" in argv:
        split = argv.index("--")
        argv, runner_args = argv[:split], argv[split + 1:]
    args = parser.parse_args(argv)
    if len(args.dirs) not in (2, 3):
        parser.error("give ROOT_RAW_DIR OUT_DIR (one root) or ROOT_DIR ROOT_RAW_DIR OUT_DIR (two roots)")
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    if runner_args and not args.runner:
        parser.error(f"the arguments after -- ({' '.join(runner_args)}) are a Beam runner's options: give --runner")
    if args.runner and args.workers > 1 and args.runner.lower().removesuffix("runner") != "direct":
        parser.error("--workers: the DirectRunner's threads; give a cluster runner's workers in its options after "
                     "-- (DataflowRunner: --num_workers, FlinkRunner: --parallelism)")
    *roots, out_dir = (os.path.abspath(os.path.expanduser(d)) for d in args.dirs)
    mat_root, raw_root = roots if len(roots) == 2 else roots * 2
    settings = dict(
        flavour=args.flavour,
        modalities=modalities_from_flags(args.modalities),
        workers=args.workers,
        skip_bad=args.skip_bad,
        overwrite=args.overwrite,
        beamform=args.beamform,
        geometry=args.geometry,
        strict_shapes=args.strict_shapes,
        raw_video=args.raw_video,
        ground_truth=not args.no_ground_truth,
    )
    try:
        if args.runner:
            from conversion.beam import convert_with_beam  # only here: Beam takes seconds to import

            summary = convert_with_beam(mat_root, raw_root, out_dir, runner=args.runner, runner_args=runner_args,
                                        **settings)
        else:
            summary = convert_dataset(mat_root, raw_root, out_dir, progress=not args.quiet, **settings)
    except (RawDataError, OSError, ValueError) as err:  # OSError: an output that cannot be written
        parser.exit(1, f"{parser.prog}: error: {err}\n")
    except BrokenProcessPool:
        parser.exit(1, f"{parser.prog}: error: a worker process died (out of memory?); run again to resume\n")
    print(summary.report())
    return 0


if __name__ == "__main__":
    sys.exit(main())
