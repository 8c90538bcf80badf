import io
import itertools

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from dataloader import schema
from dataloader.datasets import FLAVOURS
from tests.raw_data import original_record

SUBSETS = [s for n in (1, 2, 3) for s in itertools.combinations(schema.MODALITIES, n)]
LABELS = {"acivw": {"classes": 7, "location": 42}, "avia": {"action": 13, "location": 2, "subject": 8}}


def _jpeg(frame: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(frame).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def _pil_decode(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


@pytest.fixture(scope="module")
def arrays():
    rng = np.random.default_rng(5)
    video = rng.integers(0, 256, (12, 24, 32, 3), dtype=np.uint8)
    return {
        "acoustic_image": rng.standard_normal((12, 36, 48, 12)).astype(np.float32),
        "audio_data": rng.integers(-2**31, 2**31 - 1, (12, 2, 1024), dtype=np.int64).astype(np.int32),
        "video": video,
        "jpeg": [_jpeg(frame) for frame in video],
    }


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("modalities", SUBSETS, ids="+".join)
def test_written_record_parses_back_to_the_same_values(arrays, flavour, modalities):
    given = {m: arrays[m] for m in modalities}
    example = schema.make_sequence_example(flavour, LABELS[flavour], **given)
    parsed = {k: v.numpy() for k, v in schema.parse_sequence_example(example.SerializeToString(), flavour,
                                                                         modalities).items()}
    for key, value in LABELS[flavour].items():
        assert parsed[key] == value
    for modality in modalities:
        np.testing.assert_array_equal(parsed[modality], arrays[modality])
        assert parsed[modality].dtype == arrays[modality].dtype
        sizes = [int(parsed[key]) for key in schema.SIZE_KEYS[modality]]
        assert sizes == list(arrays[modality].shape[1:])
    sizes = {k for m in modalities for k in schema.SIZE_KEYS[m]}
    assert set(parsed) == set(LABELS[flavour]) | sizes | set(modalities)


def test_specs_hold_the_keys_of_the_original_records():
    assert set(schema.context_spec("acivw")) == {
        "classes", "location", "audio_image/height", "audio_image/width", "audio_image/depth",
        "audio_data/mics", "audio_data/samples", "video/height", "video/width", "video/depth",
    }
    assert set(schema.context_spec("avia", ("video",))) == {
        "action", "location", "subject", "video/height", "video/width", "video/depth",
    }
    assert all(spec.dtype == tf.int64 for spec in schema.context_spec("avia").values())
    assert set(schema.sequence_spec()) == {"audio/image", "audio/data", "video/image"}
    assert all(spec.dtype == tf.string for spec in schema.sequence_spec().values())
    # Ground truth: optional, so parsed as lists a record without it parses to, empty.
    assert set(schema.truth_context_spec()) == {"truth/offset", "truth/caption", "truth/phrases",
                                                "truth/phrase_segments", "truth/target_subject"}
    assert set(schema.truth_sequence_spec()) == {"truth/activity", "truth/phrase_activity"}
    assert all(spec.allow_missing for spec in schema.truth_sequence_spec().values())
    assert not set(schema.TRUTH_KEYS) & (set(schema.context_spec("avia")) | set(schema.sequence_spec()))
    assert schema.modalities_from_flags([2, 0]) == ("acoustic_image", "video")
    assert schema.modalities_from_flags(None) == schema.MODALITIES


def _write_gzip(path, serialized: bytes) -> None:
    with tf.io.TFRecordWriter(str(path), options="GZIP") as writer:
        writer.write(serialized)


def test_original_acivw_record_reads_with_identical_values(tmp_path):
    rng = np.random.default_rng(0)
    mfcc = rng.standard_normal((12, 36, 48, 12)).astype(np.float32)
    mic0 = rng.integers(-2**31, 2**31 - 1, (12, 1024), dtype=np.int64).astype(np.int32)
    bgr = rng.integers(0, 256, (12, 224, 298, 3), dtype=np.uint8)  # as cv2.imread + resize gave them
    serialized = original_record(
        {"classes": 4, "location": 17, "audio_image/height": 36, "audio_image/width": 48,
         "audio_image/depth": 12, "audio_data/mics": 1, "audio_data/samples": 1024, "video/height": 224,
         "video/width": 298, "video/depth": 3},
        {"audio/image": [m.tobytes() for m in mfcc], "audio/data": [a.tobytes() for a in mic0],
         "video/image": [f.tobytes() for f in bgr]},
    )
    _write_gzip(tmp_path / "Data_001.tfrecord", serialized)
    parsed = schema.read_record_file(tmp_path / "Data_001.tfrecord", "acivw")
    assert (parsed["classes"], parsed["location"]) == (4, 17)
    np.testing.assert_array_equal(parsed["acoustic_image"], mfcc)
    np.testing.assert_array_equal(parsed["audio_data"], mic0[:, None, :])
    np.testing.assert_array_equal(parsed["video"], bgr[..., ::-1])  # stored BGR, read RGB


@pytest.mark.parametrize("encoding", ["jpeg", "raw_bgr"])
def test_original_avia_records_read_with_identical_values(tmp_path, encoding):
    """Both kinds of AVIA record: JPEG files as SPEC.md has it, and the raw BGR pixels that
    the published converter (which decoded with OpenCV) stored."""
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 256, (12, 480, 640, 3), dtype=np.uint8)
    jpegs = [_jpeg(frame) for frame in rgb]
    decoded = np.stack([_pil_decode(j) for j in jpegs])
    frames = jpegs if encoding == "jpeg" else [f[..., ::-1].tobytes() for f in decoded]
    mfcc = np.zeros((12, 36, 48, 12), np.float32)
    mfcc[:, 6:, 8:, 2:] = rng.standard_normal((12, 30, 40, 10))  # zero padded at the front, as B did
    serialized = original_record(
        {"action": 0, "location": 2, "subject": 5, "audio_image/height": 36, "audio_image/width": 48,
         "audio_image/depth": 12, "video/height": 480, "video/width": 640, "video/depth": 3},
        {"audio/image": [m.tobytes() for m in mfcc], "video/image": frames},
    )
    _write_gzip(tmp_path / "Data_001.tfrecord", serialized)
    parsed = schema.read_record_file(tmp_path / "Data_001.tfrecord", "avia", ("acoustic_image", "video"))
    assert (parsed["action"], parsed["location"], parsed["subject"]) == (0, 2, 5)
    np.testing.assert_array_equal(parsed["acoustic_image"], mfcc)
    np.testing.assert_array_equal(parsed["video"], decoded)
    undecoded = schema.read_record_file(tmp_path / "Data_001.tfrecord", "avia", ("video",),
                                        decode_video=False)
    assert list(undecoded["video"]) == frames


def test_frames_are_decoded_after_selection_inside_tf_data(arrays):
    example = schema.make_sequence_example("avia", LABELS["avia"], video=arrays["jpeg"],
                                           video_shape=(24, 32, 3))

    def pick(serialized):
        parsed = schema.parse_sequence_example(serialized, "avia", ("video",), decode_video=False)
        chosen = tf.gather(parsed["video"], [0, 5, 11])
        return schema.decode_video_frames(chosen, parsed["video/height"], parsed["video/width"],
                                          parsed["video/depth"])

    dataset = tf.data.Dataset.from_tensors(example.SerializeToString()).map(pick)
    video = next(iter(dataset)).numpy()
    expected = np.stack([_pil_decode(arrays["jpeg"][i]) for i in (0, 5, 11)])
    np.testing.assert_array_equal(video, expected)


@pytest.mark.parametrize("kwargs, message", [
    ({"acoustic_image": np.zeros((12, 36, 48, 12), np.float64)}, "must be float32"),
    ({"audio_data": np.zeros((11, 1, 1024), np.int32)}, "12 frames"),
    ({"video": np.zeros((12, 4, 4, 3), np.uint8), "labels": {"classes": 1}}, "need labels"),
    ({}, "at least one modality"),
    ({"video": [b"\xff\xd8\xff"] * 12}, "video_shape"),
    ({"video": [b"x" * 48] * 12, "video_shape": (4, 4, 3)}, "length of a raw one"),
])
def test_bad_arrays_are_refused(kwargs, message):
    labels = kwargs.pop("labels", LABELS["acivw"])
    with pytest.raises(ValueError, match=message):
        schema.make_sequence_example("acivw", labels, **kwargs)


def test_a_record_without_a_requested_modality_names_the_file(tmp_path, arrays):
    path = tmp_path / "Data_001.tfrecord"
    schema.write_record_file(path, schema.make_sequence_example("acivw", LABELS["acivw"],
                                                                acoustic_image=arrays["acoustic_image"]))
    with pytest.raises(ValueError, match=f"{path}: not a readable acivw record with acoustic_image, video"):
        schema.read_record_file(path, "acivw", ("acoustic_image", "video"))
    np.testing.assert_array_equal(schema.read_record_file(path, "acivw", ("acoustic_image",))["acoustic_image"],
                                  arrays["acoustic_image"])
