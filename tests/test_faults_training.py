"""A fault never enters saved state: a NaN loss, NaN weights or a NaN validation metric stop
training with one line naming where and what to try, every checkpoint on disk stays finite,
and once the cause is fixed the same call resumes from the last finite state. Also: the
leftovers of a killed save go when a run resumes, and the progress counts the run's epochs."""
import json
import re
import shutil

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.test_run import KillAfter, Killed, _data
from trainer.run import NonFiniteError, train
from trainer.stages import Supervised


@pytest.fixture(autouse=True)
def deterministic_ops():
    tf.config.experimental.enable_op_determinism()


def _stage():
    """A tiny supervised stage whose logits also see the norm of its hidden features: an
    all-zero sample keeps the loss finite but makes the norm's gradient 0/0, NaN, as a
    silent window can in a real objective."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8,), name="x")
    hidden = keras.layers.Dense(16, use_bias=False)(inputs)
    norm = keras.layers.Lambda(lambda h: keras.ops.norm(h, axis=-1, keepdims=True))(hidden)
    net = keras.Model(inputs, keras.layers.Dense(3)(keras.layers.Concatenate()([hidden, norm])))
    stage = Supervised(net, ["x"], label_key="y")
    stage.compile(optimizer=keras.optimizers.Adam(1e-2))
    return stage


def _describe(epoch, batch):
    return f"rec-{epoch}-{batch}a.tfrecord, rec-{epoch}-{batch}b.tfrecord"


def _with_sample(batches, batch, value):
    """`batches` with the first sample of batch `batch` (from 0) replaced by `value`s."""
    def replace(index, data):
        first = tf.where(index == batch, tf.fill([1, 8], np.float32(value)), data["x"][:1])
        return {"x": tf.concat([first, data["x"][1:]], axis=0), "y": data["y"]}

    return batches.enumerate().map(replace)


def _stored_values(run_dir):
    """Every floating-point value of every checkpoint file in last/ and best/, tracked or not."""
    values = []
    for index in sorted((run_dir / "checkpoints").glob("*/*.index")):
        reader = tf.train.load_checkpoint(str(index.with_suffix("")))
        values += [reader.get_tensor(key) for key, dtype in reader.get_variable_to_dtype_map().items()
                   if dtype.is_floating]
    assert values
    return values


def _latest_step(run_dir):
    return int(tf.train.latest_checkpoint(str(run_dir / "checkpoints" / "last")).rsplit("-", 1)[1])


class StartingStep(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.steps = []

    def on_train_begin(self, logs=None):
        self.steps.append(int(self.model.optimizer.iterations.numpy()))


# 5 batches an epoch, the state saved every 2 steps and at each epoch's end: the second batch
# of the second epoch is optimizer step 7, which is saved unless a fault stops it.
FAULT_EPOCH, FAULT_BATCH, FAULT_STEP = 1, 1, 7
RUN = {"epochs": 3, "monitor": "val_accuracy", "save_every_steps": 2, "describe_batch": _describe, "verbose": 0}


def _faulty(value):
    return lambda epoch: _with_sample(_data(epoch), FAULT_BATCH, value) if epoch == FAULT_EPOCH else _data(epoch)


def test_nan_loss_stops_before_it_is_saved_and_the_fixed_run_resumes_from_the_last_finite_state(tmp_path):
    with pytest.raises(NonFiniteError) as stopped:
        train(_stage(), _faulty(np.nan), _data(99), run_dir=tmp_path, **RUN)
    message = str(stopped.value)
    assert isinstance(stopped.value, FloatingPointError) and "\n" not in message
    assert message.startswith(f"loss is nan at optimizer step {FAULT_STEP} (epoch 2, batch 2: rec-1-1a.tfrecord, "
                               "rec-1-1b.tfrecord): training stopped before saving it. Lower --learning_rate")
    assert message.endswith("; running it again resumes from step 5, the last state saved")
    assert _latest_step(tmp_path) == 5
    assert all(np.isfinite(value).all() for value in _stored_values(tmp_path))

    start = StartingStep()
    resumed = _stage()
    summary = train(resumed, _data, _data(99), run_dir=tmp_path, callbacks=[start], **RUN)
    assert summary["resumed"] and summary["start_epoch"] == 1 and start.steps[0] == 5
    assert summary["steps"] == 15
    straight = _stage()
    train(straight, _data, _data(99), run_dir=tmp_path / "straight", **RUN)
    for a, b in zip(straight.get_weights(), resumed.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert all(np.isfinite(value).all() for value in _stored_values(tmp_path))


def test_weights_made_non_finite_by_a_finite_loss_are_not_saved(tmp_path):
    with pytest.raises(NonFiniteError) as stopped:
        train(_stage(), _faulty(0.0), _data(99), run_dir=tmp_path, **RUN)
    message = str(stopped.value)
    assert re.match(rf"weights or optimizer state not finite \([^)]*kernel[^)]*\) after a finite loss at optimizer "
                    rf"step {FAULT_STEP} \(epoch 2, batch 2: rec-1-1a\.tfrecord, rec-1-1b\.tfrecord\): training "
                    r"stopped before saving it\. Lower --learning_rate", message), message
    assert _latest_step(tmp_path) == 5
    assert all(np.isfinite(value).all() for value in _stored_values(tmp_path))
    summary = train(_stage(), _data, _data(99), run_dir=tmp_path, **RUN)
    assert summary["resumed"] and summary["steps"] == 15


def test_non_finite_validation_stops_naming_metric_and_epoch_and_never_becomes_best(tmp_path):
    broken = _with_sample(_data(99), 0, np.inf)
    run = {**RUN, "monitor": "val_loss", "mode": "min"}
    with pytest.raises(NonFiniteError, match=r"^val_loss is nan after epoch 1: the validation data \(--valid_file\) "
                                             r"give a NaN or an infinity: check them with python -m dataloader\.verify "
                                             r"VALID_FILE; the epoch's state is saved, and running it again resumes "
                                             r"after it$"):
        train(_stage(), _data, broken, run_dir=tmp_path, **run)
    assert not (tmp_path / "checkpoints" / "best.json").exists()
    assert tf.train.latest_checkpoint(str(tmp_path / "checkpoints" / "best")) is None
    assert _latest_step(tmp_path) == 5  # the epoch's own state, finite, is kept

    summary = train(_stage(), _data, _data(99), run_dir=tmp_path, **run)
    assert summary["resumed"] and summary["start_epoch"] == 1
    best = json.loads((tmp_path / "checkpoints" / "best.json").read_text())
    assert best["epoch"] in (2, 3) and np.isfinite(best["value"])


def test_leftovers_of_killed_saves_are_removed_when_the_run_resumes(tmp_path):
    train(_stage(), _data, _data(99), run_dir=tmp_path, **{**RUN, "epochs": 1})
    last, best = tmp_path / "checkpoints" / "last", tmp_path / "checkpoints" / "best"
    tracked = {path.name for path in [*last.iterdir(), *best.iterdir()]}
    # What TF 2.17 leaves, found by killing saves of a 320 MB checkpoint: a shard being written
    # in <prefix>_temp/ (the usual case, here for step 7, which the resumed run saves again); data
    # renamed out of it before the index was written; a complete checkpoint the state file does
    # not name yet; the state file's own temporary; a half-written index; and our best.json's.
    (last / "ckpt-7_temp").mkdir()
    (last / "ckpt-7_temp" / "part-00000-of-00001.data-00000-of-00001.tempstate8663747804358602007").write_bytes(
        b"\0" * 64)
    shutil.copy(last / "ckpt-5.data-00000-of-00001", last / "ckpt-6.data-00000-of-00001")
    for suffix in (".index", ".data-00000-of-00001"):
        shutil.copy(last / f"ckpt-5{suffix}", last / f"ckpt-8{suffix}")
    (last / "checkpoint.tmp0a1b2c3d4e5f").write_text("model_checkpoint_path: \"ckpt-8\"\n")
    (best / "ckpt-2_temp").mkdir()
    (best / "ckpt-2_temp" / "part-00000-of-00001.index.tempstate42").write_bytes(b"\0" * 8)
    (best / "ckpt-2.index").write_bytes((best / "ckpt-1.index").read_bytes()[:20])
    (tmp_path / "checkpoints" / "best.json.partial").write_text('{"monitor": "val_accu')

    start = StartingStep()
    summary = train(_stage(), _data, _data(99), run_dir=tmp_path, callbacks=[start], **{**RUN, "epochs": 2})
    assert summary["resumed"] and start.steps == [5] and summary["steps"] == 10
    assert not (tmp_path / "checkpoints" / "best.json.partial").exists()
    for directory in (last, best):
        names = {path.name for path in directory.iterdir()}
        assert not any("_temp" in name or ".tmp" in name or name.startswith(("ckpt-6.", "ckpt-8.")) for name in names)
    assert {path.name for path in last.iterdir()} == {
        "checkpoint", *(f"ckpt-{step}{suffix}" for step in (9, 10) for suffix in (".index", ".data-00000-of-00001"))}
    assert {path.name for path in best.iterdir()} <= tracked | {
        f"ckpt-2{suffix}" for suffix in (".index", ".data-00000-of-00001")}
    assert all(np.isfinite(value).all() for value in _stored_values(tmp_path))


def _epoch_lines(output):
    return [line for line in output.splitlines() if line.startswith("Epoch")]


def test_progress_counts_the_epochs_of_the_run(tmp_path, capsys):
    train(_stage(), _data, _data(99), run_dir=tmp_path / "quiet", **{**RUN, "verbose": 0})
    assert capsys.readouterr().out == ""

    with pytest.raises(Killed):
        train(_stage(), _data, _data(99), run_dir=tmp_path / "run", callbacks=[KillAfter(7)], **{**RUN, "verbose": 2})
    assert _epoch_lines(capsys.readouterr().out) == ["Epoch 1/3", "Epoch 2/3"]
    train(_stage(), _data, _data(99), run_dir=tmp_path / "run", **{**RUN, "verbose": 2})
    output = capsys.readouterr().out.splitlines()
    assert _epoch_lines("\n".join(output)) == ["Epoch 2/3", "Epoch 3/3"]
    # One line an epoch after its title, as Keras' verbose 2: the steps run, time, and the metrics.
    summary = output[output.index("Epoch 3/3") + 1]
    assert re.fullmatch(r"5/5 - \d+s - \d+(?:us|ms|s)/step - accuracy: [\d.]+ - loss: [\d.]+ - val_accuracy: [\d.]+ - "
                        r"val_loss: [\d.]+", summary), summary
