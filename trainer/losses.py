"""The objectives of both papers, as plain TensorFlow functions of batched tensors.

Self-supervised (A): an audio map a_i and a video map v_j (both B x H x W x C) are compared
through the attention product: the video map weighs the audio map by where it looks,

    x_ij = normalise(sum_hw a_i * v_j * v_j),   y_i = normalise(sum_hw a_i),
    d_ij = || x_ij - y_i ||^2,

so d_ij is small when the audio energy of clip i sits where video j attends. Pairs from the
same recording are positives, all others negatives, and a triplet (i, j, k) costs
max(d_ij - d_ik + margin, 0). The product is indifferent to whether the audio map rises or
falls with the sound's energy: only where the two maps agree matters.

Beyond (A), SyncNet's identity loss compares the pooled features across modalities, which
the triplets of the maps never do directly, and the map agreement asks the video map to put
its mass where the audio map does. SyncNet's scaled-cosine cross-entropy is also the whole
objective of the content_identity stage (`trainer.content_identity`).
"""
from __future__ import annotations

import tensorflow as tf

from trainer.config import DEFAULTS


def l2_normalise(x: tf.Tensor, axis: int = -1) -> tf.Tensor:
    return tf.math.l2_normalize(x, axis=axis, epsilon=1e-12)


def video_attention(video_map: tf.Tensor) -> tf.Tensor:
    """v^2: how strongly the video map attends to each cell, per channel."""
    video_map = tf.cast(video_map, tf.float32)
    return video_map * video_map


def attended(audio_map: tf.Tensor, video_map: tf.Tensor) -> tf.Tensor:
    """a * v^2 per cell and channel, (B, H, W, C), of maps of the same clips: summed over the
    cells it is the x_ii of `attention_distances`, over the channels the attention map."""
    return tf.cast(audio_map, tf.float32) * video_attention(video_map)


def attention_map(audio_map: tf.Tensor, video_map: tf.Tensor) -> tf.Tensor:
    """Where audio and video agree, (B, H, W): the attention a * v^2 summed over channels."""
    return tf.reduce_sum(attended(audio_map, video_map), axis=-1)


def attention_distances(audio_map: tf.Tensor, video_map: tf.Tensor) -> tf.Tensor:
    """(B, H, W, C) audio and video maps -> d (B_audio, B_video) of the attention product."""
    audio_map = tf.cast(audio_map, tf.float32)
    x = l2_normalise(tf.einsum("ihwc,jhwc->ijc", audio_map, video_attention(video_map)))
    y = l2_normalise(tf.reduce_sum(audio_map, axis=[1, 2]))
    return tf.reduce_sum(tf.square(x - y[:, None, :]), axis=-1)


def embedding_distances(anchors: tf.Tensor, others: tf.Tensor) -> tf.Tensor:
    """Squared Euclidean distances (B_a, B_o) between two sets of embeddings."""
    anchors = tf.cast(anchors, tf.float32)
    others = tf.cast(others, tf.float32)
    return tf.reduce_sum(tf.square(anchors[:, None, :] - others[None, :, :]), axis=-1)


def same_identity(ids_a: tf.Tensor, ids_b: tf.Tensor | None = None) -> tf.Tensor:
    """(B_a, B_b) bool: which pairs come from the same recording. Ids are int vectors
    (e.g. class * 1000 + video index) or one-hot rows."""
    ids_a = tf.convert_to_tensor(ids_a)
    ids_b = ids_a if ids_b is None else tf.convert_to_tensor(ids_b)
    if ids_a.shape.rank == 2:
        ids_a, ids_b = tf.argmax(ids_a, axis=-1), tf.argmax(ids_b, axis=-1)
    return tf.equal(ids_a[:, None], ids_b[None, :])


def _triplet_terms(distances: tf.Tensor, positives: tf.Tensor, margin: float):
    """Losses (B, B, B) of every triplet (anchor i, positive j, negative k), and validity."""
    terms = distances[:, :, None] - distances[:, None, :] + margin
    valid = tf.logical_and(positives[:, :, None], tf.logical_not(positives)[:, None, :])
    return terms, valid


def batch_all_triplet_loss(distances: tf.Tensor, positives: tf.Tensor, margin: float = DEFAULTS.margin) -> tf.Tensor:
    """Mean over the valid triplets whose loss is positive (0 when there are none)."""
    terms, valid = _triplet_terms(distances, positives, margin)
    losses = tf.where(valid, tf.nn.relu(terms), 0.0)
    active = tf.reduce_sum(tf.cast(losses > 1e-16, tf.float32))
    return tf.math.divide_no_nan(tf.reduce_sum(losses), active)


def batch_hard_triplet_loss(distances: tf.Tensor, positives: tf.Tensor, margin: float = DEFAULTS.margin) -> tf.Tensor:
    """Mean over anchors of the hardest positive against the hardest negative. Anchors
    without a positive or a negative are left out."""
    hardest_positive = tf.reduce_max(tf.where(positives, distances, -1e9), axis=1)
    hardest_negative = tf.reduce_min(tf.where(positives, 1e9, distances), axis=1)
    usable = tf.logical_and(tf.reduce_any(positives, axis=1), tf.reduce_any(tf.logical_not(positives), axis=1))
    losses = tf.nn.relu(hardest_positive - hardest_negative + margin)
    total = tf.reduce_sum(tf.where(usable, losses, 0.0))
    return tf.math.divide_no_nan(total, tf.reduce_sum(tf.cast(usable, tf.float32)))


def triplet_counts(distances: tf.Tensor, positives: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """(correct, total) over valid triplets, correct when the positive is nearer than the
    negative. Summed over a whole validation set they give its triplet accuracy."""
    terms, valid = _triplet_terms(distances, positives, 0.0)
    correct = tf.reduce_sum(tf.cast(tf.logical_and(valid, terms < 0.0), tf.float32))
    return correct, tf.reduce_sum(tf.cast(valid, tf.float32))


def scaled_cosines(x: tf.Tensor, y: tf.Tensor, scale, bias=0.0) -> tf.Tensor:
    """SyncNet's logits: (..., N, D) and (..., M, D) -> (..., N, M) scale * cos(x_n, y_m) + bias."""
    cosines = tf.matmul(l2_normalise(tf.cast(x, tf.float32)), l2_normalise(tf.cast(y, tf.float32)), transpose_b=True)
    return tf.cast(scale, tf.float32) * cosines + tf.cast(bias, tf.float32)


def matching_cross_entropy(logits: tf.Tensor, positives: tf.Tensor | None = None,
                           positives_are_targets: bool = False) -> tf.Tensor:
    """Cross-entropy of (..., N, N) logits of x_n against y_m whose target is the pair's own
    match, the diagonal: each row over the y (x to y) and each column over the x (y to x),
    the two means averaged. `positives` (..., N, N), symmetric, marks other pairs of one
    identity (two clips of one subject, two windows of one recording), which are never
    negatives (SyncNet counted them): left out of both softmaxes, or, with
    `positives_are_targets`, targets too, each row's (column's) target spread evenly over
    its diagonal entry and its positives. A bias added to every logit changes no softmax."""
    logits = tf.cast(logits, tf.float32)
    diagonal = tf.eye(tf.shape(logits)[-1], dtype=tf.bool)
    if positives is None:
        positives = tf.broadcast_to(diagonal, tf.shape(logits))
    positives = tf.logical_or(tf.cast(positives, tf.bool), diagonal)
    if not positives_are_targets:
        logits = tf.where(tf.logical_and(positives, tf.logical_not(diagonal)), tf.float32.min, logits)
        positives = tf.broadcast_to(diagonal, tf.shape(logits))
    targets = tf.cast(positives, tf.float32)
    rows = tf.nn.softmax_cross_entropy_with_logits(targets / tf.reduce_sum(targets, axis=-1, keepdims=True), logits)
    columns = tf.nn.softmax_cross_entropy_with_logits(
        tf.linalg.matrix_transpose(targets / tf.reduce_sum(targets, axis=-2, keepdims=True)),
        tf.linalg.matrix_transpose(logits))
    return 0.5 * (tf.reduce_mean(rows) + tf.reduce_mean(columns))


def cross_modal_identity_loss(audio: tf.Tensor, video: tf.Tensor, positives: tf.Tensor,
                              scale: float = DEFAULTS.cross_modal_scale) -> tf.Tensor:
    """SyncNet's identity loss across modalities, on (B, D) audio and video embeddings of the
    same B samples: `matching_cross_entropy` of their scaled cosines, each sample's audio
    matched with the videos of its recording (`positives`, several windows of one recording
    may share a batch) and the reverse, the targets spread evenly over them. The scale is
    fixed here; the content_identity stage learns its own."""
    return matching_cross_entropy(scaled_cosines(audio, video, scale), positives, positives_are_targets=True)


def map_agreement_loss(target_maps: tf.Tensor, maps: tf.Tensor) -> tf.Tensor:
    """Mean KL divergence KL(p || q) between the spatial distributions of non-negative maps
    (B, H, W): p of `target_maps` (taken as fixed: no gradient reaches them), q of `maps`.
    0 when each map puts its mass where its target does."""
    def distribution(x):
        x = tf.cast(x, tf.float32)
        x = tf.reshape(x, [tf.shape(x)[0], -1]) + 1e-12
        return x / tf.reduce_sum(x, axis=1, keepdims=True)

    p, q = tf.stop_gradient(distribution(target_maps)), distribution(maps)
    return tf.reduce_mean(tf.reduce_sum(p * (tf.math.log(p) - tf.math.log(q)), axis=1))


def distillation_loss(labels: tf.Tensor, student_logits: tf.Tensor, teacher_logits: tf.Tensor,
                      temperature: float, weight: float, original: bool = False) -> tf.Tensor:
    """(1 - weight) * CE(labels, student) + weight * soft term.

    Standard (Hinton et al.): soft term = T^2 * CE(softmax(teacher / T), softmax(student / T)),
    the T^2 keeping its gradients on the scale of the hard term. `original=True` is paper B's
    code: CE(softmax(teacher / T), softmax(student)), no T^2.
    """
    labels = tf.cast(labels, tf.float32)
    student_logits = tf.cast(student_logits, tf.float32)
    soft_targets = tf.nn.softmax(tf.cast(teacher_logits, tf.float32) / temperature)
    hard = tf.nn.softmax_cross_entropy_with_logits(labels, student_logits)
    if original:
        soft = tf.nn.softmax_cross_entropy_with_logits(soft_targets, student_logits)
    else:
        soft = temperature**2 * tf.nn.softmax_cross_entropy_with_logits(soft_targets, student_logits / temperature)
    return tf.reduce_mean((1.0 - weight) * hard + weight * soft)


def contrastive_loss(distances: tf.Tensor, same: tf.Tensor, margin: float = 1.0) -> tf.Tensor:
    """UltraSync's (Hadsell et al.'s) loss over pairs: mean of y d^2 + (1 - y) max(margin - d, 0)^2,
    y 1 for a pair in sync and 0 for one out of it."""
    same = tf.cast(same, tf.float32)
    distances = tf.cast(distances, tf.float32)
    return tf.reduce_mean(same * tf.square(distances) + (1.0 - same) * tf.square(tf.nn.relu(margin - distances)))


# Audio-caption alignment ((C)): frames a_t and words w_q, both unit vectors.
POOLINGS = ("STSQ", "MTSQ", "MQST")  # (C)'s names: mean over all; max over time then mean; max over words then mean


def frame_word_similarity(frames: tf.Tensor, words: tf.Tensor) -> tf.Tensor:
    """(B, T, D) frames and (C, Q, D) words -> max(0, a_t . w_q), (B, C, T, Q): every clip's
    frames against every caption's words."""
    return tf.nn.relu(tf.einsum("btd,cqd->bctq", tf.cast(frames, tf.float32), tf.cast(words, tf.float32)))


def pooled_scores(similarity: tf.Tensor, words_present: tf.Tensor, pooling: str) -> tf.Tensor:
    """(B, C, T, Q) similarities and (C, Q) which of each caption's Q slots hold a word ->
    (B, C) clip-caption scores, pooled as `pooling` (one of POOLINGS) over the words present:
    STSQ, the mean over time and words; MTSQ, the mean over words of each word's best frame;
    MQST, the mean over time of each frame's best word. A caption of no words scores 0."""
    present = tf.cast(words_present, tf.float32)[None, :, None, :]  # (1, C, 1, Q)
    count = tf.reduce_sum(present, axis=-1)  # (1, C, 1)
    if pooling == "STSQ":
        return tf.reduce_mean(tf.math.divide_no_nan(tf.reduce_sum(similarity * present, axis=-1), count), axis=-1)
    if pooling == "MTSQ":
        best_frame = tf.reduce_max(similarity, axis=2)  # (B, C, Q)
        return tf.math.divide_no_nan(tf.reduce_sum(best_frame * present[:, :, 0], axis=-1), count[..., 0])
    if pooling == "MQST":  # similarities are >= 0, so an absent word's 0 never wins a max over present ones
        return tf.reduce_mean(tf.reduce_max(similarity * present, axis=-1), axis=-1)
    raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")


def caption_scores(frames: tf.Tensor, words: tf.Tensor, words_present: tf.Tensor, pooling: str) -> tf.Tensor:
    """(B, T, D) clips' frames, (C, Q, D) captions' words -> (B, C) pooled scores."""
    return pooled_scores(frame_word_similarity(frames, words), words_present, pooling)


def draw_impostors(groups: tf.Tensor, seed: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """For each of B samples, one other sample of another group (recording), uniformly, from a
    stateless `seed`: (indices (B,), found (B,) bool). A sample with none (a batch of one, or
    of one recording) has found False and its own index: (C) looped until it found one, forever."""
    others = tf.logical_not(same_identity(groups))  # (B, B)
    logits = tf.where(others, 0.0, -1e9)
    drawn = tf.random.stateless_categorical(logits, 1, seed, dtype=tf.int32)[:, 0]
    found = tf.reduce_any(others, axis=-1)
    return tf.where(found, drawn, tf.range(tf.shape(groups)[0], dtype=tf.int32)), found


def caption_hinge_loss(scores: tf.Tensor, audio_impostors: tf.Tensor, caption_impostors: tf.Tensor,
                       found: tf.Tensor, margin: float = 1.0) -> tf.Tensor:
    """(C)'s ranking loss from (B, B) scores s[audio, caption] of a batch of pairs (i, i): the
    mean over samples with impostors of max(0, margin + s[i, caption impostor] - s[i, i]) +
    max(0, margin + s[audio impostor, i] - s[i, i]); 0 when no sample has one."""
    own = tf.linalg.diag_part(scores)
    rows = tf.range(tf.shape(scores)[0], dtype=tf.int32)
    wrong_caption = tf.gather_nd(scores, tf.stack([rows, caption_impostors], axis=1))
    wrong_audio = tf.gather_nd(scores, tf.stack([audio_impostors, rows], axis=1))
    terms = tf.nn.relu(margin + wrong_caption - own) + tf.nn.relu(margin + wrong_audio - own)
    found = tf.cast(found, tf.float32)
    return tf.math.divide_no_nan(tf.reduce_sum(terms * found), tf.reduce_sum(found))
