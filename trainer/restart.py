"""What a restarted run does with flags that differ from its config.json, and what a run
that fails before its first training step leaves behind (nothing it created)."""
from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import keras
import tensorflow as tf
from absl import logging

from trainer.checkpoints import will_resume
from trainer.config import FlagError, RunConfig
from trainer.rundir import RunDir

# What a restarted run does with a flag whose value differs from its config.json. Applied:
# the run continues with the new value, and config.json records the change (CONFIG_CHANGES).
APPLIED_ON_RESUME = {
    "num_epochs": "the loop runs from the restored epoch up to the new count",
    "learning_rate": "assigned to the optimizer once its state is restored, which holds the old rate "
                     "(ConfiguredLearningRate)",
    "save_every_steps": "only how often the state is saved",
    "verbose": "output only", "display_freq": "output only",
    "tensorboard": "only where logs go", "log_dir": "only where logs go",
    "buffer_size": "a throughput knob: the batches are the same",
    "input_cache": "a throughput knob: the batches are the same", "clear_input_cache": "likewise",
    "data_service": "where the same batches are made", "data_service_job": "likewise",
    "deterministic": "the same windows, in an order and with op results that may differ in the last bits",
    "logical_cpus": "the same global batch split between more replicas; the state does not depend on them",
    "jit_compile": "only how the same step is compiled",
    "test_file": "training does not read it",
    "mode": "what this command does (a resumed run trains)",
    "exp_name": "names the run directory, whose state is resumed", "checkpoint_dir": "where the run directory is",
    "temporal_pooling": "no effect (accepted for compatibility)", "num_class": "no effect (accepted for compatibility)",
    "save_best_only": "no effect (accepted for compatibility)", "alpha_value": "no effect (accepted for compatibility)",
    "networks": "follows the model flags, which are compared themselves",
    "recipe": "names settings, which are compared themselves",
}
# Refused: the restarted run stops, naming them. So is any key listed in neither table.
REFUSED_ON_RESUME = {
    **dict.fromkeys(("stage", "flavour", "embedding", "transfer", "distillation", "model", "model_1", "model_2",
                     "student_model", "teacher_model"), "the networks the state holds"),
    **dict.fromkeys(("batch_size", "sample_length", "total_length", "number_of_crops", "nr_frames", "block_size",
                     "seed", "mirror", "flip_acoustic_images", "steps_per_epoch", "train_file", "data_root",
                     "max_offset"),
                    "what an epoch's batches are: the state counts the batches of its epoch done, and windows are "
                    "drawn from the list by (seed, epoch)"),
    "valid_file": "the best state's record (best.json) was measured on it",
    **dict.fromkeys(("stats_file", "acoustic_image_stats", "normalize", "standardise_acoustic_images"),
                    "the input scaling the weights were trained on"),
    **dict.fromkeys(("loss", "margin", "alpha", "hard_from_epoch", "cross_modal_weight", "cross_modal_scale",
                     "map_agreement_weight", "lambda_value", "temperature_value", "distillation_form",
                     "contrastive_margin", "identity_targets", "caption_pooling", "caption_margin"),
                    "the objective the run has been optimising"),
    **dict.fromkeys(("vocabulary", "word_vectors", "freeze_word_vectors"),
                    "the words the text network's weights stand for, and whether they train"),
    "batch_norm_decay": "the state's moving averages were kept with it",
    "mixed_precision": "the optimizer's state differs (a loss-scale wrapper) and cannot be restored",
    **dict.fromkeys(("init_checkpoint", "restore_checkpoint", "visual_init_checkpoint", "acoustic_init_checkpoint",
                     "student_init_checkpoint", "teacher_restore_checkpoint", "resnet50_weights", "soundnet_weights",
                     "orient_audio_map"), "how the run started: the restored state replaces what it set"),
}
CONFIG_CHANGES = "config_changes"  # in config.json: [{"epoch", "step", "changes": {flag: [old, new]}}]


def resumed_config(config: RunConfig, run_dir: Path) -> RunConfig:
    """The configuration a run continues with when `run_dir` holds a state it resumes: its
    flags that differ from the run's config.json are applied and recorded, or refused
    (FlagError naming each); see APPLIED_ON_RESUME and REFUSED_ON_RESUME."""
    saved = RunDir(run_dir).config
    if not (saved.is_file() and will_resume(run_dir)):
        return config
    previous = json.loads(saved.read_text())
    current = json.loads(config.to_json())  # as config.json holds it
    changed = {key: [previous[key], value] for key, value in current.items()
               if key != CONFIG_CHANGES and key in previous and previous[key] != value}
    refused = [key for key in changed if key not in APPLIED_ON_RESUME]
    if refused:
        raise FlagError(tuple(refused), (
            f"{', '.join(f'{key} {changed[key][0]} -> {changed[key][1]}' for key in refused)}: the run in {run_dir} "
            "resumes its state, which these shape; give the values of its config.json, or start another run "
            "(--exp_name)"))
    history = previous.get(CONFIG_CHANGES) or []
    if changed:
        history = [*history, {**_resumed_at(run_dir), "changes": changed}]
        logging.warning("resuming %s with %s", run_dir,
                        ", ".join(f"{key} {old} -> {new}" for key, (old, new) in changed.items()))
    return config.replace(config_changes=history) if history else config


def _resumed_at(run_dir: Path) -> dict:
    """The epoch and optimizer step of the state a run resumes (a checkpoint is numbered by
    its step)."""
    prefix = tf.train.latest_checkpoint(str(RunDir(run_dir).last))
    epoch = tf.train.load_checkpoint(prefix).get_tensor("epoch/.ATTRIBUTES/VARIABLE_VALUE")
    return {"epoch": int(epoch), "step": int(prefix.rsplit("-", 1)[1])}


class ConfiguredLearningRate(keras.callbacks.Callback):
    """Sets the optimizer's learning rate to the configured one when training starts. Keras
    3 keeps the rate in a variable of the optimizer, so restoring a state brings back the
    rate it was saved with; a rate changed on restart must win over it."""

    def __init__(self, learning_rate: float):
        super().__init__()
        self.learning_rate = learning_rate

    def on_train_begin(self, logs=None):
        self.model.optimizer.learning_rate = self.learning_rate


class FirstStep(keras.callbacks.Callback):
    """Records that a training step has ended, every callback before this one accepting it
    (a NaN loss stops the run at the first step, with nothing saved). Not the optimizer's
    step count: a step whose batch fails to load may still have counted."""

    taken = False

    def on_train_batch_end(self, batch, logs=None):
        self.taken = True


@contextlib.contextmanager
def undone_unless_trained(directories: Sequence[Path]):
    """Removes what a run creates in `directories` if it fails before its first training step
    (a mistake in its input): the directories if they did not exist, else their new entries.
    Nothing that existed before is touched. Yields the FirstStep callback that tells."""
    first_step = FirstStep()
    before = {}
    for directory in directories:
        directory = directory.absolute()
        if directory.is_dir():
            before[directory] = set(os.listdir(directory))
        else:
            while not directory.parent.exists():  # the topmost of those the run would create
                directory = directory.parent
            before[directory] = None
    try:
        yield first_step
    except Exception:
        if not first_step.taken:
            for directory, entries in before.items():
                new = [directory] if entries is None else [directory / name for name in
                                                            set(os.listdir(directory)) - entries]
                for path in new:
                    if path.is_dir():
                        shutil.rmtree(path, ignore_errors=True)
                    elif path.exists():
                        path.unlink()
        raise
