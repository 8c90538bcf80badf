"""The conversion as a Beam pipeline on the DirectRunner, against the local converter: the same
files byte for byte (records, beamformed ones too, and the manifest; nothing else), the same
one-line errors, the same skipped recordings, and a re-run that resumes."""
import dataclasses
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import convert_data
from conversion import beam
from conversion.beam import convert_with_beam
from conversion.convert import convert_dataset
from dataloader import raw
from dataloader.datasets import ACIVW_SPEC
from dataloader.raw import RawDataError
from dualcam.geometry import GEOMETRY_FILENAME, default_geometry
from tests import raw_data

REPO = Path(__file__).resolve().parents[1]
RAW_ONLY = (2, 5)  # the ACIVW recording without acoustic images: beamformed from its audio


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def acivw(tmp_path_factory) -> Path:
    """Three recordings, one of which has raw 128-microphone audio only, and the geometry."""
    root = tmp_path_factory.mktemp("beam_acivw")
    seconds = {(0, 1): 1.5, (3, 2): 1.0, RAW_ONLY: 1.0}  # 1.5 s: the half second left over is not converted
    raw_data.write_acivw(root, seconds)
    for (c, v), length in seconds.items():
        raw_data.write_video_time(root, c, v, int(length))
    shutil.rmtree(root / ACIVW_SPEC.relative_dir(RAW_ONLY) / "MFCC_Image")
    default_geometry().save(root / GEOMETRY_FILENAME)
    return root


@pytest.fixture(scope="module")
def avia(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("beam_avia")
    raw_data.write_avia(root / "mat", root / "raw", {(1, 2, 0): 14})
    return root


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> Path:
    """Two 1-s ACIVW recordings, for the tests that damage one (a copy of its own each)."""
    root = tmp_path_factory.mktemp("beam_small")
    raw_data.write_acivw(root, {(0, 1): 1.0, (3, 2): 1.0})
    for c, v in ((0, 1), (3, 2)):
        raw_data.write_video_time(root, c, v, 1)
    return root


@pytest.mark.parametrize("flavour", ["acivw", "avia"])
def test_the_pipeline_writes_the_local_converters_files_byte_for_byte(acivw, avia, tmp_path, flavour):
    roots = (acivw, acivw) if flavour == "acivw" else (avia / "mat", avia / "raw")
    local = convert_dataset(*roots, tmp_path / "local", beamform=True, progress=False)
    piped = convert_with_beam(*roots, tmp_path / "beam", runner="DirectRunner", workers=2, beamform=True)
    assert _tree(tmp_path / "beam") == _tree(tmp_path / "local")
    assert (piped.recordings, piped.records_written, piped.bytes_written, piped.skipped) == (
        local.recordings, local.records_written, local.bytes_written, [])
    assert piped.records_written == (3 if flavour == "acivw" else 30)
    if flavour == "acivw":  # the raw-only recording was beamformed, not skipped
        assert (tmp_path / "beam/class_2/data_005/Data_001.tfrecord").is_file()


def _pipeline_line(line: str) -> str:
    """A report line without its timing, which differs run to run."""
    return re.sub(r" in [\d.]+ s \([\d.]+ recording-seconds per second\)", "", line)


def test_the_cli_runs_the_pipeline_quietly_and_a_rerun_resumes(small, tmp_path, capsys):
    """As a user runs it: no Beam or TensorFlow log lines, the report on stdout; then a re-run
    of a run that was interrupted keeps the complete records and counts them as present."""
    convert_dataset(small, small, tmp_path / "local", modalities=("acoustic_image", "audio_data"), progress=False)
    env = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}
    argv = [sys.executable, str(REPO / "convert_data.py"), str(small), str(tmp_path / "beam"), "--modalities", "0",
            "1", "--runner", "DirectRunner", "--workers", "2", "--", "--direct_running_mode", "multi_threading"]
    done = subprocess.run(argv, cwd=tmp_path, env={**env, "PYTHONPATH": str(REPO)}, capture_output=True, text=True,
                          timeout=300)
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.splitlines()[:2] == ["recordings: 2 converted, 0 skipped",
                                            "records: 2 written, 0 already complete (2 s of recording in the output)"]
    assert _tree(tmp_path / "beam") == _tree(tmp_path / "local")

    # Interrupted: a record missing, and a temporary file where it was being written.
    kept = tmp_path / "beam/class_0/data_001/Data_001.tfrecord"
    lost = tmp_path / "beam/class_3/data_002/Data_001.tfrecord"
    lost.rename(lost.with_name(lost.name + ".partial"))
    stamp = kept.stat().st_mtime_ns
    capsys.readouterr()
    assert convert_data.main(argv[2:]) == 0
    report = capsys.readouterr().out.splitlines()
    assert report[:2] == ["recordings: 2 converted, 0 skipped",
                          "records: 1 written, 1 already complete (2 s of recording in the output)"]
    assert "removed 1 temporary files of an interrupted run" in report
    assert kept.stat().st_mtime_ns == stamp
    assert _tree(tmp_path / "beam") == _tree(tmp_path / "local")  # and no summary file left


def _truncate_mat(root: Path) -> Path:
    path = root / ACIVW_SPEC.relative_dir((0, 1)) / "MFCC_Image" / raw.mat_name(5)
    path.write_bytes(path.read_bytes()[:100])
    return path


def _remove_video_time(root: Path) -> Path:
    path = root / ACIVW_SPEC.relative_dir((0, 1)) / "video_time.txt"
    path.unlink()
    return path


BAD_INPUTS = {  # found by the conversion of the recording, or by discovery
    "truncated mat": (_truncate_mat, "not a readable .mat file"),
    "no video_time.txt": (_remove_video_time, "missing file: run `python framecount.py ROOT 0`"),
}


def _run(argv: list[str], capsys) -> tuple[int, str, str]:
    capsys.readouterr()
    try:
        code = convert_data.main(argv)
    except SystemExit as stop:
        code = stop.code
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_bad_input_stops_in_the_local_converters_line_or_is_skipped_and_named(small, tmp_path, capsys, case):
    root = tmp_path / "raw"
    shutil.copytree(small, root)
    damage, problem = BAD_INPUTS[case]
    path = damage(root)
    local = [str(root), str(tmp_path / "local"), "--modalities", "0", "1", "--quiet"]
    piped = [str(root), str(tmp_path / "beam"), "--modalities", "0", "1", "--quiet", "--runner", "DirectRunner"]

    code, out, err = _run(piped, capsys)
    assert (code, out) == (1, "")
    assert err.startswith(f"convert_data.py: error: {path}: {problem}") and err.count("\n") == 1
    assert (code, out, err) == _run(local, capsys)

    # Into new directories: the pipeline converted the good recording before it reported the
    # bad one, the local converter stopped at the bad one, the first of its jobs.
    piped[1], local[1] = str(tmp_path / "beam_skipping"), str(tmp_path / "local_skipping")
    code, out, err = _run([*piped, "--skip_bad"], capsys)
    assert (code, err) == (0, "")
    assert "recordings: 1 converted, 1 skipped" in out
    assert f"skipped {path}: {problem}" in out
    _, local_out, _ = _run([*local, "--skip_bad"], capsys)
    assert list(map(_pipeline_line, out.splitlines())) == list(map(_pipeline_line, local_out.splitlines()))
    assert _tree(tmp_path / "beam_skipping") == _tree(tmp_path / "local_skipping")
    assert list((tmp_path / "beam_skipping").rglob("*.tfrecord")) == [
        tmp_path / "beam_skipping/class_3/data_002/Data_001.tfrecord"]


def test_an_output_that_cannot_be_written_stops_in_one_line_and_a_rerun_completes(small, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "class_3").write_text("a file where a directory of records goes")
    argv = [str(small), str(out), "--modalities", "1", "--quiet", "--runner", "DirectRunner", "--skip_bad"]
    code, _, err = _run(argv, capsys)
    assert code == 1
    assert err == f"convert_data.py: error: {out}/class_3/data_002/Data_001.tfrecord: cannot write (Not a directory)\n"
    assert [p.relative_to(out) for p in out.rglob("*.tfrecord")] == [Path("class_0/data_001/Data_001.tfrecord")]
    assert sorted(p.name for p in out.iterdir()) == ["class_0", "class_3", "conversion.json"]

    (out / "class_3").unlink()
    code, report, _ = _run(argv, capsys)
    assert code == 0
    assert report.splitlines()[1] == "records: 1 written, 1 already complete (2 s of recording in the output)"
    convert_dataset(small, small, tmp_path / "local", modalities=("audio_data",), progress=False)
    assert _tree(out) == _tree(tmp_path / "local")


def test_a_worker_that_does_not_mount_the_roots_stops_the_run_naming_them(small, tmp_path, monkeypatch):
    """Discovery on a worker that does not see the raw tree would find no recordings at all."""
    def prepared_elsewhere(*args, **kwargs):
        plan, summary = real_prepare(*args, **kwargs)
        return dataclasses.replace(plan, raw_root=tmp_path / "not_here"), summary

    real_prepare = beam.prepare
    monkeypatch.setattr(beam, "prepare", prepared_elsewhere)
    with pytest.raises(RawDataError, match=f"^{tmp_path}/not_here: not a directory on a Beam worker"):
        convert_with_beam(small, small, tmp_path / "out", runner="DirectRunner", modalities=("audio_data",))
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["conversion.json"]


@pytest.mark.parametrize("args, code, message", [
    (["--", "--project", "p"], 2, "the arguments after -- (--project p) are a Beam runner's options: give --runner"),
    (["--runner", "FlinkRunner", "--workers", "2"], 2, "--workers: the DirectRunner's threads"),
    (["--runner", "NoSuchRunner"], 1, "Unexpected pipeline runner: NoSuchRunner."),
])
def test_runner_mistakes_are_one_line_and_leave_no_output(small, tmp_path, capsys, args, code, message):
    stopped, out, err = _run([str(small), str(tmp_path / "out"), *args], capsys)
    assert (stopped, out) == (code, "")
    assert f"convert_data.py: error: {message}" in err.splitlines()[-1]
    assert not (tmp_path / "out").exists()
