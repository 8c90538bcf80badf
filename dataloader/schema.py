"""The TFRecord schema of both datasets: the one place that knows feature keys, dtypes,
shapes and `tf.io` specs. `convert_data.py` writes through it, the input pipelines parse
through it, and records written by the original converters parse through it unchanged.

A record file (`Data_{s:03d}.tfrecord`, GZIP) holds one `tf.train.SequenceExample`: one
second of recording, 12 frames.

Context, int64 scalars:
    labels   ACIVW ("acivw"): `classes` (0-based class), `location` (the video's number
             `data_NNN` inside its class, as the directory names it; not a place).
             AVIA ("avia"): `action`, `location`, `subject`, all 0-based.
    sizes    `audio_image/{height,width,depth}`, `audio_data/{mics,samples}`,
             `video/{height,width,depth}`, each only if the record holds that modality.
Sequence features, one bytes entry per frame, each only if the record holds the modality:
    `audio/image`  float32 little-endian, C order (height, width, depth): 36 x 48 x 12
    `audio/data`   int32 little-endian, C order (mics, samples): 1 x 1024 as converted
    `video/image`  raw uint8 pixels (height, width, depth) in BGR order, or a JPEG file

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

import os
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import tensorflow as tf

ACIVW, AVIA = "acivw", "avia"
FLAVOURS = (ACIVW, AVIA)
LABEL_KEYS = {ACIVW: ("classes", "location"), AVIA: ("action", "location", "subject")}

AUDIO_IMAGE, AUDIO_DATA, VIDEO = "audio_image", "audio_data", "video"
# The position of a modality is its number on the converters' command line (--modalities 0 1 2).
MODALITIES = (AUDIO_IMAGE, AUDIO_DATA, VIDEO)
SIZE_KEYS = {
    AUDIO_IMAGE: ("audio_image/height", "audio_image/width", "audio_image/depth"),
    AUDIO_DATA: ("audio_data/mics", "audio_data/samples"),
    VIDEO: ("video/height", "video/width", "video/depth"),
}
SEQUENCE_KEYS = {AUDIO_IMAGE: "audio/image", AUDIO_DATA: "audio/data", VIDEO: "video/image"}
DTYPES = {AUDIO_IMAGE: np.dtype("<f4"), AUDIO_DATA: np.dtype("<i4"), VIDEO: np.dtype("u1")}

FRAMES_PER_RECORD = 12
AUDIO_IMAGE_SHAPE = (36, 48, 12)
AUDIO_SAMPLES = 1024
VIDEO_SHAPES = {ACIVW: (224, 298, 3), AVIA: (480, 640, 3)}
COMPRESSION = "GZIP"
JPEG_DCT_METHOD = "INTEGER_ACCURATE"  # libjpeg's default (islow), which PIL and OpenCV decode with too


def _check_flavour(flavour: str) -> None:
    if flavour not in FLAVOURS:
        raise ValueError(f"unknown flavour {flavour!r}; known: {', '.join(FLAVOURS)}")


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

    _check_flavour(flavour)
    keys = list(LABEL_KEYS[flavour]) + [key for m in modalities for key in SIZE_KEYS[m]]
    return {key: tf.io.FixedLenFeature([], tf.int64) for key in keys}


def sequence_spec(modalities: Sequence[str] = MODALITIES) -> dict[str, tf.io.FixedLenSequenceFeature]:
    import tensorflow as tf

    return {SEQUENCE_KEYS[m]: tf.io.FixedLenSequenceFeature([], tf.string) for m in modalities}


def _int64(value: int) -> tf.train.Feature:
    import tensorflow as tf

    return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(value)]))


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


def make_sequence_example(
    flavour: str,
    labels: Mapping[str, int],
    *,
    audio_image: np.ndarray | None = None,
    audio_data: np.ndarray | None = None,
    video: np.ndarray | Sequence[bytes] | None = None,
    video_shape: tuple[int, int, int] | None = None,
) -> tf.train.SequenceExample:
    """One record from arrays of 12 frames, holding the modalities that are given.

    audio_image: float32 (12, height, width, depth); audio_data: int32 (12, mics, samples);
    video: uint8 RGB (12, height, width, 3), stored raw (as BGR), or 12 JPEG files as bytes,
    stored as they are, with their decoded `video_shape` (height, width, depth).
    """
    import tensorflow as tf

    _check_flavour(flavour)
    if set(labels) != set(LABEL_KEYS[flavour]):
        raise ValueError(f"{flavour} records need labels {LABEL_KEYS[flavour]}, got {tuple(labels)}")
    context = {key: _int64(labels[key]) for key in LABEL_KEYS[flavour]}
    lists = {}
    if audio_image is not None:
        images = _frames_array(AUDIO_IMAGE, audio_image, 4)
        context.update(zip(SIZE_KEYS[AUDIO_IMAGE], map(_int64, images.shape[1:])))
        lists[SEQUENCE_KEYS[AUDIO_IMAGE]] = _bytes_list(frame.tobytes() for frame in images)
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
) -> dict[str, tf.Tensor]:
    """One serialized record -> a dict of tensors; works eagerly and inside tf.data.

    Keys: the flavour's labels and the size keys of the modalities (int64 scalars), and
    `audio_image` float32 (T, height, width, depth), `audio_data` int32 (T, mics, samples),
    `video` uint8 RGB (T, height, width, 3), or its encoded frames (T,) string if not
    `decode_video` (then decode the frames you keep with `decode_video_frames`).
    """
    import tensorflow as tf

    context, sequence = tf.io.parse_single_sequence_example(
        serialized,
        context_features=context_spec(flavour, modalities),
        sequence_features=sequence_spec(modalities),
    )
    parsed = dict(context)
    if AUDIO_IMAGE in modalities:
        parsed[AUDIO_IMAGE] = decode_raw_frames(sequence[SEQUENCE_KEYS[AUDIO_IMAGE]], tf.float32,
                                                [context[key] for key in SIZE_KEYS[AUDIO_IMAGE]])
    if AUDIO_DATA in modalities:
        parsed[AUDIO_DATA] = decode_raw_frames(sequence[SEQUENCE_KEYS[AUDIO_DATA]], tf.int32,
                                               [context[key] for key in SIZE_KEYS[AUDIO_DATA]])
    if VIDEO in modalities:
        frames = sequence[SEQUENCE_KEYS[VIDEO]]
        if decode_video:
            frames = decode_video_frames(frames, *(context[key] for key in SIZE_KEYS[VIDEO]))
        parsed[VIDEO] = frames
    return parsed


def write_record_file(path: str | os.PathLike, example: tf.train.SequenceExample) -> None:
    """A record file as the original converters wrote it: one record, GZIP. (The caller
    makes the write atomic; see `conversion.files`.)"""
    import tensorflow as tf

    options = tf.io.TFRecordOptions(compression_type=COMPRESSION)
    with tf.io.TFRecordWriter(str(path), options=options) as writer:
        writer.write(example.SerializeToString())


def record_dataset(paths: Sequence[str]) -> tf.data.TFRecordDataset:
    import tensorflow as tf

    return tf.data.TFRecordDataset(list(paths), compression_type=COMPRESSION)


def read_record_file(
    path: str | os.PathLike,
    flavour: str,
    modalities: Sequence[str] = MODALITIES,
    *,
    decode_video: bool = True,
) -> dict[str, np.ndarray]:
    """The one record of a file, parsed eagerly into numpy arrays (for tools and tests)."""
    import tensorflow as tf

    try:
        records = [r.numpy() for r in record_dataset([str(path)])]
        if len(records) != 1:
            raise ValueError(f"{path}: holds {len(records)} records, expected 1")
        parsed = parse_sequence_example(records[0], flavour, modalities, decode_video=decode_video)
    except tf.errors.OpError as err:
        what = f"{flavour} record with {', '.join(modalities)}"
        raise ValueError(f"{path}: not a readable {what} ({err.message})") from None
    return {key: value.numpy() for key, value in parsed.items()}
