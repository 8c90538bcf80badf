"""Identity and content of a content_identity run, on the clips of a list, as the SyncNet
trainer measured them (`evaluation.verification`):

- Verification: every clip (CLIP_SECONDS of a recording, consecutive and non-overlapping)
  gives 10 evenly spaced crops of 2 s, the networks' input; a clip's crop embedding is its
  audio identity embedding averaged over time. Trials come from a `label file1 file2` list,
  or are made from the clips (every pair of clips of two different recordings) and written
  as one. EER of the audio identity (the measure), and beside it of the video identity (the
  look), of the audio content embeddings averaged over time (near 50 % when content holds
  no identity), and of the cosine of mean-MFCC vectors (a baseline without training); chance
  is 50 %. With a training list, EERs also over the trials whose two subjects both trained
  (seen) and neither did (unseen).
- Content top-1: in each crop, the share of video steps whose nearest audio step (cosine)
  is their own; chance 1 / steps.
"""
from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator, Sequence

import numpy as np

from dataloader.camera import FRAME_SAMPLES, FRAMES_PER_SECOND, SAMPLE_RATE
from evaluation.verification import (
    CROPS,
    Trial,
    clip_name,
    crop_score,
    crop_starts,
    equal_error_rate,
    make_trials,
    read_trials,
    unit,
    write_trials,
)

CLIP_SECONDS = 4
MFCC_FRAME, MFCC_STEP, MFCC_COEFFICIENTS, MFCC_BANDS = 512, 256, 20, 40
SCORERS = ("identity", "video_identity", "content", "mean_mfcc")


@dataclasses.dataclass
class Clip:
    """One clip's crop embeddings (C, D) per scorer, its subject and what its content scored."""

    name: str
    recording: str
    subject: int
    embeddings: dict[str, np.ndarray]
    content_hits: int
    content_steps: int


def mean_mfcc(audio: np.ndarray) -> np.ndarray:
    """(samples,) -> the mean over frames of MFCCs 1..19 (c0, the level, left out)."""
    from dataloader.features import mfcc

    cepstra = mfcc(np.asarray(audio, np.float32), SAMPLE_RATE, MFCC_FRAME, MFCC_STEP, MFCC_COEFFICIENTS, MFCC_BANDS)
    return np.asarray(cepstra)[:, 1:].mean(axis=0)


def content_hits(video_content: np.ndarray, audio_content: np.ndarray) -> int:
    """(C, T, D) video and audio content steps -> how many video steps' nearest audio step
    (cosine) is their own."""
    cosines = np.einsum("ctd,csd->cts", unit(video_content), unit(audio_content))
    return int(np.sum(np.argmax(cosines, axis=-1) == np.arange(cosines.shape[1])))


def clip_embedder(video_net, audio_net):
    """(video (F, H, W, 3), audio (N,), crop frames) -> embeddings of the clip's crops per
    scorer, and its content hits and steps."""
    import tensorflow as tf

    from trainer.content_identity import embeddings

    video_fn = tf.function(lambda x: embeddings(video_net, x))
    audio_fn = tf.function(lambda x: embeddings(audio_net, x))

    def embed(video: np.ndarray, audio: np.ndarray, crop_frames: int):
        starts = crop_starts(len(video), crop_frames)
        frames = video[starts[:, None] + np.arange(crop_frames)]
        samples = audio[(starts * FRAME_SAMPLES)[:, None] + np.arange(crop_frames * FRAME_SAMPLES)]
        video_content, video_identity = (x.numpy() for x in video_fn(frames.astype(np.float32)))
        audio_content, audio_identity = (x.numpy() for x in audio_fn(samples[..., None].astype(np.float32)))
        found = {"identity": audio_identity, "video_identity": video_identity, "content": audio_content.mean(axis=1),
                 "mean_mfcc": mean_mfcc(audio)[None]}
        return found, content_hits(video_content, audio_content), video_content.shape[0] * video_content.shape[1]

    return embed


def read_clips(batches, embed, crop_frames: int, subject_key: str, video_key: str, audio_key: str,
               root: str | None = None) -> Iterator[Clip]:
    """The clips of evaluation batches (with the loader's metadata), embedded; named by
    their recording's directory relative to `root` (the lists' data root), if given, so that
    a trial list outlives where the data are."""
    from dataloader.config import FIRST_SECOND, RECORDING

    for batch in batches:
        batch = {key: value.numpy() for key, value in batch.items()}
        for i in range(len(batch[RECORDING])):
            video, audio = batch[video_key][i], batch[audio_key][i, :, 0].astype(np.float64)
            recording, first = batch[RECORDING][i].decode(), int(batch[FIRST_SECOND][i])
            recording = os.path.relpath(recording, root) if root else recording
            found, hits, steps = embed(video, audio, crop_frames)
            yield Clip(clip_name(recording, first, first + len(video) // FRAMES_PER_SECOND - 1), recording,
                       int(np.argmax(batch[subject_key][i])), found, hits, steps)


def _both(same: np.ndarray) -> bool:
    """Whether trials hold the same subject and different ones: an EER needs both."""
    return bool(same.any() and not same.all())


def score(clips: Sequence[Clip], trials: Sequence[Trial], trained_subjects: set[int] | None,
          source: str = "the trials") -> dict:
    """EERs per scorer, over every trial and (given the training subjects) the seen and the
    unseen ones; a trial naming a clip the list does not hold is a ValueError."""
    by_name = {clip.name: clip for clip in clips}
    missing = next((name for t in trials for name in (t.first, t.second) if name not in by_name), None)
    if missing is not None:
        raise ValueError(f"{source}: clip {missing} is not among the test list's clips")
    same = np.array([t.same for t in trials], dtype=bool)
    groups = {"all": np.ones(len(trials), bool)}
    if trained_subjects is not None:
        seen = np.array([[by_name[name].subject in trained_subjects for name in (t.first, t.second)] for t in trials],
                        dtype=bool).reshape(-1, 2)
        groups.update(seen=seen.all(axis=1), unseen=~seen.any(axis=1))
    result = {"trials": {group: {"same": int(same[kept].sum()), "different": int((~same[kept]).sum())}
                         for group, kept in groups.items()}}
    for scorer in SCORERS:
        scores = np.array([crop_score(by_name[t.first].embeddings[scorer], by_name[t.second].embeddings[scorer])
                           for t in trials])
        result[scorer] = {group: equal_error_rate(same[kept], scores[kept]) if _both(same[kept]) else None
                          for group, kept in groups.items()}
    result["chance"] = {group: 0.5 if _both(same[kept]) else None for group, kept in groups.items()}
    return result


def list_subjects(list_file: str, root: str | None, dataset) -> set[int]:
    """The subjects (label values) of a list's recordings, read from each one's first record."""
    from dataloader.pipeline import first_record_contents

    key = dataset.label(dataset.subject).key
    return {int(record[key]) for record in first_record_contents(list_file, root, dataset.flavour)}


def evaluate_stage(stage, planned, config, trials_file: str | None = None, trials_out: str | None = None,
                   clip_seconds: int = CLIP_SECONDS) -> dict:
    """Verification and content top-1 of a content_identity stage on the configuration's test
    list; the trials from `trials_file`, else made from the clips (and written to `trials_out`)."""
    from models.content_identity import SAMPLE_FRAMES
    from trainer import data
    from trainer.config import FlagError

    if clip_seconds * FRAMES_PER_SECOND < SAMPLE_FRAMES:
        raise FlagError("clip_seconds", f"{clip_seconds}: a clip must hold a crop of {SAMPLE_FRAMES} frames")
    trials = None
    if trials_file:  # read first: a malformed list fails before any clip is embedded
        try:
            trials = read_trials(trials_file)
        except ValueError as err:
            raise FlagError("trials", str(err)) from None
    trained = None
    if config.train_file:
        try:
            trained = list_subjects(config.train_file, config.data_root, planned.dataset)
        except ValueError as err:  # records of another flavour
            raise FlagError("train_file", str(err)) from None
    loader = dataclasses.replace(planned.loader, sample_length=clip_seconds, total_length=None, training=False,
                                 nr_frames=clip_seconds * FRAMES_PER_SECOND, mirror=False, truth=())
    try:
        batches = data.dataset(config.test_file, loader, config.replace(deterministic=True, steps_per_epoch=None),
                               training=False, metadata=True)
    except ValueError as err:  # no recording as long as a clip
        raise FlagError("clip_seconds", str(err)) from None
    embed = clip_embedder(stage.video_net, stage.audio_net)
    clips = list(read_clips(batches, embed, SAMPLE_FRAMES, stage.label_key, stage.video_key, stage.audio_key,
                            config.data_root))
    if trials is None:
        trials = make_trials([c.name for c in clips], [c.subject for c in clips], [c.recording for c in clips])
        if not trials:
            raise FlagError("test_file", f"{config.test_file}: its clips come from one recording; trials pair two")
        if trials_out:
            try:
                write_trials(trials_out, trials)
            except ValueError as err:
                raise FlagError("test_file", str(err)) from None
    try:
        eer = score(clips, trials, trained, trials_file or "the trials")
    except ValueError as err:  # a trial list of other clips
        raise FlagError("trials", str(err)) from None
    hits, steps = sum(c.content_hits for c in clips), sum(c.content_steps for c in clips)
    per_crop = clips[0].content_steps // CROPS
    return {"clips": len(clips), "clip_seconds": clip_seconds, "crops": CROPS,
            "crop_seconds": SAMPLE_FRAMES / FRAMES_PER_SECOND,
            "trials_file": trials_file or trials_out,
            "subjects": sorted({c.subject + 1 for c in clips}),
            "trained_subjects": None if trained is None else sorted(s + 1 for s in trained),
            "eer": eer,
            "content_top1": hits / steps, "content_chance": 1.0 / per_crop}
