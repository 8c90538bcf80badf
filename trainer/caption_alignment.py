"""The `caption_alignment` stage ((C)'s capability): an audio network's frames and a word
embedding's words in one space, learned from captions alone, no frame labels.

A sample is a window of a recording with the recording's caption (`dataloader.config`'s
`caption`): the windows should be the recordings (`--sample_length` their length), as (C)'s
clips were, or a caption names sounds the window may not hold. Its words are the
TextVectorization's ids of the run's vocabulary (`trainer.vocabulary`), embedded by the
`text_net` (`models.caption_alignment.word_embedding`).

Similarity of frame t and word q: max(0, a_t . w_q); a clip's score against a caption
pools these (`--caption_pooling`, (C)'s three: STSQ, MTSQ, MQST; `trainer.losses`). Loss:
(C)'s hinge with, for every sample, one impostor caption and one impostor clip drawn
uniformly from the batch's samples of other recordings (two recordings may share words,
never a sample), from (seed, optimizer step); a sample with none (a batch of one recording)
adds nothing, where (C) looped forever.

Reported: the loss, the mean positive score, and retrieval R@1 within each batch both
ways (`audio_to_caption_r1`, `caption_to_audio_r1`): a sample's own caption (clip) against
the batch's of other recordings, exact ties counted at their expected rank. The best
checkpoint has the highest validation `recall_at_1`, the two directions pooled.
"""
from __future__ import annotations

from collections.abc import Sequence

import keras
import tensorflow as tf

from dataloader.config import AUDIO, CAPTION
from dataloader.datasets import ACIVW_SPEC
from trainer import losses
from trainer.config import DEFAULTS
from trainer.stages import Share, _Stage, across_replicas, recording_ids


def frame_embeddings(net: keras.Model, inputs: tf.Tensor, training: bool = False) -> dict[str, tf.Tensor]:
    """The audio network's outputs as a dict: "frames" (B, T, D) always, and the acoustic-image
    encoder's "attention" and "features"."""
    out = net(tf.cast(inputs, tf.float32), training=training)
    return dict(out) if isinstance(out, dict) else {"frames": out}


def expected_hits(scores: tf.Tensor, eligible: tf.Tensor) -> tf.Tensor:
    """(B, B) scores, each row's own item on the diagonal, and which others compete -> (B,)
    the chance the own item ranks first, ties broken at random: 1 / (1 + ties) when nothing
    scores higher."""
    own = tf.linalg.diag_part(scores)[:, None]
    higher = tf.reduce_any(eligible & (scores > own), axis=-1)
    ties = tf.reduce_sum(tf.cast(eligible & tf.equal(scores, own), tf.float32), axis=-1)
    return tf.where(higher, 0.0, 1.0 / (1.0 + ties))


class CaptionAlignment(_Stage):
    def __init__(self, audio_net: keras.Model, text_net: keras.Model, vectorizer: keras.layers.TextVectorization,
                 audio_key: str = AUDIO, identity_keys: Sequence[str] = ACIVW_SPEC.identity,
                 pooling: str = DEFAULTS.caption_pooling, margin: float = DEFAULTS.caption_margin, seed: int = 0,
                 **kwargs):
        super().__init__(**kwargs)
        if pooling not in losses.POOLINGS:
            raise ValueError(f"pooling must be one of {losses.POOLINGS}, got {pooling!r}")
        self.audio_net, self.text_net, self.vectorizer = audio_net, text_net, vectorizer
        self.trained = (audio_net, text_net)
        self.audio_key, self.identity_keys = audio_key, tuple(identity_keys)
        self.pooling, self.margin, self.seed = pooling, margin, seed
        self.positive_score = keras.metrics.Mean(name="positive_score")
        self.recall_at_1 = Share("recall_at_1")
        self.audio_to_caption_r1 = Share("audio_to_caption_r1")
        self.caption_to_audio_r1 = Share("caption_to_audio_r1")

    def words(self, captions: tf.Tensor, training: bool = False) -> tuple[tf.Tensor, tf.Tensor]:
        """(B,) captions -> their unit word embeddings (B, Q, D) and which slots hold a word (B, Q)."""
        ids = self.vectorizer(captions)
        return tf.cast(self.text_net(ids, training=training), tf.float32), tf.not_equal(ids, 0)

    def compute_terms(self, data, training):
        frames = frame_embeddings(self.audio_net, data[self.audio_key], training)["frames"]
        words, present = self.words(data[CAPTION], training)
        scores = losses.caption_scores(frames, words, present, self.pooling)  # (B, B): clip x caption
        groups = recording_ids(data, self.identity_keys)
        step = tf.cast(self.optimizer.iterations, tf.int64) if training else tf.constant(0, tf.int64)
        seed = tf.cast(self.seed, tf.int64)
        caption_impostors, found = losses.draw_impostors(groups, tf.stack([seed, 2 * step]))
        audio_impostors, _ = losses.draw_impostors(groups, tf.stack([seed, 2 * step + 1]))
        loss = losses.caption_hinge_loss(scores, audio_impostors, caption_impostors, found, self.margin)
        self.positive_score.update_state(across_replicas(tf.reduce_mean(tf.linalg.diag_part(scores))))
        others = tf.logical_not(losses.same_identity(groups))
        audio_hits, caption_hits = expected_hits(scores, others), expected_hits(tf.transpose(scores), others)
        counted = tf.cast(tf.size(audio_hits), tf.float32)
        self.audio_to_caption_r1.update_state(tf.reduce_sum(audio_hits), counted)
        self.caption_to_audio_r1.update_state(tf.reduce_sum(caption_hits), counted)
        self.recall_at_1.update_state(tf.reduce_sum(audio_hits) + tf.reduce_sum(caption_hits), 2 * counted)
        return loss, {"scores": scores}

    def stage_outputs(self, data: dict, maps: bool) -> dict[str, tf.Tensor]:
        """What evaluation reads: the clips' outputs (`frame_embeddings`) and the captions'
        words ("words", "words_present")."""
        out = frame_embeddings(self.audio_net, data[self.audio_key])
        out["words"], out["words_present"] = self.words(data[CAPTION])
        return out

    def similarity(self, data: dict) -> tf.Tensor:
        """(B, T, Q) each clip's frames against its own caption's words, max(0, a . w)."""
        out = self.stage_outputs(data, maps=False)
        own = tf.einsum("btd,bqd->btq", out["frames"], out["words"])
        return tf.nn.relu(own) * tf.cast(out["words_present"], tf.float32)[:, None, :]
