"""The caption_alignment stage ((C)) and its networks: the frame-word similarity, the three
poolings of a clip's score against a caption (padding words ignored), the ranking hinge and
the impostors it draws (never of the sample's own recording, uniform over the others), the
expected R@1 with ties; the stage's loss and R@1 against numpy on the networks' own outputs;
the networks' shapes and unit embeddings, the linear interpolation and power-4 pool of the
CRNN, the acoustic-image encoder's frames as the attended sum of its cells' embeddings; the
word vectors read from word2vec files, the vocabulary file and the stage's spec."""
import dataclasses

import keras
import numpy as np
import pytest
import scipy.stats
import tensorflow as tf
from gensim.models import KeyedVectors

from dataloader.camera import ACOUSTIC_IMAGE_SHAPE, FRAME_SAMPLES
from dataloader.config import AUDIO, CAPTION, PHRASE_ACTIVITY, PHRASES, LoaderConfig
from dataloader.datasets import ACIVW_SPEC
from models.caption_alignment import (
    CELL_GRID,
    EMBEDDING_SIZE,
    PADDING,
    UNKNOWN,
    LPPool2D,
    caption_acoustic_image,
    caption_crnn,
    caption_vectorizer,
    cell_embeddings,
    interpolation_matrix,
    word_embedding,
)
from models.word_vectors import embedding_rows, read_word2vec
from trainer import losses
from trainer.caption_alignment import CaptionAlignment, expected_hits
from trainer.config import FlagError, RunConfig
from trainer.stage_specs import STAGES, _caption_alignment, _caption_loader
from trainer.stages import recording_ids
from trainer.vocabulary import make_vocabulary, read_vocabulary, vocabulary_settings, write_vocabulary

SECONDS = 2
NUM_SAMPLES = SECONDS * 12 * FRAME_SAMPLES  # 2 s of audio: 24 video frames, 96 log-mel frames
VOCABULARY = ["a", "drone", "buzzes", "hovers", "drill", "whirs", "loudly"]
MAX_WORDS = 8


def _normalised(x):
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def _pooled(similarity, present, pooling):
    """(C)'s score by hand, on each caption's present words only: STSQ the mean over all,
    MTSQ each word's best frame averaged, MQST each frame's best word averaged; 0 for none."""
    scores = np.zeros(similarity.shape[:2])
    for b, c in np.ndindex(*scores.shape):
        kept = similarity[b, c][:, present[c]]  # (T, words)
        if kept.size == 0:
            continue
        scores[b, c] = {"STSQ": kept.mean(), "MTSQ": kept.max(axis=0).mean(), "MQST": kept.max(axis=1).mean()}[pooling]
    return scores


def _hinge(scores, audio_impostors, caption_impostors, found, margin):
    """(C)'s ranking loss by hand, over the samples with impostors."""
    terms = [max(0.0, margin + scores[i, caption_impostors[i]] - scores[i, i])
             + max(0.0, margin + scores[audio_impostors[i], i] - scores[i, i]) for i in range(len(scores))]
    found = np.asarray(found, bool)
    return float(np.sum(np.asarray(terms)[found]) / found.sum()) if found.any() else 0.0


def _r1(scores, groups):
    """Expected R@1 of each row by hand: 0 when another recording's item scores higher, else
    1 / (1 + the other recordings' items tied with it)."""
    hits = []
    for i, row in enumerate(scores):
        others = row[groups != groups[i]]
        hits.append(0.0 if np.any(others > row[i]) else 1.0 / (1 + np.sum(others == row[i])))
    return np.asarray(hits)


# --- similarity, pooling, hinge, impostors, R@1 ---------------------------------------------


def test_frame_word_similarity_is_the_positive_part_of_every_dot_product(rng):
    frames = rng.standard_normal((2, 5, 4)).astype(np.float32)
    words = rng.standard_normal((3, 4, 4)).astype(np.float32)
    expected = np.maximum(0.0, np.einsum("btd,cqd->bctq", frames, words))
    got = losses.frame_word_similarity(frames, words).numpy()
    assert got.shape == (2, 3, 5, 4)
    assert (expected == 0).any() and (expected > 0).any()  # both sides of the clip are exercised
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("pooling", losses.POOLINGS)
def test_pooled_scores_use_each_captions_present_words_only(rng, pooling):
    batch, captions, steps, slots = 2, 4, 5, 6
    present = np.zeros((captions, slots), bool)
    present[0, :6] = True  # a full caption
    present[1, :2] = True  # a short one
    present[2, [0, 3, 4]] = True  # words anywhere in the slots
    # caption 3: no words
    shape = (batch, captions, steps, slots)
    # Garbage in the padding slots, far above any present word's similarity.
    similarity = np.where(present[None, :, None, :], rng.uniform(0.0, 1.0, shape),
                          rng.uniform(50.0, 1000.0, shape)).astype(np.float32)
    got = losses.pooled_scores(similarity, present, pooling).numpy()
    assert got.shape == (batch, captions)
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got, _pooled(similarity, present, pooling), rtol=1e-5, atol=1e-6)
    assert np.all(got[:, 3] == 0.0)
    # The garbage in the padding slots changes nothing: zero it and the scores stay.
    cleaned = np.where(present[None, :, None, :], similarity, 0.0).astype(np.float32)
    np.testing.assert_allclose(losses.pooled_scores(cleaned, present, pooling).numpy(), got, rtol=1e-6)


def test_poolings_differ_on_one_example():
    """Frames x words [[1, 0], [0, 0], [0, 0.5]]: mean 0.25; best frame a word 0.75; best word a frame 0.5."""
    similarity = np.array([[1.0, 0.0], [0.0, 0.0], [0.0, 0.5]], np.float32)[None, None]
    present = np.array([[True, True]])
    got = {pooling: float(losses.pooled_scores(similarity, present, pooling).numpy()[0, 0])
           for pooling in losses.POOLINGS}
    assert got == pytest.approx({"STSQ": 0.25, "MTSQ": 0.75, "MQST": 0.5})


def test_caption_scores_pool_the_similarity_of_frames_and_words(rng):
    frames = _normalised(rng.standard_normal((2, 5, 4))).astype(np.float32)
    words = _normalised(rng.standard_normal((3, 4, 4))).astype(np.float32)
    present = np.array([[1, 1, 1, 0], [1, 0, 0, 0], [1, 1, 1, 1]], bool)
    similarity = np.maximum(0.0, np.einsum("btd,cqd->bctq", frames, words))
    for pooling in losses.POOLINGS:
        np.testing.assert_allclose(losses.caption_scores(frames, words, present, pooling).numpy(),
                                   _pooled(similarity, present, pooling), rtol=1e-5, atol=1e-6)


def test_unknown_pooling_is_refused():
    with pytest.raises(ValueError, match="pooling must be one of"):
        losses.pooled_scores(np.zeros((1, 1, 2, 2), np.float32), np.ones((1, 2), bool), "MAX")


HINGE_SCORES = np.array([[2.0, 0.5, 0.2],
                         [0.5, 1.0, 0.9],
                         [3.0, 0.1, 0.4]], np.float32)
CAPTION_IMPOSTORS = np.array([1, 2, 0], np.int32)
AUDIO_IMPOSTORS = np.array([2, 0, 1], np.int32)


def test_caption_hinge_loss_by_hand():
    # sample 0: max(0, 1 + 0.5 - 2) = 0 (clipped) + (1 + 3.0 - 2) = 2.0
    # sample 1: (1 + 0.9 - 1) = 0.9 + (1 + 0.5 - 1) = 0.5: 1.4
    # sample 2: (1 + 3.0 - 0.4) = 3.6 + (1 + 0.9 - 0.4) = 1.5: 5.1
    found = np.array([True, False, True])
    loss = losses.caption_hinge_loss(HINGE_SCORES, AUDIO_IMPOSTORS, CAPTION_IMPOSTORS, found, margin=1.0)
    assert float(loss) == pytest.approx((2.0 + 5.1) / 2, rel=1e-6)
    every = losses.caption_hinge_loss(HINGE_SCORES, AUDIO_IMPOSTORS, CAPTION_IMPOSTORS, np.ones(3, bool), margin=1.0)
    assert float(every) == pytest.approx((2.0 + 1.4 + 5.1) / 3, rel=1e-6)
    assert float(every) == pytest.approx(_hinge(HINGE_SCORES, AUDIO_IMPOSTORS, CAPTION_IMPOSTORS, [1, 1, 1], 1.0))
    # margin 0.5: sample 0 (0 + 1.5), sample 2 (3.1 + 1.0)
    half = losses.caption_hinge_loss(HINGE_SCORES, AUDIO_IMPOSTORS, CAPTION_IMPOSTORS, found, margin=0.5)
    assert float(half) == pytest.approx((1.5 + 4.1) / 2, rel=1e-6)


def test_caption_hinge_loss_without_impostors_is_zero_not_nan():
    loss = losses.caption_hinge_loss(HINGE_SCORES, AUDIO_IMPOSTORS, CAPTION_IMPOSTORS, np.zeros(3, bool), margin=1.0)
    assert float(loss) == 0.0


def test_impostors_are_never_of_the_samples_own_recording():
    groups = tf.constant([0, 0, 1, 1, 1, 2], tf.int64)
    for step in range(100):
        indices, found = losses.draw_impostors(groups, tf.constant([7, step], tf.int64))
        indices, found = indices.numpy(), found.numpy()
        assert found.all()
        assert np.all(groups.numpy()[indices] != groups.numpy())


def test_impostors_are_uniform_over_the_other_recordings_samples():
    # 200 samples of recording 0 each draw from the 4 samples of recordings 1..3; 50 seeds: 10,000 draws.
    groups = tf.constant([0] * 200 + [1, 1, 2, 3], tf.int64)
    counts = np.zeros(204, int)
    own_drawn = []
    for step in range(50):
        indices, _ = losses.draw_impostors(groups, tf.constant([11, step], tf.int64))
        counts += np.bincount(indices.numpy()[:200], minlength=204)
        own_drawn.append(indices.numpy()[200])
    assert counts[:200].sum() == 0
    assert scipy.stats.chisquare(counts[200:]).pvalue > 1e-3
    # Sample 200 (recording 1) draws among the 202 samples of recordings 0, 2 and 3, never 201.
    assert not np.isin(own_drawn, [200, 201]).any()
    assert len(set(own_drawn)) > 40  # spread over the 202, not stuck on a few


def test_same_seed_gives_the_same_impostors_and_another_seed_others():
    groups = tf.constant(np.arange(12) // 2, tf.int64)
    first, _ = losses.draw_impostors(groups, tf.constant([3, 5], tf.int64))
    again, _ = losses.draw_impostors(groups, tf.constant([3, 5], tf.int64))
    other, _ = losses.draw_impostors(groups, tf.constant([3, 6], tf.int64))
    np.testing.assert_array_equal(first.numpy(), again.numpy())
    assert not np.array_equal(first.numpy(), other.numpy())


@pytest.mark.parametrize("groups", [[7], [3, 3, 3], np.eye(4, dtype=np.float32)[[2, 2]]])
def test_a_sample_without_other_recordings_gets_itself_and_found_false(groups):
    indices, found = losses.draw_impostors(tf.constant(groups), tf.constant([0, 0], tf.int64))
    assert not found.numpy().any()
    np.testing.assert_array_equal(indices.numpy(), np.arange(len(groups)))


def test_expected_hits_count_ties_at_their_expected_rank():
    scores = tf.constant([[0.5, 0.5, 0.2, 0.1],   # tied with one eligible other: 1/2
                          [0.9, 0.3, 0.1, 0.2],   # an eligible other higher: 0
                          [0.8, 0.1, 0.4, 0.3],   # only an ineligible other higher: 1
                          [0.6, 0.6, 0.6, 0.6]])  # tied with two eligible others (one tie ineligible): 1/3
    eligible = tf.constant([[False, True, True, True],
                            [True, False, True, True],
                            [False, True, False, True],
                            [True, False, True, False]])
    np.testing.assert_allclose(expected_hits(scores, eligible).numpy(), [0.5, 0.0, 1.0, 1.0 / 3.0], rtol=1e-6)


# --- the stage on tiny built networks --------------------------------------------------------


@pytest.fixture(scope="module")
def networks():
    keras.utils.set_random_seed(5)
    audio = caption_crnn("embedding", num_samples=NUM_SAMPLES)
    text = word_embedding(len(VOCABULARY) + 2, max_words=MAX_WORDS)
    return audio, text


def _stage(networks, pooling="STSQ", margin=1.0, seed=4) -> CaptionAlignment:
    audio, text = networks
    stage = CaptionAlignment(audio, text, caption_vectorizer(VOCABULARY, max_words=MAX_WORDS), pooling=pooling,
                             margin=margin, seed=seed)
    stage.compile(optimizer=keras.optimizers.Adam(1e-3))
    for metric in stage.metrics:
        metric.reset_state()
    return stage


def _batch(rng, recordings, captions) -> dict:
    """Samples of the given (class, video index) recordings, one-hot as ACIVW's loader serves them."""
    depths = {label.name: label.depth for label in ACIVW_SPEC.labels}
    classes, videos = np.asarray(recordings).T
    return {AUDIO: rng.standard_normal((len(recordings), NUM_SAMPLES, 1)).astype(np.float32),
            CAPTION: tf.constant(captions),
            "classes": np.eye(depths["classes"], dtype=np.float32)[classes],
            "video_index": np.eye(depths["video_index"], dtype=np.float32)[videos]}


# Samples 0 and 1 are two windows of one recording (class 2, video 5); sample 3 shares the
# video index but not the class: another recording.
RECORDINGS = [(2, 5), (2, 5), (2, 7), (4, 5)]
CAPTIONS = ["A drone buzzes.", "A drone buzzes.", "a drone hovers", "A drill whirs, loudly!"]


def test_the_identity_labels_are_acivws_one_hot_class_and_video_index(rng):
    assert ACIVW_SPEC.identity == ("classes", "video_index")
    groups = recording_ids(_batch(rng, RECORDINGS, CAPTIONS), ACIVW_SPEC.identity).numpy()
    assert groups[0] == groups[1] and len(set(groups.tolist())) == 3


@pytest.mark.parametrize("pooling", losses.POOLINGS)
def test_stage_loss_and_r1_equal_numpy_on_the_networks_outputs(networks, rng, pooling):
    stage = _stage(networks, pooling=pooling, margin=0.7, seed=4)
    batch = _batch(rng, RECORDINGS, CAPTIONS)
    loss, extras = stage.compute_terms(batch, training=False)

    frames = networks[0](batch[AUDIO], training=False).numpy()
    words, present = (t.numpy() for t in stage.words(batch[CAPTION]))
    assert frames.shape == (4, 4 * 12 * SECONDS, EMBEDDING_SIZE)
    np.testing.assert_array_equal(present.sum(axis=1), [3, 3, 3, 4])
    similarity = np.maximum(0.0, np.einsum("btd,cqd->bctq", frames, words))
    scores = _pooled(similarity, present, pooling)
    np.testing.assert_allclose(extras["scores"].numpy(), scores, rtol=1e-4, atol=1e-6)

    # Outside training the step is 0: caption impostors from (seed, 0), audio impostors from (seed, 1).
    groups = recording_ids(batch, ACIVW_SPEC.identity)
    caption_impostors, found = (t.numpy() for t in losses.draw_impostors(groups, tf.constant([4, 0], tf.int64)))
    audio_impostors, _ = (t.numpy() for t in losses.draw_impostors(groups, tf.constant([4, 1], tf.int64)))
    assert found.all()
    expected = _hinge(scores, audio_impostors, caption_impostors, found, 0.7)
    assert float(loss) == pytest.approx(expected, rel=1e-4)

    groups = groups.numpy()
    a2c, c2a = _r1(scores, groups), _r1(scores.T, groups)
    assert float(stage.audio_to_caption_r1.result()) == pytest.approx(a2c.mean(), abs=1e-6)
    assert float(stage.caption_to_audio_r1.result()) == pytest.approx(c2a.mean(), abs=1e-6)
    assert float(stage.recall_at_1.result()) == pytest.approx((a2c.sum() + c2a.sum()) / 8, abs=1e-6)
    assert float(stage.positive_score.result()) == pytest.approx(np.mean(np.diag(scores)), rel=1e-4)


def test_stage_draws_its_training_impostors_from_seed_and_optimizer_step(networks, rng):
    stage = _stage(networks, seed=9)
    stage.optimizer.iterations.assign(3)
    batch = _batch(rng, RECORDINGS, CAPTIONS)
    loss, extras = stage.compute_terms(batch, training=True)
    scores = extras["scores"].numpy()
    groups = recording_ids(batch, ACIVW_SPEC.identity)
    caption_impostors, found = (t.numpy() for t in losses.draw_impostors(groups, tf.constant([9, 6], tf.int64)))
    audio_impostors, _ = (t.numpy() for t in losses.draw_impostors(groups, tf.constant([9, 7], tf.int64)))
    assert float(loss) == pytest.approx(_hinge(scores, audio_impostors, caption_impostors, found, 1.0), rel=1e-4)


def test_two_windows_of_one_recording_are_never_each_others_impostors(rng):
    groups = recording_ids(_batch(rng, RECORDINGS, CAPTIONS), ACIVW_SPEC.identity)
    for step in range(200):
        for index in (2 * step, 2 * step + 1):  # the stage's caption and audio draws of a step
            indices, _ = losses.draw_impostors(groups, tf.constant([4, index], tf.int64))
            assert indices.numpy()[0] != 1 and indices.numpy()[1] != 0
            assert np.all(indices.numpy() != np.arange(4))


def test_a_batch_of_one_recording_adds_no_loss_and_counts_every_sample_a_hit(networks, rng):
    stage = _stage(networks)
    batch = _batch(rng, [(3, 1), (3, 1)], ["a drone buzzes", "a drone buzzes"])
    loss, _ = stage.compute_terms(batch, training=False)
    assert float(loss) == 0.0
    assert float(stage.recall_at_1.result()) == 1.0


def test_stage_refuses_an_unknown_pooling(networks):
    with pytest.raises(ValueError, match="pooling must be one of"):
        CaptionAlignment(*networks, caption_vectorizer(VOCABULARY, max_words=MAX_WORDS), pooling="mean")


# --- the networks ----------------------------------------------------------------------------


def test_crnn_embeds_four_unit_frames_a_video_frame(networks, rng):
    audio = networks[0]
    assert audio.output_shape == (None, 4 * 12 * SECONDS, EMBEDDING_SIZE)
    frames = audio(rng.standard_normal((2, NUM_SAMPLES, 1)).astype(np.float32), training=False).numpy()
    assert frames.shape == (2, 96, EMBEDDING_SIZE)
    np.testing.assert_allclose(np.linalg.norm(frames, axis=-1), 1.0, atol=1e-5)


def test_crnn_classifier_gives_class_logits_and_refuses_partial_frames(rng):
    net = caption_crnn("classifier", num_classes=5, num_samples=12 * FRAME_SAMPLES)
    logits = net(rng.standard_normal((2, 12 * FRAME_SAMPLES, 1)).astype(np.float32), training=False)
    assert tuple(logits.shape) == (2, 5)
    with pytest.raises(ValueError, match="whole video frames"):
        caption_crnn("embedding", num_samples=12 * FRAME_SAMPLES + 100)


def test_interpolation_matrix_is_pytorchs_linear_interpolation_without_aligned_corners():
    expected = [[1, 0], [1, 0], [0.875, 0.125], [0.625, 0.375], [0.375, 0.625], [0.125, 0.875], [0, 1], [0, 1]]
    np.testing.assert_allclose(interpolation_matrix(2, 8), expected, atol=1e-7)
    for source, target in [(24, 96), (5, 7), (3, 3), (7, 3), (1, 4)]:
        matrix = interpolation_matrix(source, target)
        assert matrix.shape == (target, source)
        np.testing.assert_allclose(matrix.sum(axis=1), 1.0, atol=1e-6)
        assert (matrix >= 0).all()
    np.testing.assert_allclose(interpolation_matrix(4, 4), np.eye(4), atol=1e-7)


def test_lp_pool_is_the_fourth_root_of_the_windows_sum_of_fourth_powers(rng):
    x = rng.standard_normal((2, 4, 8, 3)).astype(np.float32)
    got = LPPool2D(4, (2, 4))(x).numpy()
    windows = x.reshape(2, 2, 2, 2, 4, 3).astype(np.float64)  # (b, h, 2, w, 4, c)
    expected = (np.sum(windows ** 4, axis=(2, 4)) + 1e-12) ** 0.25
    assert got.shape == (2, 2, 2, 3)
    np.testing.assert_allclose(got, expected, rtol=1e-4)


def test_acoustic_image_frames_are_the_attended_sum_of_the_cells_embeddings(rng):
    keras.utils.set_random_seed(2)
    net = caption_acoustic_image("embedding", num_frames=4)
    images = rng.standard_normal((2, 4, *ACOUSTIC_IMAGE_SHAPE)).astype(np.float32)
    out = net(images, training=False)
    frames, attention, features = (out[key].numpy() for key in ("frames", "attention", "features"))
    assert frames.shape == (2, 4, EMBEDDING_SIZE)
    assert attention.shape == (2, 4, *CELL_GRID)
    assert features.shape == (2, 4, *CELL_GRID, 128)
    np.testing.assert_allclose(np.linalg.norm(frames, axis=-1), 1.0, atol=1e-5)
    np.testing.assert_allclose(attention.sum(axis=(2, 3)), 1.0, atol=1e-5)
    assert (attention > 0).all()
    cells = cell_embeddings(net, out["features"]).numpy()
    assert cells.shape == (2, 4, *CELL_GRID, EMBEDDING_SIZE)
    attended = np.einsum("bthwd,bthw->btd", cells.astype(np.float64), attention)
    np.testing.assert_allclose(frames, _normalised(attended), atol=1e-5)


def test_acoustic_image_classifier_gives_class_logits(rng):
    net = caption_acoustic_image("classifier", num_classes=3, num_frames=2)
    logits = net(rng.standard_normal((1, 2, *ACOUSTIC_IMAGE_SHAPE)).astype(np.float32), training=False)
    assert tuple(logits.shape) == (1, 3)


def test_word_embedding_is_unit_at_words_and_zero_at_padding():
    keras.utils.set_random_seed(1)
    net = word_embedding(6, embedding_size=8, max_words=5)
    ids = np.array([[2, 3, UNKNOWN, PADDING, PADDING], [5, PADDING, PADDING, PADDING, PADDING]], np.int32)
    words = net(ids).numpy()
    assert words.shape == (2, 5, 8)
    norms = np.linalg.norm(words, axis=-1)
    np.testing.assert_allclose(norms[ids != PADDING], 1.0, atol=1e-5)
    assert np.all(words[ids == PADDING] == 0.0)


def test_word_embedding_starts_from_given_rows_and_can_be_frozen(rng):
    initial = rng.standard_normal((5, 4)).astype(np.float32)
    net = word_embedding(5, embedding_size=4, initial=initial, trainable=False, max_words=3)
    words = net(np.array([[4, 2, 0]], np.int32)).numpy()
    np.testing.assert_allclose(words[0, :2], _normalised(initial[[4, 2]]), rtol=1e-5)
    assert not net.trainable_weights


def test_caption_vectorizer_lower_cases_strips_punctuation_and_pads():
    vectorizer = caption_vectorizer(["a", "drone", "buzzes"], max_words=6)
    ids = vectorizer(tf.constant(["A DRONE, whirs!", "Drone; drone. drone drone drone drone drone a"])).numpy()
    np.testing.assert_array_equal(ids, [[2, 3, UNKNOWN, PADDING, PADDING, PADDING], [3, 3, 3, 3, 3, 3]])


# --- word vectors ----------------------------------------------------------------------------

KNOWN = {"drone": [1.0, -2.0, 0.5, 3.0], "a": [0.25, 0.0, -1.0, 2.0], "buzzes": [-3.0, 1.5, 2.5, -0.5]}


def _word2vec(path, binary, vectors=KNOWN):
    keyed = KeyedVectors(vector_size=len(next(iter(vectors.values()))))
    keyed.add_vectors(list(vectors), np.array(list(vectors.values()), np.float32))
    keyed.save_word2vec_format(str(path), binary=binary)
    return str(path)


@pytest.mark.parametrize("binary", [False, True])
def test_embedding_rows_put_each_known_words_vector_in_its_row(tmp_path, binary):
    path = _word2vec(tmp_path / "vectors.bin", binary)
    assert read_word2vec(path).vector_size == 4
    vocabulary = ["a", "drone", "hovers", "buzzes"]
    rows, found = embedding_rows(path, vocabulary, 4, seed=3)
    assert rows.shape == (6, 4) and rows.dtype == np.float32
    assert found == 3
    assert np.all(rows[PADDING] == 0.0)
    for index, word in enumerate(vocabulary, start=2):
        if word in KNOWN:
            np.testing.assert_array_equal(rows[index], KNOWN[word])
    # The unknown token and the word the file lacks: random, of the file's scale, per seed.
    for index in (UNKNOWN, 4):
        assert np.all(rows[index] != 0.0)
        assert not any(np.allclose(rows[index], vector) for vector in KNOWN.values())
    again, _ = embedding_rows(path, vocabulary, 4, seed=3)
    other, _ = embedding_rows(path, vocabulary, 4, seed=4)
    np.testing.assert_array_equal(again, rows)
    assert not np.allclose(other[[UNKNOWN, 4]], rows[[UNKNOWN, 4]])
    np.testing.assert_array_equal(other[[0, 2, 3, 5]], rows[[0, 2, 3, 5]])


def test_unknown_rows_take_the_files_scale(tmp_path):
    rng = np.random.default_rng(0)
    vectors = {f"w{i}": (50.0 * rng.standard_normal(4)).tolist() for i in range(50)}
    path = _word2vec(tmp_path / "big.txt", False, vectors)
    rows, found = embedding_rows(path, [f"x{i}" for i in range(200)], 4, seed=0)
    assert found == 0
    scale = np.std(np.array(list(vectors.values())))
    assert np.std(rows[1:]) == pytest.approx(scale, rel=0.1)


@pytest.mark.parametrize("content", [b"hello world\nthis is not\n", b"", bytes(range(256)) * 3])
def test_a_file_that_is_not_word2vec_is_refused_by_name(tmp_path, content):
    path = tmp_path / "notes.txt"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="notes.txt: not a word2vec (text|binary) file"):
        embedding_rows(str(path), ["a"], 4)


@pytest.mark.parametrize("text", ["2 4\nnew york 0.1 0.2 0.3 0.4\ndrone 1.0 2.0 3.0 4.0\n",  # a key with a space
                                  "2 4\ndrone 1 2 3 4 5\na 1 2 3 4\n"])  # a number too many
def test_a_damaged_text_word2vec_file_is_refused_not_read_as_binary(tmp_path, text):
    """A text file is read as text only: read as binary, its bytes would be floats of 1e28."""
    path = tmp_path / "vectors.txt"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match="vectors.txt: not a word2vec text file"):
        embedding_rows(str(path), ["drone", "a"], 4)


def test_a_missing_word2vec_file_is_refused_by_name(tmp_path):
    with pytest.raises(ValueError, match="absent.bin: unreadable"):
        read_word2vec(str(tmp_path / "absent.bin"))


def test_vectors_of_another_size_are_refused(tmp_path):
    path = _word2vec(tmp_path / "vectors.txt", False)
    with pytest.raises(ValueError, match="vectors.txt: vectors of 4 dimensions; the networks embed in 300"):
        embedding_rows(path, ["a"], EMBEDDING_SIZE)


# --- the vocabulary file ---------------------------------------------------------------------


def test_vocabulary_round_trips(tmp_path):
    path = tmp_path / "run" / "vocabulary.txt"
    write_vocabulary(str(path), ["a", "drone", "buzzes"])
    assert path.read_text(encoding="utf-8") == "a\ndrone\nbuzzes\n"
    assert read_vocabulary(str(path)) == ["a", "drone", "buzzes"]
    write_vocabulary(str(path), ["hovers"])  # replaced whole
    assert read_vocabulary(str(path)) == ["hovers"]
    assert [p.name for p in path.parent.iterdir()] == ["vocabulary.txt"]  # no temporary file left


@pytest.mark.parametrize("text, problem", [
    ("a\ndrone buzzes\nhovers\n", ":2: 'drone buzzes' is not one word"),
    ("a\n\ndrone\n", ":2: '' is not one word"),
    ("a\n drone\n", ":2: ' drone' is not one word"),
    ("", ": no words"),
    ("a\ndrone\na\n", ": a word appears twice"),
])
def test_a_malformed_vocabulary_is_refused_naming_the_file(tmp_path, text, problem):
    path = tmp_path / "words.txt"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(FlagError, match="vocabulary") as caught:
        read_vocabulary(str(path))
    assert caught.value.flags == ("vocabulary",)
    assert f"{path}{problem}" in caught.value.problem


def test_a_vocabulary_line_of_two_tab_separated_words_is_refused(tmp_path):
    """TextVectorization splits on any white space: such a line could never match a word."""
    path = tmp_path / "words.txt"
    path.write_text("a\ndrone\tbuzzes\n", encoding="utf-8")
    with pytest.raises(FlagError, match=":2:"):
        read_vocabulary(str(path))


def test_a_missing_vocabulary_is_refused_naming_the_file(tmp_path):
    with pytest.raises(FlagError, match="absent.txt: unreadable"):
        read_vocabulary(str(tmp_path / "absent.txt"))


def test_make_vocabulary_orders_standardised_words_by_falling_count():
    words = make_vocabulary(["A drone buzzes.", "a drone hovers"])
    assert set(words[:2]) == {"a", "drone"}
    assert set(words[2:]) == {"buzzes", "hovers"}
    assert len(words) == 4


def test_vocabulary_settings_name_the_given_file_or_the_runs_own(tmp_path):
    given = tmp_path / "words.txt"
    given.write_text("a\n", encoding="utf-8")
    assert vocabulary_settings(RunConfig(vocabulary=str(given))) == {"vocabulary": str(given)}
    with pytest.raises(FlagError, match="no such file"):
        vocabulary_settings(RunConfig(vocabulary=str(tmp_path / "absent.txt")))
    own = str(tmp_path / "runs" / "x" / "vocabulary.txt")
    assert vocabulary_settings(RunConfig(checkpoint_dir=str(tmp_path / "runs"), exp_name="x")) == {"vocabulary": own}
    # The run's own file, named again (a resumed run's config), need not exist yet.
    assert vocabulary_settings(RunConfig(checkpoint_dir=str(tmp_path / "runs"), exp_name="x", vocabulary=own)) == {
        "vocabulary": own}
    with pytest.raises(FlagError, match="give a vocabulary file"):
        vocabulary_settings(RunConfig(checkpoint_dir=None))


# --- the stage's spec ------------------------------------------------------------------------


def test_caption_loader_refuses_records_without_truth_and_serves_caption_and_phrases():
    loader = LoaderConfig(flavour=ACIVW_SPEC.flavour, inputs=(AUDIO,), sample_length=SECONDS)
    with pytest.raises(FlagError) as caught:
        _caption_loader(loader, with_truth=False)
    assert caught.value.flags == ("train_file", "test_file")
    served = _caption_loader(loader, with_truth=True)
    assert served.truth == (CAPTION, PHRASE_ACTIVITY)
    assert served.truth_outputs == (CAPTION, PHRASE_ACTIVITY, PHRASES)
    assert served == dataclasses.replace(loader, truth=(CAPTION, PHRASE_ACTIVITY))
    spec = STAGES["caption_alignment"]
    assert spec.loader is _caption_loader and spec.settings is vocabulary_settings
    assert spec.monitor == "val_recall_at_1" and spec.monitor_mode == "max"
    assert [role.name for role in spec.roles] == ["audio_net"]


def test_stage_is_made_with_the_runs_words_vectors_and_settings(networks, tmp_path):
    vocabulary = ["a", "drone", "hovers"]
    words_file = tmp_path / "words.txt"
    write_vocabulary(str(words_file), vocabulary)
    rng = np.random.default_rng(0)
    vectors = _word2vec(tmp_path / "vectors.bin", True, {word: rng.standard_normal(EMBEDDING_SIZE).tolist()
                                                         for word in ("drone", "a")})
    config = RunConfig(vocabulary=str(words_file), word_vectors=vectors, freeze_word_vectors=True,
                       caption_pooling="MQST", caption_margin=0.5, seed=3)
    stage = _caption_alignment({"audio_net": networks[0]}, {"audio_net": (AUDIO,)}, config, ACIVW_SPEC)
    assert (stage.pooling, stage.margin, stage.seed) == ("MQST", 0.5, 3)
    assert stage.identity_keys == ACIVW_SPEC.identity and stage.audio_key == AUDIO
    assert stage.vectorizer.get_vocabulary() == ["", "[UNK]", *vocabulary]
    rows, _ = embedding_rows(vectors, vocabulary, EMBEDDING_SIZE, seed=3)
    np.testing.assert_array_equal(stage.text_net.get_layer("word_vectors").get_weights()[0], rows)
    assert not stage.text_net.trainable_weights
    bad = tmp_path / "bad.txt"
    bad.write_text("not vectors\n", encoding="utf-8")
    with pytest.raises(FlagError) as caught:
        _caption_alignment({"audio_net": networks[0]}, {"audio_net": (AUDIO,)},
                           config.replace(word_vectors=str(bad)), ACIVW_SPEC)
    assert caught.value.flags == ("word_vectors",) and "bad.txt: not a word2vec text file" in caught.value.problem
