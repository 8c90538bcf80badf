"""Training speed and peak memory of every network, at the papers' input sizes.

    .venv/bin/python benchmarks/models.py [--batch 2] [--steps 3] [--models resnet50,soundnet5]

Each network trains as a classifier (softmax cross-entropy plus its weight decay, Adam)
once as a traced graph and once compiled by XLA, each run in its own subprocess so that
its peak memory is its own. A run takes one step to trace or compile, then times at least
--steps steps and --min-seconds. Peak memory is the subprocess's peak resident set
(ru_maxrss) minus what it held before building the model (the TensorFlow runtime); on a
GPU the device's peak is added.
The last line is JSON.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import logger.quiet  # noqa: E402, F401  (before anything imports tensorflow)


def run_one(name: str, xla: bool, batch: int, steps: int, min_seconds: float) -> dict:
    """Runs inside the subprocess: build, train, measure."""
    import resource

    import keras
    import numpy as np
    import tensorflow as tf

    from models.registry import build_model

    baseline_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    model = build_model(name)
    rng = np.random.default_rng(0)
    inputs = [rng.standard_normal((batch, *i.shape[1:])).astype("float32") for i in model.inputs]
    x = inputs if len(inputs) > 1 else inputs[0]
    y = np.eye(model.output.shape[-1], dtype="float32")[rng.integers(model.output.shape[-1], size=batch)]
    optimizer = keras.optimizers.Adam(1e-4)
    optimizer.build(model.trainable_weights)
    cross_entropy = keras.losses.CategoricalCrossentropy(from_logits=True)

    @tf.function(jit_compile=xla)
    def train_step(x, y):
        with tf.GradientTape() as tape:
            loss = cross_entropy(y, model(x, training=True)) + tf.add_n([0.0, *model.losses])
        optimizer.apply(tape.gradient(loss, model.trainable_weights), model.trainable_weights)
        return loss

    start = time.perf_counter()
    train_step(x, y).numpy()
    first_step = time.perf_counter() - start
    timed, start = 0, time.perf_counter()
    while timed < steps or time.perf_counter() - start < min_seconds:
        train_step(x, y).numpy()
        timed += 1
    elapsed = time.perf_counter() - start
    peak_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - baseline_kb) / 1024
    if tf.config.list_physical_devices("GPU"):
        peak_mb += tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20
    return {"steps_per_second": round(timed / elapsed, 3), "timed_steps": timed, "peak_memory_mb": round(peak_mb),
            "first_step_seconds": round(first_step, 1), "parameters": model.count_params()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=2, help="samples per step")
    parser.add_argument("--steps", type=int, default=3, help="fewest timed steps per run, after the first")
    parser.add_argument("--min-seconds", type=float, default=3.0, help="keep stepping until this much time is timed")
    parser.add_argument("--models", help="comma-separated registry names (default: all)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--xla", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(run_one(args.worker, bool(args.xla), args.batch, args.steps, args.min_seconds)))
        return

    from models.registry import MODELS

    names = args.models.split(",") if args.models else list(MODELS)
    results = {}
    for name in names:
        results[name] = {"inputs": {k: [args.batch, *v] for k, v in MODELS[name].default_shapes.items()}}
        for xla in (False, True):
            command = [sys.executable, os.path.abspath(__file__), "--worker", name, "--xla", str(int(xla)),
                       "--batch", str(args.batch), "--steps", str(args.steps), "--min-seconds", str(args.min_seconds)]
            done = subprocess.run(command, capture_output=True, text=True)
            if done.returncode:
                sys.exit(f"{name} (xla={xla}) failed:\n{done.stderr[-3000:]}")
            run = json.loads(done.stdout.strip().splitlines()[-1])
            results[name]["xla" if xla else "graph"] = run
            print(f"{name:22s} {'xla  ' if xla else 'graph'} {run['steps_per_second']:7.3f} steps/s  "
                  f"peak {run['peak_memory_mb']:6d} MB  first step {run['first_step_seconds']:5.1f} s",
                  file=sys.stderr, flush=True)
    print(json.dumps({"batch": args.batch, "cores": os.cpu_count(), "models": results}))


if __name__ == "__main__":
    main()
