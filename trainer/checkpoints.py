"""Checkpoints that make a run resumable and keep its best state.

`last/` holds the whole training state (stage weights, optimizer slots and step, epoch,
steps done in the epoch) every `every_steps` steps and at every epoch's end; a killed run
restarted with the same run directory continues from there. `best/` holds the weights of
the epoch with the best validation metric, and `best.json` that metric, so a resumed run
keeps comparing against the true best (the originals overwrote "best" every epoch).
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import keras
import tensorflow as tf


def last_state_dir(run_dir: str | Path) -> Path:
    """Where a run keeps its resumable training state (`TrainingState`)."""
    return Path(run_dir) / "checkpoints" / "last"


def will_resume(run_dir: str | Path) -> bool:
    """True when training in `run_dir` continues from a saved state instead of starting."""
    return tf.train.latest_checkpoint(str(last_state_dir(run_dir))) is not None


class TrainingState:
    def __init__(self, stage: keras.Model, run_dir: str | Path, max_to_keep: int = 2):
        self.stage = stage
        self.dir = last_state_dir(run_dir).parent  # also holds the best weights (KeepBest)
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
        self.step_in_epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="step_in_epoch")
        self.checkpoint = tf.train.Checkpoint(model=stage, optimizer=stage.optimizer, epoch=self.epoch,
                                              step_in_epoch=self.step_in_epoch)
        self.manager = tf.train.CheckpointManager(self.checkpoint, str(last_state_dir(run_dir)),
                                                  max_to_keep=max_to_keep)

    def restore(self) -> bool:
        """Restores the last state if there is one. The optimizer's variables exist only after
        it has been built, so it is built first: otherwise its slots would not be restored."""
        if self.manager.latest_checkpoint is None:
            return False
        self.stage.optimizer.build([v for net in self.stage.trained for v in net.trainable_variables])
        self.checkpoint.restore(self.manager.latest_checkpoint).assert_existing_objects_matched()
        return True

    def save(self) -> str:
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
    """Saves the training state every `every_steps` steps and at the end of every epoch."""

    def __init__(self, state: TrainingState, every_steps: int = 0):
        super().__init__()
        self.state, self.every_steps = state, every_steps

    def on_train_batch_end(self, batch, logs=None):
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
    """Saves the stage's weights whenever `monitor` improves on the best seen by the run."""

    def __init__(self, state: TrainingState, monitor: str, mode: str = "max"):
        super().__init__()
        if mode not in ("max", "min"):
            raise ValueError(f"mode must be 'max' or 'min', got {mode!r}")
        self.monitor, self.mode = monitor, mode
        self.record = state.dir / "best.json"
        self.manager = tf.train.CheckpointManager(tf.train.Checkpoint(model=state.stage), str(state.dir / "best"),
                                                  max_to_keep=1)

    def best(self) -> float:
        if self.record.is_file():
            return json.loads(self.record.read_text())["value"]
        return -math.inf if self.mode == "max" else math.inf

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None:
            raise KeyError(f"KeepBest monitors {self.monitor!r}, which is not among {sorted(logs or {})}")
        value = float(value)
        better = value > self.best() if self.mode == "max" else value < self.best()
        if better:
            self.manager.save(checkpoint_number=epoch + 1)
            self.record.write_text(json.dumps({"monitor": self.monitor, "value": value, "epoch": epoch + 1}))
