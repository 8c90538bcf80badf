"""The content_identity stage through main.py and evaluate.py on simulated AVIA subjects
speaking: a run with its checkpoints, resume, TensorBoard scalars and the learning rate it
was given; verification trials written, reused and refused when malformed."""
import json
from pathlib import Path

import numpy as np
import pytest

import evaluate as evaluate_script
from dataloader.datasets import AVIA_SPEC

SPEAKING = AVIA_SPEC.class_names.index("speaking")


def _run_main(args):
    import main
    from trainer.session import run

    main.FLAGS.unparse_flags()
    main.FLAGS(["main.py", *args])
    return run(main.flag_config())


def _write_list(path: Path, records: Path, seconds) -> Path:
    directories = sorted(records.glob("Location_*/Subject_*/Action_*"))
    path.write_text("".join(f"{d / f'Data_{s:03d}.tfrecord'}\n" for d in directories for s in seconds))
    return path


@pytest.fixture(scope="module")
def speakers(tmp_path_factory):
    """Subjects 1 and 2 speaking for 8 s in locations 1 and 2: two recordings of each."""
    import convert_data
    from dualcam.simulate import simulate_dataset

    root = tmp_path_factory.mktemp("speakers")
    simulate_dataset(root / "sim", "avia", seconds=8.0, seed=3, locations=[1, 2], subjects=[1, 2],
                     actions=[SPEAKING], progress=False, workers=2)
    records = root / "tfr"
    assert convert_data.main([str(root / "sim" / "mat"), str(root / "sim" / "raw"), str(records), "--quiet"]) == 0
    return {"train": _write_list(root / "train.txt", records, range(1, 6)),
            "valid": _write_list(root / "valid.txt", records, range(6, 9)),
            "test": _write_list(root / "test.txt", records, range(1, 9))}


@pytest.fixture(scope="module")
def ci_run(speakers, tmp_path_factory):
    out = tmp_path_factory.mktemp("ci_runs")
    common = ["--stage", "content_identity", "--train_file", str(speakers["train"]), "--valid_file",
              str(speakers["valid"]), "--checkpoint_dir", str(out), "--exp_name", "ci", "--batch_size", "4",
              "--steps_per_epoch", "2", "--learning_rate", "3e-4", "--verbose", "0"]
    first = _run_main(["--mode", "train", *common, "--num_epochs", "1"])
    resumed = _run_main(["--mode", "train", *common, "--num_epochs", "2"])
    return {"out": out, "run": out / "ci", "first": first, "resumed": resumed}


def _scalars(directory: Path) -> set[str]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(str(directory), size_guidance={"tensors": 0})
    accumulator.Reload()
    return set(accumulator.Tags()["tensors"])


def test_a_run_trains_resumes_and_logs_both_losses_and_top1(ci_run):
    run, first, resumed = ci_run["run"], ci_run["first"], ci_run["resumed"]
    config = json.loads((run / "config.json").read_text())
    assert config["stage"] == "content_identity" and config["networks"] == {
        "video_net": "content_identity_video", "audio_net": "content_identity_audio"}
    assert config["sample_length"] == 3 and config["nr_frames"] is None  # the recipe's; the stage takes every frame
    assert first["steps"] == 2 and resumed["resumed"] and resumed["start_epoch"] == 1 and resumed["steps"] == 4
    names = {"content_loss", "identity_loss", "content_accuracy", "identity_accuracy"}
    assert set(resumed["logs"]) >= names | {"loss"} | {f"val_{name}" for name in names}
    assert all(np.isfinite(value) for value in resumed["logs"].values())
    assert {f"epoch_{name}" for name in names} <= _scalars(run / "logs" / "train")
    assert {Path(p).name for p in resumed["networks"].values()} == {"video_net.weights.h5", "audio_net.weights.h5"}


def test_the_learning_rate_flag_is_the_optimizers(ci_run):
    import tensorflow as tf

    reader = tf.train.load_checkpoint(str(ci_run["run"] / "checkpoints" / "last"))
    rates = [reader.get_tensor(key) for key in reader.get_variable_to_shape_map() if "learning_rate" in key]
    assert rates and all(float(rate) == pytest.approx(3e-4) for rate in rates)


def test_evaluate_writes_trials_scores_them_and_reuses_them(ci_run, speakers, capsys, tmp_path):
    args = ["--checkpoint_dir", str(ci_run["out"]), "--exp_name", "ci", "--test_file", str(speakers["test"]),
            "--clip_seconds", "2"]
    assert evaluate_script.main([*args, "--out", str(tmp_path / "made.json")]) == 0
    table = capsys.readouterr().out
    assert "audio identity: EER, all" in table and "mean-MFCC cosine: EER, all" in table
    made = json.loads((tmp_path / "made.json").read_text())["identity"]
    # 4 recordings x 4 clips of 2 s; pairs of clips from two recordings: 120 - 4 x 6 = 96, of one subject 2 x 16.
    assert made["clips"] == 16 and made["eer"]["trials"]["all"] == {"same": 32, "different": 64}
    assert made["eer"]["trials"]["seen"] == {"same": 32, "different": 64}  # both subjects trained
    assert made["eer"]["trials"]["unseen"] == {"same": 0, "different": 0}
    assert made["eer"]["identity"]["unseen"] is None and 0 <= made["eer"]["identity"]["all"] <= 1
    assert made["content_chance"] == pytest.approx(1 / 12) and 0 <= made["content_top1"] <= 1
    trials = ci_run["run"] / "trials.txt"
    lines = trials.read_text().splitlines()
    assert len(lines) == 96 and all(line.split()[0] in "01" and len(line.split()) == 3 for line in lines)
    assert lines[0].split()[1].endswith("/Data_001-002")
    reused = tmp_path / "trials.txt"
    reused.write_text("\n".join(lines[::2]) + "\n")
    assert evaluate_script.main([*args, "--trials", str(reused), "--out", str(tmp_path / "reused.json")]) == 0
    again = json.loads((tmp_path / "reused.json").read_text())["identity"]
    assert again["eer"]["trials"]["all"]["same"] + again["eer"]["trials"]["all"]["different"] == 48
    assert again["trials_file"] == str(reused)


@pytest.mark.parametrize("mistake", ["malformed trials", "clips longer than the recordings", "one recording"])
def test_a_mistake_is_one_line_naming_its_flag(ci_run, speakers, capsys, tmp_path, mistake):
    bad = tmp_path / "bad.txt"
    bad.write_text("1 a b\n2 c d\n")
    one = tmp_path / "one.txt"
    one.write_text("".join(speakers["test"].read_text().splitlines(keepends=True)[:8]))  # one recording's 8 s
    flags, expected = {
        "malformed trials": (["--test_file", str(speakers["test"]), "--clip_seconds", "2", "--trials", str(bad)],
                             f"--trials: {bad}:2"),
        "clips longer than the recordings": (["--test_file", str(speakers["test"]), "--clip_seconds", "9"],
                                             "--clip_seconds:"),
        "one recording": (["--test_file", str(one), "--clip_seconds", "2"], "--test_file:"),
    }[mistake]
    with pytest.raises(SystemExit) as exit_info:
        evaluate_script.main(["--checkpoint_dir", str(ci_run["out"]), "--exp_name", "ci", *flags])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith(f"evaluate.py: error: {expected}") and "\n" not in error


@pytest.mark.slow
def test_a_short_run_verifies_seen_subjects_better_than_mean_mfccs(tmp_path):
    """Six subjects speaking for 8 s in each of the three locations: 120 steps on each
    recording's first 5 s, then verification on its last 3 s (one clip each), every
    same-subject trial pairing two locations. The mean-MFCC cosine needs no training and tells these voices
    apart well; the trained audio identity must do better. Measured: EER 0.7 % (1 of 135
    different-subject trials above the threshold) against the mean-MFCC cosine's 5.6 % (1 of
    18 same-subject trials below it); content top-1 0.28 (chance 1/12)."""
    import convert_data
    from dualcam.simulate import simulate_dataset
    from evaluation.evaluate import evaluate_run

    simulate_dataset(tmp_path / "sim", "avia", seconds=8.0, seed=7, subjects=range(1, 7), actions=[SPEAKING],
                     progress=False, workers=2)
    records = tmp_path / "tfr"
    assert convert_data.main([str(tmp_path / "sim" / "mat"), str(tmp_path / "sim" / "raw"), str(records),
                              "--workers", "2", "--quiet"]) == 0
    train = _write_list(tmp_path / "train.txt", records, range(1, 6))
    test = _write_list(tmp_path / "test.txt", records, range(6, 9))
    _run_main(["--mode", "train", "--stage", "content_identity", "--train_file", str(train), "--checkpoint_dir",
               str(tmp_path), "--exp_name", "short", "--num_epochs", "20", "--deterministic", "--verbose", "0"])
    found = evaluate_run(tmp_path / "short", test_file=str(test), clip_seconds=3)["identity"]
    eer = found["eer"]
    assert found["clips"] == 18 and eer["trials"]["seen"] == {"same": 18, "different": 135}
    assert eer["identity"]["seen"] < eer["mean_mfcc"]["seen"]
