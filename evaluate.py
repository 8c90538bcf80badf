"""Evaluates a run of main.py: kNN (k chosen on validation, mean +- std over runs of
training windows), cross-modal retrieval (Rank-K, mAP), classification (accuracy, per
class, confusion matrix) and, on simulated data, sound-source localisation against the
simulator's ground truth; on a run of the sync stage, offset prediction on every recording
of the test list (evaluation/sync.py); on a content_identity run, speaker verification
(EER) and content top-1 on the test list's clips (evaluation/identity.py). See
evaluation/evaluate.py for what each measures.

    # the best checkpoint of runs/ss on the test list, localising with the raw recordings
    python evaluate.py --checkpoint_dir runs --exp_name ss --test_file lists/testing.txt --raw_root data/raw
    # the same stage randomly initialised (a baseline), then both side by side
    python evaluate.py --checkpoint_dir runs --exp_name ss --test_file lists/testing.txt --random_init
    python evaluate.py --compare runs/ss/evaluation.json runs/ss/evaluation_random_init.json
    # a given checkpoint (its run is the directory above it holding config.json)
    python evaluate.py --checkpoint runs/ss/checkpoints/last --test_file lists/testing.txt
    # a sync run: each recording's offset over a grid of candidates, -0.5 to 0.5 s by 45 ms
    python evaluate.py --checkpoint_dir runs --exp_name sync --test_file my_recordings.txt --candidates -0.5 0.5 0.045
    # a content_identity run: verification EER on 4-s clips, with the trials of a former evaluation
    python evaluate.py --checkpoint_dir runs --exp_name ci --test_file lists/testing.txt --trials runs/ci/trials.txt

The stage is rebuilt from the run's config.json; training and validation lists default to
the run's. Writes the results as JSON (default RUN/evaluation[_random_init].json), prints
them as a table, and writes the projector embeddings, the confusion matrix image and the
results as hparams to TensorBoard (default: the run's logs, under evaluation[_random_init]).
A mistake in the flags exits with status 2, bad input data with 1, each in one line.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import logger.quiet  # noqa: F401  (before anything imports tensorflow)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="evaluate.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    run = p.add_argument_group("what to evaluate (main.py's flags)")
    run.add_argument("--checkpoint_dir", default="runs", help="directory holding the runs")
    run.add_argument("--exp_name", default="experiment", help="the run is CHECKPOINT_DIR/EXP_NAME")
    run.add_argument("--checkpoint", "--restore_checkpoint", dest="checkpoint",
                     help="checkpoint to evaluate (default: the run's checkpoints/best, else checkpoints/last)")
    run.add_argument("--random_init", action="store_true",
                     help="evaluate the run's stage with its initial random weights (a baseline)")
    lists = p.add_argument_group("lists (default: the run's)")
    lists.add_argument("--train_file", help="training list: kNN's training windows")
    lists.add_argument("--valid_file", help="validation list: kNN's choice of k, phrase grounding's threshold")
    lists.add_argument("--test_file", help="test list: every metric")
    lists.add_argument("--data_root", help="root of relative paths in the lists")
    how = p.add_argument_group("how")
    how.add_argument("--raw_root", help="the simulator's raw recordings (with ground_truth.json): localisation, "
                     "phrase grounding in space")
    how.add_argument("--batch_size", type=int, help="windows per batch (default: the run's)")
    how.add_argument("--runs", type=int, default=5, help="kNN runs, each with its own training windows")
    how.add_argument("--knn_crops", type=int, default=1, help="random training windows per clip in a kNN run")
    how.add_argument("--tolerance", type=float, help="localisation: pointing tolerance in pixels of the "
                     "480 x 640 image (default 40: one cell of the 12 x 16 maps)")
    how.add_argument("--candidates", type=float, nargs=3, metavar=("LOW", "HIGH", "STEP"),
                     help="sync runs: the candidate offsets in seconds, a grid (default: the 45-ms bins of the "
                          "training records' offsets, as UltraSync)")
    how.add_argument("--trials", help="content_identity runs: a 'label file1 file2' trial list to score (default: "
                     "every pair of the test list's clips of two recordings, written to RUN/trials[_random_init].txt)")
    how.add_argument("--clip_seconds", type=int,
                     help="content_identity runs: seconds of a verification clip, a file of the trials (default 4)")
    out = p.add_argument_group("output")
    out.add_argument("--out", help="results JSON (default: RUN/evaluation[_random_init].json)")
    out.add_argument("--tensorboard", help="TensorBoard directory, as main.py's: logs go to TENSORBOARD/EXP_NAME/"
                     "evaluation[_random_init] (default: the run's logs directory)")
    out.add_argument("--name", help="the results' column name in tables")
    out.add_argument("--compare", nargs="+", metavar="JSON", help="only print saved results side by side")
    return p


def main(argv=None) -> int:
    p = parser()
    args = p.parse_args(argv)
    from trainer.session import user_error

    try:
        return evaluate(args)
    except Exception as err:
        if (reported := user_error(err)) is None:
            raise
        status, line = reported
        p.exit(status, f"{p.prog}: error: {line}\n")


def evaluate(args: argparse.Namespace) -> int:
    from evaluation.evaluate import evaluate_run
    from evaluation.identity import CLIP_SECONDS
    from evaluation.localise import DEFAULT_TOLERANCE
    from evaluation.report import format_table
    from trainer.config import FlagError
    from trainer.flag_checks import is_checkpoint
    from trainer.rundir import CONFIG, RunDir, find_run_dir

    if args.compare:
        missing = [path for path in args.compare if not Path(path).is_file()]
        if missing:
            raise FlagError("compare", f"no such file: {missing[0]}")
        saved = [json.loads(Path(path).read_text()) for path in args.compare]
        print(format_table([(result.get("name") or path, result) for path, result in zip(args.compare, saved)]))
        return 0
    run = find_run_dir(args.checkpoint) if args.checkpoint else RunDir.of(args.checkpoint_dir, args.exp_name)
    if run is None or not run.config.is_file():
        raise FlagError("checkpoint" if args.checkpoint else "exp_name",
                        f"no run ({CONFIG}) at {run.path if run else args.checkpoint}")
    if args.checkpoint and not is_checkpoint(args.checkpoint):
        raise FlagError("checkpoint", f"no checkpoint at {args.checkpoint} (give a run's checkpoints/best or /last)")
    if args.raw_root and not Path(args.raw_root).is_dir():
        raise FlagError("raw_root", f"no such directory: {args.raw_root}")
    candidates = None
    if args.candidates:
        from evaluation.sync import grid

        try:
            candidates = grid(*args.candidates)
        except ValueError as err:
            raise FlagError("candidates", str(err)) from None
    if args.trials and not Path(args.trials).is_file():
        raise FlagError("trials", f"no such file: {args.trials}")
    config = json.loads(run.config.read_text())
    suffix = "_random_init" if args.random_init else ""
    logs = run.logs(args.tensorboard or config.get("tensorboard"), config["exp_name"])
    results = evaluate_run(
        run.path, checkpoint=args.checkpoint, random_init=args.random_init, train_file=args.train_file,
        valid_file=args.valid_file, test_file=args.test_file, data_root=args.data_root, raw_root=args.raw_root,
        batch_size=args.batch_size, runs=args.runs, knn_crops=args.knn_crops,
        tolerance=DEFAULT_TOLERANCE if args.tolerance is None else args.tolerance,
        tensorboard=logs / f"evaluation{suffix}", name=args.name, candidates=candidates, trials=args.trials,
        trials_out=run.path / f"trials{suffix}.txt",
        clip_seconds=CLIP_SECONDS if args.clip_seconds is None else args.clip_seconds,
    )
    out = Path(args.out) if args.out else run.evaluation(args.random_init)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1))
    print(format_table(results))
    print(f"\nresults: {out}\nTensorBoard: {logs / f'evaluation{suffix}'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
