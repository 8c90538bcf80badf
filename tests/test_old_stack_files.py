"""Files written by the stack of the project's first runs (TensorFlow 2.17.1, Keras 3.6.0,
NumPy 1.26; tests/data/keras_3_6/make_files.py) load with the installed one: an exported
network's weights give the same logits, and a run's resumable state restores its weights,
optimizer step and epoch."""
import shutil
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from models.registry import build_model
from trainer.checkpoints import TrainingState
from trainer.stages import Supervised

DATA = Path(__file__).parent / "data" / "keras_3_6"
sys.path.insert(0, str(DATA))
from make_files import probe_input  # noqa: E402


@pytest.fixture(scope="module")
def expected():
    return np.load(DATA / "expected.npz")


def _network() -> keras.Model:
    keras.utils.set_random_seed(1)  # other weights than the files': a load must replace them all
    return build_model("dualcamnet", num_frames=12)


def test_exported_weights_give_the_old_logits(expected):
    net = _network()
    assert not np.allclose(net(probe_input()).numpy(), expected["logits"], atol=1e-3)
    net.load_weights(DATA / "dualcamnet.weights.h5")
    np.testing.assert_allclose(net(probe_input()).numpy(), expected["logits"], rtol=1e-5, atol=1e-6)


def test_a_runs_saved_state_resumes(expected, tmp_path):
    shutil.copytree(DATA / "last", tmp_path / "checkpoints" / "last")
    net = _network()
    stage = Supervised(net, ["acoustic_image"])
    stage.compile(optimizer=keras.optimizers.Adam(1e-3, epsilon=1e-8))
    state = TrainingState(stage, tmp_path)
    assert state.restore()
    assert int(stage.optimizer.iterations.numpy()) == expected["step"] == 2
    assert int(state.epoch.numpy()) == 1 and int(state.step_in_epoch.numpy()) == 0
    slots = [v.numpy() for v in stage.optimizer.variables if "momentum" in v.path or "velocity" in v.path]
    assert slots and all(np.any(slot != 0) for slot in slots)  # Adam's moments after two steps, not fresh zeros
    np.testing.assert_allclose(net(probe_input()).numpy(), expected["logits"], rtol=1e-5, atol=1e-6)
