"""The batches a run reads: training crops of an epoch, evaluation windows, and what a
training batch held (for a fault's report)."""
from __future__ import annotations

import dataclasses

import tensorflow as tf

from dataloader.config import FIRST_SECOND, RECORDING, LoaderConfig, Throughput
from dataloader.pipeline import make_dataset, record_paths
from dataloader.windows import find_clips, seconds_in_no_window, window_dataset
from trainer.config import RunConfig


def dataset(list_file: str, loader: LoaderConfig, config: RunConfig, epoch: int = 0, training: bool = True,
            metadata: bool = False) -> tf.data.Dataset:
    """Batches of a list for `loader`: training crops of `epoch`, or the evaluation windows.
    Without `metadata`, the windows' recording names and first seconds are left out, since
    Keras would try to reduce them across replicas."""
    throughput = Throughput(prefetch=config.buffer_size or -1, deterministic=config.deterministic or None,
                            input_cache=config.input_cache, service_address=config.data_service,
                            service_job_name=config.data_service_job)
    loader = loader if training else dataclasses.replace(loader, training=False)
    batches = make_dataset(list_file, loader, throughput, batch_size=config.batch_size, epochs=1, first_epoch=epoch,
                           root=config.data_root)
    if training and config.steps_per_epoch:
        batches = batches.take(config.steps_per_epoch)
    if not metadata:
        batches = batches.map(lambda batch: {k: v for k, v in batch.items() if k not in (RECORDING, FIRST_SECOND)})
    options = tf.data.Options()
    # Windows come from a generator of clips, not from files: shard by element across workers.
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return batches.with_options(options)


def describe_batch(config: RunConfig, loader: LoaderConfig, epoch: int, batch: int) -> str:
    """The windows of training batch `batch` of `epoch`, drawn again from (seed, epoch) without
    reading a record. Batches hold them in this order only with --deterministic; otherwise
    parallel reads reorder them within the epoch."""
    windows = window_dataset(find_clips(record_paths(config.train_file, config.data_root), loader.total_length),
                             loader, epochs=1, first_epoch=epoch)
    size = config.batch_size
    names = ", ".join(f"{window[RECORDING].numpy().decode()} from {int(window[FIRST_SECOND])} s"
                      for window in windows.skip(batch * size).take(size))
    return names if config.deterministic else f"{names} (in drawing order; exact with --deterministic)"


def unused_seconds(config: RunConfig, loader: LoaderConfig) -> dict[str, int]:
    """Per list of the run, the seconds no window holds (see `windows.seconds_in_no_window`)."""
    lists = {"train_file": True, "valid_file": False} if config.mode == "train" else {"test_file": False}
    return {flag.removesuffix("_file"): seconds_in_no_window(
        find_clips(record_paths(getattr(config, flag), config.data_root), loader.total_length),
        dataclasses.replace(loader, training=training)) for flag, training in lists.items() if getattr(config, flag)}
