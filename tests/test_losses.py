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
    same_identity,
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


def _cross_entropy(targets, logits):
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_softmax = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return -(targets * log_softmax).sum(axis=1).mean()


def test_cross_modal_identity_loss_by_hand(rng):
    # recordings 0, 0, 1: the first two rows each spread their target over two positives
    ids = np.array([0, 0, 1])
    audio = rng.normal(size=(3, 5)).astype(np.float32)
    video = rng.normal(size=(3, 5)).astype(np.float32)
    logits = 7.0 * _normalise(audio) @ _normalise(video).T
    targets = (ids[:, None] == ids[None, :]).astype(np.float64)
    targets /= targets.sum(axis=1, keepdims=True)
    expected = 0.5 * (_cross_entropy(targets, logits) + _cross_entropy(targets.T, logits.T))
    got = cross_modal_identity_loss(audio, video, same_identity(ids), scale=7.0).numpy()
    assert got == pytest.approx(expected, rel=1e-5)


def test_cross_modal_identity_loss_is_low_when_pairs_match():
    embeddings = np.eye(4, dtype=np.float32)
    matched = cross_modal_identity_loss(embeddings, embeddings, same_identity(np.arange(4))).numpy()
    swapped = cross_modal_identity_loss(embeddings, embeddings[::-1], same_identity(np.arange(4))).numpy()
    # matched: -log(e^10 / (e^10 + 3)), swapped: the positive scores 0 against one 10
    assert matched == pytest.approx(-np.log(np.exp(10) / (np.exp(10) + 3)), rel=1e-3)
    assert swapped > 9.0


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
