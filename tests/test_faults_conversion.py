"""Conversion faults: every kind of raw file in every broken form, outputs that cannot be
written, a converter killed mid-run. Bad input stops the run with one line naming the file
and the problem (exit code 1), or with --skip_bad is skipped, counted and named; an output
problem stops the run with one line naming the output; the output tree never holds anything
but complete records, and a re-run completes it."""
import contextlib
import errno
import io
import os
import pickle
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import scipy.io

import convert_data
from conversion import files
from dataloader import raw, schema
from dataloader.datasets import ACIVW_SPEC, AVIA_SPEC
from tests import raw_data

REPO = Path(__file__).resolve().parents[1]
ACIVW_SECONDS = {(0, 1): 1.0, (3, 2): 1.0}
AVIA_FRAMES = {(1, 2, 0): 12, (2, 1, 5): 12}
BAD = {"acivw": (0, 1), "avia": (1, 2, 0)}  # the recording whose file is broken
GOOD_OUTPUT = {"acivw": Path("class_3/data_002"), "avia": Path("Location_02/Subject_01/Action_006")}
KINDS = {  # kind: flavour, directory, file namer, modality number
    "mat": ("acivw", "MFCC_Image", raw.mat_name, 0),
    "dc": ("acivw", "audio", raw.dc_name, 1),
    "bmp": ("acivw", "video", raw.bmp_name, 2),
    "avia mat": ("avia", "MFCC_Image", raw.mat_name, 0),
    "npy": ("avia", "audio", raw.npy_name, 1),
    "jpeg": ("avia", "video", raw.jpeg_name, 2),
}
BROKEN = 5  # the number of the broken file


@pytest.fixture(scope="module")
def datasets(tmp_path_factory):
    root = tmp_path_factory.mktemp("faults_raw")
    raw_data.write_acivw(root / "acivw", ACIVW_SECONDS)
    for (c, v), seconds in ACIVW_SECONDS.items():
        raw_data.write_video_time(root / "acivw", c, v, int(seconds))
    raw_data.write_avia(root / "avia" / "mat", root / "avia" / "raw", AVIA_FRAMES)
    return root


def _linked_copy(datasets: Path, flavour: str, target: Path) -> tuple[Path, Path]:
    """The flavour's dataset as a tree of links to the shared files (a broken file is made a
    copy of its own first, see `_own`); returns its .mat root and raw root."""
    shutil.copytree(datasets / flavour, target, copy_function=os.symlink)
    return (target, target) if flavour == "acivw" else (target / "mat", target / "raw")


def _own(path: Path) -> Path:
    data = path.read_bytes()
    path.unlink()
    path.write_bytes(data)
    return path


def _broken_file(kind: str, mat_root: Path, raw_root: Path) -> Path:
    flavour, directory, namer, _ = KINDS[kind]
    if flavour == "acivw":
        recording = mat_root / ACIVW_SPEC.relative_dir(BAD[flavour])
    else:
        recording = (mat_root if directory == "MFCC_Image" else raw_root) / AVIA_SPEC.relative_dir(BAD[flavour])
    return _own(recording / directory / namer(BROKEN))


def _random_bytes(size: int) -> bytes:
    return np.random.default_rng(size).integers(0, 256, size, dtype=np.uint8).tobytes()


def _mat(**variables) -> bytes:
    buffer = io.BytesIO()
    scipy.io.savemat(buffer, variables)
    return buffer.getvalue()


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def _image(shape: tuple[int, int], fmt: str) -> bytes:
    return raw.image_bytes(np.full((*shape, 3), 90, np.uint8), fmt)


def _image_with(values: list[float], dtype=np.float32) -> np.ndarray:
    image = np.ones((36, 48, 12), dtype)
    image.flat[:len(values)] = values
    return image


def _write(data: bytes):
    return lambda path: path.write_bytes(data)


def _transform(change):
    return lambda path: path.write_bytes(change(path.read_bytes()))


def _into_directory(path: Path) -> None:
    path.unlink()
    path.mkdir()


def _jpeg_with_random_body(data: bytes) -> bytes:
    """The headers up to the start of scan kept, its entropy-coded data replaced, the
    end-of-image marker kept."""
    scan = data.index(b"\xff\xda")
    body = scan + 2 + int.from_bytes(data[scan + 2:scan + 4], "big")
    return data[:body] + _random_bytes(len(data) - body - 2) + data[-2:]


COMMON = {  # form: damage, the problem expected for each kind
    "missing": (lambda path: path.rename(path.with_name(path.name.replace("5", "99"))),
                dict.fromkeys(KINDS, "missing file$")),
    "empty": (_write(b""), dict.fromkeys(KINDS, "empty file$")),
    "a directory": (_into_directory, dict.fromkeys(KINDS, "a directory, not a file$")),
    "truncated": (_transform(lambda data: data[:100]), {
        "mat": r"not a readable \.mat file", "avia mat": r"not a readable \.mat file",
        "dc": r"100 bytes, expected 524288 \(128 mics x 1024 int32 samples\)$",
        "bmp": r"not a readable image \(image file is truncated",
        "npy": r"not a readable \.npy file \(EOF: reading array header",
        "jpeg": r"truncated JPEG file \(100 bytes, no end-of-image marker\)$",
    }),
    "random bytes": (_write(_random_bytes(1000)), {
        "mat": r"not a readable \.mat file", "avia mat": r"not a readable \.mat file",
        "dc": r"1000 bytes, expected 524288", "bmp": r"not an image file \(unknown format\)$",
        "npy": r"not a readable \.npy file \(the magic string is not correct",
        "jpeg": r"not a JPEG file \(no start-of-image marker\)$",
    }),
}
SPECIFIC = {  # (kind, form): damage, the problem expected, more flags
    ("mat", "corrupt body"): (_transform(lambda data: data[:128] + _random_bytes(len(data) - 128)),
                              r"not a readable \.mat file", ()),
    ("mat", "11 coefficients"): (_write(_mat(MFCC=np.ones((36, 48, 11), np.float32))),
                                 r"MFCC has shape \(36, 48, 11\), expected \(36, 48, 12\)$", ()),
    ("mat", "2 axes"): (_write(_mat(MFCC=np.ones((36, 48), np.float32))),
                        r"MFCC has shape \(36, 48\), expected 3 axes", ()),
    ("mat", "int32"): (_write(_mat(MFCC=np.ones((36, 48, 12), np.int32))), "MFCC is int32, expected float32$", ()),
    ("mat", "complex"): (_write(_mat(MFCC=np.ones((36, 48, 12), np.complex64))),
                         "MFCC is complex64, expected float32$", ()),
    ("mat", "cell array"): (_write(_mat(MFCC=np.array([[1.0, "a"]], dtype=object))),
                            "MFCC is object, expected float32$", ()),
    ("mat", "float64 not float32"): (_write(_mat(MFCC=_image_with([0.1], np.float64))),
                                     "MFCC is float64, and 1 of its values are not exactly float32$", ()),
    ("mat", "NaN"): (_write(_mat(MFCC=_image_with([np.nan] * 3))), r"MFCC has 3 non-finite values \(NaN or inf\)$",
                     ()),
    ("mat", "no MFCC"): (_write(_mat(Beam=np.ones((36, 48, 12), np.float32))),
                         r"no 'MFCC' variable \(found \['Beam'\]\)$", ()),
    ("avia mat", "inf"): (_write(_mat(MFCC=_image_with([np.inf, -np.inf]))),
                          r"MFCC has 2 non-finite values \(NaN or inf\)$", ()),
    ("avia mat", "beyond float32"): (_write(_mat(MFCC=_image_with([1e300], np.float64))),
                                     r"MFCC has 1 non-finite values \(NaN or inf\) once cast to float32", ()),
    ("avia mat", "larger"): (_write(_mat(MFCC=np.ones((36, 48, 13), np.float32))),
                             r"MFCC has shape \(36, 48, 13\), larger than \(36, 48, 12\)", ()),
    ("avia mat", "smaller, strict"): (_write(_mat(MFCC=np.ones((30, 40, 10), np.float32))),
                                      r"MFCC has shape \(30, 40, 10\), expected \(36, 48, 12\) "
                                      r"\(--strict_shapes: not zero padded\)$", ("--strict_shapes",)),
    ("avia mat", "complex"): (_write(_mat(MFCC=np.ones((36, 48, 12), np.complex128))),
                              "MFCC is complex128, expected float32$", ()),
    ("dc", "too long"): (_transform(lambda data: data + b"\0" * 4), "524292 bytes, expected 524288", ()),
    ("bmp", "corrupt body"): (_transform(lambda data: data[:len(data) // 2]),
                              r"not a readable image \(image file is truncated", ()),
    ("bmp", "wrong shape"): (_write(_image((100, 100), "BMP")),
                             "a frame of 100 x 100 resizes to 224 x 224, ACIVW records hold 224 x 298", ()),
    ("jpeg", "corrupt body"): (_transform(_jpeg_with_random_body), r"not a readable image \(broken data stream", ()),
    ("jpeg", "wrong shape"): (_write(_image((240, 320), "JPEG")), "frame is 240 x 320, AVIA frames are 480 x 640$",
                              ()),
    ("jpeg", "a PNG"): (_write(_image((480, 640), "PNG")), r"not a JPEG file \(no start-of-image marker\)$", ()),
    ("npy", "corrupt body"): (_transform(lambda data: data[:128 + 2048]),
                              r"2048 bytes of data after the header, which says 4096 \(int32 \(1, 1024\)\)$", ()),
    ("npy", "bytes after the array"): (_transform(lambda data: data + b"\0\0"),
                                       r"4098 bytes of data after the header, which says 4096", ()),
    ("npy", "float32"): (_write(_npy(np.full((1, 1024), np.nan, np.float32))),
                         r"audio is float32 \(1, 1024\), expected int32 \(mics, 1024\)", ()),
    ("npy", "int64"): (_write(_npy(np.ones((1, 1024), np.int64))), r"audio is int64 \(1, 1024\), expected int32", ()),
    ("npy", "complex"): (_write(_npy(np.ones((1, 1024), np.complex64))), r"audio is complex64 \(1, 1024\)", ()),
    ("npy", "objects"): (_write(_npy(np.array([1, "a"], dtype=object))), r"audio is object \(2,\)", ()),
    ("npy", "a pickle"): (_write(pickle.dumps(list(range(1024)))),
                          r"not a readable \.npy file \(the magic string is not correct", ()),
    ("npy", "one axis"): (_write(_npy(np.ones(1024, np.int32))), r"audio is int32 \(1024,\), expected int32", ()),
    ("npy", "512 samples"): (_write(_npy(np.ones((1, 512), np.int32))), r"audio is int32 \(1, 512\)", ()),
    ("npy", "no microphone"): (_write(_npy(np.ones((0, 1024), np.int32))),
                               r"audio is int32 \(0, 1024\), expected int32 \(mics, 1024\) with mics >= 1$", ()),
}
CASES = {(kind, form): (damage, problems[kind], ()) for form, (damage, problems) in COMMON.items() for kind in KINDS}
CASES.update(SPECIFIC)


def _argv(flavour: str, mat_root: Path, raw_root: Path, out: Path, *flags: str) -> list[str]:
    roots = [mat_root] if flavour == "acivw" else [mat_root, raw_root]
    return [*map(str, roots), str(out), "--quiet", *flags]


def _check_complete(out: Path, flavour: str, modalities: tuple[str, ...]) -> list[Path]:
    """Asserts the tree holds no temporary file and only readable records of 12 frames;
    returns the records."""
    assert not list(out.rglob("*" + files.PARTIAL_SUFFIX))
    records = sorted(out.rglob("*.tfrecord"))
    for record in records:
        parsed = schema.read_record_file(record, flavour, modalities, decode_video=False)
        assert all(len(parsed[modality]) == 12 for modality in modalities)
    return records


def _error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    return err


@pytest.mark.parametrize("case", CASES, ids=" - ".join)
def test_a_broken_file_stops_the_run_in_one_line_or_is_skipped(datasets, tmp_path, capsys, case):
    kind, _ = case
    damage, problem, flags = CASES[case]
    flavour, _, _, number = KINDS[kind]
    modalities = (schema.MODALITIES[number],)
    mat_root, raw_root = _linked_copy(datasets, flavour, tmp_path / "raw")
    path = _broken_file(kind, mat_root, raw_root)
    damage(path)
    flags = ("--modalities", str(number), *flags)

    with pytest.raises(SystemExit) as stop:
        convert_data.main(_argv(flavour, mat_root, raw_root, tmp_path / "out", *flags))
    assert stop.value.code == 1
    assert re.match(rf"convert_data\.py: error: {re.escape(str(path))}: {problem}", _error_line(capsys))
    _check_complete(tmp_path / "out", flavour, modalities)

    assert convert_data.main(_argv(flavour, mat_root, raw_root, tmp_path / "skipping", "--skip_bad", *flags)) == 0
    report = capsys.readouterr().out
    assert "recordings: 1 converted, 1 skipped" in report
    assert re.search(rf"^skipped {re.escape(str(path))}: {problem}", report, re.MULTILINE)
    records = _check_complete(tmp_path / "skipping", flavour, modalities)
    assert {record.parent.relative_to(tmp_path / "skipping") for record in records} == {GOOD_OUTPUT[flavour]}


def test_avia_counts_the_acoustic_images_it_zero_pads(datasets, tmp_path, capsys):
    mat_root, raw_root = _linked_copy(datasets, "avia", tmp_path / "raw")
    small = np.random.default_rng(2).standard_normal((30, 40, 10)).astype(np.float32)
    paths = [_broken_file("avia mat", mat_root, raw_root).with_name(raw.mat_name(i)) for i in (3, 7)]
    for path in paths:
        _own(path).write_bytes(raw.mat_bytes(small))
    assert convert_data.main(_argv("avia", mat_root, raw_root, tmp_path / "out", "--modalities", "0")) == 0
    report = capsys.readouterr().out
    # Each file is in two or three of the 30 records (12 frames wrap around): counted once.
    assert (f"zero padded to 36 x 48 x 12, as AVIA's converter did: 2 acoustic image files, e.g. {paths[0]} "
            "(--strict_shapes refuses them)") in report
    parsed = schema.read_record_file(tmp_path / "out/Location_01/Subject_02/Action_001/Data_001.tfrecord", "avia",
                                     ("acoustic_image",))
    np.testing.assert_array_equal(parsed["acoustic_image"][2, 6:, 8:, 2:], small)
    assert not parsed["acoustic_image"][2, :6].any()


def test_float64_acoustic_images_are_cast_when_float32_holds_them_and_avia_rounds(datasets, tmp_path):
    """(A)'s converter stored what scipy read, so a float64 file gave float64 bytes where
    float32 ones belong; ours casts it when that changes no value and refuses it otherwise
    (see the cases above). (B)'s cast with rounding, and so does AVIA's."""
    values = np.random.default_rng(3).standard_normal((36, 48, 12))
    acivw_mat, _ = _linked_copy(datasets, "acivw", tmp_path / "acivw")
    _broken_file("mat", acivw_mat, acivw_mat).write_bytes(_mat(MFCC=values.astype(np.float32).astype(np.float64)))
    avia_mat, avia_raw = _linked_copy(datasets, "avia", tmp_path / "avia")
    _broken_file("avia mat", avia_mat, avia_raw).write_bytes(_mat(MFCC=values))
    assert convert_data.main(_argv("acivw", acivw_mat, acivw_mat, tmp_path / "acivw_out", "--modalities", "0")) == 0
    assert convert_data.main(_argv("avia", avia_mat, avia_raw, tmp_path / "avia_out", "--modalities", "0")) == 0
    for record, flavour in ((tmp_path / "acivw_out/class_0/data_001/Data_001.tfrecord", "acivw"),
                            (tmp_path / "avia_out/Location_01/Subject_02/Action_001/Data_001.tfrecord", "avia")):
        parsed = schema.read_record_file(record, flavour, ("acoustic_image",))
        np.testing.assert_array_equal(parsed["acoustic_image"][BROKEN - 1], values.astype(np.float32))


def test_beamformed_acoustic_images_must_be_finite(datasets, tmp_path, capsys, monkeypatch):
    from dualcam import beamforming
    from dualcam.geometry import GEOMETRY_FILENAME, default_geometry

    root, _ = _linked_copy(datasets, "acivw", tmp_path / "raw")
    shutil.rmtree(root / ACIVW_SPEC.relative_dir(BAD["acivw"]) / "MFCC_Image")
    default_geometry().save(root / GEOMETRY_FILENAME)
    real = beamforming.acoustic_images

    def with_nan(audio, geometry):
        images = real(audio, geometry)
        images[BROKEN - 1].flat[:4] = [np.nan, np.inf, -np.inf, np.nan]
        return images

    monkeypatch.setattr(beamforming, "acoustic_images", with_nan)
    path = root / ACIVW_SPEC.relative_dir(BAD["acivw"]) / "audio" / raw.dc_name(BROKEN)
    with pytest.raises(SystemExit) as stop:
        convert_data.main(_argv("acivw", root, root, tmp_path / "out", "--modalities", "0", "--beamform"))
    assert stop.value.code == 1
    assert _error_line(capsys) == (f"convert_data.py: error: {path}: its beamformed acoustic image has 4 non-finite "
                                   "values (NaN or inf)\n")


# ----------------------------------------------------------------------------- outputs


@pytest.fixture(scope="module")
def clean_output(datasets, tmp_path_factory):
    """ACIVW converted with nothing going wrong: what every re-run must end with."""
    out = tmp_path_factory.mktemp("clean") / "out"
    assert convert_data.main(_argv("acivw", datasets / "acivw", datasets / "acivw", out)) == 0
    return out


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("where", ["a file", "under a file"])
def test_an_output_directory_that_cannot_be_made_is_one_line(datasets, tmp_path, capsys, where):
    (tmp_path / "file").write_text("not a directory")
    out = tmp_path / "file" if where == "a file" else tmp_path / "file" / "out"
    problem = "exists and is not a directory" if where == "a file" else (
        r"cannot create the output directory \(Not a directory\)")
    with pytest.raises(SystemExit) as stop:
        convert_data.main(_argv("acivw", datasets / "acivw", datasets / "acivw", out))
    assert stop.value.code == 1
    assert re.fullmatch(rf"convert_data\.py: error: {re.escape(str(out))}: {problem}\n", _error_line(capsys))


def _blocked_directory(out: Path, monkeypatch) -> None:
    (out / "class_3").write_text("a file where a directory of records goes")


def _disk_full(error):
    """A fault: class_3's record is written in part, then `error(path)` raised, as a full
    disk does."""
    def fault(out: Path, monkeypatch) -> None:
        real = schema.write_record_file

        def write(path, example):
            if "class_3" in str(path):
                Path(path).write_bytes(example.SerializeToString()[:1000])
                raise error(path)
            real(path, example)

        monkeypatch.setattr(schema, "write_record_file", write)

    return fault


def _tensorflow_disk_full(path) -> Exception:
    import tensorflow as tf

    return tf.errors.ResourceExhaustedError(None, None, f"{path}; No space left on device")


def _rename_refused(out: Path, monkeypatch) -> None:
    real = os.replace

    def replace(source, target):
        if "class_3" in str(target):
            raise PermissionError(errno.EROFS, os.strerror(errno.EROFS), str(source))
        real(source, target)

    monkeypatch.setattr(files.os, "replace", replace)


OUTPUT_FAULTS = {  # fault: set it up, the problem expected
    "a file where its directory goes": (_blocked_directory, r"cannot write \(Not a directory\)"),
    "disk full": (_disk_full(lambda path: OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))),
                  r"cannot write \(No space left on device\)"),
    "disk full in TensorFlow": (_disk_full(_tensorflow_disk_full),
                                r"cannot write \(.*Data_001\.tfrecord\.partial; No space left on device\)"),
    "rename refused": (_rename_refused, r"cannot write \(Read-only file system\)"),
}


@pytest.mark.parametrize("skip_bad", [False, True], ids=["", "skip_bad"])
@pytest.mark.parametrize("fault", OUTPUT_FAULTS)
def test_a_record_that_cannot_be_written_stops_the_run_and_a_rerun_completes(
        datasets, clean_output, tmp_path, capsys, monkeypatch, fault, skip_bad):
    out = tmp_path / "out"
    out.mkdir()
    set_up, problem = OUTPUT_FAULTS[fault]
    set_up(out, monkeypatch)
    argv = _argv("acivw", datasets / "acivw", datasets / "acivw", out, *["--skip_bad"] * skip_bad)
    with pytest.raises(SystemExit) as stop:
        convert_data.main(argv)  # an output problem is not bad input: --skip_bad does not skip it
    assert stop.value.code == 1
    record = out / "class_3/data_002/Data_001.tfrecord"
    assert re.fullmatch(rf"convert_data\.py: error: {re.escape(str(record))}: {problem}\n", _error_line(capsys))
    assert [r.relative_to(out) for r in _check_complete(out, "acivw", schema.MODALITIES)] == [
        Path("class_0/data_001/Data_001.tfrecord")]

    monkeypatch.undo()
    if (out / "class_3").is_file():
        (out / "class_3").unlink()
    assert convert_data.main(argv) == 0
    assert _tree(out) == _tree(clean_output)


def test_a_rerun_removes_the_temporary_files_of_a_killed_run(clean_output, datasets, tmp_path, capsys):
    out = tmp_path / "out"
    shutil.copytree(clean_output, out)
    (out / "class_3/data_002/Data_001.tfrecord").rename(out / "class_3/data_002/Data_001.tfrecord.partial")
    (out / "class_0/data_001/Data_001.tfrecord.partial").write_bytes(b"a record written again, killed")
    (out / "conversion.json.partial").write_text("{")
    assert convert_data.main(_argv("acivw", datasets / "acivw", datasets / "acivw", out)) == 0
    report = capsys.readouterr().out
    assert "records: 1 written, 1 already complete" in report
    assert "removed 3 temporary files of an interrupted run" in report
    assert _tree(out) == _tree(clean_output)


# ----------------------------------------------------------------------------- a killed converter


def _process_group(pgid: int) -> list[str]:
    """The live processes of a process group, from /proc (zombies, which only wait for their
    parent to read their status, do not count)."""
    found = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path("/proc", entry, "stat").read_text()
        except (OSError, ValueError):
            continue
        state, _, group = stat[stat.rindex(")") + 2:].split()[:3]
        if int(group) == pgid and state != "Z":
            found.append(entry)
    return found


def _wait_until(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.fixture(scope="module")
def six_recordings(tmp_path_factory):
    """AVIA, 180 records: enough work to be in the middle of it when a process is killed, and
    those records converted without a fault."""
    from conversion.convert import convert_dataset

    root = tmp_path_factory.mktemp("six_recordings")
    frames = {(1, subject, action): 12 for subject in (1, 2) for action in (0, 1, 2)}
    raw_data.write_avia(root / "mat", root / "raw", frames)
    convert_dataset(root / "mat", root / "raw", root / "whole", modalities=("acoustic_image", "audio_data"),
                    progress=False)
    return root


def _converter_args(root: Path, out: Path) -> tuple[list[str], dict]:
    args = [sys.executable, str(REPO / "convert_data.py"), str(root / "mat"), str(root / "raw"), str(out),
            "--modalities", "0", "1", "--workers", "2", "--quiet"]
    return args, {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3"}


@contextlib.contextmanager
def _converter_at_work(root: Path, out: Path, stderr: Path):
    """The converter with two workers, in a session of its own: it, its workers and
    multiprocessing's resource tracker share its process group, so whatever is left of the
    run is found by the group (and killed at the end, if the test failed). Yields it once
    its workers are writing records."""
    args, env = _converter_args(root, out)
    with stderr.open("w") as errors:
        process = subprocess.Popen(args, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=errors)
    try:
        assert _wait_until(lambda: list(out.rglob("*.tfrecord")), timeout=300)
        assert len(_process_group(process.pid)) >= 3  # the converter and its two workers, at least
        yield process
        process.wait(timeout=300)
        assert _wait_until(lambda: not _process_group(process.pid), timeout=60), _process_group(process.pid)
    finally:
        if _process_group(process.pid):
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _workers(converter: int) -> list[int]:
    return [int(pid) for pid in _process_group(converter)
            if b"spawn_main" in Path("/proc", pid, "cmdline").read_bytes()]


def _rerun_completes(root: Path, out: Path) -> None:
    assert len(list(out.rglob("*.tfrecord"))) < 180  # it was stopped in the middle
    args, env = _converter_args(root, out)
    subprocess.run(args, env=env, check=True, capture_output=True, timeout=600)
    assert _tree(out) == _tree(root / "whole")


@pytest.mark.slow  # three processes importing TensorFlow on two cores, twice: 30 to 60 s
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds the processes in /proc")
def test_a_converter_killed_with_sigkill_leaves_no_process_and_a_rerun_completes(six_recordings, tmp_path):
    with _converter_at_work(six_recordings, tmp_path / "out", tmp_path / "stderr") as converter:
        converter.send_signal(signal.SIGKILL)
    _rerun_completes(six_recordings, tmp_path / "out")


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds the processes in /proc")
def test_a_worker_killed_stops_the_converter_in_one_line_and_a_rerun_completes(six_recordings, tmp_path):
    """As the kernel's out-of-memory killer would end a worker."""
    with _converter_at_work(six_recordings, tmp_path / "out", tmp_path / "stderr") as converter:
        os.kill(_workers(converter.pid)[0], signal.SIGKILL)
    assert converter.returncode == 1
    err = (tmp_path / "stderr").read_text()
    assert "convert_data.py: error: a worker process died (out of memory?); run again to resume\n" in err
    assert "Traceback" not in err
    _rerun_completes(six_recordings, tmp_path / "out")
