"""A decode-once cache of a list's records: what the input pipeline decodes of each record
before any random draw, kept on local disk uncompressed, so that the epochs after the first
read no GZIP.

Inflating the GZIP records is nearly all of the input pipeline's work (benchmarks/
dataloader.py), and every training epoch reads its windows' records again. The cache keeps,
per record, its labels, the acoustic images, the microphones the inputs use, the video
frames a window can pick (decoded), and the ground truth the config serves: one file per
record, so a window reads its seconds' files as it would read their records. Windows,
crops and mirrors are still drawn every epoch from (seed, epoch), after the cache, and a
sample made from the cache equals the sample made from the records.

    CACHE/<key>/records/HASH.bin      a record's decoded tensors, each serialised
                                      (tf.io.serialize_tensor), as one string tensor; HASH is
                                      its path's (`InputCache.entries`, the same in the graph)
    CACHE/<key>/index.json            written last: a cache without it is unfinished

The key is a hash of everything the files depend on: the cache's format, the decoding
settings of the config (`decoding`), and every record's path, size and modification time
to the nanosecond (`windows.fingerprint`, as statistics files record).
A record converted again, another list, or other settings make another key, so a stale
cache is never read; when a new cache is complete, the caches it replaces (the same records'
paths and settings) are removed. An unfinished cache is resumed: its complete files are
kept (each is written under a temporary name and renamed).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from tqdm import tqdm

from dataloader.config import AUDIO, SPECTROGRAM, VIDEO_FRAMES, WAVEFORM, LoaderConfig
from dataloader.schema import FRAMES_PER_RECORD
from dataloader.video import frame_indices
from dataloader.windows import fingerprint

if TYPE_CHECKING:
    import tensorflow as tf

FORMAT = 1  # changes whenever what a cache file holds does
INDEX = "index.json"
RECORDS = "records"
_KEY = re.compile(r"[0-9a-f]{24}")
_PARTIAL = ".partial"


def cached_video_frames(config: LoaderConfig) -> tuple[int, ...]:
    """The frames of a record that a window of `config` can pick, whatever its position in
    the window (windows start on whole seconds)."""
    picked = frame_indices(config.frames_per_sample, config.num_video_frames)
    return tuple(sorted({int(i) % FRAMES_PER_RECORD for i in picked}))


def window_video_indices(config: LoaderConfig) -> np.ndarray:
    """Where a window's picked frames are among its records' cached frames, concatenated."""
    kept = cached_video_frames(config)
    picked = frame_indices(config.frames_per_sample, config.num_video_frames)
    return np.array([i // FRAMES_PER_RECORD * len(kept) + kept.index(i % FRAMES_PER_RECORD) for i in picked])


def decoding(config: LoaderConfig) -> dict:
    """The settings of `config` that what is cached of a record depends on."""
    settings = {"format": FORMAT, "flavour": config.flavour, "modalities": list(config.modalities),
                "truth": list(config.truth)}
    if set(config.inputs) & {AUDIO, WAVEFORM, SPECTROGRAM}:
        settings["audio_mics"] = config.audio_mics
    if VIDEO_FRAMES in config.inputs:
        settings["video_frames"] = list(cached_video_frames(config))
    return settings


def _digest(value) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:24]


@dataclasses.dataclass(frozen=True)
class InputCache:
    """The cache of one list's records under `root` for a config's decoding settings."""

    root: Path
    paths: tuple[str, ...]  # the records, each once, in list order
    settings: dict
    fingerprint: str  # of the records' files when the cache was keyed (`windows.fingerprint`)

    @classmethod
    def of(cls, root: str | os.PathLike, paths: Iterable[str], config: LoaderConfig) -> InputCache:
        paths = tuple(dict.fromkeys(paths))
        try:
            return cls(Path(root), paths, decoding(config), fingerprint(paths))
        except FileNotFoundError as err:
            raise ValueError(f"{err.filename}: no such record file") from None

    @property
    def key(self) -> str:
        return _digest({"settings": self.settings, "records": self.fingerprint})

    @property
    def source(self) -> str:
        """What the cache is of, whatever the records' state: caches of one source replace each other."""
        return _digest({"settings": self.settings, "records": self.paths})

    @property
    def directory(self) -> Path:
        return self.root / self.key

    def entries(self, paths: tf.Tensor) -> tf.Tensor:
        """The cache files of records (string tensors, in the graph too)."""
        import tensorflow as tf

        names = tf.strings.as_string(tf.strings.to_hash_bucket_strong(paths, 2**62, [FORMAT, 0]))
        return tf.strings.join([str(self.directory / RECORDS) + os.sep, names, ".bin"])

    def index(self) -> dict | None:
        """The index of a complete cache, None if the cache is not."""
        return _read_index(self.directory)

    def build(self, decoded: Callable[[tf.Tensor], tf.data.Dataset], progress: bool | None = None) -> dict:
        """Writes the files of the records not cached yet, of which `decoded(paths)` gives
        the decoded tensors (dicts, in order), and then the index. Returns the index."""
        import tensorflow as tf

        entries = [Path(entry.decode()) for entry in self.entries(tf.constant(self.paths, tf.string)).numpy()]
        if len(set(entries)) < len(entries):  # odds of about N^2 / 2^63 for N records, but never a wrong file
            raise ValueError(f"{self.directory}: two records' paths hash alike; move one of them")
        missing = [i for i, entry in enumerate(entries) if not entry.is_file()]
        records = decoded(tf.constant([self.paths[i] for i in missing], tf.string))
        specs = records.element_spec
        names = sorted(specs)
        blobs = records.map(lambda features: tf.io.serialize_tensor(
            tf.stack([tf.io.serialize_tensor(features[name]) for name in names])))
        try:
            (self.directory / RECORDS).mkdir(parents=True, exist_ok=True)
            for partial in (self.directory / RECORDS).glob("*" + _PARTIAL):
                partial.unlink()
            with tqdm(total=len(missing), unit="record", desc="caching decoded records",
                      disable=None if progress is None else not progress) as bar:
                for i, blob in zip(missing, blobs.as_numpy_iterator()):
                    _write(entries[i], blob)
                    bar.update()
            index = {**self.settings, "source": self.source, "records": len(self.paths),
                     "specs": {name: [specs[name].dtype.name, specs[name].shape.as_list()] for name in names}}
            _write(self.directory / INDEX, json.dumps(index, indent=1).encode())
        except OSError as err:
            raise OSError(f"{self.directory}: cannot write the input cache ({err.strerror or err})") from None
        self._remove_replaced()
        return index

    def reader(self, index: dict) -> Callable[[tf.Tensor], dict[str, tf.Tensor]]:
        """A record's path -> its cached tensors, in the graph."""
        import tensorflow as tf

        specs = {name: tf.TensorSpec(index["specs"][name][1], tf.as_dtype(index["specs"][name][0]))
                 for name in sorted(index["specs"])}

        def read(path: tf.Tensor) -> dict[str, tf.Tensor]:
            blobs = tf.io.parse_tensor(tf.io.read_file(self.entries(path)), tf.string)
            return {name: tf.ensure_shape(tf.io.parse_tensor(blobs[i], spec.dtype), spec.shape)
                    for i, (name, spec) in enumerate(specs.items())}

        return read

    def _remove_replaced(self) -> None:
        for other in self.root.iterdir():
            if other != self.directory and _KEY.fullmatch(other.name) and (
                    (_read_index(other) or {}).get("source") == self.source):
                shutil.rmtree(other, ignore_errors=True)


def _read_index(directory: Path) -> dict | None:
    try:
        index = json.loads((directory / INDEX).read_text())
    except (OSError, ValueError):
        return None
    return index if isinstance(index, dict) else None


def _write(path: Path, contents: bytes) -> None:
    temporary = path.with_name(path.name + _PARTIAL)
    temporary.write_bytes(contents)
    os.replace(temporary, path)


def clear(root: str | os.PathLike) -> int:
    """Removes every cache under `root` (directories named as keys; nothing else); returns
    how many."""
    root = Path(root)
    caches = [d for d in root.iterdir() if d.is_dir() and _KEY.fullmatch(d.name)] if root.is_dir() else []
    for directory in caches:
        shutil.rmtree(directory)
    return len(caches)
