"""Trains or evaluates a stage of either paper, with the original scripts' flags.

    # (A) self-supervised: ResNet18_v1 video vs DualCamHybridNet acoustic images
    python main.py --mode train --embedding 1 --model_1 ResNet18_v1 --model_2 DualCamHybridNet \
        --train_file lists/training.txt --valid_file lists/validation.txt \
        --checkpoint_dir runs --exp_name ss --batch_size 64 --sample_length 2 --num_epochs 20
    # (B) teacher, then a student distilled from it
    python main.py --mode train --model DualCamHybridNet --train_file ... --exp_name teacher
    python main.py --mode train --student_model HearNet --teacher_model DualCamHybridNet \
        --teacher_restore_checkpoint runs/teacher/networks/net.weights.h5 --exp_name student ...
    # UltraSync's sync: video windows against their audio, the video cropped around the acoustic peak
    python main.py --recipe u_sync --model_1 sync_crop --train_file ... --valid_file ... --exp_name sync
    # evaluate the best checkpoint of a run on a list: writes metrics.json beside it
    python main.py --mode test --checkpoint_dir runs --exp_name ss --test_file lists/testing.txt ...

A run lives in CHECKPOINT_DIR/EXP_NAME: `config.json` (the effective configuration),
`checkpoints/last` (resumable state: a restarted run continues where it stopped),
`checkpoints/best` (+ best.json), `networks/ROLE.weights.h5` (the best weights of each
network, what the per-branch init flags take) and `logs/` for TensorBoard. A restarted run
takes a changed --num_epochs or --learning_rate (and other flags that do not shape its state,
trainer.restart.APPLIED_ON_RESUME), recording the change in config.json, and refuses the others.
Every flag is a field of `trainer.config.RunConfig`, which states its default and help;
`--recipe NAME` runs a recipe of the papers (`trainer.recipes`), the flags given overriding it.
A mistake in the flags exits with status 2, bad input data (a malformed record, a NaN) with
1, each reported in one line; a run that fails before its first training step leaves
nothing behind. `python main.py --helpfull` lists every flag.
"""
from __future__ import annotations

import json
import sys

from absl import app, flags, logging

import logger.quiet  # noqa: F401  (before anything imports tensorflow)
from trainer.config import RunConfig, field_type  # no TensorFlow: the flags parse fast

DEFINE = {bool: flags.DEFINE_bool, int: flags.DEFINE_integer, float: flags.DEFINE_float, str: flags.DEFINE_string}
for field in RunConfig.flag_fields():
    if field.metadata["choices"]:
        flags.DEFINE_enum(field.name, field.default, list(field.metadata["choices"]), field.metadata["help"])
    else:
        DEFINE[field_type(field.name)](field.name, field.default, field.metadata["help"])

FLAGS = flags.FLAGS


def flag_config() -> RunConfig:
    """The parsed flags of this script (and absl's --log_dir, which (B)'s scripts used)."""
    values = {field.name: FLAGS[field.name].value for field in RunConfig.flag_fields()}
    return RunConfig(**values, log_dir=FLAGS.log_dir or None)


def error(code: int, message: str) -> int:
    """Reports a mistake in the user's flags (code 2) or input data (code 1) in one line."""
    print(f"main.py: error: {message}", file=sys.stderr)
    return code


def parse_flags(argv: list[str]) -> list[str]:
    try:
        return FLAGS(argv)
    except flags.Error as err:
        sys.exit(error(2, str(err)))


def main(argv) -> int:
    del argv
    logging.set_verbosity(logging.WARNING)
    from trainer.session import run, user_error

    try:
        metrics = run(flag_config())
    except Exception as err:
        if (reported := user_error(err)) is None:
            raise
        return error(*reported)
    print(json.dumps(metrics, indent=1))
    return 0


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags)
