import io
import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

import convert_data
from conversion import convert, recordings
from conversion.convert import convert_dataset
from dataloader import raw, schema
from dataloader.datasets import ACIVW_SPEC, AVIA_SPEC
from dataloader.raw import RawDataError
from tests import raw_data

REPO = Path(__file__).resolve().parents[1]
SUBSETS = [s for n in (1, 2, 3) for s in itertools.combinations(schema.MODALITIES, n)]
ACIVW_SECONDS = {(0, 1): 2.5, (3, 2): 1.0}  # 2.5 s: the half second left over is not converted
AVIA_FRAMES = {(3, 9, 13): 20}  # 20 frames wrap around to fill 30 records


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def acivw(tmp_path_factory):
    root = tmp_path_factory.mktemp("acivw_raw")
    data = raw_data.write_acivw(root, ACIVW_SECONDS)
    for (c, v), seconds in ACIVW_SECONDS.items():
        raw_data.write_video_time(root, c, v, int(seconds))
    return root, data


@pytest.fixture(scope="module")
def avia(tmp_path_factory):
    root = tmp_path_factory.mktemp("avia_raw")
    data = raw_data.write_avia(root / "mat", root / "raw", AVIA_FRAMES)
    return root, data


def _check_acivw(out: Path, data: dict, modalities: tuple[str, ...]) -> None:
    for (c, v), arrays in data.items():
        directory = out / f"class_{c}" / f"data_{v:03d}"
        seconds = int(ACIVW_SECONDS[(c, v)])
        names = [f"Data_{s + 1:03d}.tfrecord" for s in range(seconds)]
        assert sorted(p.name for p in directory.iterdir()) == names
        for second, name in enumerate(names):
            parsed = schema.read_record_file(directory / name, "acivw", modalities)
            assert (parsed["classes"], parsed["location"]) == (c, v)
            expected = raw_data.acivw_expected(arrays, second)
            for modality in modalities:
                np.testing.assert_array_equal(parsed[modality], expected[modality])
            if "video" in modalities:
                assert parsed["video"].shape == (12, 224, 298, 3)


def _check_avia(out: Path, raw_root: Path, data: dict, modalities: tuple[str, ...]) -> None:
    for (loc, subject, action), arrays in data.items():
        directory = out / f"Location_{loc:02d}" / f"Subject_{subject:02d}" / f"Action_{action + 1:03d}"
        assert len(list(directory.iterdir())) == 30
        raw_video = raw_root / AVIA_SPEC.relative_dir((loc, subject, action)) / "video"
        paths = [str(directory / f"Data_{second + 1:03d}.tfrecord") for second in range(30)]
        dataset = schema.record_dataset(paths).map(
            lambda s: schema.parse_sequence_example(s, "avia", modalities, decode_video=False))
        for second, parsed in enumerate(dataset.as_numpy_iterator()):
            assert (parsed["action"], parsed["location"], parsed["subject"]) == (action, loc - 1, subject - 1)
            expected = raw_data.avia_expected(arrays, second)
            for modality in set(modalities) - {"video"}:
                np.testing.assert_array_equal(parsed[modality], expected[modality])
            if "video" in modalities:
                numbers = raw_data.avia_frame_numbers(second, len(arrays["acoustic_images"]))
                jpegs = [(raw_video / raw.jpeg_name(n + 1)).read_bytes() for n in numbers]
                assert list(parsed["video"]) == jpegs  # the camera's files, unchanged
                assert [int(parsed[k]) for k in schema.SIZE_KEYS["video"]] == [480, 640, 3]
        assert second == 29
        if "video" in modalities:
            decoded = schema.read_record_file(directory / "Data_030.tfrecord", "avia", ("video",))["video"]
            expected = np.stack([np.asarray(Image.open(io.BytesIO(j)).convert("RGB")) for j in jpegs])
            np.testing.assert_array_equal(decoded, expected)


@pytest.mark.parametrize("modalities", SUBSETS, ids="+".join)
def test_acivw_round_trip_gives_back_the_raw_values(acivw, tmp_path, modalities):
    root, data = acivw
    summary = convert_dataset(root, root, tmp_path, modalities=modalities, progress=False)
    assert (summary.recordings, summary.records_written, summary.skipped) == (2, 3, [])
    _check_acivw(tmp_path, data, modalities)


@pytest.mark.parametrize("modalities", SUBSETS, ids="+".join)
def test_avia_round_trip_gives_back_the_raw_values(avia, tmp_path, modalities):
    root, data = avia
    summary = convert_dataset(root / "mat", root / "raw", tmp_path, modalities=modalities, progress=False)
    assert (summary.recordings, summary.records_written, summary.seconds) == (1, 30, 30)
    assert summary.bytes_written == sum(p.stat().st_size for p in tmp_path.rglob("*.tfrecord"))
    _check_avia(tmp_path, root / "raw", data, modalities)


def test_avia_pads_small_acoustic_images_at_the_front_and_keeps_all_microphones(tmp_path):
    data = raw_data.write_avia(tmp_path / "mat", tmp_path / "raw", {(2, 1, 4): 12}, mics=3)
    mat_dir = tmp_path / "mat" / AVIA_SPEC.relative_dir((2, 1, 4)) / "MFCC_Image"
    small = np.random.default_rng(3).standard_normal((12, 30, 40, 10)).astype(np.float32)
    for i, image in enumerate(small):
        (mat_dir / raw.mat_name(i + 1)).write_bytes(raw.mat_bytes(image))
    modalities = ("acoustic_image", "audio_data")
    convert_dataset(tmp_path / "mat", tmp_path / "raw", tmp_path / "out", modalities=modalities,
                    progress=False)
    record = tmp_path / "out/Location_02/Subject_01/Action_005/Data_030.tfrecord"
    parsed = schema.read_record_file(record, "avia", modalities)
    assert parsed["acoustic_image"].shape == (12, 36, 48, 12)
    np.testing.assert_array_equal(parsed["acoustic_image"][:, 6:, 8:, 2:], small)
    assert not parsed["acoustic_image"][:, :6].any() and not parsed["acoustic_image"][:, :, :8].any()
    np.testing.assert_array_equal(parsed["audio_data"], data[(2, 1, 4)]["audio"][:, :3])


@pytest.mark.slow  # two processes importing TensorFlow on two cores: 10 to 20 s
def test_two_workers_write_the_same_bytes_as_one(acivw, tmp_path):
    root, _ = acivw
    one = convert_dataset(root, root, tmp_path / "one", progress=False)
    two = convert_dataset(root, root, tmp_path / "two", workers=2, progress=False)
    assert (two.recordings, two.records_written, two.bytes_written) == (2, 3, one.bytes_written)
    assert _tree(tmp_path / "one") == _tree(tmp_path / "two")


class _Interrupted(BaseException):
    pass


def test_interrupted_conversion_resumes_to_the_same_files(acivw, tmp_path, monkeypatch):
    root, _ = acivw
    convert_dataset(root, root, tmp_path / "whole", progress=False)

    calls = []
    real_read_second = recordings.read_second

    def read_then_die(*args, **kwargs):
        if len(calls) == 2:
            raise _Interrupted  # the process dies while reading its third record
        calls.append(args[1])
        return real_read_second(*args, **kwargs)

    monkeypatch.setattr(convert.rec, "read_second", read_then_die)
    with pytest.raises(_Interrupted):
        convert_dataset(root, root, tmp_path / "resumed", progress=False)
    monkeypatch.undo()
    done = sorted(p for p in (tmp_path / "resumed").rglob("*.tfrecord"))
    assert len(done) == 2 and not list((tmp_path / "resumed").rglob("*.partial"))
    # A kill in the middle of a write leaves a temporary file: it must not count as done.
    names = [p.relative_to(tmp_path / "whole") for p in (tmp_path / "whole").rglob("*.tfrecord")]
    partial = next(tmp_path / "resumed" / n for n in names if not (tmp_path / "resumed" / n).exists())
    partial.parent.mkdir(parents=True, exist_ok=True)
    (partial.parent / (partial.name + ".partial")).write_bytes(b"half a record")
    stamps = {p: p.stat().st_mtime_ns for p in done}

    summary = convert_dataset(root, root, tmp_path / "resumed", progress=False)
    assert (summary.records_present, summary.records_written) == (2, 1)
    assert {p: p.stat().st_mtime_ns for p in done} == stamps  # complete records were not rewritten
    assert _tree(tmp_path / "resumed") == _tree(tmp_path / "whole")


@pytest.mark.slow
def test_killed_cli_conversion_resumes_to_the_same_files(avia_pair, tmp_path):
    root = avia_pair
    args = [sys.executable, str(REPO / "convert_data.py"), str(root / "mat"), str(root / "raw")]
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3"}
    subprocess.run(args + [str(tmp_path / "whole"), "--quiet"], check=True, env=env, capture_output=True)
    process = subprocess.Popen(args + [str(tmp_path / "killed"), "--quiet"], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while len(list((tmp_path / "killed").rglob("*.tfrecord"))) < 40 and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert 40 <= len(list((tmp_path / "killed").rglob("*.tfrecord"))) < 60
    subprocess.run(args + [str(tmp_path / "killed"), "--quiet"], check=True, env=env, capture_output=True)
    assert _tree(tmp_path / "killed") == _tree(tmp_path / "whole")


def _copy(tree: Path, tmp_path: Path) -> Path:
    target = tmp_path / "raw"
    shutil.copytree(tree, target)
    return target


def _acivw_file(root: Path, name: str, i: int) -> Path:
    recording = root / ACIVW_SPEC.relative_dir((0, 1))
    namer = {"MFCC_Image": raw.mat_name, "audio": raw.dc_name, "video": raw.bmp_name}[name]
    return recording / name / namer(i)


def _truncate(path: Path, keep: int = 100) -> None:
    path.write_bytes(path.read_bytes()[:keep])


def _video_time(root: Path) -> Path:
    return root / ACIVW_SPEC.relative_dir((0, 1)) / "video_time.txt"


ACIVW_BAD_INPUTS = {
    "missing video_time": (lambda r: _video_time(r).unlink(),
                           "data_001/video_time.txt: missing file: run `python framecount.py ROOT 0`"),
    "malformed video_time": (lambda r: _video_time(r).write_text("12"),
                             "video_time.txt: expected 'video seconds: N', found '12'"),
    "too few frames": (lambda r: raw_data.write_video_time(r, 0, 1, 3),
                       "class_0/data_001: MFCC_Image/ holds 30 .mat files, audio/ holds 30 .dc files, "
                       "video/ holds 30 .bmp files, but 3 s need 36 frames"),
    "modalities disagree": (lambda r: _acivw_file(r, "audio", 30).unlink(),
                            "audio/ holds 29 .dc files.*every modality needs one file per frame"),
    "missing mat": (lambda r: _acivw_file(r, "MFCC_Image", 14).rename(_acivw_file(r, "MFCC_Image", 99)),
                    "MFCC_Image/Data_14.mat: missing file"),
    "truncated mat": (lambda r: _truncate(_acivw_file(r, "MFCC_Image", 20)),
                      "MFCC_Image/Data_20.mat: not a readable .mat file"),
    "truncated dc": (lambda r: _truncate(_acivw_file(r, "audio", 13)),
                     r"audio/A_000013.dc: 100 bytes, expected 524288 \(128 mics x 1024 int32 samples\)"),
    "malformed bmp": (lambda r: _acivw_file(r, "video", 24).write_bytes(b"BM not really"),
                      r"video/I_000024.bmp: not an image file \(unknown format\)"),
    "no acoustic images": (lambda r: shutil.rmtree(r / ACIVW_SPEC.relative_dir((0, 1)) / "MFCC_Image"),
                           r"class_0/data_001/MFCC_Image: missing directory \(--beamform computes"),
}


@pytest.mark.parametrize("case", ACIVW_BAD_INPUTS)
def test_bad_acivw_input_stops_with_the_file_and_the_problem(acivw, tmp_path, case):
    root = _copy(acivw[0], tmp_path)
    damage, message = ACIVW_BAD_INPUTS[case]
    damage(root)
    with pytest.raises(RawDataError, match=message):
        convert_dataset(root, root, tmp_path / "out", progress=False)

    summary = convert_dataset(root, root, tmp_path / "skipping", skip_bad=True, progress=False)
    assert summary.recordings == 1 and len(summary.skipped) == 1
    path, problem = summary.skipped[0]
    assert "class_0/data_001" in path and problem in summary.report()
    assert [p.relative_to(tmp_path) for p in (tmp_path / "skipping").rglob("*.tfrecord")] == [
        Path("skipping/class_3/data_002/Data_001.tfrecord")  # and nothing of class_0/data_001, even partly
    ]


def _avia_file(root: Path, tree: str, name: str, i: int) -> Path:
    directory = root / tree / AVIA_SPEC.relative_dir((1, 2, 0)) / name
    namer = {"MFCC_Image": raw.mat_name, "audio": raw.npy_name, "video": raw.jpeg_name}[name]
    return directory / namer(i)


AVIA_BAD_INPUTS = {  # damage, the error expected, the modality that reads the damaged file
    "truncated jpeg": (lambda r: _truncate(_avia_file(r, "raw", "video", 7), 5000),
                       "video/I_000007.jpeg: truncated JPEG file", "video"),
    "not a jpeg": (lambda r: _avia_file(r, "raw", "video", 3).write_bytes(b"GIF89a"),
                   "video/I_000003.jpeg: not a JPEG file", "video"),
    "malformed npy": (lambda r: np.save(_avia_file(r, "raw", "audio", 5), np.zeros((1, 1024), np.float32)),
                      r"audio/A_000005.npy: audio is float32 \(1, 1024\), expected int32", "audio_data"),
    "wrong mat variable": (lambda r: _avia_file(r, "mat", "MFCC_Image", 2).write_bytes(
                               raw.mat_bytes(np.zeros((36, 48, 12))).replace(b"MFCC", b"Beam")),
                           "MFCC_Image/Data_2.mat: no 'MFCC' variable", "acoustic_image"),
    "missing raw recording": (lambda r: shutil.rmtree(r / "raw" / AVIA_SPEC.relative_dir((1, 2, 0))),
                              "raw/Location_01/Subject_02/Action_000/audio: missing directory", "audio_data"),
}


@pytest.fixture(scope="module")
def avia_pair(tmp_path_factory):
    """Two recordings: the one damaged by the bad-input tests, and one that stays good."""
    root = tmp_path_factory.mktemp("avia_pair")
    raw_data.write_avia(root / "mat", root / "raw", {(1, 2, 0): 14, (2, 1, 5): 12})
    return root


@pytest.mark.parametrize("case", AVIA_BAD_INPUTS)
def test_bad_avia_input_stops_with_the_file_and_the_problem(avia_pair, tmp_path, case):
    root = _copy(avia_pair, tmp_path)
    damage, message, modality = AVIA_BAD_INPUTS[case]
    damage(root)
    with pytest.raises(RawDataError, match=message):
        convert_dataset(root / "mat", root / "raw", tmp_path / "out", progress=False)
    summary = convert_dataset(root / "mat", root / "raw", tmp_path / "skipping", modalities=(modality,),
                              skip_bad=True, progress=False)
    assert (summary.recordings, summary.records_written, len(summary.skipped)) == (1, 30, 1)
    assert len(list((tmp_path / "skipping").rglob("*.tfrecord"))) == 30


def test_cli_reports_bad_input_and_exit_code(acivw, tmp_path, capsys):
    root = _copy(acivw[0], tmp_path)
    (root / ACIVW_SPEC.relative_dir((3, 2)) / "video_time.txt").unlink()
    with pytest.raises(SystemExit) as stop:
        convert_data.main([str(root), str(tmp_path / "out"), "--modalities", "1"])
    assert stop.value.code == 1
    error = capsys.readouterr().err
    assert f"error: {root}/class_3/data_002/video_time.txt: missing file: run `python framecount.py" in error

    argv = [str(root), str(tmp_path / "out"), "--modalities", "1", "--skip_bad", "--quiet"]
    assert convert_data.main(argv) == 0
    report = capsys.readouterr().out
    assert "recordings: 1 converted, 1 skipped" in report and "records: 2 written" in report
    assert f"skipped {root}/class_3/data_002/video_time.txt: missing file" in report


def test_a_rerun_with_other_modalities_is_refused(acivw, tmp_path):
    root, _ = acivw
    convert_dataset(root, root, tmp_path, modalities=("audio_data",), progress=False)
    with pytest.raises(ValueError, match="converted as .*'audio_data'.* this run asks for .*'video'"):
        convert_dataset(root, root, tmp_path, modalities=("audio_data", "video"), progress=False)
    summary = convert_dataset(root, root, tmp_path, modalities=("audio_data", "video"), overwrite=True,
                              progress=False)
    assert summary.records_written == 3
    record = tmp_path / "class_3/data_002/Data_001.tfrecord"
    parsed = schema.read_record_file(record, "acivw", ("audio_data", "video"))
    assert parsed["video"].shape == (12, 224, 298, 3)


def test_a_manifest_from_before_video_encodings_were_recorded_names_the_only_one_then(acivw, tmp_path):
    root, _ = acivw
    (tmp_path / "conversion.json").write_text(json.dumps({"layout": "acivw", "modalities": ["video"]}))
    summary = convert_dataset(root, root, tmp_path, modalities=("video",), raw_video=True, progress=False)
    assert summary.records_written == 3  # ACIVW records always held raw frames: no conflict
    assert json.loads((tmp_path / "conversion.json").read_text())["video_encoding"] == "raw_bgr"


def test_a_manifest_from_before_the_renames_resumes(acivw, tmp_path):
    """Manifests named the flavour `layout` and the acoustic images' modality `audio_image`."""
    root, _ = acivw
    (tmp_path / "conversion.json").write_text(json.dumps({"layout": "acivw",
                                                          "modalities": ["audio_image", "audio_data"]}))
    summary = convert_dataset(root, root, tmp_path, modalities=("acoustic_image", "audio_data"), progress=False)
    assert summary.records_written == 3
    assert json.loads((tmp_path / "conversion.json").read_text()) == {
        "flavour": "acivw", "modalities": ["acoustic_image", "audio_data"]}
    with pytest.raises(ValueError, match="converted as .*'audio_data'.* this run asks for .*'video'"):
        convert_dataset(root, root, tmp_path, modalities=("acoustic_image", "video"), progress=False)


@pytest.mark.parametrize("flag", ["--flavour", "--layout"])
def test_the_flavour_is_named_with_its_flag_or_the_former_one(avia, tmp_path, flag):
    root, _ = avia
    argv = [str(root / "mat"), str(root / "raw"), str(tmp_path / "out"), "--modalities", "1", "--quiet"]
    assert convert_data.main([*argv, flag, "avia"]) == 0
    assert len(list((tmp_path / "out").rglob("*.tfrecord"))) == 30
    # Named, the flavour is not recognised: an AVIA tree holds no ACIVW recording.
    assert convert_data.main([*argv[:2], str(tmp_path / "none"), "--quiet", flag, "acivw"]) == 0
    assert not list((tmp_path / "none").rglob("*.tfrecord"))


def test_flavour_is_recognised_or_must_be_named(acivw, avia, tmp_path):
    assert recordings.detect_flavour(acivw[0]) == "acivw"
    assert recordings.detect_flavour(avia[0] / "raw") == "avia"
    with pytest.raises(ValueError, match=r"no recording directories \(ACIVW: class_\*/data_\*, "
                                         r"AVIA: Location_\*/Subject_\*/Action_\*\).*--flavour"):
        recordings.detect_flavour(tmp_path)


def test_acoustic_images_are_beamformed_when_only_raw_audio_exists(tmp_path):
    from dualcam.beamforming import acoustic_images
    from dualcam.geometry import GEOMETRY_FILENAME, default_geometry

    data = raw_data.write_acivw(tmp_path, {(2, 5): 1.0}, seed=9)
    raw_data.write_video_time(tmp_path, 2, 5, 1)
    shutil.rmtree(tmp_path / ACIVW_SPEC.relative_dir((2, 5)) / "MFCC_Image")
    with pytest.raises(RawDataError, match="missing array geometry file"):
        convert_dataset(tmp_path, tmp_path, tmp_path / "out", modalities=("acoustic_image",), beamform=True,
                        progress=False)
    geometry = default_geometry()
    geometry.save(tmp_path / GEOMETRY_FILENAME)
    convert_dataset(tmp_path, tmp_path, tmp_path / "out", modalities=("acoustic_image",), beamform=True,
                    progress=False)
    record = tmp_path / "out/class_2/data_005/Data_001.tfrecord"
    parsed = schema.read_record_file(record, "acivw", ("acoustic_image",))
    np.testing.assert_array_equal(parsed["acoustic_image"], acoustic_images(data[(2, 5)]["audio"], geometry))


def test_the_tools_start_without_tensorflow():
    """Importing TensorFlow takes seconds: only the processes that write or read records do."""
    code = "import sys, convert_data, framecount, generate_lists; print('tensorflow' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_acivw_in_two_roots_converts_as_in_one(acivw, tmp_path):
    """The original A converter took a root of .mat files and a root of raw files, and read
    video_time.txt from the .mat tree; framecount.py writes it in the raw tree."""
    root, _ = acivw
    convert_dataset(root, root, tmp_path / "one_root", progress=False)
    mat, raw = tmp_path / "mat", _copy(root, tmp_path)
    for relative, _ in recordings.find_recording_dirs(raw, "acivw"):
        (mat / relative).mkdir(parents=True)
        shutil.move(raw / relative / "MFCC_Image", mat / relative / "MFCC_Image")
    shutil.move(raw / "class_0/data_001/video_time.txt", mat / "class_0/data_001/video_time.txt")
    assert convert_data.main([str(mat), str(raw), str(tmp_path / "two_roots"), "--quiet"]) == 0
    assert _tree(tmp_path / "two_roots") == _tree(tmp_path / "one_root")


def _write_gzip(path: Path, serialized: bytes) -> None:
    import tensorflow as tf

    with tf.io.TFRecordWriter(str(path), options="GZIP") as writer:  # as the originals wrote
        writer.write(serialized)


def test_acivw_records_are_byte_identical_to_the_original_converters(acivw, tmp_path):
    root, _ = acivw
    convert_dataset(root, root, tmp_path / "out", progress=False)
    for (c, v), seconds in ACIVW_SECONDS.items():
        for second in range(int(seconds)):
            original = raw_data.original_acivw_record(root / ACIVW_SPEC.relative_dir((c, v)), c, v, second)
            _write_gzip(tmp_path / "original.tfrecord", original)
            ours = tmp_path / f"out/class_{c}/data_{v:03d}/Data_{second + 1:03d}.tfrecord"
            assert ours.read_bytes() == (tmp_path / "original.tfrecord").read_bytes()


def test_opencv_resizes_as_the_release_the_acivw_records_were_checked_with(tmp_path):
    """The ACIVW byte identity above holds for the OpenCV in use; this pins which one. The
    digest is OpenCV 4.10's (4.11, 4.13, 4.14 and 5.0 give it too on these frames; 4.12's
    cubic resize differs by 1 in 31 of 7.2 million values of simulated frames). It also
    depends on the CPU: OpenCV dispatches the resize to AVX-512 where there is one, and its
    AVX2 code rounds some values otherwise (measured on an AMD EPYC without AVX-512)."""
    import hashlib

    features = [token.lstrip("*") for token in cv2.getCPUFeaturesLine().split() if not token.endswith("?")]
    expected = "ca257fe079efd45c023f524df70fd741" if "AVX512-SKX" in features else "73f3ace868d11fb1d5c810e74dd92cb2"

    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (8, 480, 640, 3), dtype=np.uint8)
    digest = hashlib.sha256()
    for frame in frames:
        cv2.imwrite(str(tmp_path / "frame.bmp"), frame)
        digest.update(recordings.resized_frame(tmp_path / "frame.bmp", ACIVW_SPEC).tobytes())
    assert digest.hexdigest()[:32] == expected, (cv2.__version__, cv2.getCPUFeaturesLine())


@pytest.fixture(scope="module")
def avia_raw_bgr(tmp_path_factory):
    """An AVIA recording of 20 frames (wrapped around to 30 records), and its conversion with
    the frames decoded: 30 x 12 x 921,600 bytes of pixels to compress, so noise-free frames
    and a single conversion."""
    root = tmp_path_factory.mktemp("avia_raw_bgr")
    raw_data.write_avia(root / "mat", root / "raw", AVIA_FRAMES, seed=4, noise=1)
    convert_dataset(root / "mat", root / "raw", root / "out", raw_video=True, progress=False)
    return root


def test_avia_raw_video_records_are_byte_identical_to_the_published_converters(avia_raw_bgr, tmp_path):
    (numbers,) = AVIA_FRAMES
    relative = AVIA_SPEC.relative_dir(numbers)
    for second in (0, 1, 29):
        original = raw_data.original_avia_record(avia_raw_bgr / "mat" / relative, avia_raw_bgr / "raw" / relative,
                                                 numbers, second)
        _write_gzip(tmp_path / "original.tfrecord", original)
        ours = avia_raw_bgr / "out" / AVIA_SPEC.converted_dir(numbers) / f"Data_{second + 1:03d}.tfrecord"
        assert ours.read_bytes() == (tmp_path / "original.tfrecord").read_bytes()


def _loaded_video(record: Path) -> np.ndarray:
    """The frames of one record as the project's loader gives them, before resizing and cropping."""
    from dataloader.config import LoaderConfig
    from dataloader.pipeline import default_phases, make_dataset

    config = LoaderConfig("avia", ("video",), nr_frames=12, video_size=(480, 640))
    phases = default_phases(config)
    del phases["preprocess"]["video"]
    (batch,) = make_dataset([str(record)], config, batch_size=1, phases=phases)
    return batch["video"].numpy()[0]


def test_avia_raw_video_loads_with_the_pixels_opencv_decodes(avia_raw_bgr, tmp_path):
    root = avia_raw_bgr
    convert_dataset(root / "mat", root / "raw", tmp_path, modalities=("video",), progress=False)
    (numbers,) = AVIA_FRAMES
    record = AVIA_SPEC.converted_dir(numbers) / "Data_002.tfrecord"
    video_dir = root / "raw" / AVIA_SPEC.relative_dir(numbers) / "video"
    bgr = [cv2.imread(str(video_dir / raw.jpeg_name(n + 1))) for n in raw_data.avia_frame_numbers(1, 20)]

    stored = schema.read_record_file(root / "out" / record, "avia", ("video",), decode_video=False)
    assert list(stored["video"]) == [frame.tobytes() for frame in bgr]  # 921,600 bytes a frame
    assert [int(stored[key]) for key in schema.SIZE_KEYS["video"]] == [480, 640, 3]
    loaded = _loaded_video(root / "out" / record)
    np.testing.assert_array_equal(loaded, np.stack(bgr)[..., ::-1])
    np.testing.assert_array_equal(_loaded_video(tmp_path / record), loaded)  # JPEG records: the same pixels


def test_the_manifest_keeps_the_video_encoding(avia_raw_bgr, tmp_path):
    mat, raw, out = avia_raw_bgr / "mat", avia_raw_bgr / "raw", avia_raw_bgr / "out"
    assert json.loads((out / "conversion.json").read_text()) == {
        "flavour": "avia", "modalities": list(schema.MODALITIES), "video_encoding": "raw_bgr"}
    with pytest.raises(ValueError, match="'video_encoding': 'raw_bgr'.* this run asks for .*'video_encoding': 'jpeg'"):
        convert_dataset(mat, raw, out, progress=False)
    convert_dataset(mat, raw, tmp_path / "jpeg", modalities=("video",), progress=False)
    with pytest.raises(ValueError, match="'video_encoding': 'jpeg'.* this run asks for .*'video_encoding': 'raw_bgr'"):
        convert_dataset(mat, raw, tmp_path / "jpeg", modalities=("video",), raw_video=True, progress=False)

    # A manifest written before encodings were recorded: its AVIA records hold JPEG files.
    old = tmp_path / "old"
    old.mkdir()
    (old / "conversion.json").write_text(json.dumps({"layout": "avia", "modalities": ["video"]}))
    with pytest.raises(ValueError, match="this run asks for .*'raw_bgr'"):
        convert_dataset(mat, raw, old, modalities=("video",), raw_video=True, progress=False)
    assert convert_dataset(mat, raw, old, modalities=("video",), progress=False).records_written == 30
