"""Evaluation of a caption_alignment run ((C)'s, and where in the picture): retrieval, and
phrase grounding in time and in space, on the simulator's captions and ground truth.

- Retrieval, both ways, by the stage's pooled score: (C)'s protocol (`retrieval.protocol_recall`:
  a recording's clip among 29 other recordings', R@1 and R@5, 20 seeded repeats) and the
  whole test list as the gallery (`retrieval.gallery_metrics`: R@1/5/10, mAP); a clip's own
  recording's captions are the relevant ones. Beside them, chance and the ceiling that
  captions repeated word for word leave (scores that are 1 for the same text, else 0).
- Grounding in time, per (clip, phrase) for each phrase of the clip's caption that sounds in
  it: the frame-word similarities of the phrase's words, averaged per video frame (the CRNN
  gives 4 a frame), pooled over the words (mean and max), min-max normalised per pair
  (`grounding`); a frame is true when the phrase sounds in at least half of it. Frame-level
  precision, recall and F1 at the threshold that is best on the validation list, and
  sed_eval's event-based F1 (onsets within 200 ms) of the frames above it; beside a
  uniform-random score, thresholded the same way. The frame F1 rewards calling every frame
  true as much as the phrases sound (`frames_true`, most frames for continuous sounds), so
  the mean per-pair ROC AUC of the scores is given too, which does not.
- Grounding in space (an acoustic-image network, with the raw recordings): for each pair
  whose phrase names a source in the picture, the frames where it sounds; each cell's share
  of the phrase's similarity (alpha_c (e_c . w), averaged over the phrase's words and those
  frames) against where the source is (its pixels in the ground truth, averaged over the same
  frames): pointing accuracy within one 40-px cell and the mean error, beside the peak of
  the acoustic energy over those frames, a uniformly random cell, and the image centre.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow as tf

from dataloader.camera import FRAMES_PER_SECOND, IMAGE_SIZE
from dataloader.config import ACOUSTIC_IMAGE, CAPTION, FIRST_SECOND, PHRASE_ACTIVITY, PHRASES, RECORDING
from evaluation import grounding, localise, metrics, retrieval
from models.caption_alignment import CELL_GRID, cell_embeddings
from trainer import losses

SOUNDS = 0.5  # the least share of a frame in which a phrase sounds, for the frame to be true
HOWS = ("mean", "max")
CHUNK = 32  # clips (and captions) scored at once


@dataclasses.dataclass
class Collected:
    """What the evaluation reads of a list's clips."""

    frames: np.ndarray  # (N, T, D) unit frame embeddings
    words: np.ndarray  # (N, Q, D) their captions' words
    present: np.ndarray  # (N, Q) bool
    captions: list[str]
    recordings: np.ndarray  # (N,) str
    first_seconds: np.ndarray  # (N,) int
    phrases: list[list[str]]  # per clip, its caption's phrases
    activity: list[np.ndarray]  # per clip, (F, P) how much of each frame each phrase sounds
    similarity: list[np.ndarray]  # per clip, (P, F, Q) phrase-word similarities per video frame
    phrase_present: list[np.ndarray]  # per clip, (P, Q) bool
    cell_shares: list[np.ndarray] | None  # per clip, (P, F, 12, 16): the cells' shares of each phrase's similarity
    energy: list[np.ndarray] | None  # per clip, (F, 36, 48) acoustic energy (c0)


def _batch_outputs(stage, cells: bool):
    def outputs(batch):
        out = stage.stage_outputs(batch, maps=False)
        phrases = tf.reshape(batch[PHRASES], [-1])
        words, present = stage.words(phrases)
        shape = tf.shape(batch[PHRASES])
        words = tf.reshape(words, [shape[0], shape[1], words.shape[1], words.shape[2]])
        present = tf.reshape(present, [shape[0], shape[1], -1])
        frames = out["frames"]
        video_frames = batch[PHRASE_ACTIVITY].shape[1]
        per_frame = tf.nn.relu(tf.einsum("btd,bpqd->bptq", frames, words))
        steps = frames.shape[1] // video_frames  # log-mel frames a video frame
        per_frame = tf.reduce_mean(tf.reshape(per_frame, [shape[0], shape[1], video_frames, steps, -1]), axis=3)
        out.update(phrase_similarity=per_frame, phrase_present=present)
        features = out.pop("features", None)
        if cells and features is not None:  # alpha_c (e_c . w) per cell, averaged over the phrase's words
            embedded = cell_embeddings(stage.audio_net, features)
            share = tf.nn.relu(tf.einsum("bfhwd,bpqd->bpfhwq", embedded, words))
            count = tf.maximum(tf.reduce_sum(tf.cast(present, tf.float32), axis=-1), 1.0)
            norm = tf.norm(tf.einsum("bfhwd,bfhw->bfd", embedded, out["attention"]), axis=-1)  # (B, F)
            shares = tf.reduce_sum(share * tf.cast(present, tf.float32)[:, :, None, None, None, :], axis=-1)
            out["cell_shares"] = (shares * out["attention"][:, None] / count[:, :, None, None, None]
                                  / tf.maximum(norm, 1e-12)[:, None, :, None, None])
            out["energy"] = tf.cast(batch[ACOUSTIC_IMAGE], tf.float32)[..., 0]  # the network's own input
        return out

    return tf.function(outputs)


def collect(stage, batches: tf.data.Dataset, cells: bool = True) -> Collected:
    """Runs the stage over a list's batches (with captions, phrases and their activity, and
    the recordings' names); with `cells`, an acoustic-image network's cell shares and energy."""
    outputs = _batch_outputs(stage, cells)
    parts: dict[str, list] = {}
    for batch in batches:
        out = {key: value.numpy() for key, value in outputs(batch).items()}
        out.update({key: batch[key].numpy() for key in (CAPTION, RECORDING, FIRST_SECOND, PHRASES, PHRASE_ACTIVITY)})
        for key, value in out.items():
            parts.setdefault(key, []).extend(value)
    if not parts:
        raise ValueError("no clips to evaluate")
    kept = [[j for j, phrase in enumerate(row) if phrase] for row in parts[PHRASES]]
    pick = lambda key: [np.asarray(value)[k] for value, k in zip(parts[key], kept)]  # noqa: E731
    return Collected(
        frames=np.stack(parts["frames"]), words=np.stack(parts["words"]), present=np.stack(parts["words_present"]),
        captions=[c.decode() for c in parts[CAPTION]], recordings=np.array([r.decode() for r in parts[RECORDING]]),
        first_seconds=np.array(parts[FIRST_SECOND]),
        phrases=[[p.decode() for p in np.asarray(row)[k]] for row, k in zip(parts[PHRASES], kept)],
        activity=[np.asarray(a)[:, k] for a, k in zip(parts[PHRASE_ACTIVITY], kept)],
        similarity=pick("phrase_similarity"), phrase_present=pick("phrase_present"),
        cell_shares=pick("cell_shares") if "cell_shares" in parts else None,
        energy=[np.asarray(e) for e in parts["energy"]] if "energy" in parts else None)


def caption_scores(clips: Collected, pooling: str) -> np.ndarray:
    """(N, N) pooled scores of every clip against every caption, in chunks."""
    n = len(clips.frames)
    scores = np.empty((n, n), np.float32)
    for i in range(0, n, CHUNK):
        for j in range(0, n, CHUNK):
            scores[i:i + CHUNK, j:j + CHUNK] = losses.caption_scores(
                clips.frames[i:i + CHUNK], clips.words[j:j + CHUNK], clips.present[j:j + CHUNK], pooling).numpy()
    return scores


def retrieval_results(scores: np.ndarray, clips: Collected, seed: int = 0) -> dict:
    groups = clips.recordings
    relevant = groups[:, None] == groups[None, :]
    texts = np.array(clips.captions)
    same_text = (texts[:, None] == texts[None, :]).astype(np.float32)

    def both(matrix):
        return {"audio_to_caption": retrieval.gallery_metrics(matrix, relevant),
                "caption_to_audio": retrieval.gallery_metrics(matrix.T, relevant.T)}

    ceiling = {"protocol": retrieval.protocol_recall(same_text, groups, seed=seed), "gallery": both(same_text)}
    return {"protocol": retrieval.protocol_recall(scores, groups, seed=seed), "gallery": both(scores),
            "ceiling": ceiling, "clips": len(groups), "recordings": len(set(groups))}


def _pairs(clips: Collected):
    """(clip, phrase) of every phrase that sounds in its clip."""
    return [(n, p) for n, activity in enumerate(clips.activity) for p in range(activity.shape[1])
            if np.any(activity[:, p] >= SOUNDS)]


def _time_scores(clips: Collected, how: str, rng: np.random.Generator | None) -> tuple[list, list]:
    scores, truth = [], []
    for n, p in _pairs(clips):
        if rng is None:
            similarity = clips.similarity[n][p][:, clips.phrase_present[n][p]]
            scores.append(grounding.normalise(grounding.phrase_scores(similarity, how)))
        else:
            scores.append(grounding.normalise(rng.uniform(size=clips.activity[n].shape[0])))
        truth.append(clips.activity[n][:, p] >= SOUNDS)
    return scores, truth


def time_grounding(valid: Collected, test: Collected, seed: int = 0) -> dict:
    """Frame-level P/R/F1 at the validation's best threshold, and the event-based F1 there,
    per pooling over the phrase's words and for random scores."""
    result = {"pairs": len(_pairs(test)), "validation_pairs": len(_pairs(valid))}
    for name in (*HOWS, "random"):
        how, random = ("mean", True) if name == "random" else (name, False)
        fitted = grounding.frame_prf(*_time_scores(valid, how, np.random.default_rng(seed) if random else None))
        threshold = grounding.best_threshold(fitted)
        scores, truth = _time_scores(test, how, np.random.default_rng(seed + 1) if random else None)
        frames = grounding.at_threshold(grounding.frame_prf(scores, truth), threshold)
        events = grounding.event_prf([s >= threshold for s in scores], truth, 1.0 / FRAMES_PER_SECOND)
        result[name] = {"frame": frames, "event": events, **grounding.frame_auc(scores, truth)}
    result["frames_true"] = float(np.mean(np.concatenate(truth)))  # the frame-level F1 of calling every frame true
    return result


def space_grounding(clips: Collected, flavour: str, raw_root, sample_length: int, seed: int = 0,
                    tolerance: float = localise.DEFAULT_TOLERANCE) -> dict:
    """Pointing of each in-picture phrase's cell shares, the acoustic energy, a random cell
    and the centre, against the source's true pixels (module docstring)."""
    maps: dict[str, list] = {"cell_shares": [], "acoustic_energy": []}
    truth = []
    span = np.arange(sample_length * FRAMES_PER_SECOND)
    for n, p in _pairs(clips):
        recorded = localise.recording_truth(str(localise.raw_recording_dir(clips.recordings[n], flavour, raw_root)))
        name = next((ph.name for ph in recorded.truth.phrases if ph.text.lower() == clips.phrases[n][p].lower()), None)
        source = next((e.source for e in recorded.truth.events if e.name == name and e.role != "background"), None)
        if source is None:  # named by no phrase, or out of the picture
            continue
        track = recorded.pixels[source]
        pixels = track[np.minimum((int(clips.first_seconds[n]) - 1) * FRAMES_PER_SECOND + span, len(track) - 1)]
        inside = np.all((pixels >= 0) & (pixels < IMAGE_SIZE[::-1]), axis=1)  # (u, v) within (width, height)
        frames = (clips.activity[n][:, p] >= SOUNDS) & inside
        if not frames.any():
            continue
        truth.append(pixels[frames].mean(axis=0))
        maps["cell_shares"].append(clips.cell_shares[n][p][frames].mean(axis=0))
        maps["acoustic_energy"].append(clips.energy[n][frames].mean(axis=0))
    result = {"phrases": len(truth), "tolerance_px": tolerance}
    if not truth:
        return result
    truth = np.array(truth)
    rng = np.random.default_rng(seed)
    random_cells = rng.uniform(size=(len(truth), *CELL_GRID))
    scored = {**{name: np.stack(value) for name, value in maps.items()}, "random_cell": random_cells,
              "centre": localise.centre_map(len(truth))}
    for name, heat in scored.items():
        found = metrics.localisation(heat, truth, IMAGE_SIZE, tolerance)
        result[name] = {key: value for key, value in found.items() if key != "tolerance_px"}
    return result


def evaluate_stage(stage, planned, config, raw_root=None, seed: int = 0) -> dict:
    """Retrieval on the test list; grounding in time with thresholds from the validation list;
    grounding in space with `raw_root` and an acoustic-image network."""
    from trainer import data
    from trainer.config import FlagError

    if not config.valid_file:
        raise FlagError("valid_file", "grounding's threshold is chosen on a validation list: give one")
    loader = dataclasses.replace(planned.loader, training=False)

    def batches(list_file):
        return data.dataset(list_file, loader, config.replace(steps_per_epoch=None, deterministic=True),
                            training=False, metadata=True)

    test = collect(stage, batches(config.test_file), cells=raw_root is not None)
    if len(set(test.recordings)) < 2:
        raise FlagError("test_file", f"{config.test_file}: retrieval needs clips of at least two recordings")
    valid = collect(stage, batches(config.valid_file), cells=False)  # its phrases' timing only
    result = {"pooling": stage.pooling, "retrieval": retrieval_results(caption_scores(test, stage.pooling), test, seed),
              "time": time_grounding(valid, test, seed)}
    if raw_root is not None and test.cell_shares is not None:
        result["space"] = space_grounding(test, planned.flavour, raw_root, loader.sample_length, seed)
    return result
