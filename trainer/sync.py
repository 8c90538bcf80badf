"""The `sync` stage (UltraSync's capability): a visual stream and an audio stream learn an
embedding in which a window of video and the audio of the same span are close when they
are in sync and far apart when they are not.

A sample is `sample_length` seconds of one recording. The stage cuts it into `windows`
non-overlapping windows of 5 frames (417 ms), at frames f, f + 5, ... (a random first
frame in training, the centred one in evaluation), and pairs each with the audio of the same
span, in sync: the audio lags the video by the record's offset (`truth/offset`; 0 for
records without ground truth, taken as in sync). Acoustic images are computed from the
microphones, so they share the audio's clock: as the visual input they are paired with the
audio of their own frames. A negative is a window's visual input with the audio of another
window of the same sample, by a random derangement drawn fresh every step, so no negative
is in sync by chance (UltraSync shuffled with a plain permutation, and never reshuffled)
and no window crosses from one recording to another.

Loss: contrastive with margin 1 over as many negatives as positives; accuracy: the share of
pairs with d < 0.5 exactly when in sync, as UltraSync's.
"""
from __future__ import annotations

from collections.abc import Sequence

import keras
import tensorflow as tf

from dataloader.camera import FRAME_SAMPLES, SAMPLE_RATE
from dataloader.config import AUDIO, OFFSET, VIDEO_FRAMES
from models.sync import WINDOW_FRAMES, WINDOW_SAMPLES
from trainer import losses
from trainer.stages import Share, _Stage, across_replicas
from trainer.windows import audio_windows, frame_windows

THRESHOLD = 0.5  # d below it: "in sync"
DERANGEMENT_TRIES = 32  # permutations drawn per sample; one without a fixed point is kept


def windows_per_sample(frames: int, max_offset: float) -> int:
    """Non-overlapping 5-frame windows a sample of `frames` frames holds whose audio, up to
    `max_offset` seconds before or after, lies inside the sample too."""
    return (frames - WINDOW_FRAMES - _frames_of(max_offset)) // WINDOW_FRAMES + 1


def _frames_of(seconds: float) -> int:
    return -int(-round(abs(seconds) * SAMPLE_RATE) // FRAME_SAMPLES)  # ceil, in whole frames


def first_frames(frames: int, samples: int, offsets: tf.Tensor, count: int, seed: tf.Tensor | None) -> tf.Tensor:
    """(B,) offsets in samples -> (B, count) first frames of the windows, 5 frames apart,
    whose audio (offset samples later) lies in the sample's `samples`: from a random start
    drawn uniformly among those that fit (`seed`), else centred."""
    offsets = tf.cast(offsets, tf.int32)
    lowest = tf.maximum(0, -tf.math.floordiv(offsets, FRAME_SAMPLES))  # ceil(-offset / 1024)
    highest = tf.minimum(frames - WINDOW_FRAMES, tf.math.floordiv(samples - WINDOW_SAMPLES - offsets, FRAME_SAMPLES))
    slack = highest - lowest - WINDOW_FRAMES * (count - 1)
    tf.debugging.assert_non_negative(slack, message=f"sync: an offset leaves no room for {count} windows in a "
                                                    f"sample of {frames} frames (raise --max_offset)")
    if seed is None:
        start = lowest + slack // 2
    else:
        draw = tf.random.stateless_uniform(tf.shape(offsets), seed, dtype=tf.float32)
        start = lowest + tf.cast(tf.floor(draw * tf.cast(slack + 1, tf.float32)), tf.int32)
    return start[:, None] + WINDOW_FRAMES * tf.range(count)[None, :]


def derangements(batch: tf.Tensor, count: int, seed: tf.Tensor) -> tf.Tensor:
    """(batch, count) permutations of 0..count-1 with no fixed point, uniform among them: the
    first of DERANGEMENT_TRIES random permutations without one (each try succeeds with
    probability about 1/e; should all 32 fail, p ~ 4e-7, a rotation by one)."""
    if count < 2:
        raise ValueError(f"a derangement needs at least 2 windows, got {count}")
    permutations = tf.argsort(tf.random.stateless_uniform([batch, DERANGEMENT_TRIES, count], seed), axis=-1)
    deranged = tf.reduce_all(permutations != tf.range(count), axis=-1)
    chosen = tf.gather(permutations, tf.argmax(tf.cast(deranged, tf.int32), axis=1), batch_dims=1)
    rotation = tf.broadcast_to(tf.roll(tf.range(count), 1, 0), tf.shape(chosen))
    return tf.where(tf.reduce_any(deranged, axis=1, keepdims=True), chosen, rotation)


def euclidean(x: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
    """Row-wise distance, its square floored at 1e-7 as UltraSync's (Keras' epsilon), so
    its gradient stays finite at zero."""
    return tf.sqrt(tf.maximum(tf.reduce_sum(tf.square(x - y), axis=-1), 1e-7))


class Sync(_Stage):
    def __init__(self, visual_net: keras.Model, audio_net: keras.Model, visual_keys: Sequence[str],
                 audio_key: str = AUDIO, windows: int = 2, margin: float = 1.0, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.visual_net, self.audio_net = visual_net, audio_net
        self.trained = (visual_net, audio_net)
        self.visual_keys, self.audio_key = tuple(visual_keys), audio_key
        # Only video runs on the camera's clock; acoustic images are made from the microphones.
        self.video_clock = VIDEO_FRAMES in self.visual_keys
        self.windows, self.margin, self.seed = windows, margin, seed
        self.accuracy = Share("accuracy")
        self.positive_distance = keras.metrics.Mean(name="positive_distance")
        self.negative_distance = keras.metrics.Mean(name="negative_distance")

    def offsets(self, data: dict) -> tf.Tensor:
        """(B,) samples the audio lags the visual input by."""
        batch = tf.shape(data[self.audio_key])[0]
        if not self.video_clock or OFFSET not in data:
            return tf.zeros([batch], tf.int32)
        return tf.cast(tf.round(tf.cast(data[OFFSET], tf.float64) * SAMPLE_RATE), tf.int32)

    def pair_distances(self, data: dict, training: bool = False, seed: tf.Tensor | None = None):
        """Distances (B * K,) of the windows in sync and of the deranged ones, for random
        windows and derangements drawn from `seed` (else centred windows and derangements
        of seed (seed, 0))."""
        audio = data[self.audio_key]
        frames = data[self.visual_keys[0]].shape[1]
        offsets = self.offsets(data)
        first = first_frames(frames, audio.shape[1], offsets, self.windows, seed)
        visual = [frame_windows(data[key], first, WINDOW_FRAMES) for key in self.visual_keys]
        sound = audio_windows(audio, first * FRAME_SAMPLES + offsets[:, None], WINDOW_SAMPLES)
        v = tf.cast(self.visual_net(visual[0] if len(visual) == 1 else visual, training=training), tf.float32)
        a = tf.cast(self.audio_net(sound, training=training), tf.float32)
        order = derangements(tf.shape(audio)[0], self.windows, seed if seed is not None else [self.seed, 0])
        shuffled = tf.gather(tf.reshape(a, [-1, self.windows, a.shape[-1]]), order, batch_dims=1)
        return euclidean(v, a), euclidean(v, tf.reshape(shuffled, tf.shape(a)))

    def compute_terms(self, data, training):
        seed = tf.stack([tf.cast(self.seed, tf.int64), tf.cast(self.optimizer.iterations, tf.int64)]) if training \
            else None
        positive, negative = self.pair_distances(data, training, seed)
        distances = tf.concat([positive, negative], 0)
        same = tf.concat([tf.ones_like(positive), tf.zeros_like(negative)], 0)
        loss = losses.contrastive_loss(distances, same, self.margin)
        correct = tf.reduce_sum(tf.cast(tf.equal(distances < THRESHOLD, same > 0), tf.float32))
        self.accuracy.update_state(correct, tf.cast(tf.size(distances), tf.float32))
        self.positive_distance.update_state(across_replicas(tf.reduce_mean(positive)))
        self.negative_distance.update_state(across_replicas(tf.reduce_mean(negative)))
        return loss, {"distances": distances}

    def stage_outputs(self, data: dict, maps: bool) -> dict[str, tf.Tensor]:
        positive, negative = self.pair_distances(data)
        return {"positive_distance": positive, "negative_distance": negative}
