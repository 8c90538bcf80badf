"""Writes the split lists of a converted dataset (see conversion/lists.py for the rules).

    # AVIA, the original split (seed 42): ROOT/10_seconds_location_1/lists/*.txt
    python generate_lists.py ROOT --num_samples 10 --split_mode 0 --location 1
    # ... no recording shared between splits: ROOT/10_seconds_location_1_recording_disjoint/
    python generate_lists.py ROOT --num_samples 10 --location 1 --disjoint recording
    # ACIVW, per-class greedy duration split: ROOT/lists/*.txt
    python generate_lists.py ROOT
    # move existing lists to where the data is now: (A)'s shipped lists name their records
    # /Dataset/class_*/... (training, validation) and /dataset/class_*/... (testing)
    python generate_lists.py lists/ --rewrite_prefix /Dataset /data/acivw_tfrecords \\
                                    --rewrite_prefix /dataset /data/acivw_tfrecords

A list in which no path starts with any OLD prefix stops the rewrite before any list is
written (a mistyped prefix), unless --allow_unmatched.
"""
import argparse
import os
import sys
from pathlib import Path

from conversion import lists
from conversion.files import write_text_atomic
from conversion.recordings import detect_flavour
from dataloader.datasets import ACIVW, FLAVOURS


def rewrite(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    files = lists.list_files(args.root)
    if not files:
        parser.exit(1, f"{parser.prog}: error: {args.root}: no list files (text files of .tfrecord paths)\n")
    rewritten = {path: lists.rewrite_prefixes(path.read_text().splitlines(), args.rewrite_prefix) for path in files}
    unmatched = [path for path, (_, count, _) in rewritten.items() if count == 0]
    if unmatched and not args.allow_unmatched:
        prefixes = " or ".join(old for old, _ in args.rewrite_prefix)
        others = f" (and {len(unmatched) - 1} more lists)" if len(unmatched) > 1 else ""
        parser.exit(1, f"{parser.prog}: error: {unmatched[0]}: no path starts with {prefixes}{others}; "
                       "no list was rewritten (--allow_unmatched leaves such lists as they are)\n")
    for path, (lines, count, unmatched_lines) in rewritten.items():
        if count:
            write_text_atomic(path, "".join(line + "\n" for line in lines))
        note = f", {unmatched_lines} matching no prefix" if unmatched_lines else ""
        print(f"{path}: {count} paths rewritten{note}")
        missing = [line for line in lines if os.path.isabs(line) and not os.path.exists(line)]
        if missing:
            print(f"warning: {path}: {len(missing)} paths do not exist, e.g. {missing[0]}", file=sys.stderr)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="generate_lists.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("root",
                        help="converted dataset root (with --rewrite_prefix: a list file or a directory)")
    parser.add_argument("--location", type=int, choices=range(1, 4),
                        help="AVIA: only this location (1, 2, 3)")
    parser.add_argument("--num_samples", type=int, default=1, help="AVIA: consecutive seconds per block")
    parser.add_argument("--split_mode", type=int, choices=range(3), default=0,
                        help="0: training/validation/testing, 1: training/validation, 2: all in dataset.txt")
    parser.add_argument("--disjoint", choices=lists.DISJOINT_UNITS,
                        help="AVIA: split whole recordings or subjects, so no split sees another's")
    parser.add_argument("--seed", type=int, default=lists.SEED, help="AVIA shuffle seed (the original's: 42)")
    parser.add_argument("--flavour", "--layout", dest="flavour", choices=FLAVOURS,
                        help="the tree's dataset (default: recognised; --layout: its former name)")
    parser.add_argument("--relative", action="store_true", help="paths relative to ROOT instead of absolute")
    parser.add_argument("--rewrite_prefix", nargs=2, action="append", metavar=("OLD", "NEW"),
                        help="rewrite the OLD prefix of the paths in existing lists to NEW (repeatable)")
    parser.add_argument("--allow_unmatched", action="store_true",
                        help="with --rewrite_prefix: a list in which no path has an OLD prefix is left as it is, "
                             "not an error")
    args = parser.parse_args(argv)
    try:
        if args.rewrite_prefix:
            rewrite(parser, args)
            return 0
        flavour = args.flavour or detect_flavour(args.root)
        if flavour == ACIVW:
            if args.location is not None or args.num_samples != 1 or args.disjoint:
                parser.error("--location, --num_samples and --disjoint are AVIA options "
                             "(ACIVW splits are video-disjoint)")
            splits = lists.acivw_splits(args.root, args.split_mode)
            out_dir = Path(os.path.abspath(args.root)) / "lists"
        else:
            splits = lists.avia_splits(args.root, args.location, args.num_samples, args.split_mode, args.seed,
                                       args.disjoint)
            out_dir = lists.avia_lists_dir(args.root, args.num_samples, args.location, args.disjoint)
        written = lists.write_lists(out_dir, splits, args.root if args.relative else None)
    except (OSError, ValueError) as err:
        parser.exit(1, f"{parser.prog}: error: {err}\n")
    for path, count in written.items():
        print(f"{path}: {count} records")
    return 0


if __name__ == "__main__":
    sys.exit(main())
