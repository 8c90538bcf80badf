"""Keras callbacks for TensorBoard and for the progress display."""
from __future__ import annotations

import json

import keras
import numpy as np
import tensorflow as tf

from logger import images


class EpochProgress(keras.callbacks.ProgbarLogger):
    """Keras' progress display (verbose 1: a bar, 2: a line an epoch) counting the run's
    `epochs`: trainer.run fits one epoch at a time, so Keras' own would show "Epoch 5/5"
    for the fifth epoch of fifteen."""

    def __init__(self, epochs: int):
        super().__init__()
        self.run_epochs = epochs

    def set_params(self, params):
        super().set_params({**params, "epochs": self.run_epochs})


class LearningRateLogger(keras.callbacks.Callback):
    """Writes the optimizer's learning rate once per epoch."""

    def __init__(self, log_dir: str):
        super().__init__()
        self.writer = tf.summary.create_file_writer(f"{log_dir}/train")

    def on_epoch_end(self, epoch, logs=None):
        rate = self.model.optimizer.learning_rate
        with self.writer.as_default():
            tf.summary.scalar("learning_rate", float(keras.ops.convert_to_numpy(rate)), step=epoch)
        self.writer.flush()


class ImageLogger(keras.callbacks.Callback):
    """At every epoch's end, for a fixed batch and its first video frames (RGB uint8): each
    map the stage's `pictures(batch)` gives over the frames (the acoustic-image energy and,
    for stages with an audio and a video map, the audio-visual attention)."""

    def __init__(self, log_dir: str, batch: dict, frames: np.ndarray, max_images: int = 4):
        super().__init__()
        self.writer = tf.summary.create_file_writer(f"{log_dir}/images")
        self.batch = {key: value[:max_images] for key, value in batch.items()}
        self.frames = np.asarray(frames)[:max_images]

    def on_epoch_end(self, epoch, logs=None):
        with self.writer.as_default():
            for name, maps in self.model.pictures(self.batch).items():
                pictures = [images.overlay(f, m) for f, m in zip(self.frames, np.asarray(maps))]
                tf.summary.image(name, np.stack(pictures), step=epoch, max_outputs=len(pictures))
        self.writer.flush()


class DistanceHistograms(keras.callbacks.Callback):
    """At every epoch's end, the distances of a fixed batch's pairs in sync and out of it
    (the sync stage's `pair_distances`), as two histograms: they part as the stage learns."""

    def __init__(self, log_dir: str, batch: dict):
        super().__init__()
        self.writer = tf.summary.create_file_writer(f"{log_dir}/distances")
        self.batch = batch

    def on_epoch_end(self, epoch, logs=None):
        positive, negative = self.model.pair_distances(self.batch)
        with self.writer.as_default():
            tf.summary.histogram("in_sync", positive, step=epoch)
            tf.summary.histogram("out_of_sync", negative, step=epoch)
        self.writer.flush()


class SimilarityImage(keras.callbacks.Callback):
    """At every epoch's end, the frame-word similarity max(0, a . w) of a fixed clip and its
    caption (the caption_alignment stage's `similarity`) as an image: a row per word, a column
    per frame, white at 1; and the caption as text, to read the rows by."""

    def __init__(self, log_dir: str, batch: dict, caption_key: str, pixels_per_word: int = 8):
        super().__init__()
        self.writer = tf.summary.create_file_writer(f"{log_dir}/similarity")
        self.batch = {key: value[:1] for key, value in batch.items()}
        self.caption = self.batch[caption_key].numpy()[0].decode()
        self.pixels_per_word = pixels_per_word

    def on_epoch_end(self, epoch, logs=None):
        similarity = np.asarray(self.model.similarity(self.batch))[0]  # (T, Q)
        words = int(np.count_nonzero(np.asarray(self.model.vectorizer([self.caption]))[0]))
        rows = np.repeat(np.clip(similarity[:, :max(words, 1)].T, 0.0, 1.0), self.pixels_per_word, axis=0)
        with self.writer.as_default():
            tf.summary.image("frame_word_similarity", rows[None, :, :, None], step=epoch)
            tf.summary.text("caption", self.caption, step=epoch)
        self.writer.flush()


def write_hparams(log_dir: str, config: dict, metrics: dict[str, float] | None = None) -> None:
    """The run's configuration as TensorBoard hyper-parameters (scalars and strings only)."""
    from tensorboard.plugins.hparams import api as hp

    values = {key: value if isinstance(value, int | float | str | bool) else json.dumps(value)
              for key, value in config.items() if value is not None}
    with tf.summary.create_file_writer(f"{log_dir}/hparams").as_default():
        hp.hparams(values)
        for name, value in (metrics or {}).items():
            tf.summary.scalar(name, value, step=0)


def write_projector(log_dir: str, features: np.ndarray, labels: list[str], name: str = "embedding") -> None:
    """Features (N, D) and their labels for TensorBoard's embedding projector."""
    from pathlib import Path

    from tensorboard.plugins import projector

    log = Path(log_dir)
    log.mkdir(parents=True, exist_ok=True)
    (log / "metadata.tsv").write_text("".join(f"{label}\n" for label in labels))
    variable = tf.Variable(np.asarray(features, dtype=np.float32), name=name)
    tf.train.Checkpoint(embedding=variable).save(str(log / "embedding.ckpt"))
    config = projector.ProjectorConfig()
    embedding = config.embeddings.add()
    embedding.tensor_name = "embedding/.ATTRIBUTES/VARIABLE_VALUE"
    embedding.metadata_path = "metadata.tsv"
    projector.visualize_embeddings(str(log), config)
