"""Resumable training: a run killed mid-epoch continues from its last state."""
import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from trainer.checkpoints import restore_weights, will_resume
from trainer.run import NonFiniteError, train
from trainer.stages import Supervised


class Killed(Exception):
    pass


class KillAfter(keras.callbacks.Callback):
    def __init__(self, steps):
        super().__init__()
        self.steps = steps

    def on_train_batch_end(self, batch, logs=None):
        if int(self.model.optimizer.iterations.numpy()) == self.steps:
            raise Killed


def _stage():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8,), name="x")
    net = keras.Model(inputs, keras.layers.Dense(3)(keras.layers.Dense(16, activation="relu")(inputs)))
    stage = Supervised(net, ["x"], label_key="y")
    stage.compile(optimizer=keras.optimizers.Adam(1e-2))
    return stage


def _data(epoch):
    rng = np.random.default_rng(epoch)
    x = rng.normal(size=(40, 8)).astype(np.float32)
    y = tf.one_hot((x[:, 0] > 0).astype(int) + (x[:, 1] > 0).astype(int), 3)
    return tf.data.Dataset.from_tensor_slices({"x": x, "y": y}).batch(8)


@pytest.fixture(autouse=True)
def deterministic_ops():
    tf.config.experimental.enable_op_determinism()


def test_killed_run_resumes_with_same_optimizer_step_and_result(tmp_path):
    validation = _data(99)
    reference = _stage()
    train(reference, _data, validation, epochs=3, run_dir=tmp_path / "straight", monitor="val_accuracy", verbose=0)

    interrupted = _stage()
    assert not will_resume(tmp_path / "killed")
    with pytest.raises(Killed):
        train(interrupted, _data, validation, epochs=3, run_dir=tmp_path / "killed", monitor="val_accuracy",
              save_every_steps=2, callbacks=[KillAfter(7)], verbose=0)  # 5 steps an epoch: dies at 2 of epoch 2
    assert will_resume(tmp_path / "killed")
    resumed = _stage()
    summary = train(resumed, _data, validation, epochs=3, run_dir=tmp_path / "killed", monitor="val_accuracy",
                    save_every_steps=2, verbose=0)
    assert summary["resumed"] and summary["start_epoch"] == 1
    assert summary["steps"] == 15 == int(reference.optimizer.iterations.numpy())
    for a, b in zip(reference.get_weights(), resumed.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    # A finished run restarted does nothing more.
    again = train(_stage(), _data, validation, epochs=3, run_dir=tmp_path / "killed", monitor="val_accuracy",
                  verbose=0)
    assert again["steps"] == 15 and again["start_epoch"] == 3


def test_best_weights_are_kept_across_epochs(tmp_path):
    stage = _stage()
    train(stage, _data, _data(99), epochs=3, run_dir=tmp_path, monitor="val_accuracy", verbose=0)
    best = json.loads((tmp_path / "checkpoints" / "best.json").read_text())
    assert best["monitor"] == "val_accuracy" and 1 <= best["epoch"] <= 3
    restored = _stage()
    restore_weights(restored, tmp_path / "checkpoints" / "best")
    metrics = restored.evaluate(_data(99), verbose=0, return_dict=True)
    assert metrics["accuracy"] == pytest.approx(best["value"])
    assert list((tmp_path / "logs").glob("train/events.out.tfevents.*"))


def test_nan_loss_at_the_first_step_stops_with_nothing_saved(tmp_path):
    stage = _stage()

    def poisoned(epoch):
        return _data(epoch).map(lambda d: {"x": d["x"], "y": d["y"] * np.float32("nan")})

    with pytest.raises(NonFiniteError, match=r"^loss is nan at optimizer step 1 \(epoch 1, batch 1\): .*; running it "
                                             r"again starts over, as no state was saved$"):
        train(stage, poisoned, None, epochs=1, run_dir=tmp_path, monitor="val_accuracy", verbose=0)
    assert not will_resume(tmp_path)
