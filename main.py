"""Trains or evaluates a stage of either paper, with the original scripts' flags.

    # (A) self-supervised: ResNet18_v1 video vs DualCamHybridNet acoustic images
    python main.py --mode train --embedding 1 --model_1 ResNet18_v1 --model_2 DualCamHybridNet \
        --train_file lists/training.txt --valid_file lists/validation.txt \
        --checkpoint_dir runs --exp_name ss --batch_size 64 --sample_length 2 --num_epochs 20
    # (B) teacher, then a student distilled from it
    python main.py --mode train --model DualCamHybridNet --train_file ... --exp_name teacher
    python main.py --mode train --student_model HearNet --teacher_model DualCamHybridNet \
        --teacher_restore_checkpoint runs/teacher/networks/net.weights.h5 --exp_name student ...
    # evaluate the best checkpoint of a run on a list: writes metrics.json beside it
    python main.py --mode test --checkpoint_dir runs --exp_name ss --test_file lists/testing.txt ...

A run lives in CHECKPOINT_DIR/EXP_NAME: `config.json` (the effective configuration),
`checkpoints/last` (resumable state: a restarted run continues where it stopped),
`checkpoints/best` (+ best.json), `networks/ROLE.weights.h5` (the best weights of each
network, what the per-branch init flags take) and `logs/` for TensorBoard. A restarted run
takes a changed --num_epochs or --learning_rate (and other flags that do not shape its state,
trainer.restart.APPLIED_ON_RESUME), recording the change in config.json, and refuses the others.
A mistake in the flags exits with status 2, bad input data (a malformed record, a NaN) with
1, each reported in one line; a run that fails before its first training step leaves
nothing behind. `python main.py --helpfull` lists every flag.
"""
from __future__ import annotations

import json
import sys

from absl import app, flags, logging

import logger.quiet  # noqa: F401  (before anything imports tensorflow)

# (A)'s main.py
flags.DEFINE_enum("mode", "train", ["train", "test"], "Execution mode")
flags.DEFINE_string("model", None, "Network of a supervised stage: DualCamHybridNet, DualCamNet, HearNet, SoundNet5, "
                    "ResNet18_v1, ResNet50, TemporalResNet50, AVModel, or a registry name (models.registry)")
flags.DEFINE_string("train_file", None, "List of training records")
flags.DEFINE_string("valid_file", None, "List of validation records")
flags.DEFINE_string("test_file", None, "List of records evaluated by --mode test")
flags.DEFINE_string("exp_name", "experiment", "Name of the experiment: its run is CHECKPOINT_DIR/EXP_NAME")
flags.DEFINE_string("init_checkpoint", None, "Checkpoint (a run's checkpoints/best or /last) to initialise the "
                    "whole stage from")
flags.DEFINE_string("visual_init_checkpoint", None, "Weights file (.weights.h5) for the video network")
flags.DEFINE_string("acoustic_init_checkpoint", None, "Weights file for the audio network (transfer: for the "
                    "frozen DualCamNet)")
flags.DEFINE_string("restore_checkpoint", None, "Checkpoint to continue training from, or to test")
flags.DEFINE_integer("batch_size", None, "Global mini-batch size (default: the stage's recipe)")
flags.DEFINE_float("learning_rate", None, "Adam's learning rate (default: the stage's recipe)")
flags.DEFINE_integer("display_freq", 1, "Print progress every N epochs (Keras verbosity 2)")
flags.DEFINE_integer("num_epochs", None, "Epochs to train (default: the stage's recipe)")
flags.DEFINE_integer("total_length", None, "Recordings are cut into blocks of this many seconds and training draws "
                     "number_of_crops windows from each block (default: the stage's recipe, 2 for (A)'s "
                     "self-supervised and transfer stages, every block once; 30 otherwise)")
flags.DEFINE_integer("sample_length", None, "Seconds per sample (default: the stage's recipe)")
flags.DEFINE_integer("number_of_crops", None, "Training windows per block of total_length and epoch")
flags.DEFINE_integer("buffer_size", None, "Batches to prefetch (default: autotuned)")
flags.DEFINE_string("tensorboard", None, "Directory for TensorBoard logs (default: the run's logs/); (B)'s "
                    "--log_dir (absl's own flag) works too")
flags.DEFINE_string("checkpoint_dir", "runs", "Directory holding the runs")
flags.DEFINE_integer("temporal_pooling", 1, "Accepted for compatibility: logits are always averaged over frames")
flags.DEFINE_integer("embedding", None, "1: self-supervised (or --transfer) with --model_1 and --model_2; "
                     "0: supervised --model (default: 1 when --model_1/--model_2 are given)")
flags.DEFINE_string("model_1", None, "Video network of the self-supervised stages (ResNet18_v1)")
flags.DEFINE_string("model_2", None, "Audio network of the self-supervised stages (DualCamHybridNet or HearNet)")
flags.DEFINE_float("margin", 0.2, "Triplet margin")
flags.DEFINE_integer("transfer", 0, "1: (A)'s transfer from a frozen DualCamNet into HearNet")
flags.DEFINE_integer("distillation", 0, "1: distil a DualCamHybridNet teacher into a HearNet student")
flags.DEFINE_integer("block_size", 1, "Video frames per second of sample (nr_frames = block_size * sample_length)")
flags.DEFINE_enum("loss", "Triplet", ["Triplet"], "Self-supervised loss (the original's Contrastive was unused)")
flags.DEFINE_integer("num_class", None, "Accepted for compatibility: classes come from the dataset (10 or 14)")
flags.DEFINE_float("alpha", 0.5, "Transfer: weight of the triplet loss towards the frozen DualCamNet")
# (B)'s main_s1 / main_s2
flags.DEFINE_bool("normalize", True, "Normalise spectrograms with --stats_file (default: the run's own, computed "
                  "from the training list when the run starts)")
flags.DEFINE_bool("save_best_only", True, "Accepted for compatibility: best and last are both kept")
flags.DEFINE_string("student_model", None, "Distillation: the student network (HearNet, SoundNet5, ResNet50, ...)")
flags.DEFINE_string("teacher_model", None, "Distillation and transfer: the frozen teacher network")
flags.DEFINE_string("student_init_checkpoint", None, "Weights file for the student")
flags.DEFINE_string("teacher_restore_checkpoint", None, "Weights file for the teacher")
flags.DEFINE_float("alpha_value", 0.0, "Accepted for compatibility: (B)'s hallucination loss was unused")
flags.DEFINE_float("lambda_value", 0.5, "Distillation: weight of the teacher's soft targets")
flags.DEFINE_float("temperature_value", 1.0, "Distillation: softmax temperature")
# Beyond the originals
flags.DEFINE_enum("stage", None, ["self_supervised", "transfer", "supervised", "distillation"],
                  "The stage, instead of deriving it from --embedding/--transfer/--distillation/--student_model")
flags.DEFINE_enum("flavour", None, ["acivw", "avia"], "Dataset flavour (default: recognised from the list)")
flags.DEFINE_string("data_root", None, "Root of relative paths in the lists")
flags.DEFINE_integer("seed", 0, "Seed of weights and training crops (crops differ every epoch)")
flags.DEFINE_integer("nr_frames", None, "Video frames per sample (overrides --block_size)")
flags.DEFINE_string("stats_file", None, "HearNet normalisation statistics (python -m dataloader.stats)")
flags.DEFINE_bool("mirror", False, "Mirror each training window left-right with probability 1/2: acoustic images "
                  "and video frames together, so the source stays where both see it (single-microphone audio is "
                  "unchanged)")
flags.DEFINE_bool("flip_acoustic_images", False, "Flip acoustic images left-right and up-down as they are read, as "
                  "(A)'s loader did: the original ACIVW recordings need it to face the video, the simulated camera's "
                  "do not")
flags.DEFINE_integer("hard_from_epoch", 4, "Self-supervised: batch-all triplets before this epoch (counted from 0), "
                     "then batch-hard; (A) switched after epoch 3")
flags.DEFINE_float("cross_modal_weight", 0.0, "Self-supervised: weight of a cross-modal identity loss (SyncNet's, "
                   "scaled cosines of the pooled audio and video features across the batch) added to the triplets")
flags.DEFINE_bool("orient_audio_map", True, "Self-supervised: draw DualCamNet's initial weights again until its "
                  "map rises with the acoustic energy of the first batch ((A)'s objective keeps whichever way the "
                  "map starts, and only a rising one localises); --noorient_audio_map keeps the first draw")
flags.DEFINE_float("map_agreement_weight", 0.0, "Self-supervised: weight of KL(audio map || video map) over the "
                   "cells of each clip, the audio map fixed: the video map learns where the acoustic image hears")
flags.DEFINE_float("cross_modal_scale", 10.0, "Scale w of the cross-modal identity loss's logits w * cos")
flags.DEFINE_enum("distillation_form", "standard", ["standard", "original"],
                  "standard: T^2 * CE(softmax(t/T), softmax(s/T)); original: (B)'s CE(softmax(t/T), s)")
flags.DEFINE_integer("save_every_steps", 100, "Also save the resumable state every N steps (0: epochs only)")
flags.DEFINE_integer("steps_per_epoch", None, "Train at most N batches per epoch (for quick runs)")
flags.DEFINE_bool("standardise_acoustic_images", True, "Standardise each acoustic-image coefficient with "
                  "dataset statistics: --acoustic_image_stats, or computed from --train_file into the run directory "
                  "(the originals fed them unscaled: --nostandardise_acoustic_images)")
flags.DEFINE_string("acoustic_image_stats", None, "Acoustic-image statistics (python -m dataloader.stats --input "
                    "acoustic_image); default: the run directory's acoustic_image_stats.npz")
flags.DEFINE_float("batch_norm_decay", None, "Momentum of the batch norms' moving averages (default: each "
                   "model's, 0.997 for the ResNets as slim's); runs of a few hundred steps need ~0.9, or the "
                   "inference-mode statistics lag the weights")
flags.DEFINE_bool("mixed_precision", False, "Train in mixed_float16")
flags.DEFINE_bool("jit_compile", False, "Compile train steps with XLA")
flags.DEFINE_string("resnet50_weights", None, "Local Keras ImageNet ResNet-50 weights (.h5)")
flags.DEFINE_string("soundnet_weights", None, "Local soundnet5_final.t7 for SoundNet5's conv1-4")
flags.DEFINE_integer("logical_cpus", 0, "Split the CPU into N devices under MirroredStrategy (testing)")
flags.DEFINE_bool("deterministic", False, "Same batches in the same order and deterministic ops: a resumed run "
                  "then reproduces an uninterrupted one exactly (slower input pipeline)")
flags.DEFINE_integer("verbose", 2, "Keras verbosity: 0 silent, 1 progress bar, 2 one line per epoch")

FLAGS = flags.FLAGS


def flag_config() -> dict:
    """The parsed flags of this script as a plain dict (what trainer.cli.run takes)."""
    config = {flag.name: flag.value for flag in FLAGS.get_flags_for_module(sys.modules[__name__])}
    config["log_dir"] = FLAGS.log_dir or None
    return config


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
    from trainer.cli import run
    from trainer.experiment import user_error

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
