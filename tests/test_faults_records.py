"""A bad record file is found and named. Over a list holding a truncated, empty, random,
GZIP-of-garbage, two-record or missing file, a training pipeline, an evaluation pipeline and
the statistics fail with an error whose line names exactly that file (not the other files of
its window) and what is wrong with it; `python -m dataloader.verify` names every bad file of
a list in one pass, whatever its number of workers."""
import gzip
import os
import re

import keras
import numpy as np
import pytest
import tensorflow as tf

from dataloader import schema, stats, verify
from dataloader.config import LoaderConfig
from dataloader.pipeline import describe_read_error, make_dataset

ACIVW_LABELS = {"classes": 1, "location": 3}
AVIA_LABELS = {"action": 2, "location": 0, "subject": 4}
SECONDS = 4  # of the recording the loader tests read; the third is damaged
TRAINING = LoaderConfig("acivw", ("acoustic_image",), sample_length=SECONDS, training=True)  # one window: all four
EVALUATION = LoaderConfig("acivw", ("acoustic_image", "audio"), sample_length=2)  # windows 1-2 and 3-4


def example(second: int, flavour: str = "acivw", **changes) -> tf.train.SequenceExample:
    arrays = {"acoustic_image": np.full((12, 36, 48, 12), second, np.float32),
              "audio_data": np.full((12, 1, 1024), second, np.int32),
              "video": np.full((12, 6, 8, 3), 10 * second, np.uint8)}
    labels = changes.pop("labels", ACIVW_LABELS if flavour == "acivw" else AVIA_LABELS)
    return schema.make_sequence_example(flavour, labels, **{**arrays, **changes})


def write(path: str, *examples: tf.train.SequenceExample) -> str:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with tf.io.TFRecordWriter(path, options=schema.COMPRESSION) as writer:
        for record in examples:
            writer.write(record.SerializeToString())
    return path


def rewrite(path: str, change) -> None:
    with open(path, "rb") as file:
        data = file.read()
    with open(path, "wb") as file:
        file.write(change(data))


def garbage(size: int) -> bytes:
    return np.random.default_rng(7).bytes(size)


# fault -> (what damages a good record file, the problem the loader names, as a regex)
FAULTS = {
    "truncated": (lambda path: rewrite(path, lambda data: data[:len(data) // 2]),
                  r"truncated GZIP record file \(its stream breaks off after \d+ bytes of data\)"),
    "empty": (lambda path: rewrite(path, lambda data: b""), re.escape("empty file (0 bytes)")),
    "random_bytes": (lambda path: rewrite(path, lambda data: garbage(len(data))), "not a GZIP file"),
    "gzip_of_garbage": (lambda path: rewrite(path, lambda data: gzip.compress(garbage(4096))),
                        "not a TFRecord file, or a record fails its checksum"),
    "two_records": (lambda path: write(path, example(3), example(3)), "holds 2 records, expected 1"),
    "missing": (os.remove, "no such file"),
}


def recording(root) -> tuple[list[str], str]:
    """Seconds 1..4 of one ACIVW recording, and a list of them."""
    paths = [write(str(root / f"class_1/data_003/Data_{s:03d}.tfrecord"), example(s)) for s in range(1, SECONDS + 1)]
    list_file = root / "list.txt"
    list_file.write_text("".join(f"{path}\n" for path in paths))
    return paths, str(list_file)


READERS = {
    "training": lambda list_file: list(make_dataset(list_file, TRAINING, batch_size=1)),
    "evaluation": lambda list_file: list(make_dataset(list_file, EVALUATION, batch_size=1)),
    "statistics": lambda list_file: stats.compute_statistics(list_file, stats.acoustic_image_config(list_file),
                                                             input_name="acoustic_image"),
}


def assert_names_only(line: str, bad: str, paths: list[str]) -> None:
    assert bad in line, line
    assert not [path for path in paths if path != bad and path in line], line


@pytest.mark.parametrize("fault", sorted(FAULTS))
@pytest.mark.parametrize("reader", ["training", "evaluation"])
def test_a_pipeline_over_a_bad_file_fails_naming_it_and_its_problem(tmp_path, reader, fault):
    paths, list_file = recording(tmp_path)
    damage, problem = FAULTS[fault]
    bad = paths[2]
    damage(bad)
    with pytest.raises(tf.errors.InvalidArgumentError) as raised:
        READERS[reader](list_file)
    assert_names_only(raised.value.message.splitlines()[0], bad, paths)
    assert re.fullmatch(re.escape(f"{bad}: ") + problem, describe_read_error(raised.value))


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_statistics_over_a_bad_file_fail_naming_it(tmp_path, fault):
    paths, list_file = recording(tmp_path)
    damage, problem = FAULTS[fault]
    bad = paths[2]
    damage(bad)
    # A missing file may already stop the statistics' fingerprint of the list, as an OSError.
    with pytest.raises((tf.errors.InvalidArgumentError, OSError)) as raised:
        READERS["statistics"](list_file)
    if isinstance(raised.value, tf.errors.OpError):
        assert re.fullmatch(re.escape(f"{bad}: ") + problem, describe_read_error(raised.value))
    else:
        assert fault == "missing"
    assert_names_only(str(raised.value).splitlines()[0], bad, paths)


def test_the_line_is_found_in_the_error_keras_raises(tmp_path):
    """Keras iterates inside a tf.function, whose error puts lines of its own first."""
    paths, list_file = recording(tmp_path)
    os.remove(paths[3])
    batches = make_dataset(list_file, EVALUATION, batch_size=1).map(lambda b: (b["acoustic_image"], b["classes"]))
    images = keras.Input((24, 36, 48, 12))
    model = keras.Model(images, keras.layers.Dense(10)(keras.layers.GlobalAveragePooling3D()(images)))
    model.compile("sgd", "mse")
    with pytest.raises(tf.errors.InvalidArgumentError) as raised:
        model.fit(batches, shuffle=False, verbose=0)
    assert raised.value.message.startswith("Graph execution error")
    assert describe_read_error(raised.value) == f"{paths[3]}: no such file"


def test_other_errors_are_described_by_their_own_first_line():
    with pytest.raises(tf.errors.InvalidArgumentError) as raised:
        next(iter(tf.data.Dataset.from_tensors("x").map(lambda s: tf.strings.to_number(s))))
    assert describe_read_error(raised.value) == "StringToNumberOp could not correctly convert string: x"


def test_good_files_read_as_before(tmp_path):
    paths, list_file = recording(tmp_path)
    batches = list(make_dataset(list_file, EVALUATION, batch_size=2))
    assert len(batches) == 1
    np.testing.assert_array_equal(batches[0]["acoustic_image"][:, ::12, 0, 0, 0], [[1, 2], [3, 4]])


@pytest.fixture
def acivw_list(tmp_path):
    """A list of 13 seconds of one recording, 3 good, and the problems of the 10 others."""
    directory = tmp_path / "class_1/data_003"

    def path(second: int) -> str:
        return str(directory / f"Data_{second:03d}.tfrecord")

    expected = {}
    for second in (1, 2, 13):
        write(path(second), example(second))
    for second, fault in zip(range(3, 9), sorted(FAULTS)):
        damage, problem = FAULTS[fault]
        damage(write(path(second), example(second)))
        expected[path(second)] = problem
    images = np.full((12, 36, 48, 12), 9, np.float32)
    images[5, 1, 2, 3] = np.nan
    write(path(9), example(9, acoustic_image=images))
    expected[path(9)] = re.escape("acoustic images hold 1 NaN or infinite values (the first in frame 5)")
    # A file that lost only its GZIP trailer: the loader reads its whole record; the checker names it.
    rewrite(write(path(10), example(10)), lambda data: data[:-4])
    expected[path(10)] = FAULTS["truncated"][1]
    eleven = example(11)
    del eleven.feature_lists.feature_list["audio/image"].feature[-1]
    write(path(11), eleven)
    expected[path(11)] = re.escape("holds 11 frames of audio/image, expected 12")
    write(path(12), example(12, labels={"classes": 1, "location": 99}))
    expected[path(12)] = re.escape("label location 99 is outside 0..60")
    list_file = tmp_path / "list.txt"
    list_file.write_text("".join(f"{path(second)}\n" for second in range(1, 14)))
    return str(list_file), expected


def run_verify(capsys, *args: str) -> tuple[int, str, str]:
    try:
        code = verify.main(list(args))
    except SystemExit as stop:
        code = stop.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_verify_names_every_bad_file_with_its_problem_whatever_the_workers(acivw_list, capsys):
    list_file, expected = acivw_list
    outputs = []
    for workers in ("1", "2"):
        code, out, _ = run_verify(capsys, list_file, "--workers", workers, "--quiet")
        assert code == 1
        summary, *lines = out.splitlines()
        assert re.fullmatch(re.escape(f"{list_file}: 13 files, 3 good records (3 s), 10 bad files ") +
                            r"\(checked in [\d.]+ s\)", summary)
        named = dict(line.split(": ", 1) for line in lines)
        assert list(named) == sorted(expected)  # list order, which is the seconds' here
        for path, problem in named.items():
            assert re.fullmatch(expected[path], problem), (path, problem)
        outputs.append(lines)
    assert outputs[0] == outputs[1]
    paths = sorted(expected)
    assert verify.verify_files(paths, "acivw", workers=1) == verify.verify_files(paths, "acivw", workers=2)


def test_verify_reads_avia_records_with_jpeg_or_raw_video(tmp_path, capsys):
    directory = tmp_path / "Location_01/Subject_05/Action_003"
    frames = np.stack([np.full((24, 32, 3), 20 * k, np.uint8) for k in range(12)])
    jpegs = [tf.io.encode_jpeg(frame).numpy() for frame in frames]
    paths = [write(str(directory / "Data_001.tfrecord"), example(1, "avia", video=jpegs, video_shape=(24, 32, 3))),
             write(str(directory / "Data_002.tfrecord"), example(2, "avia", video=frames))]
    broken = jpegs[:7] + [b"\xff\xd8\xff" + garbage(300)] + jpegs[8:]
    paths.append(write(str(directory / "Data_003.tfrecord"), example(3, "avia", video=broken,
                                                                     video_shape=(24, 32, 3))))
    good_list, full_list = tmp_path / "good.txt", tmp_path / "all.txt"
    good_list.write_text("".join(f"{path}\n" for path in paths[:2]))
    full_list.write_text("".join(f"{path}\n" for path in paths))
    code, out, err = run_verify(capsys, str(good_list))
    assert code == 0 and "verifying" in err  # the progress bar, on stderr
    assert out.startswith(f"{good_list}: 2 files, 2 good records (2 s), 0 bad files")
    code, out, _ = run_verify(capsys, str(full_list), "--quiet", "--workers", "3")
    assert code == 1
    assert out.splitlines()[1].startswith(f"{paths[2]}: video frames do not decode as raw pixels or JPEG (")


@pytest.mark.parametrize("args, message", [
    (["missing_list.txt"], "missing_list.txt: cannot read the list (No such file or directory)"),
    (["LIST", "--workers", "0"], "--workers 0: must be at least 1"),
    (["LIST", "--workers", "two"], "argument --workers: invalid int value: 'two'"),
    (["LIST", "--fast"], "unrecognized arguments: --fast"),
    (["RELATIVE"], "holds relative paths"),
])
def test_verify_refuses_a_bad_flag_or_list_in_one_line(tmp_path, capsys, args, message):
    paths, list_file = recording(tmp_path)
    relative = tmp_path / "relative.txt"
    relative.write_text("class_1/data_003/Data_001.tfrecord\n")
    args = [{"LIST": list_file, "RELATIVE": str(relative)}.get(arg, arg) for arg in args]
    code, out, err = run_verify(capsys, *args)
    assert code == 2 and out == ""
    assert len(err.splitlines()) == 1 and message in err
