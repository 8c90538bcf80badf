"""The distribution strategy a run uses, from what it can see.

- `TF_CONFIG` set: several hosts, `MultiWorkerMirroredStrategy` (each worker runs main.py
  with its own TF_CONFIG; the chief, task 0, writes checkpoints and logs).
- Several GPUs: `MirroredStrategy` over all of them.
- `logical_cpus` > 1 (for testing distribution on a laptop): the CPU split into that many
  logical devices under `MirroredStrategy`.
- Otherwise the default strategy (one device).

The global batch is `batch_size`, split evenly between replicas. The self-supervised stages
gather every replica's maps before mining triplets (`trainer.stages.gathered`), so a run on
several replicas mines, and learns, as one device would on the global batch (batch
normalisation aside: each replica normalises with its own samples' statistics).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import tensorflow as tf


def make_strategy(logical_cpus: int = 0) -> tf.distribute.Strategy:
    if os.environ.get("TF_CONFIG"):
        return tf.distribute.MultiWorkerMirroredStrategy()
    gpus = tf.config.list_physical_devices("GPU")
    if len(gpus) > 1:
        return tf.distribute.MirroredStrategy()
    if logical_cpus > 1:
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * logical_cpus)
        return tf.distribute.MirroredStrategy([f"/cpu:{i}" for i in range(logical_cpus)])
    return tf.distribute.get_strategy()


def process_run_dir(run_dir: Path) -> Path:
    """Where this process writes its run: `run_dir` for the chief (or a single process),
    `run_dir/worker_N` for the other workers of a multi-worker run."""
    config = json.loads(os.environ.get("TF_CONFIG", "{}"))
    task = config.get("task", {})
    chief = task.get("type", "chief") == "chief" or (task.get("type") == "worker" and task.get("index", 0) == 0
                                                      and "chief" not in config.get("cluster", {}))
    return run_dir if chief else run_dir / f"worker_{task['index']}"
