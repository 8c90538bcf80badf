"""The simulator's ground truth, from its raw file (`dataloader.raw`) through the records
(`dataloader.schema`, written by the converter) to the loader's samples."""
import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

import convert_data
from conversion.convert import convert_dataset
from dataloader import raw, schema
from dataloader.config import MAX_PHRASES, LoaderConfig
from dataloader.datasets import ACIVW_SPEC, AVIA_SPEC
from dataloader.pipeline import describe_read_error, make_dataset, output_keys
from dataloader.raw import GroundTruth, Phrase, RawDataError, SoundEvent, frame_activity, frame_coverage
from tests import raw_data

DRONE, TRAIN = ACIVW_SPEC.class_names.index("drone"), ACIVW_SPEC.class_names.index("train")
OFFSET = 151 / 12_288  # whole samples


def truth_json(frames: int = 24, **changes) -> dict:
    """A scene of 2 s: a drone (the target), a train and a clapping (an AVIA class, so not
    one of ACIVW's columns), and a caption with two phrases."""
    truth = {
        "classes": 2, "frames": frames, "frames_per_second": 12, "offset_s": OFFSET,
        "sources": [{"name": "drone"}, {"name": "train"}, {"name": "clapping"}],
        "events": [
            {"class": "drone", "role": "target", "source": 0, "onset": 0.05, "offset": 0.2, "subject": None,
             "instance": "drone/quad", "first_frame": 0, "pixels": [[320, 240]] * 3,
             "position_m": [[0.0, 0.0, 5.0]] * 3},
            {"class": "drone", "role": "target", "source": 0, "onset": 1.0, "offset": 1.5, "subject": None,
             "instance": "drone/quad"},
            {"class": "train", "role": "background", "source": 1, "onset": 1.25, "offset": 2.0, "subject": None,
             "instance": "train/far"},
            {"class": "clapping", "role": "secondary", "source": 2, "onset": 0.5, "offset": 1.0, "subject": 3,
             "instance": "clapping/s03"},
        ],
        "caption": "a drone buzzes while a train passes in the distance",
        "phrases": [{"phrase": "a drone buzzes", "class": "drone", "segments": [[0.05, 0.2], [1.0, 1.5]]},
                    {"phrase": "a train passes", "class": "train", "segments": [[1.25, 2.0]]}],
    }
    truth.update(changes)
    return truth


def expected_activity(frames: int = 24) -> tuple[np.ndarray, np.ndarray]:
    """`truth_json`'s activity, by hand: 0.05 to 0.2 s covers 0.4 of frame 0 (from 0.6 of
    its twelfth of a second on), all of frame 1 and 0.4 of frame 2; 1.0 to 1.5 s frames 12
    to 17; the train 1.25 to 2.0 s frames 15 to 23."""
    drone = np.zeros(frames)
    drone[:3] = [0.4, 1.0, 0.4]
    drone[12:18] = 1.0
    train = np.zeros(frames)
    train[15:24] = 1.0
    activity = np.zeros((frames, 10), np.float32)
    activity[:, DRONE], activity[:, TRAIN] = drone, train
    return activity, np.stack([drone, train], axis=1).astype(np.float32)


def write_truth(directory: Path, truth: dict | str) -> Path:
    path = directory / raw.GROUND_TRUTH
    path.write_text(truth if isinstance(truth, str) else json.dumps(truth))
    return path


# ----------------------------------------------------------------------------- raw: reading, activity


def test_frame_activity_is_the_fraction_of_each_frame_that_sounds(tmp_path):
    truth = raw.read_ground_truth(write_truth(tmp_path, truth_json()))
    assert (truth.frames, truth.offset, truth.subject) == (24, OFFSET, -1)
    assert truth.events[0] == SoundEvent("drone", "target", 0, 0.05, 0.2, None, "drone/quad")
    assert truth.phrases[1] == Phrase("a train passes", "train", ((1.25, 2.0),))
    activity, phrase_activity = frame_activity(truth, "acivw")
    expected, expected_phrases = expected_activity()
    assert activity.dtype == phrase_activity.dtype == np.float32
    np.testing.assert_allclose(activity, expected, atol=1e-6)  # the clapping is no ACIVW class
    np.testing.assert_allclose(phrase_activity, expected_phrases, atol=1e-6)
    np.testing.assert_allclose(activity[:3, DRONE], [0.4, 1.0, 0.4], atol=1e-6)

    avia, _ = frame_activity(truth, "avia")  # the clapping is AVIA's action 0; drone and train are not AVIA's
    assert avia.shape == (24, 14)
    expected = np.zeros(24)
    expected[6:12] = 1.0  # 0.5 to 1.0 s
    np.testing.assert_allclose(avia[:, AVIA_SPEC.class_names.index("clapping")], expected, atol=1e-6)
    assert np.count_nonzero(np.delete(avia, AVIA_SPEC.class_names.index("clapping"), axis=1)) == 0


def test_overlapping_events_count_once():
    # 0 to 1.5 frames and 1.2 to 2.5 frames: their union covers frames 0 and 1, half of 2.
    np.testing.assert_allclose(frame_coverage([(0.0, 1.5 / 12), (1.2 / 12, 2.5 / 12)], 4), [1, 1, 0.5, 0])
    # One inside another, and one touching: still at most the whole frame.
    np.testing.assert_allclose(frame_coverage([(0.0, 3 / 12), (0.5 / 12, 1 / 12), (3 / 12, 3.25 / 12)], 4),
                               [1, 1, 1, 0.25])
    truth = GroundTruth(frames=3, offset=0.0, caption="", phrases=(), events=(
        SoundEvent("boat", "target", 0, 0.0, 0.125), SoundEvent("boat", "secondary", 1, 0.05, 0.25),
        SoundEvent("razor", "background", 2, 0.2, 0.25)))
    activity, phrases = frame_activity(truth, "acivw")
    np.testing.assert_allclose(activity[:, ACIVW_SPEC.class_names.index("boat")], [1, 1, 1])
    np.testing.assert_allclose(activity[:, ACIVW_SPEC.class_names.index("razor")], [0, 0, 0.6], atol=1e-6)
    assert phrases.shape == (3, 0)


def test_a_phrase_occurs_in_its_caption_verbatim_or_as_its_sentence_start():
    assert raw.phrase_in_caption("a train passes", "A drone buzzes while a train passes.")
    assert raw.phrase_in_caption("a drone buzzes", "A drone buzzes while a train passes.")
    assert not raw.phrase_in_caption("a train passes", "A drone buzzes while A train passes.")
    assert not raw.phrase_in_caption("a boat", "A drone buzzes.")


def test_no_ground_truth_to_carry(tmp_path):
    assert raw.read_ground_truth(tmp_path / raw.GROUND_TRUTH) is None  # no file (a real recording)
    old = {"classes": 2, "frames": 24, "sources": []}  # the simulator's before events
    assert raw.read_ground_truth(write_truth(tmp_path, old)) is None


def _event(**changes) -> dict:
    return {"class": "drone", "role": "target", "source": 0, "onset": 0.5, "offset": 1.0, "subject": None,
            **changes}


BAD_TRUTH = {
    "malformed JSON": ('{"events": [', r"not valid JSON \(Expecting value: line 1 column 13"),
    "not an object": ("[1, 2]", "holds a JSON list, expected an object"),
    "onset after offset": (truth_json(events=[_event(onset=1.5, offset=1.0)]),
                           r"events\[0\] runs from 1.5 to 1.0 s, expected 0 <= onset < offset <= 2"),
    "empty event": (truth_json(events=[_event(onset=1.0, offset=1.0)]), r"events\[0\] runs from 1.0 to 1.0 s"),
    "past the end": (truth_json(events=[_event(offset=2.5)]), r"events\[0\] runs from 0.5 to 2.5 s"),
    "unknown class": (truth_json(events=[_event(), _event(**{"class": "kazoo"})]),
                      r"events\[1\] class 'kazoo' is not a class of the datasets"),
    "unknown role": (truth_json(events=[_event(role="lead")]), r"events\[0\] role is 'lead', expected one of"),
    "source out of range": (truth_json(events=[_event(source=3)]),
                            r"events\[0\] source \(an index into sources\) is 3, expected an integer in 0..2"),
    "time not a number": (truth_json(events=[_event(onset="0.5")]), r"events\[0\] onset is '0.5', expected a"),
    "no offset_s": ({k: v for k, v in truth_json().items() if k != "offset_s"}, "no 'offset_s'"),
    "offset between samples": (truth_json(offset_s=0.0123), r"offset_s is 0.0123, not a whole number of samples"),
    "phrase not in caption": (truth_json(phrases=[{"phrase": "a boat", "class": "boat", "segments": []}]),
                              r"phrases\[0\] 'a boat' does not occur in the caption"),
    "segments overlap": (truth_json(phrases=[{"phrase": "a drone", "class": "drone",
                                              "segments": [[0.5, 1.0], [0.75, 1.5]]}]),
                         r"phrases\[0\] segments are not sorted and disjoint: \[0.5, 1.0\] then \[0.75, 1.5\]"),
    "pixels past the end": (truth_json(events=[_event(first_frame=23, pixels=[[1, 2], [3, 4]])]),
                            r"events\[0\] pixels run past the recording's 24 frames"),
}


@pytest.mark.parametrize("case", BAD_TRUTH)
def test_malformed_ground_truth_names_the_file_in_one_line(tmp_path, case):
    contents, message = BAD_TRUTH[case]
    path = write_truth(tmp_path, contents)
    with pytest.raises(RawDataError, match=f"^{path}: {message}") as error:
        raw.read_ground_truth(path)
    assert "\n" not in str(error.value)


# ----------------------------------------------------------------------------- schema: records


LABELS = {"classes": 2, "location": 7}
AUDIO = np.arange(12 * 1024, dtype=np.int32).reshape(12, 1, 1024)


def record_truth(seed: int = 0, phrases: int = 2) -> schema.RecordTruth:
    rng = np.random.default_rng(seed)
    return schema.RecordTruth(
        activity=rng.random((12, 10)).astype(np.float32), phrase_activity=rng.random((12, phrases)).astype(np.float32),
        offset=OFFSET, caption="a drone buzzes while a train passes in the distance",
        phrases=("a drone buzzes", "a train passes", "in the distance")[:phrases],
        phrase_segments=[(0, 0.05, 0.2), (0, 1.0, 1.5), (1, 1.25, 2.0)][:phrases + 1], subject=4)


def test_every_truth_feature_round_trips():
    truth = record_truth()
    example = schema.make_sequence_example("acivw", LABELS, audio_data=AUDIO, truth=truth)
    assert set(schema.TRUTH_KEYS) <= set(example.context.feature) | set(example.feature_lists.feature_list)
    parsed = {k: v.numpy() for k, v in schema.parse_sequence_example(example.SerializeToString(), "acivw",
                                                                         ("audio_data",), truth=True).items()}
    np.testing.assert_array_equal(parsed["truth/activity"], truth.activity)
    np.testing.assert_array_equal(parsed["truth/phrase_activity"], truth.phrase_activity)
    assert parsed["truth/offset"] == np.float32(OFFSET) and parsed["truth/offset"].dtype == np.float32
    assert parsed["truth/caption"].decode() == truth.caption
    assert [p.decode() for p in parsed["truth/phrases"]] == list(truth.phrases)
    np.testing.assert_allclose(parsed["truth/phrase_segments"], truth.phrase_segments)
    assert parsed["truth/target_subject"] == 4
    np.testing.assert_array_equal(parsed["audio_data"], AUDIO)

    # No phrases at all: empty lists, (12, 0) rows.
    empty = schema.RecordTruth(activity=np.zeros((12, 10), np.float32), phrase_activity=np.zeros((12, 0), np.float32))
    example = schema.make_sequence_example("acivw", LABELS, audio_data=AUDIO, truth=empty)
    parsed = schema.parse_sequence_example(example.SerializeToString(), "acivw", ("audio_data",), truth=True)
    assert parsed["truth/phrase_activity"].shape == (12, 0) and parsed["truth/phrases"].shape == (0,)
    assert parsed["truth/phrase_segments"].shape == (0, 3) and parsed["truth/target_subject"] == -1


def test_a_record_without_truth_is_what_it_was(tmp_path):
    plain = schema.make_sequence_example("acivw", LABELS, audio_data=AUDIO)
    original = raw_data.original_record({**LABELS, "audio_data/mics": 1, "audio_data/samples": 1024},
                                        {"audio/data": [frame.tobytes() for frame in AUDIO]})
    assert plain.SerializeToString(deterministic=True) == original
    assert schema.make_sequence_example("acivw", LABELS, audio_data=AUDIO, truth=None) == plain

    # Parsed without asking for truth, a record with it and one without give the same.
    with_truth = schema.make_sequence_example("acivw", LABELS, audio_data=AUDIO, truth=record_truth())
    parsed = [schema.parse_sequence_example(e.SerializeToString(), "acivw", ("audio_data",))
              for e in (plain, with_truth)]
    assert set(parsed[0]) == set(parsed[1]) == {"classes", "location", "audio_data/mics", "audio_data/samples",
                                                "audio_data"}
    for key in parsed[0]:
        np.testing.assert_array_equal(parsed[0][key], parsed[1][key])

    path = tmp_path / "Data_001.tfrecord"
    schema.write_record_file(path, plain)
    with pytest.raises(ValueError, match=f"{path}: not a readable acivw record with audio_data and ground truth "
                                         r"\(.*holds no ground truth"):
        schema.read_record_file(path, "acivw", ("audio_data",), truth=True)


@pytest.mark.parametrize("changes, message", [
    ({"activity": np.zeros((11, 10), np.float32)}, "12 frames"),
    ({"phrase_activity": np.zeros((12, 3), np.float32)}, "3 columns for 2 phrases"),
    ({"phrase_segments": [(2, 0.0, 1.0)]}, "outside 0..1"),
    ({"activity": np.full((12, 10), np.nan, np.float32)}, "non-finite"),
])
def test_bad_truth_is_refused(changes, message):
    with pytest.raises(ValueError, match=message):
        schema.make_sequence_example("acivw", LABELS, audio_data=AUDIO,
                                     truth=dataclasses.replace(record_truth(), **changes))


# ----------------------------------------------------------------------------- conversion


@pytest.fixture(scope="module")
def acivw_raw(tmp_path_factory):
    """One 2-s ACIVW recording (class 2, video 1) with `truth_json` as its ground truth."""
    root = tmp_path_factory.mktemp("truth_raw")
    raw_data.write_acivw(root, {(2, 1): 2.0})
    raw_data.write_video_time(root, 2, 1, 2)
    write_truth(root / ACIVW_SPEC.relative_dir((2, 1)), truth_json())
    return root


def test_converted_records_carry_the_ground_truth(acivw_raw, tmp_path):
    summary = convert_dataset(acivw_raw, acivw_raw, tmp_path, modalities=("audio_data",), progress=False)
    assert (summary.records_written, summary.records_with_truth) == (2, 2)
    assert "ground truth: carried by 2 of the records written" in summary.report()
    activity, phrase_activity = expected_activity()
    for second in (0, 1):
        parsed = schema.read_record_file(tmp_path / f"class_2/data_001/Data_{second + 1:03d}.tfrecord", "acivw",
                                         ("audio_data",), truth=True)
        rows = slice(12 * second, 12 * second + 12)
        np.testing.assert_allclose(parsed["truth/activity"], activity[rows], atol=1e-6)
        np.testing.assert_allclose(parsed["truth/phrase_activity"], phrase_activity[rows], atol=1e-6)
        assert parsed["truth/offset"] == np.float32(OFFSET)
        assert round(float(parsed["truth/offset"]) * 12_288) == 151
        assert parsed["truth/caption"].decode() == truth_json()["caption"]
        assert [p.decode() for p in parsed["truth/phrases"]] == ["a drone buzzes", "a train passes"]
        np.testing.assert_allclose(parsed["truth/phrase_segments"],
                                   [[0, 0.05, 0.2], [0, 1.0, 1.5], [1, 1.25, 2.0]], atol=1e-7)
        assert parsed["truth/target_subject"] == -1

    # The loader: a window of both records serves the activity of both, in order.
    config = LoaderConfig("acivw", ("audio",), sample_length=2,
                          truth=("activity", "phrase_activity", "offset", "caption", "target_subject"))
    records = sorted(str(p) for p in tmp_path.rglob("*.tfrecord"))
    (batch,) = make_dataset(records, config, batch_size=1)
    np.testing.assert_allclose(batch["activity"].numpy()[0], activity, atol=1e-6)
    np.testing.assert_allclose(batch["phrase_activity"].numpy()[0, :, :2], phrase_activity, atol=1e-6)
    assert batch["offset"].numpy()[0] == np.float32(OFFSET)
    assert batch["caption"].numpy()[0].decode() == truth_json()["caption"]


def test_the_ground_truth_is_left_out_on_request(acivw_raw, tmp_path):
    """--no_ground_truth: the records of a recording without ground truth, to the byte; the
    manifest says so, and a resume that asks otherwise is refused."""
    argv = [str(acivw_raw), str(tmp_path / "without"), "--modalities", "1", "--quiet"]
    assert convert_data.main([*argv, "--no_ground_truth"]) == 0
    bare = tmp_path / "bare"
    shutil.copytree(acivw_raw, bare)
    (bare / ACIVW_SPEC.relative_dir((2, 1)) / raw.GROUND_TRUTH).unlink()
    convert_dataset(bare, bare, tmp_path / "none", modalities=("audio_data",), progress=False)
    for second in (1, 2):
        name = f"class_2/data_001/Data_{second:03d}.tfrecord"
        assert (tmp_path / "without" / name).read_bytes() == (tmp_path / "none" / name).read_bytes()
    assert json.loads((tmp_path / "without/conversion.json").read_text()) == {
        "flavour": "acivw", "modalities": ["audio_data"], "ground_truth": False}
    assert "ground_truth" not in json.loads((tmp_path / "none/conversion.json").read_text())
    with pytest.raises(ValueError, match="'ground_truth': False}, this run asks for .*'audio_data'\\]}"):
        convert_dataset(acivw_raw, acivw_raw, tmp_path / "without", modalities=("audio_data",), progress=False)
    with pytest.raises(ValueError, match="this run asks for .*'ground_truth': False"):
        convert_dataset(acivw_raw, acivw_raw, tmp_path / "none", modalities=("audio_data",), ground_truth=False,
                        progress=False)


def test_avia_records_carry_the_truth_of_the_frames_they_wrap_around_to(tmp_path):
    numbers = (1, 3, 0)
    raw_data.write_avia(tmp_path / "mat", tmp_path / "raw", {numbers: 20})
    truth = truth_json(frames=20, events=[_event(**{"class": "clapping", "onset": 0.0, "offset": 0.5,
                                                    "subject": 3})], phrases=[])
    write_truth(tmp_path / "raw" / AVIA_SPEC.relative_dir(numbers), truth)
    convert_dataset(tmp_path / "mat", tmp_path / "raw", tmp_path / "out", modalities=("audio_data",), progress=False)
    clapping = np.zeros(20)
    clapping[:6] = 1.0
    for second in (0, 1, 29):
        parsed = schema.read_record_file(tmp_path / "out" / AVIA_SPEC.converted_dir(numbers) /
                                         f"Data_{second + 1:03d}.tfrecord", "avia", ("audio_data",), truth=True)
        frames = raw_data.avia_frame_numbers(second, 20)
        np.testing.assert_array_equal(parsed["truth/activity"][:, 0], clapping[frames])
        assert parsed["truth/phrase_activity"].shape == (12, 0)
        assert parsed["truth/target_subject"] == 3


BAD_CONVERSIONS = {
    "malformed": ("{'events': []}", r"not valid JSON \(Expecting property name enclosed in double quotes"),
    "onset after offset": (truth_json(events=[_event(onset=1.5, offset=1.0)]), r"events\[0\] runs from 1.5 to 1.0"),
    "another recording's": (truth_json(frames=30), "describes 30 frames, the recording holds 24"),
}


@pytest.mark.parametrize("case", BAD_CONVERSIONS)
def test_the_converter_names_bad_ground_truth_and_writes_none_of_its_recording(acivw_raw, tmp_path, case, capsys):
    root = tmp_path / "raw"
    shutil.copytree(acivw_raw, root)
    raw_data.write_acivw(root, {(3, 1): 1.0})  # a good recording beside it
    raw_data.write_video_time(root, 3, 1, 1)
    contents, message = BAD_CONVERSIONS[case]
    path = write_truth(root / ACIVW_SPEC.relative_dir((2, 1)), contents)
    with pytest.raises(RawDataError, match=f"^{path}: {message}"):
        convert_dataset(root, root, tmp_path / "out", modalities=("audio_data",), progress=False)
    assert not list((tmp_path / "out").glob("class_2/data_001/*"))  # nothing of it, not even a partial file

    with pytest.raises(SystemExit) as stop:
        convert_data.main([str(root), str(tmp_path / "cli"), "--modalities", "1", "--quiet"])
    error = capsys.readouterr().err
    assert stop.value.code == 1 and error.count("\n") == 1 and f"error: {path}: " in error

    summary = convert_dataset(root, root, tmp_path / "skipping", modalities=("audio_data",), skip_bad=True,
                              progress=False)
    assert [skipped for skipped, _ in summary.skipped] == [str(path)] and summary.records_written == 1
    assert [p.relative_to(tmp_path) for p in (tmp_path / "skipping").rglob("*.tfrecord")] == [
        Path("skipping/class_3/data_001/Data_001.tfrecord")]
    # Without ground truth, the file is not read.
    assert convert_dataset(root, root, tmp_path / "without", modalities=("audio_data",), ground_truth=False,
                           progress=False).records_written == 3


# ----------------------------------------------------------------------------- loader


def write_records(root: Path, relative: str, seconds, truths: dict | None = None) -> list[str]:
    """ACIVW records of class 2, video 1: second s (from 1) with `truths[s]`, if any."""
    paths = []
    for second in seconds:
        path = root / relative / f"Data_{second:03d}.tfrecord"
        path.parent.mkdir(parents=True, exist_ok=True)
        images = np.full((12, 36, 48, 12), second, np.float32)
        truth = (truths or {}).get(second)
        schema.write_record_file(path, schema.make_sequence_example("acivw", LABELS, acoustic_image=images,
                                                                    truth=truth))
        paths.append(str(path))
    return paths


def samples(dataset) -> list[dict]:
    return [{key: value[i].numpy() for key, value in batch.items()}
            for batch in dataset for i in range(batch["first_second"].shape[0])]


def test_the_loader_serves_the_truth_of_its_window(tmp_path):
    truths = {second: record_truth(seed=second) for second in (1, 2, 3, 4)}
    paths = write_records(tmp_path, "class_2/data_007", (1, 2, 3, 4), truths)
    config = LoaderConfig("acivw", ("acoustic_image",), sample_length=2,
                          truth=("activity", "phrase_activity", "offset", "caption", "target_subject"))
    assert output_keys(config) == ("acoustic_image", "classes", "video_index", "activity", "phrase_activity",
                                   "phrases", "offset", "caption", "target_subject", "recording", "first_second")
    dataset = make_dataset(paths, config, batch_size=2)
    assert dataset.element_spec["activity"].shape == (None, 24, 10)
    assert dataset.element_spec["phrase_activity"].shape == (None, 24, MAX_PHRASES)
    assert dataset.element_spec["phrases"].shape == (None, MAX_PHRASES)
    assert dataset.element_spec["offset"].dtype == tf.float32
    assert dataset.element_spec["target_subject"].dtype == tf.int32
    got = samples(dataset)
    assert [int(x["first_second"]) for x in got] == [1, 3]
    for sample in got:
        first, second = truths[sample["first_second"]], truths[sample["first_second"] + 1]
        np.testing.assert_array_equal(sample["activity"], np.concatenate([first.activity, second.activity]))
        phrase_activity = np.concatenate([first.phrase_activity, second.phrase_activity])
        np.testing.assert_array_equal(sample["phrase_activity"], np.pad(phrase_activity, [(0, 0), (0, 6)]))
        assert [p.decode() for p in sample["phrases"]] == ["a drone buzzes", "a train passes"] + [""] * 6
        assert sample["offset"] == np.float32(OFFSET)
        assert sample["caption"].decode() == first.caption and sample["target_subject"] == 4

    # Mirrored samples keep their activity: it says when, not where.
    training = LoaderConfig("acivw", ("acoustic_image",), sample_length=2, training=True, mirror=True,
                            number_of_crops=6, truth=("activity",))
    for sample in samples(make_dataset(paths, training, batch_size=3)):
        start = int(sample["first_second"])
        np.testing.assert_array_equal(sample["activity"], np.concatenate([truths[start].activity,
                                                                          truths[start + 1].activity]))


def _error_line(dataset) -> str:
    with pytest.raises(tf.errors.InvalidArgumentError) as error:
        samples(dataset)
    return describe_read_error(error.value)


def test_records_without_the_truth_asked_for_are_named(tmp_path):
    paths = write_records(tmp_path, "class_2/data_007", (1, 2, 3, 4), {1: record_truth(), 2: record_truth()})
    for truth in (("activity",), ("caption",), ("phrase_activity", "offset")):
        config = LoaderConfig("acivw", ("acoustic_image",), sample_length=2, truth=truth)
        assert samples(make_dataset(paths[:2], config, batch_size=1))  # records 1 and 2 hold it
        line = _error_line(make_dataset(paths, config, batch_size=1))
        assert line == (f"{paths[2]}, {paths[3]}: holds no ground truth; convert the recordings of the simulator "
                        "(their ground_truth.json, with events) with convert_data.py, without --no_ground_truth")
    # Not asked for, it is not looked for.
    plain = LoaderConfig("acivw", ("acoustic_image",), sample_length=2)
    assert len(samples(make_dataset(paths, plain, batch_size=1))) == 2


def test_truth_the_loader_cannot_serve_is_named(tmp_path):
    many = write_records(tmp_path, "class_2/data_008", (1,), {1: schema.RecordTruth(
        activity=np.zeros((12, 10), np.float32), phrase_activity=np.zeros((12, 9), np.float32),
        phrases=tuple(f"phrase {i}" for i in range(9)), caption=" ".join(f"phrase {i}" for i in range(9)))})
    config = LoaderConfig("acivw", ("acoustic_image",), truth=("phrase_activity",))
    assert _error_line(make_dataset(many, config, batch_size=1)) == (
        f"{many[0]}: holds more phrases than the loader serves ({MAX_PHRASES}, config.MAX_PHRASES)")
    avia_columns = write_records(tmp_path, "class_2/data_009", (1,), {1: schema.RecordTruth(
        activity=np.zeros((12, 14), np.float32), phrase_activity=np.zeros((12, 0), np.float32))})
    assert _error_line(make_dataset(avia_columns, LoaderConfig("acivw", ("acoustic_image",), truth=("activity",)),
                                    batch_size=1)) == (
        f"{avia_columns[0]}: truth/activity frames do not hold one float32 for each of the 10 acivw classes")


def test_unknown_truth_is_refused():
    with pytest.raises(ValueError, match="truth must be distinct names among"):
        LoaderConfig("acivw", ("acoustic_image",), truth=("subject",))
    with pytest.raises(ValueError, match="truth must be distinct names among"):
        LoaderConfig("acivw", ("acoustic_image",), truth=("offset", "offset"))
