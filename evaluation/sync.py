"""Offset prediction, as UltraSync measured its sync model: for every recording of a list,
try each candidate offset, average the distance of the visual windows and the audio that
offset pairs them with over all non-overlapping windows, and predict the candidate of the
lowest mean distance.

- Candidates: the lower edges of the non-empty 45-ms bins of the training records' offsets
  (UltraSync's), or a grid.
- A prediction is correct when -125 ms < predicted - true < +45 ms (strict): the window in
  which a viewer does not notice the audio leading (by up to 45 ms) or lagging (125 ms).
- Reported: accuracy, mean and standard deviation of the error, overall and by class
  (ACIVW) or location (AVIA), for the model and two baselines: candidates drawn uniformly
  at random (their accuracy computed exactly: per recording, the share of candidates that
  would be correct), and the cross-correlation of the audio's onset envelope with the
  video's frame-difference energy, which needs no training.

Offsets are the seconds the audio lags the video, as the simulator states them
(`truth/offset`). The acoustic images are made from the microphones, so the audio's offset
against them is 0 whatever the video's: a model whose visual input is the acoustic images
is scored against 0, the baselines always against the video's offset. Records without
ground truth get predictions only, so a user can check their own recordings' sync.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Sequence

import numpy as np

from dataloader.camera import FRAME_SAMPLES, SAMPLE_RATE
from models.sync import WINDOW_FRAMES, WINDOW_SAMPLES

BIN = 0.045  # seconds: UltraSync's bins of the training offsets
WINDOW = (-0.125, 0.045)  # seconds: predicted - true is correct strictly inside

# embed_visual(first frames (W,)) -> (W, D); embed_audio(first samples (W,)) -> (W, D)
Embed = Callable[[np.ndarray], np.ndarray]


@dataclasses.dataclass
class Recording:
    """One recording's contiguous seconds: every video frame of the visual input and the
    audio (one microphone), its offset if its records state one, and its group."""

    name: str
    audio: np.ndarray  # (samples,)
    visual: dict[str, np.ndarray]  # the model's visual inputs: loader input -> (frames, ...)
    motion: np.ndarray | None  # (frames,) the video's `frame_motion`, if the records hold video
    offset: float | None
    group: str

    @property
    def frames(self) -> int:
        return len(self.audio) // FRAME_SAMPLES


def candidates_from_offsets(offsets: Sequence[float], bin_size: float = BIN) -> np.ndarray:
    """The lower edge of every non-empty bin of `bin_size` seconds from the smallest offset."""
    offsets = np.asarray(offsets, dtype=np.float64)
    if offsets.size == 0:
        raise ValueError("no training offsets to bin")
    low = offsets.min()
    bins = np.unique(np.floor((offsets - low) / bin_size + 1e-9).astype(np.int64))
    return np.round(low + bins * bin_size, 6)


def grid(low: float, high: float, step: float) -> np.ndarray:
    """low, low + step, ... up to high (included when on the grid)."""
    if not (step > 0 and high >= low):
        raise ValueError(f"a grid needs LOW <= HIGH and STEP > 0, got {low} {high} {step}")
    return np.round(low + step * np.arange(int(np.floor((high - low) / step + 1e-9)) + 1), 6)


def is_correct(errors: np.ndarray) -> np.ndarray:
    errors = np.asarray(errors, dtype=np.float64)
    return (errors > WINDOW[0]) & (errors < WINDOW[1])


def random_accuracy(candidates: Sequence[float], truths: Sequence[float]) -> float:
    """The expected accuracy of predicting a candidate uniformly at random: the mean over
    recordings of the share of candidates inside the window around the true offset."""
    errors = np.asarray(candidates, dtype=np.float64)[None, :] - np.asarray(truths, dtype=np.float64)[:, None]
    return float(is_correct(errors).mean())


def shift_samples(offset: float) -> int:
    return int(round(offset * SAMPLE_RATE))


def paired_windows(frames: int, samples: int, offset: float) -> tuple[np.ndarray, np.ndarray]:
    """The non-overlapping windows (first frames 0, 5, 10, ...) whose audio, `offset` seconds
    later, lies in the recording: (indices into those windows, first audio samples)."""
    first = np.arange(0, frames - WINDOW_FRAMES + 1, WINDOW_FRAMES)
    starts = first * FRAME_SAMPLES + shift_samples(offset)
    inside = (starts >= 0) & (starts + WINDOW_SAMPLES <= samples)
    return np.flatnonzero(inside), starts[inside]


def mean_distances(recording: Recording, candidates: Sequence[float], embed_visual: Embed,
                   embed_audio: Embed) -> np.ndarray:
    """(C,) the mean distance over the windows each candidate pairs (NaN where none fits)."""
    first = np.arange(0, recording.frames - WINDOW_FRAMES + 1, WINDOW_FRAMES)
    visual = embed_visual(first)
    pairs = [paired_windows(recording.frames, len(recording.audio), c) for c in candidates]
    starts = np.concatenate([s for _, s in pairs]) if pairs else np.zeros(0, np.int64)
    audio = embed_audio(starts) if len(starts) else np.zeros((0, visual.shape[1]))
    means, at = [], 0
    for index, s in pairs:
        distances = np.linalg.norm(visual[index] - audio[at:at + len(s)], axis=1)
        means.append(distances.mean() if len(s) else np.nan)
        at += len(s)
    return np.asarray(means)


def lowest(scores: np.ndarray, candidates: Sequence[float]) -> float:
    """The candidate of the lowest score (the first of equals); NaN scores never win."""
    if np.all(np.isnan(scores)):
        raise ValueError("no candidate offset leaves a window inside the recording")
    return float(np.asarray(candidates)[int(np.nanargmin(scores))])


def frame_motion(frames: np.ndarray) -> np.ndarray:
    """(F,) the energy of each frame's difference from the one before (0 for the first)."""
    frames = np.asarray(frames, dtype=np.float64)
    return np.concatenate([[0.0], np.sum(np.diff(frames, axis=0) ** 2, axis=tuple(range(1, frames.ndim)))])


def onset_envelope(audio: np.ndarray, frames: int, offset: float) -> np.ndarray:
    """(F,) how much the audio's energy rises into a frame-long span centred on each frame
    boundary t / 12 + offset, the instant frame difference t looks at (NaN where the span
    leaves the recording): an envelope that peaks at an impact rather than through its
    ringing."""
    audio = np.asarray(audio, dtype=np.float64)
    half = FRAME_SAMPLES // 2
    centres = np.arange(-1, frames) * FRAME_SAMPLES + shift_samples(offset)
    cumulative = np.concatenate([[0.0], np.cumsum(audio ** 2)])
    first, last = centres - half, centres + half
    inside = (first >= 0) & (last <= len(audio))
    energy = np.where(inside, cumulative[np.clip(last, 0, len(audio))] - cumulative[np.clip(first, 0, len(audio))],
                      np.nan)
    return np.maximum(np.diff(energy), 0.0)


def cross_correlation_scores(motion: np.ndarray, audio: np.ndarray, candidates: Sequence[float]) -> np.ndarray:
    """(C,) minus the Pearson correlation, over the frames both cover, of the video's
    frame-difference energy (`frame_motion`) and the audio onset envelope a candidate pairs
    it with (lower is better, as distances; NaN where fewer than 3 frames are covered or
    either is flat)."""
    scores = []
    for candidate in candidates:
        envelope = onset_envelope(audio, len(motion), candidate)
        both = ~np.isnan(envelope)
        both[0] = False  # frame 0 has no difference
        x, y = motion[both], envelope[both]
        if both.sum() < 3 or x.std() == 0 or y.std() == 0:
            scores.append(np.nan)
        else:
            scores.append(-np.corrcoef(x, y)[0, 1])
    return np.asarray(scores)


def summary(errors: np.ndarray, groups: Sequence[str]) -> dict:
    """Accuracy, the error's mean and standard deviation (ms), overall and per group, of
    errors (N,) in seconds, one a recording, or (N, C) for a uniform draw among C candidates
    (every candidate an equally likely prediction: the exact expectation)."""

    def scores(e: np.ndarray) -> dict:
        return {"accuracy": float(is_correct(e).mean()), "mean_error_ms": float(1000 * e.mean()),
                "sd_error_ms": float(1000 * e.std()), "recordings": int(len(e))}

    errors, groups = np.asarray(errors, float), np.asarray(groups)
    out = scores(errors)
    out["by_group"] = {str(g): scores(errors[groups == g]) for g in dict.fromkeys(groups)}
    return out


def _cross_correlation(recording: Recording, candidates: Sequence[float]) -> float | None:
    """The baseline's prediction, None without video or with no candidate it can score."""
    if recording.motion is None:
        return None
    scores = cross_correlation_scores(recording.motion, recording.audio, candidates)
    return None if np.all(np.isnan(scores)) else lowest(scores, candidates)


def evaluate(recordings: Iterator[Recording], candidates: Sequence[float], embedders, visual_clock: bool) -> dict:
    """Every recording's predictions and, for those whose offset is known, the scores.
    `embedders(recording)` gives its (embed_visual, embed_audio); `visual_clock`: whether the
    visual input runs on the camera's clock (video), else the microphones' (truth 0)."""
    rows = []
    for recording in recordings:
        embed_visual, embed_audio = embedders(recording)
        model = mean_distances(recording, candidates, embed_visual, embed_audio)
        rows.append({"recording": recording.name, "group": recording.group, "offset": recording.offset,
                     "predicted": lowest(model, candidates),
                     "cross_correlation": _cross_correlation(recording, candidates)})
    out: dict = {"candidates": [float(c) for c in candidates], "window_ms": [1000 * w for w in WINDOW],
                 "recordings": len(rows), "predictions": rows}
    known = [row for row in rows if row["offset"] is not None]
    if known:
        groups = [row["group"] for row in known]
        model_truth = np.array([row["offset"] if visual_clock else 0.0 for row in known])
        out["model"] = summary(np.array([row["predicted"] for row in known]) - model_truth, groups)
        out["model"]["scored_against"] = "video offset" if visual_clock else "0 (the acoustic images' own clock)"
        out["random"] = summary(np.asarray(candidates, float)[None, :] - model_truth[:, None], groups)
        scored = [row for row in known if row["cross_correlation"] is not None]
        if scored:
            out["cross_correlation"] = summary(np.array([row["cross_correlation"] - row["offset"] for row in scored]),
                                               [row["group"] for row in scored])
    return out


def read_recordings(batches, visual_keys: Sequence[str], group_label: str, group_names: Sequence[str],
                    video_key: str, audio_key: str, offset_key: str) -> Iterator[Recording]:
    """Recordings from batches of consecutive 1-s evaluation windows in list order (with the
    loader's metadata): each run of consecutive seconds of a directory is one recording.
    Batches without `video_key` give recordings without motion (no cross-correlation)."""
    from dataloader.config import FIRST_SECOND, RECORDING

    parts: list[dict] = []

    def finish() -> Recording:
        joined = {key: np.concatenate([part[key] for part in parts]) for key in parts[0] if key != "meta"}
        name, _, group, offset = parts[0]["meta"]
        return Recording(name=name, audio=joined[audio_key][:, 0].astype(np.float64),
                         visual={key: joined[key] for key in visual_keys},
                         motion=frame_motion(joined[video_key]) if video_key in joined else None,
                         offset=offset, group=group)

    for batch in batches:
        batch = {key: value.numpy() for key, value in batch.items()}
        for i in range(len(batch[RECORDING])):
            name, second = batch[RECORDING][i].decode(), int(batch[FIRST_SECOND][i])
            offset = float(batch[offset_key][i]) if offset_key in batch else None
            meta = (name, second, str(group_names[int(np.argmax(batch[group_label][i]))]), offset)
            if parts and (parts[-1]["meta"][0] != name or parts[-1]["meta"][1] + 1 != second):
                yield finish()
                parts = []
            keys = [key for key in dict.fromkeys([*visual_keys, video_key, audio_key]) if key in batch]
            parts.append({"meta": meta, **{key: batch[key][i] for key in keys}})
    if parts:
        yield finish()


def network_embedders(visual_net, audio_net, visual_keys: Sequence[str], chunk: int = 128):
    """`embedders` for `evaluate` from a sync stage's two networks, run in inference mode on
    chunks of at most `chunk` windows."""
    import tensorflow as tf

    visual_fn, audio_fn = tf.function(lambda x: visual_net(x, training=False)), \
        tf.function(lambda x: audio_net(x, training=False))

    def run(fn, inputs: list[np.ndarray]) -> np.ndarray:
        out = [fn(inputs[0][i:i + chunk] if len(inputs) == 1 else [x[i:i + chunk] for x in inputs]).numpy()
               for i in range(0, len(inputs[0]), chunk)]
        return np.concatenate(out).astype(np.float64)

    def embedders(recording: Recording):
        def embed_visual(first: np.ndarray) -> np.ndarray:
            index = first[:, None] + np.arange(WINDOW_FRAMES)
            return run(visual_fn, [recording.visual[key][index].astype(np.float32) for key in visual_keys])

        def embed_audio(starts: np.ndarray) -> np.ndarray:
            windows = recording.audio[starts[:, None] + np.arange(WINDOW_SAMPLES)][..., None].astype(np.float32)
            return run(audio_fn, [windows])

        return embed_visual, embed_audio

    return embedders


def training_offsets(list_file: str, root: str | None) -> list[float]:
    """The offset each recording of a list states (its first record's), in list order."""
    from dataloader.pipeline import record_paths
    from dataloader.schema import record_contents
    from dataloader.windows import first_records

    offsets = [record_contents(path).offset for path in first_records(record_paths(list_file, root)).values()]
    if any(offset is None for offset in offsets):
        raise ValueError(f"{list_file}: its records state no offsets to take candidates from (give a grid)")
    return offsets


def evaluate_stage(stage, planned, config, candidates: Sequence[float] | None = None) -> dict:
    """`evaluate` of a sync stage on the run configuration's test list; `candidates` default
    to the bins of the training list's offsets."""
    from dataloader.camera import FRAMES_PER_SECOND
    from dataloader.config import AUDIO, OFFSET, VIDEO_FRAMES
    from dataloader.datasets import AVIA
    from dataloader.pipeline import record_paths
    from dataloader.schema import VIDEO, record_contents
    from models.sync import VIDEO_SIZE
    from trainer import data
    from trainer.config import FlagError

    if candidates is None:
        try:
            candidates = candidates_from_offsets(training_offsets(config.train_file, config.data_root))
        except ValueError as err:  # a user's records without offsets: one line, as a flag's mistake
            raise FlagError("candidates", str(err)) from None
    contents = record_contents(record_paths(config.test_file, config.data_root)[0])
    reads_video = VIDEO_FRAMES in planned.loader.inputs
    # The cross-correlation baseline needs the video, when the records hold it.
    video = [VIDEO_FRAMES] if VIDEO in contents.modalities else []
    loader = dataclasses.replace(
        planned.loader, sample_length=1, total_length=None, training=False, nr_frames=FRAMES_PER_SECOND,
        inputs=tuple(dict.fromkeys([*planned.loader.inputs, *video, AUDIO])),
        truth=(OFFSET,) if contents.offset is not None else (),
        **({} if reads_video else {"video_short_side": VIDEO_SIZE[0], "video_size": VIDEO_SIZE}))
    batches = data.dataset(config.test_file, loader, config.replace(deterministic=True, steps_per_epoch=None),
                           training=False, metadata=True)
    dataset = planned.dataset
    group_label = "location" if planned.flavour == AVIA else dataset.class_label
    names = ([f"location {i + 1}" for i in range(dataset.label("location").depth)] if planned.flavour == AVIA
             else dataset.class_names)
    recordings = read_recordings(batches, stage.visual_keys, group_label, names, VIDEO_FRAMES, AUDIO, OFFSET)
    embedders = network_embedders(stage.visual_net, stage.audio_net, stage.visual_keys)
    return evaluate(recordings, np.asarray(candidates, float), embedders, stage.video_clock)
