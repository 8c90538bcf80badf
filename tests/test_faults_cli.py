"""Bad input never poisons a run: a flag mistake is one line and exit 2, bad data one line and
exit 1, and a run that never trained leaves nothing behind; statistics files are finite and
reused only for the list they were computed from; a restarted run applies or refuses each
changed flag, never keeps the old value silently; TensorFlow's start-up logs stay out of
our commands' output."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dataloader import schema, stats
from logger import quiet
from trainer import restart, statistics
from trainer.config import FlagError, RunConfig
from trainer.plan import complete
from trainer.rundir import RunDir

REPO = Path(__file__).resolve().parents[1]
START_UP_LINES = ("Unable to register cu", "Could not find cuda drivers", "oneDNN custom operations",
                  "This TensorFlow binary is optimized", "absl::InitializeLog", "TF-TRT Warning")


def write_records(root: Path, name: str = "training.txt", classes=(0, 1, 2), seconds: int = 2,
                  non_finite: int = 0) -> str:
    """A list of ACIVW records holding acoustic images only, one 2-s recording per class; the
    first record's images hold `non_finite` NaNs."""
    rng = np.random.default_rng(7)
    paths = []
    for class_index in classes:
        for second in range(1, seconds + 1):
            path = root / f"class_{class_index}" / "data_001" / f"Data_{second:03d}.tfrecord"
            path.parent.mkdir(parents=True, exist_ok=True)
            images = (rng.normal(size=(12, 36, 48, 12)) + class_index).astype(np.float32)
            if not paths:
                images.reshape(-1)[:non_finite] = np.nan
            schema.write_record_file(path, schema.make_sequence_example(
                "acivw", {"classes": class_index, "location": 1}, acoustic_image=images))
            paths.append(str(path))
    list_file = root / name
    list_file.write_text("".join(f"{path}\n" for path in paths))
    return str(list_file)


def train_args(list_file: str, runs: Path, *extra: str) -> list[str]:
    return ["--mode", "train", "--model", "DualCamHybridNet", "--train_file", list_file, "--checkpoint_dir",
            str(runs), "--exp_name", "run", "--sample_length", "1", "--number_of_crops", "1", "--batch_size", "2",
            "--num_epochs", "1", "--steps_per_epoch", "1", "--learning_rate", "1e-3", "--verbose", "0", *extra]


def run_main(args: list[str], capsys) -> tuple[int, str]:
    """main.py in this process: its exit code and the last line it wrote to stderr."""
    import main

    main.FLAGS.unparse_flags()
    main.FLAGS(["main.py", *args])
    capsys.readouterr()
    code = main.main([])
    err = capsys.readouterr().err.strip().splitlines()
    return code, err[-1] if err else ""


def command(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """A command of ours as a user runs it, without a TF_CPP_MIN_LOG_LEVEL of their own."""
    env = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}
    return subprocess.run([sys.executable, *args], cwd=REPO, env={**env, "PYTHONPATH": str(REPO)}, text=True,
                          capture_output=True, timeout=timeout)


@pytest.fixture(scope="module")
def records(tmp_path_factory) -> str:
    return write_records(tmp_path_factory.mktemp("records"))


@pytest.mark.parametrize("extra, flag, words", [
    (["--train_file", "no_such_list.txt"], "--train_file", "no such file: no_such_list.txt"),
    (["--model_2", "DualCamHybridNett", "--model_1", "ResNet18_v1"], "--model_2", "unknown model 'DualCamHybridNett'"),
    (["--batch_size", "two"], "--batch_size", "invalid literal"),
])
def test_a_flag_mistake_is_one_line_exit_2_and_leaves_no_run(records, tmp_path, extra, flag, words):
    done = command("main.py", *train_args(records, tmp_path / "runs"), *extra)  # the last of a flag counts
    assert done.returncode == 2
    assert done.stderr.splitlines() == [done.stderr.strip()]  # one line: no traceback, no TensorFlow start-up
    assert done.stderr.startswith("main.py: error: ") and flag in done.stderr and words in done.stderr
    assert not (tmp_path / "runs").exists()


def test_flag_mistakes_of_the_other_commands_are_one_line_exit_2(records, tmp_path, capsys):
    import evaluate
    import framecount

    for main, args, line in (
        (evaluate.main, ["--checkpoint_dir", str(tmp_path), "--exp_name", "none"],
         f"evaluate.py: error: --exp_name: no run (config.json) at {tmp_path / 'none'}"),
        (evaluate.main, ["--compare", str(tmp_path / "a.json")], f"evaluate.py: error: --compare: no such file: "
                                                                   f"{tmp_path / 'a.json'}"),
        (stats.main, [str(tmp_path / "none.txt"), "--input", "acoustic_image", "--out", str(tmp_path / "s.npz")],
         f"python -m dataloader.stats: error: list: no such file: {tmp_path / 'none.txt'}"),
        (stats.main, [records, "--input", "acoustic_image", "--out", str(tmp_path / "no" / "s.npz")],
         f"python -m dataloader.stats: error: --out: no such directory: {tmp_path / 'no'}"),
        (framecount.main, [str(tmp_path / "none"), "0"], f"framecount.py: error: path: no such directory: "
                                                         f"{tmp_path / 'none'}"),
    ):
        with pytest.raises(SystemExit) as stop:
            main(args)
        assert stop.value.code == 2 and capsys.readouterr().err.splitlines() == [line]
    assert sorted(os.listdir(tmp_path)) == []


def test_commands_print_no_tensorflow_start_up_lines(records, tmp_path):
    done = [
        command("-c", "import logger.quiet, tensorflow as tf; print(tf.reduce_sum(tf.ones(3)).numpy())"),
        command("-m", "dataloader.stats", records, "--input", "acoustic_image", "--out", str(tmp_path / "s.npz")),
        command("evaluate.py", "--checkpoint_dir", str(tmp_path), "--exp_name", "none"),  # after tensorflow's import
    ]
    assert [d.returncode for d in done] == [0, 0, 2] and done[0].stdout == "3.0\n"
    for lines in (d.stderr for d in done):
        assert not [line for line in lines.splitlines() if any(text in line for text in START_UP_LINES)], lines
    assert done[2].stderr.count("\n") == 1


def test_the_start_up_filter_drops_native_lines_by_level_and_keeps_everything_else():
    info = "I0000 00:00:1796148294.316182   22331 port.cc:153] oneDNN custom operations are on."
    warning = "W1201 18:02:01.123456    7 cpu_feature_guard.cc:227] This TensorFlow binary is optimized"
    error = "E0000 00:00:1796148311.949011   28406 cuda_platform.cc:52] failed call to cuInit"
    fatal = "F0000 00:00:1796148311.949011   28406 status.cc:1] check failed"
    notice = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
    others = ["UserWarning: I0000 is a name", "Traceback (most recent call last):", "I0000 00:00 not a log line"]
    native = (info, warning, error, fatal, notice)
    for level, kept in [(0, 5), (1, 3), (2, 2), (3, 1), (9, 1)]:
        assert [quiet.dropped(line, level) for line in native].count(False) == kept
        assert not any(quiet.dropped(line, level) for line in others)
    assert [quiet.dropped(line, 2) for line in native] == [True, True, False, False, True]
    # TensorFlow's own format, as GPU builds write it at start-up
    tf_info = "2025-09-17 14:44:05.157831: I external/local_xla/xla/tsl/cuda/cudart_stub.cc:32] Could not find cuda"
    tf_error = "2025-09-17 14:44:05.167843: E external/local_xla/xla/stream_executor/cuda/cuda_fft.cc:467] Unable"
    assert [quiet.dropped(line, 2) for line in (tf_info, tf_error)] == [True, False]
    assert quiet.dropped(tf_error, 3)


def test_native_lines_written_while_filtered_are_dropped_and_the_rest_kept(capfd):
    with quiet.native_logs_filtered(3):
        os.write(2, b"I0000 00:00:1.5  12 port.cc:153] oneDNN custom operations are on.\nkept line\n")
        sys.stderr.write("a Python warning\n")
    # sorted: under capfd, sys.stderr is pytest's and does not go through descriptor 2
    assert sorted(capfd.readouterr().err.splitlines()) == ["a Python warning", "kept line"]


def test_a_fatal_line_before_a_native_abort_still_shows():
    """As TensorFlow aborts on a CPU without the instructions it was built for."""
    done = command("-c", "import os, logger.quiet as q\nwith q.native_logs_filtered(3):\n"
                         "    os.write(2, b'I0000 00:00:1.5  12 port.cc:1] dropped\\n"
                         "F0000 00:00:1.5  12 cpu_feature_guard.cc:1] this CPU lacks AVX\\n')\n    os.abort()")
    assert done.returncode == -6  # SIGABRT
    assert done.stderr == "F0000 00:00:1.5  12 cpu_feature_guard.cc:1] this CPU lacks AVX\n"


@pytest.mark.parametrize("read_by", ["statistics", "training"])
def test_a_bad_record_stops_main_in_one_line_exit_1_leaving_no_run(records, tmp_path, read_by):
    """Read first by the run's statistics, or (with statistics given) by the first training
    batch, where every record is bad."""
    list_file = write_records(tmp_path)
    given = []
    if read_by == "training":
        given = ["--acoustic_image_stats", str(tmp_path / "given.npz")]
        assert stats.main([records, "--input", "acoustic_image", "--out", given[1]]) == 0
    paths = [Path(path) for path in Path(list_file).read_text().split()]
    for path in paths if read_by == "training" else paths[3:4]:
        path.write_bytes(path.read_bytes()[:5000])  # truncated
    done = command("main.py", *train_args(list_file, tmp_path / "runs"), *given)
    lines = done.stderr.splitlines()
    assert done.returncode == 1 and len(lines) == 1 + bool(given)  # given: the warning of their other list
    assert lines[-1].startswith("main.py: error: ") and any(f"{path}: " in lines[-1] for path in paths)
    assert not (tmp_path / "runs").exists()


def test_a_failed_start_in_an_existing_directory_removes_only_what_it_made(tmp_path, capsys):
    list_file = write_records(tmp_path / "data", non_finite=3)
    run = tmp_path / "runs" / "run"
    run.mkdir(parents=True)
    (run / "notes.txt").write_text("mine")
    code, line = run_main(train_args(list_file, tmp_path / "runs"), capsys)
    assert code == 1 and line.startswith("main.py: error: ") and "3 non-finite" in line and list_file in line
    assert sorted(os.listdir(run)) == ["notes.txt"]


def test_statistics_of_non_finite_data_are_refused_and_never_written(tmp_path, capsys):
    list_file = write_records(tmp_path, non_finite=5)
    out = tmp_path / "s.npz"
    with pytest.raises(SystemExit) as stop:
        stats.main([list_file, "--input", "acoustic_image", "--out", str(out)])
    err = capsys.readouterr().err
    assert stop.value.code == 1 and err.count("\n") == 1
    assert f"{list_file}: 5 non-finite acoustic_image values" in err and "class_0/data_001 from second 1" in err
    assert sorted(os.listdir(tmp_path)) == ["class_0", "class_1", "class_2", "training.txt"]
    with pytest.raises(stats.NonFiniteStatisticsError, match="1 non-finite values"):
        stats.save_statistics(out, {"mean": np.array([0.0, np.nan]), "std": np.ones(2)})
    assert not out.exists()


def _configured(list_file: str, runs: Path, **flags) -> tuple[RunConfig, object]:
    return complete(RunConfig(mode="train", model="DualCamHybridNet", train_file=list_file, checkpoint_dir=str(runs),
                              exp_name="run", sample_length=1, **flags))


def test_the_runs_own_statistics_are_computed_again_when_its_list_changes(tmp_path, monkeypatch):
    list_file = write_records(tmp_path / "data")
    config, plan = _configured(list_file, tmp_path / "runs")
    path = Path(plan.loader.acoustic_image_stats_path)
    assert path == RunDir(tmp_path / "runs" / "run").statistics("acoustic_image")
    computed = []
    compute = stats.compute_statistics
    monkeypatch.setattr(stats, "compute_statistics", lambda **kwargs: computed.append(1) or compute(**kwargs))

    def fingerprint_of_file():
        return stats.recorded_provenance(path)["fingerprint"]

    statistics.input_statistics(config, plan)
    first = fingerprint_of_file()
    statistics.input_statistics(config, plan)  # the same files: reused
    assert len(computed) == 1
    record = Path(list_file).read_text().split()[2]
    os.utime(record, ns=(os.stat(record).st_atime_ns, os.stat(record).st_mtime_ns + 10**9))  # rewritten
    statistics.input_statistics(config, plan)
    assert len(computed) == 2 and fingerprint_of_file() != first
    assert stats.recorded_provenance(path) == stats.provenance(list_file, stats.acoustic_image_config(list_file),
                                                               input_name="acoustic_image", max_records=400)
    with np.load(path) as saved:  # a file of an older version, which records no list
        older = {key: saved[key] for key in saved if key not in ("fingerprint", "provenance")}
    np.savez(path, **{**older, "mean": older["mean"] * np.nan})  # ... and is not finite
    statistics.input_statistics(config, plan)
    assert len(computed) == 3 and fingerprint_of_file() == stats.provenance(**statistics._own_statistics_source(
        config, plan, "acoustic_image"))["fingerprint"]
    with np.load(path) as saved:
        assert np.isfinite(saved["mean"]).all()


def test_statistics_a_user_gives_are_taken_from_any_list_but_never_unsound(tmp_path, caplog):
    list_file = write_records(tmp_path / "data")
    teacher_list = write_records(tmp_path / "teacher", classes=(3, 4))
    given = tmp_path / "teacher_stats.npz"
    assert stats.main([teacher_list, "--input", "acoustic_image", "--out", str(given)]) == 0
    config, plan = _configured(list_file, tmp_path / "runs", acoustic_image_stats=str(given))
    with caplog.at_level("WARNING", logger="absl"):
        statistics.input_statistics(config, plan)  # a teacher's statistics: taken as given, and their list logged
    assert f"of {teacher_list}, not of --train_file {list_file}; used as given" in caplog.text
    assert not (tmp_path / "runs").exists()

    with np.load(given) as saved:
        values = {key: saved[key] for key in saved}
    for name, changed, problem in (("nan.npz", {"std": values["std"] * np.inf}, "12 non-finite values"),
                                   ("short.npz", {"mean": values["mean"][:10]}, r"channels, not of \(12,\)")):
        np.savez(tmp_path / name, **{**values, **changed})
        config, plan = _configured(list_file, tmp_path / "runs", acoustic_image_stats=str(tmp_path / name))
        with pytest.raises(FlagError, match=problem) as refused:
            statistics.input_statistics(config, plan)
        assert refused.value.flags == ("acoustic_image_stats",) and str(tmp_path / name) in str(refused.value)
    with pytest.raises(stats.NonFiniteStatisticsError, match="12 non-finite"):
        stats.load_acoustic_image_normalisation(plan.loader.__class__(
            "acivw", ("acoustic_image",), acoustic_image_stats_path=str(tmp_path / "nan.npz")))


@pytest.fixture
def trained(records, tmp_path, capsys):
    """A run of one step (lr 1e-3, batch 2, one epoch), its arguments and directory."""
    args = train_args(records, tmp_path / "runs")
    assert run_main(args, capsys)[0] == 0
    return args, tmp_path / "runs" / "run"


def test_a_restart_with_changed_shaping_flags_is_refused_naming_each(trained, capsys):
    args, run = trained
    saved = (run / "config.json").read_text()
    code, line = run_main([*args, "--batch_size", "4", "--seed", "3", "--verbose", "1"], capsys)
    assert code == 2
    assert line.startswith("main.py: error: --batch_size, --seed: batch_size 2 -> 4, seed 0 -> 3: the run in ")
    assert (run / "config.json").read_text() == saved


def test_a_restart_applies_a_new_learning_rate_and_epoch_count_and_records_them(trained, capsys):
    import tensorflow as tf

    args, run = trained
    assert run_main([*args, "--num_epochs", "2", "--learning_rate", "5e-4"], capsys)[0] == 0
    config = json.loads((run / "config.json").read_text())
    assert config["num_epochs"] == 2 and config["learning_rate"] == 5e-4
    assert config[restart.CONFIG_CHANGES] == [{"epoch": 1, "step": 1, "changes": {"num_epochs": [1, 2],
                                                                              "learning_rate": [1e-3, 5e-4]}}]
    # The optimizer trained the second epoch with the new rate, not the one its restored state held.
    state = tf.train.load_checkpoint(tf.train.latest_checkpoint(str(run / "checkpoints" / "last")))
    assert state.get_tensor("epoch/.ATTRIBUTES/VARIABLE_VALUE") == 2
    assert state.get_tensor("optimizer/_learning_rate/.ATTRIBUTES/VARIABLE_VALUE") == pytest.approx(5e-4)
    # The same command again changes nothing more.
    assert run_main([*args, "--num_epochs", "2", "--learning_rate", "5e-4"], capsys)[0] == 0
    assert json.loads((run / "config.json").read_text())[restart.CONFIG_CHANGES] == config[restart.CONFIG_CHANGES]


def test_every_flag_of_main_has_a_restart_policy():
    import main

    keys = {flag.name for flag in main.FLAGS.get_flags_for_module(main)} | {"log_dir", "networks"}
    applied, refused = set(restart.APPLIED_ON_RESUME), set(restart.REFUSED_ON_RESUME)
    assert keys <= applied | refused, keys - applied - refused
    assert not applied & refused
