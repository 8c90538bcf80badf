"""The TFRecord schema of both datasets: the one place that knows feature keys, dtypes,
shapes and `tf.io` specs. `convert_data.py` writes through it, the input pipelines parse
through it, and records written by the original converters parse through it unchanged.

A record file (`Data_{s:03d}.tfrecord`, GZIP) holds one `tf.train.SequenceExample`: one
second of recording, 12 frames. `read_record` reads it, and says what is wrong with a file
that is missing, empty, truncated, corrupt or holds another number of records.

Context, int64 scalars:
    labels   the flavour's (`dataloader.datasets`). ACIVW ("acivw"): `classes` (0-based
             class), `location` (the video's number `data_NNN` inside its class, as the
             directory names it; not a place). AVIA ("avia"): `action`, `location`,
             `subject`, all 0-based.
    sizes    `audio_image/{height,width,depth}`, `audio_data/{mics,samples}`,
             `video/{height,width,depth}`, each only if the record holds that modality.
Sequence features, one bytes entry per frame, each only if the record holds the modality
(the acoustic image's keys keep the original converters' name for it, `audio_image`):
    `audio/image`  float32 little-endian, C order (height, width, depth): 36 x 48 x 12
    `audio/data`   int32 little-endian, C order (mics, samples): 1 x 1024 as converted
    `video/image`  raw uint8 pixels (height, width, depth) in BGR order, or a JPEG file

Ground truth, optional: a record converted from a simulated recording whose raw directory
holds ground truth (`dataloader.raw.GROUND_TRUTH`, with events) carries it, all of these keys
or none (`TRUTH_KEYS`); a record without them is byte for byte what it was before they existed.
Context, of the whole recording:
    `truth/offset`           float, seconds the audio (and the acoustic images) lag the video
    `truth/caption`          bytes, one UTF-8 sentence about the scene
    `truth/phrases`          bytes list, the P phrases of the caption (P may be 0)
    `truth/phrase_segments`  float list, (phrase index, onset, offset) triples flattened,
                             when each phrase sounds, in seconds of the recording's video
    `truth/target_subject`   int64, AVIA's subject number (its directory's) of the target
                             sound, -1 if none names one
Sequence, one bytes entry per frame of the record (its 12 video frames):
    `truth/activity`         float32 little-endian (C,): the fraction of the frame's twelfth
                             of a second each of the flavour's C classes sounds (its spec's
                             `class_names` order)
    `truth/phrase_activity`  float32 little-endian (P,): likewise for each phrase

Video encodings. ACIVW records hold raw pixels, 224 x 298, BGR: the original converter
read frames with OpenCV and stored them as they came, and ours writes the same bytes.
AVIA records hold the camera's JPEG files (480 x 640). Some of the original AVIA records
hold raw 480 x 640 BGR pixels instead: one published version of its converter decoded the
JPEG files with OpenCV before storing them. A frame is raw exactly when its byte length is
height x width x depth of the context (a JPEG of a camera frame is several times smaller),
so the parser tells the two apart per record, and `decode_video_frames` returns RGB for
both. `make_sequence_example` takes RGB and writes BGR, so what goes in comes back out.

TensorFlow is imported by the functions that use it: the constants serve tools that never
touch a record (frame counting, split lists), and its import takes seconds.
"""
from __future__ import annotations

import dataclasses
import functools
import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from dataloader.camera import FRAMES_PER_SECOND
from dataloader.datasets import dataset_spec

if TYPE_CHECKING:
    import tensorflow as tf

ACOUSTIC_IMAGE, AUDIO_DATA, VIDEO = "acoustic_image", "audio_data", "video"
# The position of a modality is its number on the converters' command line (--modalities 0 1 2).
MODALITIES = (ACOUSTIC_IMAGE, AUDIO_DATA, VIDEO)
SIZE_KEYS = {
    ACOUSTIC_IMAGE: ("audio_image/height", "audio_image/width", "audio_image/depth"),
    AUDIO_DATA: ("audio_data/mics", "audio_data/samples"),
    VIDEO: ("video/height", "video/width", "video/depth"),
}
SEQUENCE_KEYS = {ACOUSTIC_IMAGE: "audio/image", AUDIO_DATA: "audio/data", VIDEO: "video/image"}
DTYPES = {ACOUSTIC_IMAGE: np.dtype("<f4"), AUDIO_DATA: np.dtype("<i4"), VIDEO: np.dtype("u1")}

FRAMES_PER_RECORD = FRAMES_PER_SECOND  # a record is one second
COMPRESSION = "GZIP"
GZIP_MAGIC = b"\x1f\x8b"
JPEG_DCT_METHOD = "INTEGER_ACCURATE"  # libjpeg's default (islow), which PIL and OpenCV decode with too

TRUTH_OFFSET, TRUTH_CAPTION = "truth/offset", "truth/caption"
TRUTH_PHRASES, TRUTH_PHRASE_SEGMENTS = "truth/phrases", "truth/phrase_segments"
TRUTH_SUBJECT = "truth/target_subject"
TRUTH_ACTIVITY, TRUTH_PHRASE_ACTIVITY = "truth/activity", "truth/phrase_activity"
TRUTH_CONTEXT_KEYS = (TRUTH_OFFSET, TRUTH_CAPTION, TRUTH_PHRASES, TRUTH_PHRASE_SEGMENTS, TRUTH_SUBJECT)
TRUTH_SEQUENCE_KEYS = (TRUTH_ACTIVITY, TRUTH_PHRASE_ACTIVITY)
TRUTH_KEYS = TRUTH_CONTEXT_KEYS + TRUTH_SEQUENCE_KEYS
TRUTH_SCALARS = (TRUTH_OFFSET, TRUTH_CAPTION, TRUTH_SUBJECT)  # one value each, in a record that has them


@dataclasses.dataclass(frozen=True)
class RecordTruth:
    """The ground truth one record carries (the keys above): the recording's offset,
    caption, phrases, phrase segments and target subject, and the activity rows of the
    record's 12 frames."""

    activity: np.ndarray  # (12, C) float32
    phrase_activity: np.ndarray  # (12, P) float32
    offset: float = 0.0
    caption: str = ""
    phrases: tuple[str, ...] = ()
    phrase_segments: np.ndarray | Sequence[tuple[int, float, float]] = ()  # (K, 3): phrase index, onset, offset
    subject: int = -1


def label_keys(flavour: str) -> tuple[str, ...]:
    """The context keys of a flavour's labels, in the records' order."""
    return tuple(label.key for label in dataset_spec(flavour).labels)


def modalities_from_flags(flags: Iterable[int] | None) -> tuple[str, ...]:
    """The modalities named by the converters' numbers (0 acoustic images, 1 raw audio,
    2 video), in schema order; None means all, as in the original converters."""
    if flags is None:
        return MODALITIES
    flags = set(flags)
    unknown = flags - set(range(len(MODALITIES)))
    if unknown or not flags:
        raise ValueError(
            f"modalities must be among 0 (acoustic images), 1 (raw audio), 2 (video); got {sorted(flags)}"
        )
    return tuple(m for i, m in enumerate(MODALITIES) if i in flags)


def context_spec(flavour: str, modalities: Sequence[str] = MODALITIES) -> dict[str, tf.io.FixedLenFeature]:
    import tensorflow as tf

    keys = list(label_keys(flavour)) + [key for m in modalities for key in SIZE_KEYS[m]]
    return {key: tf.io.FixedLenFeature([], tf.int64) for key in keys}


def sequence_spec(modalities: Sequence[str] = MODALITIES) -> dict[str, tf.io.FixedLenSequenceFeature]:
    import tensorflow as tf

    return {SEQUENCE_KEYS[m]: tf.io.FixedLenSequenceFeature([], tf.string) for m in modalities}


def truth_context_spec() -> dict[str, tf.io.RaggedFeature]:
    """The ground truth's context keys, each parsed as a list: a record without them parses
    too, to empty lists, so a reader can say which record lacks them."""
    import tensorflow as tf

    dtypes = {TRUTH_OFFSET: tf.float32, TRUTH_CAPTION: tf.string, TRUTH_PHRASES: tf.string,
              TRUTH_PHRASE_SEGMENTS: tf.float32, TRUTH_SUBJECT: tf.int64}
    return {key: tf.io.RaggedFeature(dtypes[key]) for key in TRUTH_CONTEXT_KEYS}


def truth_sequence_spec() -> dict[str, tf.io.FixedLenSequenceFeature]:
    """The ground truth's sequence keys; a record without them has no frames of them."""
    import tensorflow as tf

    return {key: tf.io.FixedLenSequenceFeature([], tf.string, allow_missing=True) for key in TRUTH_SEQUENCE_KEYS}


def _int64(value: int) -> tf.train.Feature:
    import tensorflow as tf

    return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(value)]))


def _floats(values: Iterable[float]) -> tf.train.Feature:
    import tensorflow as tf

    return tf.train.Feature(float_list=tf.train.FloatList(value=[float(v) for v in values]))


def _bytes(values: Iterable[bytes]) -> tf.train.Feature:
    import tensorflow as tf

    return tf.train.Feature(bytes_list=tf.train.BytesList(value=list(values)))


def _bytes_list(frames: Iterable[bytes]) -> tf.train.FeatureList:
    import tensorflow as tf

    features = [tf.train.Feature(bytes_list=tf.train.BytesList(value=[frame])) for frame in frames]
    return tf.train.FeatureList(feature=features)


def _frames_array(name: str, array: np.ndarray, rank: int) -> np.ndarray:
    array = np.asarray(array)
    if array.ndim != rank or len(array) != FRAMES_PER_RECORD:
        raise ValueError(f"{name} must have {rank} axes and {FRAMES_PER_RECORD} frames, got {array.shape}")
    if array.dtype.kind != DTYPES[name].kind or array.dtype.itemsize != DTYPES[name].itemsize:
        raise ValueError(f"{name} must be {DTYPES[name]}, got {array.dtype}")
    return np.ascontiguousarray(array, dtype=DTYPES[name])


def _truth_features(truth: RecordTruth) -> tuple[dict, dict]:
    """The context and sequence features of a record's ground truth."""
    rows = {}
    for key, values in ((TRUTH_ACTIVITY, truth.activity), (TRUTH_PHRASE_ACTIVITY, truth.phrase_activity)):
        array = np.asarray(values)
        if array.ndim != 2 or len(array) != FRAMES_PER_RECORD or array.dtype.kind != "f":
            raise ValueError(f"{key} must be floats of {FRAMES_PER_RECORD} frames (12, N), got {array.dtype} "
                             f"{array.shape}")
        if not np.all(np.isfinite(array)):
            raise ValueError(f"{key} has non-finite values")
        rows[key] = np.ascontiguousarray(array, dtype="<f4")
    phrases = [phrase.encode() for phrase in truth.phrases]
    if rows[TRUTH_PHRASE_ACTIVITY].shape[1] != len(phrases):
        raise ValueError(f"{TRUTH_PHRASE_ACTIVITY} has {rows[TRUTH_PHRASE_ACTIVITY].shape[1]} columns for "
                         f"{len(phrases)} phrases")
    segments = np.asarray(truth.phrase_segments, np.float64).reshape(-1, 3)
    if segments.size and not np.isin(segments[:, 0], np.arange(len(phrases))).all():
        raise ValueError(f"{TRUTH_PHRASE_SEGMENTS} name phrases outside 0..{len(phrases) - 1}")
    if not math.isfinite(truth.offset):
        raise ValueError(f"{TRUTH_OFFSET} must be finite, got {truth.offset}")
    context = {
        TRUTH_OFFSET: _floats([truth.offset]),
        TRUTH_CAPTION: _bytes([truth.caption.encode()]),
        TRUTH_PHRASES: _bytes(phrases),
        TRUTH_PHRASE_SEGMENTS: _floats(segments.ravel()),
        TRUTH_SUBJECT: _int64(truth.subject),
    }
    return context, {key: _bytes_list(row.tobytes() for row in array) for key, array in rows.items()}


def make_sequence_example(
    flavour: str,
    labels: Mapping[str, int],
    *,
    acoustic_image: np.ndarray | None = None,
    audio_data: np.ndarray | None = None,
    video: np.ndarray | Sequence[bytes] | None = None,
    video_shape: tuple[int, int, int] | None = None,
    truth: RecordTruth | None = None,
) -> tf.train.SequenceExample:
    """One record from arrays of 12 frames, holding the modalities that are given.

    acoustic_image: float32 (12, height, width, depth); audio_data: int32 (12, mics, samples);
    video: uint8 RGB (12, height, width, 3), stored raw (as BGR), or 12 JPEG files as bytes,
    stored as they are, with their decoded `video_shape` (height, width, depth). With
    `truth`, the record carries that ground truth too (the `truth/` keys).
    """
    import tensorflow as tf

    keys = label_keys(flavour)
    if set(labels) != set(keys):
        raise ValueError(f"{flavour} records need labels {keys}, got {tuple(labels)}")
    context = {key: _int64(labels[key]) for key in keys}
    lists = {}
    if acoustic_image is not None:
        images = _frames_array(ACOUSTIC_IMAGE, acoustic_image, 4)
        context.update(zip(SIZE_KEYS[ACOUSTIC_IMAGE], map(_int64, images.shape[1:])))
        lists[SEQUENCE_KEYS[ACOUSTIC_IMAGE]] = _bytes_list(frame.tobytes() for frame in images)
    if audio_data is not None:
        audio = _frames_array(AUDIO_DATA, audio_data, 3)
        context.update(zip(SIZE_KEYS[AUDIO_DATA], map(_int64, audio.shape[1:])))
        lists[SEQUENCE_KEYS[AUDIO_DATA]] = _bytes_list(frame.tobytes() for frame in audio)
    if video is not None:
        if isinstance(video, np.ndarray):
            frames = _frames_array(VIDEO, video, 4)[..., ::-1]
            shape = frames.shape[1:]
            encoded = [np.ascontiguousarray(frame).tobytes() for frame in frames]
        else:
            encoded = [bytes(frame) for frame in video]
            if video_shape is None or len(video_shape) != 3:
                raise ValueError("encoded video frames need their video_shape (height, width, depth)")
            if len(encoded) != FRAMES_PER_RECORD:
                raise ValueError(f"video must have {FRAMES_PER_RECORD} frames, got {len(encoded)}")
            if any(len(frame) == int(np.prod(video_shape)) for frame in encoded):
                raise ValueError("an encoded frame has the length of a raw one: it would parse as raw pixels")
            shape = tuple(video_shape)
        context.update(zip(SIZE_KEYS[VIDEO], map(_int64, shape)))
        lists[SEQUENCE_KEYS[VIDEO]] = _bytes_list(encoded)
    if not lists:
        raise ValueError("a record needs at least one modality")
    if truth is not None:
        truth_context, truth_lists = _truth_features(truth)
        context.update(truth_context)
        lists.update(truth_lists)
    return tf.train.SequenceExample(
        context=tf.train.Features(feature=context),
        feature_lists=tf.train.FeatureLists(feature_list=lists),
    )


def decode_raw_frames(frames: tf.Tensor, dtype: tf.DType, frame_shape: Sequence) -> tf.Tensor:
    """Raw little-endian frames (T,) of one record -> (T, *frame_shape) values of `dtype`."""
    import tensorflow as tf

    return tf.reshape(tf.io.decode_raw(frames, dtype, little_endian=True), tf.stack([-1, *frame_shape]))


def decode_video_frames(
    frames: tf.Tensor, height: tf.Tensor, width: tf.Tensor, depth: tf.Tensor
) -> tf.Tensor:
    """Encoded frames (T,) of one record -> uint8 RGB (T, height, width, 3).

    Separate from parsing so a pipeline can pick its frames first and decode only those.
    """
    import tensorflow as tf

    raw_length = tf.cast(height * width * depth, tf.int32)

    def raw() -> tf.Tensor:
        pixels = tf.reshape(tf.io.decode_raw(frames, tf.uint8), tf.stack([-1, height, width, depth]))
        return tf.reverse(pixels, axis=[-1])  # stored BGR

    def jpeg() -> tf.Tensor:
        return tf.map_fn(
            lambda frame: tf.io.decode_jpeg(frame, channels=3, dct_method=JPEG_DCT_METHOD),
            frames,
            fn_output_signature=tf.TensorSpec([None, None, 3], tf.uint8),
        )

    is_raw = tf.equal(tf.strings.length(frames[0]), raw_length)
    video = tf.cond(is_raw, raw, jpeg)
    video.set_shape([None, None, None, 3])
    return video


def parse_sequence_example(
    serialized: tf.Tensor | bytes,
    flavour: str,
    modalities: Sequence[str] = MODALITIES,
    *,
    decode_video: bool = True,
    truth: bool = False,
) -> dict[str, tf.Tensor]:
    """One serialized record -> a dict of tensors; works eagerly and inside tf.data.

    Keys: the flavour's labels and the size keys of the modalities (int64 scalars), and
    `acoustic_image` float32 (T, height, width, depth), `audio_data` int32 (T, mics, samples),
    `video` uint8 RGB (T, height, width, 3), or its encoded frames (T,) string if not
    `decode_video` (then decode the frames you keep with `decode_video_frames`).
    With `truth`, also the ground truth under its keys: `truth/offset` float32,
    `truth/caption` string, `truth/target_subject` int64 scalars, `truth/phrases` (P,) string,
    `truth/phrase_segments` float32 (K, 3), `truth/activity` float32 (T, C) and
    `truth/phrase_activity` float32 (T, P); a record without it fails (InvalidArgumentError).
    """
    import tensorflow as tf

    context_features, sequence_features = context_spec(flavour, modalities), sequence_spec(modalities)
    if truth:
        context_features.update(truth_context_spec())
        sequence_features.update(truth_sequence_spec())
    context, sequence = tf.io.parse_single_sequence_example(
        serialized, context_features=context_features, sequence_features=sequence_features,
    )
    parsed = dict(context)
    if truth:
        parsed.update(_parsed_truth(context, sequence))
    if ACOUSTIC_IMAGE in modalities:
        parsed[ACOUSTIC_IMAGE] = decode_raw_frames(sequence[SEQUENCE_KEYS[ACOUSTIC_IMAGE]], tf.float32,
                                                   [context[key] for key in SIZE_KEYS[ACOUSTIC_IMAGE]])
    if AUDIO_DATA in modalities:
        parsed[AUDIO_DATA] = decode_raw_frames(sequence[SEQUENCE_KEYS[AUDIO_DATA]], tf.int32,
                                               [context[key] for key in SIZE_KEYS[AUDIO_DATA]])
    if VIDEO in modalities:
        frames = sequence[SEQUENCE_KEYS[VIDEO]]
        if decode_video:
            frames = decode_video_frames(frames, *(context[key] for key in SIZE_KEYS[VIDEO]))
        parsed[VIDEO] = frames
    return parsed


def _parsed_truth(context: Mapping[str, tf.Tensor], sequence: Mapping[str, tf.Tensor]) -> dict[str, tf.Tensor]:
    """The ground truth of one parsed record, checked to be there."""
    import tensorflow as tf

    present = [tf.equal(tf.size(context[key]), 1) for key in TRUTH_SCALARS]
    present += [tf.equal(tf.size(sequence[key]), FRAMES_PER_RECORD) for key in TRUTH_SEQUENCE_KEYS]
    with tf.control_dependencies([tf.debugging.Assert(tf.reduce_all(tf.stack(present)),
                                                      ["the record holds no ground truth (truth/ keys)"])]):
        parsed = {key: tf.reshape(context[key], []) for key in TRUTH_SCALARS}
        parsed[TRUTH_PHRASES] = tf.identity(context[TRUTH_PHRASES])
        parsed[TRUTH_PHRASE_SEGMENTS] = tf.reshape(context[TRUTH_PHRASE_SEGMENTS], [-1, 3])
        for key in TRUTH_SEQUENCE_KEYS:
            parsed[key] = decode_truth_rows(sequence[key])
    return parsed


def decode_truth_rows(frames: tf.Tensor) -> tf.Tensor:
    """Ground truth rows (T,) of float32 bytes -> float32 (T, N); every row the same length."""
    import tensorflow as tf

    return tf.io.decode_raw(frames, tf.float32, little_endian=True)


def write_record_file(path: str | os.PathLike, example: tf.train.SequenceExample) -> None:
    """A record file as the original converters wrote it: one record, GZIP. (The caller
    makes the write atomic; see `conversion.files`.)

    Map entries (the context's and the feature lists' keys) are written sorted: protobuf 5
    and later order them by a hash seeded per process, so a plain SerializeToString() gives
    other bytes in every process, and workers would not agree with each other or with a
    re-run."""
    import tensorflow as tf

    options = tf.io.TFRecordOptions(compression_type=COMPRESSION)
    with tf.io.TFRecordWriter(str(path), options=options) as writer:
        writer.write(example.SerializeToString(deterministic=True))


def record_dataset(paths: Sequence[str]) -> tf.data.TFRecordDataset:
    import tensorflow as tf

    return tf.data.TFRecordDataset(list(paths), compression_type=COMPRESSION)


def _attempt(fn: Callable[[tf.Tensor], tf.Tensor], value, fallback) -> tuple[tf.Tensor, tf.Tensor]:
    """(True, fn(value)), or (False, fallback) if fn fails; eagerly or in a graph. A graph
    cannot catch an error, but tf.data can drop the element that raised one (`ignore_errors`),
    so fn runs as the map of a one-element dataset. fn must read what it reads to the end
    inside itself: ignore_errors would retry a failing dataset of its own forever (a
    TFRecordDataset of a missing file fails to open again at every retry)."""
    import tensorflow as tf

    tried = tf.data.Dataset.from_tensors(value).map(lambda v: (True, fn(v))).ignore_errors()
    return tried.concatenate(tf.data.Dataset.from_tensors((False, fallback))).take(1).get_single_element()


def _gzip_size(contents: tf.Tensor) -> tf.Tensor:
    """The data size modulo 2^32 that a GZIP file's last 4 bytes (its trailer) record, int64.
    A file cut short ends in compressed bytes instead, which almost never match its data."""
    import tensorflow as tf

    tail = tf.strings.substr(contents, tf.maximum(tf.strings.length(contents) - 4, 0), 4)
    tail = tf.cast(tf.io.decode_raw(tail, tf.uint8), tf.int64)
    return tf.reduce_sum(tf.bitwise.left_shift(tail, 8 * tf.range(tf.size(tail, tf.int64), dtype=tf.int64)))


def record_file_problem(path: str | tf.Tensor, buffer_size: int | None = None) -> tf.Tensor:
    """What is wrong with the record file at `path`, as a string scalar ("no such file",
    "empty file (0 bytes)", "not a GZIP file", "truncated GZIP record file (...)", "holds 2
    records, expected 1", ...), or "" if it is a whole GZIP stream holding exactly one
    readable record. Eagerly or in a graph; it reads the file whole and decompresses it
    twice, so the loader asks only about files that failed to read."""
    return _record_file_problem_function(buffer_size)(path)


@functools.cache
def _record_file_problem_function(buffer_size: int | None) -> Callable[[tf.Tensor], tf.Tensor]:
    """`record_file_problem` traced once: a pipeline calls it, instead of holding a copy, and
    instantiates it only if a file fails (about 0.3 s less to start a pipeline)."""
    import tensorflow as tf

    return tf.function(functools.partial(_file_problem, buffer_size=buffer_size),
                       input_signature=[tf.TensorSpec([], tf.string)])


def _file_problem(path: tf.Tensor, buffer_size: int | None) -> tf.Tensor:
    import tensorflow as tf

    exists = tf.size(tf.io.matching_files(path)) > 0
    readable, contents = _attempt(tf.io.read_file, path, "")
    inflated, data = _attempt(lambda c: tf.io.decode_compressed(c, COMPRESSION), contents, "")
    data_size = tf.strings.length(data)

    def count(p: tf.Tensor) -> tf.Tensor:
        return tf.data.TFRecordDataset(p, COMPRESSION, buffer_size).reduce(tf.constant(0, tf.int64),
                                                                           lambda n, _: n + 1)

    counted, records = _attempt(count, path, tf.constant(0, tf.int64))
    problems = (  # the first that holds
        (~readable & ~exists, "no such file"),
        (~readable, "cannot be read"),
        (tf.equal(tf.strings.length(contents), 0), "empty file (0 bytes)"),
        (tf.not_equal(tf.strings.substr(contents, 0, len(GZIP_MAGIC)), GZIP_MAGIC), "not a GZIP file"),
        (~inflated, "corrupt GZIP stream (it does not decompress)"),
        # Before the trailer: GZIP files joined into one (`cat`) end in the last one's trailer.
        (counted & tf.not_equal(records, 1), tf.strings.format("holds {} records, expected 1", records)),
        (tf.not_equal(_gzip_size(contents), tf.cast(data_size, tf.int64) % 2**32),
         tf.strings.format("truncated GZIP record file (its stream breaks off after {} bytes of data)", data_size)),
        (~counted, "not a TFRecord file, or a record fails its checksum"),
    )
    problem = tf.constant("")
    for failed, what in reversed(problems):
        problem = tf.where(failed, what, problem)
    return problem


def read_record(path: str | tf.Tensor, buffer_size: int | None = None) -> tuple[tf.Tensor, tf.Tensor]:
    """(the one serialized record of the record file at `path`, ""), or ("", what is wrong
    with the file, as `record_file_problem` says); string scalars, eagerly or in a graph,
    where it reads one file of a tf.data pipeline. A good file is read once; a bad one again,
    to say what is wrong with it. A file that lost no more than its GZIP trailer still reads:
    its record is whole, and TFRecord's checksums hold."""
    import tensorflow as tf

    def first_two(p: tf.Tensor) -> tf.Tensor:
        # To the end of a file of one record, so truncation shows; no further than a second.
        return tf.data.TFRecordDataset(p, COMPRESSION, buffer_size).take(2).batch(2).get_single_element()

    read, records = _attempt(first_two, path, tf.zeros([0], tf.string))

    def bad() -> tuple[tf.Tensor, tf.Tensor]:
        problem = record_file_problem(path, buffer_size)
        return tf.constant(""), tf.where(tf.equal(problem, ""), "failed to read, then read (an intermittent read "
                                                                "error of the file system?)", problem)

    good = tf.logical_and(read, tf.equal(tf.size(records), 1))
    return tf.cond(good, lambda: (records[0], tf.constant("")), bad)


def read_record_file(
    path: str | os.PathLike,
    flavour: str,
    modalities: Sequence[str] = MODALITIES,
    *,
    decode_video: bool = True,
    truth: bool = False,
) -> dict[str, np.ndarray]:
    """The one record of a file, parsed eagerly into numpy arrays (for tools and tests)."""
    import tensorflow as tf

    record, problem = read_record(str(path))
    if problem.numpy():
        raise ValueError(f"{path}: {problem.numpy().decode()}")
    try:
        parsed = parse_sequence_example(record, flavour, modalities, decode_video=decode_video, truth=truth)
    except tf.errors.OpError as err:
        what = f"{flavour} record with {', '.join(modalities)}" + " and ground truth" * truth
        raise ValueError(f"{path}: not a readable {what} ({err.message})") from None
    return {key: value.numpy() for key, value in parsed.items()}


@dataclasses.dataclass(frozen=True)
class RecordContents:
    """What the record of a file holds: its modalities and the offset it states (None: it
    carries no ground truth; every record converted with ground truth states one)."""

    modalities: tuple[str, ...]
    offset: float | None


def record_contents(path: str | os.PathLike) -> RecordContents:
    import tensorflow as tf

    record, problem = read_record(str(path))
    if problem.numpy():
        raise ValueError(f"{path}: {problem.numpy().decode()}")
    example = tf.train.SequenceExample.FromString(record.numpy())
    context, lists = example.context.feature, example.feature_lists.feature_list
    offset = float(context[TRUTH_OFFSET].float_list.value[0]) if TRUTH_OFFSET in context else None
    return RecordContents(tuple(m for m in MODALITIES if SEQUENCE_KEYS[m] in lists), offset)
