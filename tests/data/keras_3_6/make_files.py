"""Writes the files of this directory with the stack that wrote the project's first runs
(TensorFlow 2.17.1, Keras 3.6.0, NumPy 1.26): a test loads them with the installed stack, so
that runs trained on the old stack stay usable after an upgrade (tests/test_old_stack_files.py).

    python tests/data/keras_3_6/make_files.py    # from the repository root, on the old stack

- `dualcamnet.weights.h5`: (A)'s DualCamNet classifier on 12 frames, as a run exports it
  (`networks/ROLE.weights.h5`);
- `last/`: a run's resumable state (`trainer.checkpoints.TrainingState`) of a Supervised
  stage of that network after two Adam steps: weights, optimizer slots and step, epoch;
- `expected.npz`: the logits the old stack gave for `probe_input()`, and the optimizer step
  of the state.
"""
import shutil
import sys
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2]))

from models.registry import build_model  # noqa: E402
from trainer.checkpoints import TrainingState  # noqa: E402
from trainer.stages import Supervised  # noqa: E402


def probe_input() -> np.ndarray:
    """Two samples of exactly representable values, the same in any NumPy."""
    return ((np.arange(2 * 12 * 36 * 48 * 12) % 7 - 3) / 3).astype(np.float32).reshape(2, 12, 36, 48, 12)


def main() -> None:
    keras.utils.set_random_seed(0)
    net = build_model("dualcamnet", num_frames=12)
    stage = Supervised(net, ["acoustic_image"])
    stage.compile(optimizer=keras.optimizers.Adam(1e-3, epsilon=1e-8))
    rng = np.random.default_rng(0)
    data = {"acoustic_image": rng.standard_normal((4, 12, 36, 48, 12)).astype(np.float32),
            "classes": np.eye(10, dtype=np.float32)[[0, 3, 5, 9]]}
    stage.fit(tf.data.Dataset.from_tensors(data).repeat(2), epochs=1, verbose=0)
    shutil.rmtree(HERE / "last", ignore_errors=True)
    state = TrainingState(stage, HERE / "run")
    state.epoch.assign(1)
    state.save()
    shutil.move(HERE / "run" / "checkpoints" / "last", HERE / "last")
    shutil.rmtree(HERE / "run")
    net.save_weights(HERE / "dualcamnet.weights.h5")
    np.savez(HERE / "expected.npz", logits=net(probe_input(), training=False).numpy(),
             step=int(stage.optimizer.iterations.numpy()))


if __name__ == "__main__":
    main()
