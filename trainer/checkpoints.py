"""Checkpoints that make a run resumable and keep its best state, and never a fault.

`last/` holds the whole training state (stage weights, optimizer slots and step, epoch,
steps done in the epoch) every `every_steps` steps and at every epoch's end; a killed run
restarted with the same run directory continues from there. `best/` holds the weights of
the epoch with the best validation metric, and `best.json` that metric, so a resumed run
keeps comparing against the true best (the originals overwrote "best" every epoch).

A non-finite loss, weight or validation metric stops training with a `NonFiniteError`
before anything holding it is saved, so the run, run again once the cause is fixed,
resumes from its last finite state.
"""
from __future__ import annotations

import json
import math
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path

import keras
import tensorflow as tf
from absl import logging

from conversion.files import partial_path, write_text_atomic
from trainer.rundir import RunDir

# They name main.py's flags: its users are who read these messages.
TRAINING_HINT = "Lower --learning_rate, or check the training list with python -m dataloader.verify TRAIN_FILE"
VALIDATION_HINT = ("the validation data (--valid_file) give a NaN or an infinity: check them with python -m "
                   "dataloader.verify VALID_FILE")


class NonFiniteError(FloatingPointError):
    """Training met a NaN or an infinity and stopped before saving it. Its text is one line
    for the user: what was not finite, where, what to try, and where the run resumes."""


def will_resume(run_dir: str | Path) -> bool:
    """True when training in `run_dir` continues from a saved state instead of starting."""
    return tf.train.latest_checkpoint(str(RunDir(Path(run_dir)).last)) is not None


def non_finite_variables(variables: Iterable) -> list[str]:
    """The paths of the floating-point variables holding a NaN or an infinity: one reduction
    over them all, and a look at each only when it finds one."""
    floating = [v for v in variables if keras.backend.is_float_dtype(v.dtype)]
    if bool(tf.reduce_all([tf.reduce_all(tf.math.is_finite(v)) for v in floating])):
        return []
    return [v.path for v in floating if not bool(tf.reduce_all(tf.math.is_finite(v)))]


def remove_leftovers(manager: tf.train.CheckpointManager) -> None:
    """Removes what saves killed midway left in a manager's directory: all but its state file
    (`checkpoint`, written by renaming) and the files of the checkpoints that file names.
    On TF 2.17 and 2.21 a save writes its shard to `<prefix>_temp/part-00000-of-00001.*.tempstate<n>`,
    renames the data to `<prefix>.data-00000-of-00001`, writes `<prefix>.index` in place,
    and only then names `<prefix>` in the state file; a kill at any point leaves files no
    later save removes (a saved `<prefix>` again keeps the stale temporary file, and its
    `_temp` directory)."""
    directory = Path(manager.directory)
    if not directory.is_dir():
        return
    kept = {Path(path).name for path in manager.checkpoints}
    stale = sorted(path for path in directory.iterdir()
                   if path.name != "checkpoint" and path.name.partition(".")[0] not in kept)
    for path in stale:
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()
    if stale:
        logging.warning("%s: removed what an interrupted save left: %s", directory,
                        ", ".join(path.name for path in stale))


class TrainingState:
    def __init__(self, stage: keras.Model, run_dir: str | Path, max_to_keep: int = 2,
                 describe_batch: Callable[[int, int], str] | None = None):
        self.stage = stage
        self.run_dir = RunDir(Path(run_dir))
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
        self.step_in_epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="step_in_epoch")
        self.checkpoint = tf.train.Checkpoint(model=stage, optimizer=stage.optimizer, epoch=self.epoch,
                                              step_in_epoch=self.step_in_epoch)
        self.manager = tf.train.CheckpointManager(self.checkpoint, str(self.run_dir.last),
                                                  max_to_keep=max_to_keep)
        remove_leftovers(self.manager)
        self.describe_batch = describe_batch
        # (epoch, index in the epoch) of the batch trained last, which faults are reported at.
        self.position = (0, 0)

    def restore(self) -> bool:
        """Restores the last state if there is one. The optimizer's variables exist only after
        it has been built, so it is built first: otherwise its slots would not be restored."""
        if self.manager.latest_checkpoint is None:
            return False
        self.stage.optimizer.build([v for net in self.stage.trained for v in net.trainable_variables])
        self.checkpoint.restore(self.manager.latest_checkpoint).assert_existing_objects_matched()
        return True

    def check_finite(self) -> None:
        """Raises a `NonFiniteError` unless every weight and optimizer variable is finite: a
        step with a finite loss can still make them not (a NaN gradient), and when a save
        follows that step, no later loss shows it before they are written."""
        bad = non_finite_variables([*self.stage.variables, *self.stage.optimizer.variables])
        if bad:
            raise self.fault(f"weights or optimizer state not finite ({', '.join(bad[:3])}"
                             f"{', ...' if len(bad) > 3 else ''}) after a finite loss")

    def fault(self, problem: str) -> NonFiniteError:
        """`problem` at the batch trained last: its step, epoch, batch and recordings, what to
        try and where running it again resumes."""
        epoch, batch = self.position
        where = f"epoch {epoch + 1}, batch {batch + 1}"
        if self.describe_batch is not None:
            where += f": {self.describe_batch(epoch, batch)}"
        saved = self.manager.latest_checkpoint
        resume = (f"running it again resumes from step {saved.rsplit('-', 1)[1]}, the last state saved" if saved
                  else "running it again starts over, as no state was saved")
        step = int(self.stage.optimizer.iterations.numpy())
        return NonFiniteError(f"{problem} at optimizer step {step} ({where}): training stopped before saving it. "
                              f"{TRAINING_HINT}; {resume}")

    def save(self) -> str:
        self.check_finite()
        return self.manager.save(checkpoint_number=int(self.stage.optimizer.iterations.numpy()))


def restore_weights(stage: keras.Model, path: str | Path) -> None:
    """Loads the stage weights of a checkpoint (a `last/` or `best/` prefix or directory) for
    evaluation or initialisation, without optimizer state."""
    path = str(path)
    prefix = tf.train.latest_checkpoint(path) if Path(path).is_dir() else path
    if prefix is None:
        raise FileNotFoundError(f"no checkpoint in {path}")
    tf.train.Checkpoint(model=stage).restore(prefix).expect_partial()


class SaveState(keras.callbacks.Callback):
    """Stops at the first non-finite loss, before the step that made it is saved; saves the
    training state every `every_steps` steps and at the end of every epoch."""

    def __init__(self, state: TrainingState, every_steps: int = 0):
        super().__init__()
        self.state, self.every_steps = state, every_steps

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        # The batch's index in the whole epoch: a resumed epoch's first batches were skipped.
        self.state.position = (self.epoch, int(self.state.step_in_epoch.numpy()))
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            raise self.state.fault(f"loss is {float(loss)}")
        self.state.step_in_epoch.assign_add(1)
        step = int(self.state.step_in_epoch.numpy())
        # The epoch's last step is saved by on_epoch_end, as the start of the next epoch: a
        # state at the end of an epoch's batches would resume into an empty epoch.
        if self.every_steps and step % self.every_steps == 0 and step != self.params.get("steps"):
            self.state.save()

    def on_epoch_end(self, epoch, logs=None):
        self.state.epoch.assign(epoch + 1)
        self.state.step_in_epoch.assign(0)
        self.state.save()


class KeepBest(keras.callbacks.Callback):
    """Saves the stage's weights whenever `monitor` improves on the best seen by the run.
    Stops at a non-finite validation metric, which would be one at every later epoch too,
    rather than compare it."""

    def __init__(self, state: TrainingState, monitor: str, mode: str = "max"):
        super().__init__()
        if mode not in ("max", "min"):
            raise ValueError(f"mode must be 'max' or 'min', got {mode!r}")
        self.state, self.monitor, self.mode = state, monitor, mode
        self.record = state.run_dir.best_record
        partial_path(self.record).unlink(missing_ok=True)  # of a run killed writing it
        self.manager = tf.train.CheckpointManager(tf.train.Checkpoint(model=state.stage), str(state.run_dir.best),
                                                  max_to_keep=1)
        remove_leftovers(self.manager)

    def best(self) -> float:
        if self.record.is_file():
            return json.loads(self.record.read_text())["value"]
        return -math.inf if self.mode == "max" else math.inf

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        value = logs.get(self.monitor)
        if value is None:
            raise KeyError(f"KeepBest monitors {self.monitor!r}, which is not among {sorted(logs)}")
        non_finite = [f"{key} is {float(v)}" for key, v in sorted(logs.items())
                      if key.startswith("val_") and not math.isfinite(float(v))]
        if non_finite:
            raise NonFiniteError(f"{', '.join(non_finite)} after epoch {epoch + 1}: {VALIDATION_HINT}; the "
                                 f"epoch's state is saved, and running it again resumes after it")
        value = float(value)
        better = value > self.best() if self.mode == "max" else value < self.best()
        if better:
            self.state.check_finite()
            self.manager.save(checkpoint_number=epoch + 1)
            write_text_atomic(self.record, json.dumps({"monitor": self.monitor, "value": value, "epoch": epoch + 1}))
