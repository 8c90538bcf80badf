"""The `content_identity` stage (the SyncNet trainer's capability): a video network and an
audio network each give, per time step of a 2-s crop, a content embedding and an identity
embedding (`models.content_identity`).

Crops: the stage cuts each sample's 2 s (24 frames and their audio) at a random frame,
drawn from (seed, optimizer step), in training, and at the centre in evaluation. The loader
starts samples at whole seconds only, so the recipe's 3-s samples give a crop twelve
starting points a second where 2-s samples would give one.

- Content: within each sample, video step i must pick audio step i among the sample's T
  steps (and audio step j video step j): cross-entropy over the T x T scaled cosines. The
  other steps of the same sample are the negatives, so content is what changes within a
  recording: what is said or done now.
- Identity: across the batch, each sample's video identity (its steps' mean) must pick the
  audio identity (likewise) of its subject's samples, and the reverse: cross-entropy over
  the B x B scaled cosines, the target spread evenly over the subject's samples
  (`subject_targets`, main.py's `--identity_targets subject`); or, as the original paired
  them, its own sample's only, the subject's other samples left out of the softmax
  (`--identity_targets own`). Either way two samples of one subject are never negatives
  (the original counted them). Identity is what stays across a subject's recordings: the
  voice and the look. On the simulator's speaking subjects, "subject" took the verification
  EER from 13.9 % to 1.5 % on held-out seconds of the training subjects and from 20.6 % to
  13.8 % on unseen subjects (`benchmarks/learning.py --only identity`): with "own", a clip's
  audio need only find its own recording's video, and voice with room matches look with
  background as well as voice alone matches look.

Logits are w * cos + b with w and b learned, one pair for content and one for identity,
started at 10 and -5 as the original's, and free of weight decay (the original's SGD decayed
them). A bias shifts every logit of a softmax alike, so b gets no gradient from these losses
(it is kept as the original has it), and Adam moves w by at most the learning rate a step:
in a run of a few hundred steps w stays near 10. Loss: content + identity.
Reported: both losses and the top-1 of each: content, the share of video steps whose
nearest audio step (by cosine) is their own; identity, the share of samples whose nearest
audio in the batch is of the same subject.
"""
from __future__ import annotations

import keras
import tensorflow as tf

from dataloader.camera import FRAME_SAMPLES
from dataloader.config import AUDIO, VIDEO_FRAMES
from models.content_identity import CONTENT, IDENTITY, SAMPLE_FRAMES
from trainer import losses
from trainer.stages import Share, _Stage, across_replicas
from trainer.windows import audio_windows, frame_windows

INITIAL_SCALE, INITIAL_BIAS = 10.0, -5.0


class ScaledCosine(keras.layers.Layer):
    """Logits w * cos(x, y) + b of two sets of embeddings, w and b learned."""

    def __init__(self, scale: float = INITIAL_SCALE, bias: float = INITIAL_BIAS, **kwargs):
        super().__init__(**kwargs)
        self.scale = self.add_weight(shape=(), initializer=keras.initializers.Constant(scale), name="scale")
        self.bias = self.add_weight(shape=(), initializer=keras.initializers.Constant(bias), name="bias")

    def call(self, x, y):
        return losses.scaled_cosines(x, y, self.scale, self.bias)


def embeddings(net: keras.Model, inputs: tf.Tensor, training: bool = False) -> tuple[tf.Tensor, tf.Tensor]:
    """A network's (B, T, D) content steps and (B, D) identity, the mean of its identity steps."""
    out = tf.cast(net(tf.cast(inputs, tf.float32), training=training), tf.float32)
    return out[:, :, CONTENT], tf.reduce_mean(out[:, :, IDENTITY], axis=1)


def crop_first_frames(batch: tf.Tensor, frames: int, seed: tf.Tensor | None) -> tf.Tensor:
    """(batch, 1) first frames of 2-s crops of samples of `frames` frames: uniform over those
    that fit, drawn from `seed`, else centred."""
    if frames < SAMPLE_FRAMES:
        raise ValueError(f"content_identity crops {SAMPLE_FRAMES} frames (2 s) out of samples of {frames}")
    if seed is None:
        return tf.fill([batch, 1], (frames - SAMPLE_FRAMES) // 2)
    return tf.random.stateless_uniform([batch, 1], seed, 0, frames - SAMPLE_FRAMES + 1, dtype=tf.int32)


def _count(share: Share, hits: tf.Tensor) -> None:
    share.update_state(tf.reduce_sum(tf.cast(hits, tf.float32)), tf.cast(tf.size(hits), tf.float32))


class ContentIdentity(_Stage):
    def __init__(self, video_net: keras.Model, audio_net: keras.Model, subject_key: str,
                 video_key: str = VIDEO_FRAMES, audio_key: str = AUDIO, subject_targets: bool = True,
                 seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.video_net, self.audio_net = video_net, audio_net
        # In float32 under a mixed policy too: float16 steps 0.008 near w = 10, Adam's 1e-3 steps would be lost.
        self.content_logits = ScaledCosine(name="content_logits", dtype="float32")
        self.identity_logits = ScaledCosine(name="identity_logits", dtype="float32")
        self.trained = (video_net, audio_net, self.content_logits, self.identity_logits)
        self.label_key, self.video_key, self.audio_key, self.seed = subject_key, video_key, audio_key, seed
        self.subject_targets = subject_targets
        self.content_loss = keras.metrics.Mean(name="content_loss")
        self.identity_loss = keras.metrics.Mean(name="identity_loss")
        self.content_accuracy = Share("content_accuracy")
        self.identity_accuracy = Share("identity_accuracy")

    def crops(self, data: dict, seed: tf.Tensor | None = None) -> tuple[tf.Tensor, tf.Tensor]:
        """The samples' 2-s crops of video and audio, random from `seed`, else centred."""
        video = data[self.video_key]
        first = crop_first_frames(tf.shape(video)[0], video.shape[1], seed)
        return (frame_windows(video, first, SAMPLE_FRAMES),
                audio_windows(data[self.audio_key], first * FRAME_SAMPLES, SAMPLE_FRAMES * FRAME_SAMPLES))

    def compute_terms(self, data, training):
        seed = tf.stack([tf.cast(self.seed, tf.int64), tf.cast(self.optimizer.iterations, tf.int64)]) if training \
            else None
        video, audio = self.crops(data, seed)
        video_content, video_identity = embeddings(self.video_net, video, training)
        audio_content, audio_identity = embeddings(self.audio_net, audio, training)
        content = self.content_logits(video_content, audio_content)  # (B, T, T)
        identity = self.identity_logits(video_identity, audio_identity)  # (B, B)
        same_subject = losses.same_identity(data[self.label_key])
        content_loss = losses.matching_cross_entropy(content)
        identity_loss = losses.matching_cross_entropy(identity, same_subject, self.subject_targets)
        self.content_loss.update_state(across_replicas(content_loss))
        self.identity_loss.update_state(across_replicas(identity_loss))
        own_step = tf.argmax(content, axis=-1, output_type=tf.int32) == tf.range(tf.shape(content)[-1])
        _count(self.content_accuracy, own_step)
        _count(self.identity_accuracy, tf.gather(same_subject, tf.argmax(identity, axis=-1), batch_dims=1))
        return content_loss + identity_loss, {"content": content, "identity": identity}

    def stage_outputs(self, data: dict, maps: bool) -> dict[str, tf.Tensor]:
        """Each sample's identity embeddings, L2-normalised: what verification compares."""
        video, audio = self.crops(data)
        _, video_identity = embeddings(self.video_net, video)
        _, audio_identity = embeddings(self.audio_net, audio)
        return {"audio": losses.l2_normalise(audio_identity), "video": losses.l2_normalise(video_identity)}
