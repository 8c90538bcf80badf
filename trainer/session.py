"""What main.py does with a configuration: plan the run, then train it (resumably) or test
a checkpoint of it, writing the run's directory (`trainer.rundir`)."""
from __future__ import annotations

import json

import numpy as np
import tensorflow as tf
from absl import logging

from dataloader import input_cache
from dataloader.config import CAPTION, VIDEO_FRAMES
from dataloader.video import restore_frames
from logger.callbacks import DistanceHistograms, ImageLogger, SimilarityImage, write_hparams, write_projector
from trainer import data, experiment, plan, restart
from trainer.checkpoints import restore_weights, will_resume
from trainer.config import FlagError, RunConfig
from trainer.distribute import make_strategy, process_run_dir
from trainer.run import train
from trainer.rundir import RunDir, metrics_file
from trainer.statistics import input_statistics


def user_error(err: Exception) -> tuple[int, str] | None:
    """(exit status, one line) for what a user can fix: a flag (2), data that are not finite
    or a bad record (1; the loader's errors name the file). None for anything else, a bug,
    which keeps its traceback."""
    from dataloader.pipeline import describe_read_error

    if isinstance(err, FlagError):
        return 2, str(err)
    if isinstance(err, FloatingPointError):  # a NaN loss, NaN in the data: their messages are one line
        return 1, str(err)
    if isinstance(err, tf.errors.OpError):
        return 1, describe_read_error(err)
    return None


def orient_audio_map(config: RunConfig, run: plan.Plan, stage, run_dir: RunDir | None = None) -> dict | None:
    """`SelfSupervised.orient_audio_map` on the first training batch, when the run starts its
    audio map from the initialisers (`experiment.orients_audio_map`) and `run_dir` holds no
    state training will resume from (its weights replace these). evaluate.py's random-init
    baseline is the stage as training started. Every worker of a run draws the same batch
    and weights, so all agree."""
    if not experiment.orients_audio_map(config, run, stage):
        return None
    if run_dir is not None and will_resume(run_dir.path):
        return None
    # In the loader's order, not whichever window is ready first: evaluate.py must see the batch training saw.
    batch = next(iter(data.dataset(config.train_file, run.loader, config.replace(deterministic=True), 0)))
    return stage.orient_audio_map(batch, config.seed)


def run(config: RunConfig) -> dict:
    """Trains or tests (config.mode) the run the configuration describes; returns its summary."""
    config, planned = plan.complete(config)
    if config.clear_input_cache:
        logging.warning("removed %d input caches from %s", input_cache.clear(config.input_cache), config.input_cache)
    unused = data.unused_seconds(config, planned.loader)
    if any(unused.values()):
        logging.warning("seconds of the lists in no window (clips shorter than a %d-s sample, or tails of "
                        "evaluation clips): %s", planned.loader.sample_length, unused)
    # Before any TensorFlow op: a multi-worker strategy configures the runtime's collectives.
    strategy = make_strategy(config.logical_cpus)
    run_dir = RunDir(process_run_dir(RunDir.of(config.checkpoint_dir, config.exp_name).path))
    logs_dir = run_dir.logs(config.tensorboard, config.exp_name)
    if config.mode == "test":
        input_statistics(config, planned)
        return _test(config, planned, experiment.build(config, planned, strategy), run_dir, logs_dir)
    return _train(config, planned, strategy, run_dir, logs_dir, unused)


def _train(config: RunConfig, planned: plan.Plan, strategy, run_dir: RunDir, logs_dir, unused: dict) -> dict:
    created = [RunDir.of(config.checkpoint_dir, config.exp_name).path, run_dir.path, logs_dir]
    with restart.undone_unless_trained(created) as first_step:
        config = restart.resumed_config(config, run_dir.path)
        input_statistics(config, planned)
        stage = experiment.build(config, planned, strategy)
        run_dir.path.mkdir(parents=True, exist_ok=True)
        run_dir.config.write_text(config.to_json())
        for checkpoint in (config.init_checkpoint, config.restore_checkpoint):
            if checkpoint:
                restore_weights(stage, checkpoint)
        orientation = orient_audio_map(config, planned, stage, run_dir)
        validation = None
        if config.valid_file:
            validation = data.dataset(config.valid_file, planned.loader, config, training=False)
        callbacks = [first_step, restart.ConfiguredLearningRate(config.learning_rate)]
        shows_video, sync = VIDEO_FRAMES in planned.loader.inputs, hasattr(stage, "pair_distances")
        aligns = hasattr(stage, "similarity")
        if validation is not None and (shows_video or sync or aligns):
            batch = next(iter(validation))
            if shows_video:
                callbacks.append(ImageLogger(str(logs_dir), batch, restore_frames(batch[VIDEO_FRAMES][:, 0].numpy())))
            if sync:
                callbacks.append(DistanceHistograms(str(logs_dir), batch))
            if aligns:
                callbacks.append(SimilarityImage(str(logs_dir), batch, CAPTION))
        summary = train(stage, lambda epoch: data.dataset(config.train_file, planned.loader, config, epoch),
                        validation, config.num_epochs, run_dir.path, planned.monitor, planned.spec.monitor_mode,
                        config.save_every_steps, callbacks, verbose=config.verbose, logs_dir=logs_dir,
                        describe_batch=lambda epoch, batch: data.describe_batch(config, planned.loader, epoch, batch))
    summary["seconds_in_no_window"] = unused
    if orientation:
        summary["audio_map_orientation"] = orientation
    if validation is not None and run_dir.best.is_dir():
        restore_weights(stage, run_dir.best)
    summary["networks"] = experiment.export_networks(stage, run_dir)
    hparams = {key: value for key, value in config.as_dict().items() if key not in ("networks", "config_changes")}
    write_hparams(str(logs_dir), hparams, {k: v for k, v in summary["logs"].items() if k.startswith("val_")})
    return summary


def _project(config: RunConfig, planned: plan.Plan, stage, logs_dir) -> None:
    """The projector shows the features evaluate.py measures: the audio embedding of the
    self-supervised stages (summed audio map, L2-normalised), the logits of the others; none
    for a stage that has neither."""
    label = getattr(stage, "label_key", planned.dataset.class_label)
    outputs_of = tf.function(stage.outputs)
    features, labels = [], []
    for batch in data.dataset(config.test_file, planned.loader, config, training=False):
        outputs = outputs_of(batch)
        feature = outputs.get("audio", outputs.get("logits"))
        if feature is None:  # a stage without a feature per window (the sync stage's pairs)
            return
        features.append(feature.numpy())
        labels.extend(str(i) for i in batch[label].numpy().argmax(axis=-1))
    if features:
        write_projector(str(logs_dir / "projector"), np.concatenate(features), labels)


def _test(config: RunConfig, planned: plan.Plan, stage, run_dir: RunDir, logs_dir) -> dict:
    checkpoint = config.restore_checkpoint or run_dir.best
    restore_weights(stage, checkpoint)
    batches = data.dataset(config.test_file, planned.loader, config, training=False)
    metrics = {key: float(value) for key, value in stage.evaluate(batches, verbose=0, return_dict=True).items()}
    _project(config, planned, stage, logs_dir)
    out = metrics_file(checkpoint)
    out.write_text(json.dumps({"checkpoint": str(checkpoint), "test_file": config.test_file, **metrics}, indent=1))
    return {"metrics_file": str(out), **metrics}
