import itertools

import numpy as np
import pytest
import tensorflow as tf

from trainer.losses import (
    attention_distances,
    batch_all_triplet_loss,
    batch_hard_triplet_loss,
    cross_modal_identity_loss,
    distillation_loss,
    embedding_distances,
    map_agreement_loss,
    matching_cross_entropy,
    same_identity,
    scaled_cosines,
    triplet_counts,
)


def _normalise(x):
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def test_attention_distances_by_hand(rng):
    audio = rng.uniform(0, 1, size=(3, 2, 4, 5)).astype(np.float32)
    video = rng.uniform(0, 1, size=(4, 2, 4, 5)).astype(np.float32)
    expected = np.zeros((3, 4))
    for i, j in itertools.product(range(3), range(4)):
        x = _normalise((audio[i] * video[j] * video[j]).sum(axis=(0, 1)))
        y = _normalise(audio[i].sum(axis=(0, 1)))
        expected[i, j] = np.sum((x - y) ** 2)
    np.testing.assert_allclose(attention_distances(audio, video).numpy(), expected, rtol=1e-5)


def test_attention_distance_is_zero_for_uniform_video():
    # a video map that attends everywhere equally changes nothing: x == y
    audio = np.random.default_rng(0).uniform(size=(2, 3, 3, 4)).astype(np.float32)
    video = np.ones((1, 3, 3, 4), np.float32)
    np.testing.assert_allclose(attention_distances(audio, video).numpy(), 0.0, atol=1e-6)


def _matching_cross_entropy(logits, positives=None):
    """By hand: each row's target is its diagonal entry, the softmax over the row's kept
    entries only (the diagonal and every pair not marked positive); the same over the
    columns; the two means averaged. Any leading axes are batch axes."""
    logits = np.asarray(logits, np.float64)
    count = logits.shape[-1]
    if positives is None:
        positives = np.zeros(logits.shape, bool)
    kept = ~np.broadcast_to(np.asarray(positives, bool), logits.shape) | np.eye(count, dtype=bool)

    def mean_over_rows(z, keep):
        losses = []
        for index in np.ndindex(*z.shape[:-2]):
            for i in range(count):
                row = z[index][i][keep[index][i]]
                losses.append(-z[index][i, i] + np.log(np.sum(np.exp(row))))
        return np.mean(losses)

    columns = np.swapaxes(logits, -1, -2), np.swapaxes(kept, -1, -2)
    return 0.5 * (mean_over_rows(logits, kept) + mean_over_rows(*columns))


def _cross_entropy(targets, logits):
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_softmax = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return -(targets * log_softmax).sum(axis=1).mean()


def test_cross_modal_identity_loss_by_hand(rng):
    # recordings 0, 0, 1: the first two rows (and columns) each spread their target over two positives
    ids = np.array([0, 0, 1])
    audio = rng.normal(size=(3, 5)).astype(np.float32)
    video = rng.normal(size=(3, 5)).astype(np.float32)
    logits = 7.0 * _normalise(audio) @ _normalise(video).T
    targets = (ids[:, None] == ids[None, :]).astype(np.float64)
    targets /= targets.sum(axis=1, keepdims=True)
    expected = 0.5 * (_cross_entropy(targets, logits) + _cross_entropy(targets.T, logits.T))
    got = cross_modal_identity_loss(audio, video, same_identity(ids), scale=7.0).numpy()
    assert got == pytest.approx(expected, rel=1e-5)


def test_matching_cross_entropy_with_positives_as_targets(rng):
    # subjects 0, 0, 1, 0 in each of two batches: rows 0, 1 and 3 spread their target over three
    subjects = np.array([0, 0, 1, 0])
    positives = np.broadcast_to(subjects[:, None] == subjects[None, :], (2, 4, 4))
    logits = rng.normal(scale=3.0, size=(2, 4, 4)).astype(np.float32)
    targets = positives / positives.sum(axis=-1, keepdims=True)
    expected = np.mean([0.5 * (_cross_entropy(targets[b], logits[b].astype(np.float64))
                               + _cross_entropy(targets[b].T, logits[b].T.astype(np.float64))) for b in range(2)])
    got = matching_cross_entropy(logits, positives, positives_are_targets=True).numpy()
    assert got == pytest.approx(expected, rel=1e-5)
    # without positives every row has one target, whichever the mode
    alone = matching_cross_entropy(logits, np.zeros((2, 4, 4), bool), positives_are_targets=True).numpy()
    assert alone == pytest.approx(_matching_cross_entropy(logits), rel=1e-5)


def test_cross_modal_identity_loss_is_low_when_pairs_match():
    embeddings = np.eye(4, dtype=np.float32)
    matched = cross_modal_identity_loss(embeddings, embeddings, same_identity(np.arange(4))).numpy()
    swapped = cross_modal_identity_loss(embeddings, embeddings[::-1], same_identity(np.arange(4))).numpy()
    # every id distinct, so every row has one target; the default scale is 10, so the logits are
    # 10 * cos. Matched: 10 on the diagonal, 0 elsewhere, every row and column
    # -log(e^10 / (e^10 + 3)). Swapped: video j is audio 3 - j, so each diagonal target
    # scores 0 against one 10 and two 0s, -log(1 / (e^10 + 3)) = log(e^10 + 3) > 10.
    assert matched == pytest.approx(-np.log(np.exp(10) / (np.exp(10) + 3)), rel=1e-3)
    assert swapped == pytest.approx(np.log(np.exp(10) + 3), rel=1e-5)


def test_matching_cross_entropy_of_batched_content_logits(rng):
    # the content loss: each clip's T x T matrix of video step t against audio step s,
    # targets the own time step, nothing masked
    logits = rng.normal(scale=3.0, size=(2, 5, 5)).astype(np.float32)
    z = logits.astype(np.float64)
    rows = -np.einsum("btt->bt", z) + np.log(np.exp(z).sum(axis=2))
    columns = -np.einsum("btt->bt", z) + np.log(np.exp(z).sum(axis=1))
    expected = 0.5 * (rows.mean() + columns.mean())
    assert _matching_cross_entropy(logits) == pytest.approx(expected, rel=1e-12)
    assert matching_cross_entropy(logits).numpy() == pytest.approx(expected, rel=1e-5)
    # each clip is its own softmax: the clips' order does not matter, the audio steps' does
    assert matching_cross_entropy(logits[::-1]).numpy() == pytest.approx(expected, rel=1e-5)
    shuffled = logits[:, :, [1, 0, 2, 3, 4]]
    assert matching_cross_entropy(shuffled).numpy() != pytest.approx(expected, rel=1e-3)


def test_matching_cross_entropy_masks_same_subject_pairs(rng):
    # the identity loss: clips 0 and 1 are of one subject, their pairs are no negatives
    subjects = np.array([0, 0, 1, 2])
    positives = subjects[:, None] == subjects[None, :]
    logits = rng.normal(scale=3.0, size=(4, 4)).astype(np.float32)
    loss = matching_cross_entropy(logits, positives).numpy()
    assert loss == pytest.approx(_matching_cross_entropy(logits, positives), rel=1e-5)
    assert loss != pytest.approx(_matching_cross_entropy(logits), rel=1e-3)
    # a masked same-subject pair is in no softmax: its logit changes nothing, not even a bit
    masked = logits.copy()
    masked[0, 1], masked[1, 0] = 50.0, -50.0
    assert matching_cross_entropy(masked, positives).numpy() == loss
    # an unmasked negative is in two softmaxes (row 0, column 2): raising it raises the loss
    negative = logits.copy()
    negative[0, 2] += 5.0
    raised = matching_cross_entropy(negative, positives).numpy()
    assert raised == pytest.approx(_matching_cross_entropy(negative, positives), rel=1e-5)
    assert raised > loss + 0.01


def test_matching_cross_entropy_ignores_a_common_bias(rng):
    subjects = np.array([0, 1, 1, 2, 0])
    positives = same_identity(subjects)
    logits = rng.normal(scale=3.0, size=(5, 5)).astype(np.float32)
    for mask in (None, positives):
        loss = matching_cross_entropy(logits, mask).numpy()
        assert loss > 0.1
        assert matching_cross_entropy(logits + 7.5, mask).numpy() == pytest.approx(loss, rel=1e-5)
        assert matching_cross_entropy(logits - 5.0, mask).numpy() == pytest.approx(loss, rel=1e-5)


def test_scaled_cosines_by_hand(rng):
    x = rng.normal(size=(2, 3, 4)).astype(np.float32)
    y = rng.normal(size=(2, 5, 4)).astype(np.float32)
    expected = np.zeros((2, 3, 5))
    for b, n, m in itertools.product(range(2), range(3), range(5)):
        cosine = x[b, n] @ y[b, m] / (np.linalg.norm(x[b, n]) * np.linalg.norm(y[b, m]))
        expected[b, n, m] = 4.5 * cosine - 2.0
    got = scaled_cosines(x, y, 4.5, -2.0).numpy()
    assert got.shape == (2, 3, 5)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    # the bias defaults to 0, and a learned scale and bias may be variables
    np.testing.assert_allclose(scaled_cosines(x, y, 4.5).numpy(), expected + 2.0, rtol=1e-5, atol=1e-5)
    got = scaled_cosines(x, y, tf.Variable(4.5), tf.Variable(-2.0)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_map_agreement_loss_by_hand(rng):
    target = rng.uniform(0, 1, size=(2, 3, 4)).astype(np.float32)
    maps = rng.uniform(0, 1, size=(2, 3, 4)).astype(np.float32)
    p = target.reshape(2, -1) / target.reshape(2, -1).sum(axis=1, keepdims=True)
    q = maps.reshape(2, -1) / maps.reshape(2, -1).sum(axis=1, keepdims=True)
    expected = np.mean(np.sum(p * np.log(p / q), axis=1))
    assert map_agreement_loss(target, maps).numpy() == pytest.approx(expected, rel=1e-4)
    # the same distribution at another scale agrees exactly
    assert map_agreement_loss(target, 5.0 * target).numpy() == pytest.approx(0.0, abs=1e-6)


def test_map_agreement_loss_moves_only_the_maps(rng):
    target = tf.Variable(rng.uniform(0, 1, size=(1, 2, 2)).astype(np.float32))
    maps = tf.Variable(rng.uniform(0, 1, size=(1, 2, 2)).astype(np.float32))
    with tf.GradientTape() as tape:
        loss = map_agreement_loss(target, maps)
    to_target, to_maps = tape.gradient(loss, [target, maps])
    assert to_target is None and np.abs(to_maps.numpy()).sum() > 0


def _numpy_triplets(d, positive, margin):
    losses = []
    for i, j, k in itertools.product(range(d.shape[0]), range(d.shape[1]), range(d.shape[1])):
        if positive[i, j] and not positive[i, k]:
            losses.append(d[i, j] - d[i, k] + margin)
    return np.array(losses)


def test_batch_all_and_hard_triplet_losses_by_hand(rng):
    ids = np.array([0, 0, 1, 2, 2, 2])
    d = rng.uniform(0, 1, size=(6, 6)).astype(np.float32)
    positive = ids[:, None] == ids[None, :]
    triplets = _numpy_triplets(d, positive, 0.2)
    active = triplets[triplets > 0]
    assert batch_all_triplet_loss(d, same_identity(ids)).numpy() == pytest.approx(active.mean(), rel=1e-5)
    hard = [max(0.0, d[i][positive[i]].max() - d[i][~positive[i]].min() + 0.2) for i in range(6)]
    assert batch_hard_triplet_loss(d, same_identity(ids)).numpy() == pytest.approx(np.mean(hard), rel=1e-5)
    correct, total = triplet_counts(d, same_identity(ids))
    assert total.numpy() == len(triplets)
    assert correct.numpy() == np.sum(triplets - 0.2 < 0)


def test_triplet_losses_vanish_when_separated_by_the_margin():
    ids = np.array([0, 0, 1, 1])
    d = np.where(ids[:, None] == ids[None, :], 0.1, 0.5).astype(np.float32)
    assert batch_all_triplet_loss(d, same_identity(ids)).numpy() == 0.0
    assert batch_hard_triplet_loss(d, same_identity(ids)).numpy() == 0.0
    correct, total = triplet_counts(d, same_identity(ids))
    assert correct.numpy() == total.numpy() == 16  # 4 anchors x 2 positives x 2 negatives


def test_one_hot_identities_and_embedding_distances():
    one_hot = tf.one_hot([2, 0, 2], 3)
    np.testing.assert_array_equal(same_identity(one_hot).numpy(), [[1, 0, 1], [0, 1, 0], [1, 0, 1]])
    a, b = np.array([[0.0, 0.0], [1.0, 1.0]]), np.array([[3.0, 4.0]])
    np.testing.assert_allclose(embedding_distances(a, b).numpy(), [[25.0], [13.0]])


def _softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    return np.exp(z) / np.exp(z).sum(axis=-1, keepdims=True)


@pytest.mark.parametrize("original", [False, True])
def test_distillation_losses_by_hand(rng, original):
    labels = np.eye(4)[[1, 3]].astype(np.float32)
    student = rng.normal(size=(2, 4)).astype(np.float32)
    teacher = rng.normal(size=(2, 4)).astype(np.float32)
    t, w = 3.0, 0.7
    hard = -np.sum(labels * np.log(_softmax(student)), axis=-1)
    targets = _softmax(teacher / t)
    if original:
        soft = -np.sum(targets * np.log(_softmax(student)), axis=-1)
    else:
        soft = t**2 * -np.sum(targets * np.log(_softmax(student / t)), axis=-1)
    expected = np.mean((1 - w) * hard + w * soft)
    got = distillation_loss(labels, student, teacher, temperature=t, weight=w, original=original).numpy()
    assert got == pytest.approx(expected, rel=1e-5)
