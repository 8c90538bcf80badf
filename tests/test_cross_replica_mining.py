"""Triplet mining across replicas: a self-supervised step on two replicas is the step of one
device on the global batch, loss, metrics and updated weights.

The replicas are two logical CPUs, which TensorFlow lets a process configure only before it
first uses its devices: the steps run in a fresh Python process, once for all the cases.
The networks are small Keras networks whose one-device and two-replica steps compute the same
function of the global batch: no batch normalisation, or a synchronized one (which normalises
every replica with the statistics of the global batch). Replica 0 gets samples 0-3 and
replica 1 samples 4-7, so recordings 1 and 2 have their positives on the other replica."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
RECORDINGS = [0, 0, 1, 2, 1, 2, 3, 3]
CASES = [("self_supervised", "batch_all"), ("self_supervised", "batch_hard"), ("transfer", "batch_all"),
         ("transfer", "batch_hard"), ("synchronized_batch_norm", "batch_all"),
         ("synchronized_batch_norm", "batch_hard")]


def _steps() -> None:
    """Prints, as JSON, each case's logs and weight updates on one device and on two."""
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras

    from trainer.stages import SelfSupervised, Transfer

    keras.utils.set_random_seed(0)  # the same figures every run (the two steps start from the same weights anyway)
    rng = np.random.default_rng(0)
    data = {"acoustic_image": rng.normal(size=(8, 2, 12, 16, 3)).astype(np.float32),
            "video": rng.normal(size=(8, 1, 24, 32, 3)).astype(np.float32),
            "spectrogram": rng.normal(size=(8, 20, 5)).astype(np.float32),
            "classes": np.eye(4, dtype=np.float32)[RECORDINGS]}

    def map_net(shape, batch_norm):  # (B, T, H, W, 3) -> positive maps (B, T, 12, 16, 4), as the KL asks
        inputs = keras.Input(shape)
        x = keras.layers.Dense(6, activation="relu", kernel_regularizer=keras.regularizers.L2(1e-3))(inputs)
        if batch_norm:
            x = keras.layers.BatchNormalization(synchronized=True)(x)
        x = keras.layers.Dense(4, activation="softplus")(x)
        return keras.Model(inputs, keras.layers.AveragePooling3D((1, shape[1] // 12, shape[2] // 16))(x))

    def embedding_net():
        inputs = keras.Input((20, 5))
        return keras.Model(inputs, keras.layers.Dense(4)(keras.layers.Flatten()(inputs)))

    def stage(kind):
        video, common = map_net((1, 24, 32, 3), False), {"identity_keys": ("classes",), "hard_from_epoch": 1}
        if kind == "transfer":
            built = Transfer(embedding_net(), video, map_net((2, 12, 16, 3), False), alpha=0.5, **common)
        else:  # every term of the self-supervised loss, to check them all
            built = SelfSupervised(map_net((2, 12, 16, 3), kind == "synchronized_batch_norm"), video,
                                   cross_modal_weight=0.5, map_agreement_weight=1.0, **common)
        built.compile(optimizer=keras.optimizers.SGD(0.1))  # plain SGD: the update is the gradient
        return built

    def run_steps(strategy, kind, weights):
        with strategy.scope():
            built = stage(kind)
            trained = [v for net in built.trained for v in net.trainable_variables]
            built.optimizer.build(trained)
        nets = [net for net in (built.audio_net, built.video_net, getattr(built, "teacher", None)) if net]
        weights = weights or [net.get_weights() for net in nets]
        for net, values in zip(nets, weights):
            net.set_weights(values)
        start = [v.numpy() for v in trained]
        size = 8 // strategy.num_replicas_in_sync
        batches = strategy.experimental_distribute_values_from_function(lambda context: {
            key: value[context.replica_id_in_sync_group * size:][:size] for key, value in data.items()})

        def step(batches):
            logs = strategy.run(built.train_step, args=(batches,))
            return {name: strategy.experimental_local_results(value)[0] for name, value in logs.items()}

        if kind == "self_supervised":  # compiled, as Keras runs a step; eager is faster for the others
            step = tf.function(step)
        out = {}
        for epoch, mining in enumerate(("batch_all", "batch_hard")):
            for variable, value in zip(trained, start):
                variable.assign(value)
            built.reset_metrics()
            built.epoch.assign(epoch)
            logs = {name: float(value) for name, value in step(batches).items()}
            out[mining] = {"logs": logs, "updates": [(v.numpy() - value).tolist() for v, value in zip(trained, start)]}
            if strategy.num_replicas_in_sync == 1:  # what mining each replica's own samples would give
                for variable, value in zip(trained, start):
                    variable.assign(value)
                halves = [built.compute_terms({key: value[i:i + 4] for key, value in data.items()}, True)[0]
                          for i in (0, 4)]
                out[mining]["per_replica_loss"] = float(np.mean(halves) + built.regularisation())
        return out, weights

    # One strategy for every case: a second one in the same process would number its
    # collectives from the start again, and a step whose graph differs from one traced under
    # the first then fails with "Shape mismatch in the collective instance".
    two = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    results = {}
    for kind in dict(CASES):
        one, weights = run_steps(tf.distribute.get_strategy(), kind, None)
        results[kind] = {"one": one, "two": run_steps(two, kind, weights)[0]}
    print(json.dumps(results))


@pytest.fixture(scope="module")
def steps():
    done = subprocess.run([sys.executable, "-c", "from tests.test_cross_replica_mining import _steps; _steps()"],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("kind, mining", CASES)
def test_two_replicas_step_as_one_device_on_the_global_batch(steps, kind, mining):
    one, two = steps[kind]["one"][mining], steps[kind]["two"][mining]
    assert one["logs"].keys() == two["logs"].keys()
    for name, value in one["logs"].items():  # the loss, its terms and the triplet accuracy
        assert two["logs"][name] == pytest.approx(value, rel=1e-5), name
    # Mining each replica's own samples would give another loss.
    assert one["per_replica_loss"] != pytest.approx(one["logs"]["loss"], rel=1e-3)
    for update_one, update_two in zip(one["updates"], two["updates"]):
        update_one, update_two = np.array(update_one), np.array(update_two)
        assert np.abs(update_one).max() > 0
        # float32 sums in another order: within 1e-3 of the largest update of the weight
        np.testing.assert_allclose(update_two, update_one, rtol=0, atol=1e-3 * np.abs(update_one).max())
