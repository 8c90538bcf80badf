"""The epoch loop shared by every stage: resume, checkpoints, best weights, logs."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import keras
import tensorflow as tf

from logger.callbacks import EpochProgress, LearningRateLogger
from trainer.checkpoints import KeepBest, NonFiniteError, SaveState, TrainingState
from trainer.rundir import RunDir
from trainer.stages import TrackEpoch

__all__ = ["NonFiniteError", "train"]


def train(stage: keras.Model, dataset_for_epoch: Callable[[int], tf.data.Dataset],
          validation: tf.data.Dataset | None, epochs: int, run_dir: str | Path, monitor: str,
          mode: str = "max", save_every_steps: int = 0, callbacks: Sequence[keras.callbacks.Callback] = (),
          verbose: int = 2, logs_dir: str | Path | None = None,
          describe_batch: Callable[[int, int], str] | None = None) -> dict:
    """Trains `stage` (compiled) up to `epochs`, continuing a run found in `run_dir`.

    `dataset_for_epoch(e)` gives epoch e's training batches; it must give the same batches
    for the same e (the loader seeds its crops by epoch), so that a run resumed in the
    middle of an epoch skips exactly the batches it had trained on. `describe_batch(e, k)`
    names what batch k (from 0) of epoch e holds, for the message of a `NonFiniteError`:
    a NaN or infinite loss, weight or validation metric stops training before it is
    saved. Starting or resuming first removes what killed saves left among the run's
    checkpoints. Returns the last epoch's logs and where training started.
    """
    run_dir = Path(run_dir)
    state = TrainingState(stage, run_dir, describe_batch=describe_batch)
    resumed = state.restore()
    start_epoch, skip = int(state.epoch.numpy()), int(state.step_in_epoch.numpy())
    logs_dir = str(logs_dir or RunDir(run_dir).logs())
    # In this order: a non-finite loss stops training in SaveState before the state of its
    # step is saved, a non-finite validation metric in KeepBest after the epoch's (finite)
    # state is, and the progress display, before both, has shown what they stop at.
    all_callbacks = [
        TrackEpoch(), EpochProgress(epochs), SaveState(state, save_every_steps), LearningRateLogger(logs_dir),
        keras.callbacks.TensorBoard(logs_dir, update_freq="epoch"), *callbacks,
    ]
    if validation is not None:
        all_callbacks.insert(3, KeepBest(state, monitor, mode))
    logs: dict = {}
    for epoch in range(start_epoch, epochs):
        batches = dataset_for_epoch(epoch)
        if skip:
            batches, skip = batches.skip(skip), 0
        # shuffle=False: the datasets shuffle themselves (Keras 3.15 warns at its default, True).
        history = stage.fit(batches, validation_data=validation, initial_epoch=epoch, epochs=epoch + 1,
                            shuffle=False, callbacks=all_callbacks, verbose=verbose)
        logs = {key: float(values[-1]) for key, values in history.history.items()}
    return {"resumed": resumed, "start_epoch": start_epoch, "steps": int(stage.optimizer.iterations.numpy()),
            "logs": logs}
