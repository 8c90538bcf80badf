"""Per-sample features of a stage over a dataset's windows, with what identifies each window:
the stage's own `outputs` (`trainer.stages`), gathered over a dataset.

What a stage gives per sample:
- Self-supervised and transfer stages (they have `maps`): `audio` = the audio map summed
  over H, W and L2-normalised, `video` = the video map (mean over frames) summed over H, W
  and L2-normalised, `attended_video` = the video map squared, weighted by the clip's own
  audio map, summed over H, W and L2-normalised: `audio` and `attended_video` are exactly
  the y_i and x_ii the loss compares (`trainer.losses.attention_distances`), and
  `attended_video` is what (A)'s feature extraction gave as the video feature. With a
  HearNet audio network (transfer) the audio map is its embedding ReLU-tiled over the
  grid, so `audio` is the L2-normalised ReLU of the embedding, as the stage compares it
  with the video (retrieval uses it), and `audio_embedding` the L2-normalised embedding
  itself, as the transfer loss compares it with the frozen DualCamNet's.
  With `maps=True` also the maps themselves (`audio_cells`, `video_cells`, (h, w, c), for
  retrieval by the loss's own distance), the attention map of each sample
  (sum over channels of a * v * v, (12, 16), `trainer.losses.attention_map`), each branch's
  own map (sum over channels of a, and of v * v), and the
  triplet counts of each batch (test-time triplet accuracy, as `main.py --mode test`
  reports it: triplets are formed inside a batch, so it depends on the batch size).
- Supervised and distillation stages: `logits` (the student's, for distillation).
With `maps=True` and acoustic images in the batch: their energy, coefficient c0 (the
cell's log energy) averaged over the window's frames, (36, 48), and averaged over blocks of
3 x 3 cells to the maps' (12, 16) (`trainer.stages.acoustic_energy`, `pooled`).
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
import tensorflow as tf

from dataloader.config import FIRST_SECOND, RECORDING
from trainer import losses, stages
from trainer.stages import FEATURES


@dataclasses.dataclass
class Extraction:
    features: dict[str, np.ndarray]  # name -> (N, D) float32
    labels: dict[str, np.ndarray]  # one-hot key of the loader -> (N,) int64 class index
    recording: np.ndarray  # (N,) str: the window's record directory
    first_second: np.ndarray  # (N,) int: 1-based number of the window's first record
    attention: np.ndarray | None = None  # (N, h, w)
    audio_map: np.ndarray | None = None  # (N, h, w): the audio map summed over channels
    video_map: np.ndarray | None = None  # (N, h, w): the squared video map summed over channels
    audio_cells: np.ndarray | None = None  # (N, h, w, c): the audio map
    video_cells: np.ndarray | None = None  # (N, h, w, c): the video map, mean over frames
    acoustic_energy: np.ndarray | None = None  # (N, 36, 48)
    acoustic_energy_pooled: np.ndarray | None = None  # (N, 12, 16): at the resolution of the maps
    triplet_counts: tuple[float, float] | None = None  # (correct, total), summed over batches

    def __len__(self) -> int:
        return len(self.recording)

    def in_window_order(self) -> Extraction:
        """Samples sorted by (recording, first second): training pipelines interleave their
        windows in no fixed order, and kNN's ties must not depend on it."""
        order = np.lexsort((self.first_second, self.recording))

        def pick(array):
            return None if array is None else array[order]

        return dataclasses.replace(
            self, features={k: v[order] for k, v in self.features.items()},
            labels={k: v[order] for k, v in self.labels.items()}, recording=self.recording[order],
            first_second=self.first_second[order], attention=pick(self.attention),
            audio_map=pick(self.audio_map), video_map=pick(self.video_map), audio_cells=pick(self.audio_cells),
            video_cells=pick(self.video_cells), acoustic_energy=pick(self.acoustic_energy),
            acoustic_energy_pooled=pick(self.acoustic_energy_pooled))

    def attention_distances(self, chunk: int = 64) -> np.ndarray:
        """(N audio, N video) distances of the loss between every test audio and video, in
        chunks of video so that the (N, chunk, c) products stay small (and each video map is
        squared once)."""
        if self.audio_cells is None:
            raise ValueError("no maps: extract with maps=True from a stage that has them")
        return np.concatenate([losses.attention_distances(self.audio_cells, self.video_cells[j:j + chunk]).numpy()
                               for j in range(0, len(self), chunk)], axis=1)


class Extractor:
    """Extracts with one stage. Its step is traced once per kind of batch (the dataset's
    element spec, whose batch size is open), so datasets of one kind share it."""

    def __init__(self, stage):
        self.stage = stage
        self._steps: dict[tuple[bool, str], Callable] = {}

    def _step(self, maps: bool, spec) -> Callable:
        key = (maps, repr(spec))
        if key not in self._steps:
            function = tf.function(lambda batch: self._outputs(batch, maps))
            self._steps[key] = function.get_concrete_function(spec)
        return self._steps[key]

    def _outputs(self, batch: dict, maps: bool) -> dict[str, tf.Tensor]:
        out = self.stage.outputs(batch, maps)
        if "acoustic_energy" in out:
            out["acoustic_energy_pooled"] = stages.pooled(out["acoustic_energy"], stages.MAP_GRID)
        return out

    def __call__(self, dataset: tf.data.Dataset, label_keys: tuple[str, ...], maps: bool = False) -> Extraction:
        """Runs the stage (in inference mode) over every batch of `dataset` (batches of the
        loader's dicts) and gathers its features, the labels `label_keys`, and the windows'
        identity."""
        step = self._step(maps, dataset.element_spec)
        gathered: dict[str, list[np.ndarray]] = {}

        def keep(name: str, value) -> None:
            gathered.setdefault(name, []).append(np.asarray(value))

        correct = total = 0.0
        for batch in dataset:
            out = {key: value.numpy() for key, value in step(batch).items()}
            for name in FEATURES:
                if name in out:
                    keep(name, out[name])
            if "attention" in out:
                for name in ("attention", "audio_map", "video_map", "audio_cells", "video_cells"):
                    keep(name, out[name])
                correct, total = correct + float(out["correct"]), total + float(out["total"])
            for name in ("acoustic_energy", "acoustic_energy_pooled"):
                if name in out:
                    keep(name, out[name])
            for key in label_keys:
                keep(key, np.argmax(batch[key].numpy(), axis=-1))
            keep(RECORDING, np.char.decode(batch[RECORDING].numpy().astype(bytes), "utf-8"))
            keep(FIRST_SECOND, batch[FIRST_SECOND].numpy())
        if not gathered:
            raise ValueError("the dataset holds no window")
        arrays = {name: np.concatenate(parts) for name, parts in gathered.items()}
        return Extraction(
            features={name: arrays[name].astype(np.float32) for name in FEATURES if name in arrays},
            labels={key: arrays[key] for key in label_keys},
            recording=arrays[RECORDING], first_second=arrays[FIRST_SECOND].astype(np.int64),
            attention=arrays.get("attention"), audio_map=arrays.get("audio_map"),
            video_map=arrays.get("video_map"), audio_cells=arrays.get("audio_cells"),
            video_cells=arrays.get("video_cells"), acoustic_energy=arrays.get("acoustic_energy"),
            acoustic_energy_pooled=arrays.get("acoustic_energy_pooled"),
            triplet_counts=(correct, total) if "attention" in arrays else None,
        )


def extract(stage, dataset: tf.data.Dataset, label_keys: tuple[str, ...], maps: bool = False) -> Extraction:
    """`Extractor(stage)(dataset, label_keys, maps)`, for a single dataset."""
    return Extractor(stage)(dataset, label_keys, maps)
