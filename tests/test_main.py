"""main.py end to end on simulated data: every stage trains, writes its run, and tests."""
import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def lists(simulated_acivw):
    return simulated_acivw["lists"]


def _run_main(args, **env):
    import main

    main.FLAGS.unparse_flags()
    main.FLAGS(["main.py", *args])
    from trainer.session import run

    return run(main.flag_config())


STAGES = {
    "supervised": ["--model", "DualCamHybridNet", "--sample_length", "1", "--number_of_crops", "2"],
    "self_supervised": ["--model_1", "ResNet18_v1", "--model_2", "DualCamHybridNet", "--sample_length", "2",
                        "--number_of_crops", "2"],
    "transfer": ["--embedding", "1", "--transfer", "1", "--model_1", "ResNet18_v1", "--model_2", "HearNet",
                 "--sample_length", "2", "--number_of_crops", "2", "--alpha", "0.3"],
    "distillation": ["--distillation", "1", "--model_1", "DualCamHybridNet", "--model_2", "HearNet",
                     "--sample_length", "2", "--temperature_value", "2", "--lambda_value", "0.5"],
}


UNUSED_SECONDS = {"supervised": {"train": 0, "valid": 0}, "self_supervised": {"train": 6, "valid": 3},
                  "transfer": {"train": 6, "valid": 3}, "distillation": {"train": 0, "valid": 3}}


@pytest.mark.parametrize("stage", [pytest.param(s, marks=[] if s == "supervised" else pytest.mark.slow)
                                   for s in STAGES])
def test_stage_through_main_writes_run_and_tests(lists, tmp_path, stage):
    common = ["--train_file", str(lists / "training.txt"), "--valid_file", str(lists / "validation.txt"),
              "--checkpoint_dir", str(tmp_path), "--exp_name", stage, "--batch_size", "4", "--num_epochs", "2",
              "--steps_per_epoch", "2", "--verbose", "0"]
    summary = _run_main(["--mode", "train", *common, *STAGES[stage]])
    run = tmp_path / stage
    config = json.loads((run / "config.json").read_text())
    assert config["stage"] == stage and config["flavour"] == "acivw"
    with np.load(config["acoustic_image_stats"]) as statistics:  # every stage reads acoustic images
        assert Path(config["acoustic_image_stats"]) == run / "acoustic_image_stats.npz"
        assert statistics["mean"].shape == (12,) and str(statistics["list"]) == str(lists / "training.txt")
    assert summary["steps"] == 4 and not summary["resumed"]
    # 3-s recordings, 6 in training and 3 in validation: (A)'s recipe cuts them into 2-s blocks, whose last second
    # holds no 2-s window; 2-s evaluation windows leave each recording's last second.
    assert summary["seconds_in_no_window"] == UNUSED_SECONDS[stage]
    # Only a self-supervised DualCamNet has its initial draw checked (and maybe redrawn).
    assert ("audio_map_orientation" in summary) == (stage == "self_supervised")
    assert list((run / "checkpoints" / "last").glob("ckpt-*.index"))
    best = json.loads((run / "checkpoints" / "best.json").read_text())
    assert all(Path(p).is_file() for p in summary["networks"].values())
    assert list((run / "logs" / "train").glob("events.out.tfevents.*"))

    tested = _run_main(["--mode", "test", *common, "--test_file", str(lists / "validation.txt"), *STAGES[stage]])
    metrics = json.loads(Path(tested["metrics_file"]).read_text())
    assert metrics[best["monitor"].removeprefix("val_")] == pytest.approx(best["value"], abs=1e-6)


def test_hearnet_run_normalises_with_statistics_of_its_training_list(lists, tmp_path):
    from dataloader import stats

    common = ["--model", "HearNet", "--checkpoint_dir", str(tmp_path), "--batch_size", "2", "--sample_length", "2",
              "--verbose", "0"]
    train = ["--mode", "train", "--train_file", str(lists / "training.txt"), "--num_epochs", "1",
             "--steps_per_epoch", "1", *common]
    _run_main([*train, "--exp_name", "h"])
    config = json.loads((tmp_path / "h" / "config.json").read_text())
    assert Path(config["stats_file"]) == tmp_path / "h" / "spectrogram_stats.npz"
    import main
    from trainer import plan

    main.FLAGS.unparse_flags()
    main.FLAGS(["main.py", *train, "--exp_name", "h"])
    _, planned = plan.complete(main.flag_config())
    assert planned.loader.normalisation == "mean_std" and planned.loader.stats_path == config["stats_file"]
    expected = stats.compute_statistics(str(lists / "training.txt"), planned.loader)
    with np.load(config["stats_file"]) as written:
        np.testing.assert_allclose(written["mean"], expected["mean"], rtol=1e-6)
        np.testing.assert_allclose(written["std"], expected["std"], rtol=1e-6)
        assert written["mean"].shape == (257,)
    # A test of a run that has none is refused rather than fed unnormalised spectrograms.
    with pytest.raises(ValueError, match="no spectrogram statistics"):
        _run_main(["--mode", "test", "--test_file", str(lists / "validation.txt"), "--exp_name", "other", *common])
    main.FLAGS.unparse_flags()
    main.FLAGS(["main.py", *train, "--exp_name", "raw", "--nonormalize"])
    config, planned = plan.complete(main.flag_config())
    assert config.stats_file is None and planned.loader.normalisation is None


def test_recipe_blocks_hold_a_longer_sample(lists, tmp_path):
    import main
    from trainer import plan

    def total_length(*flags):
        main.FLAGS.unparse_flags()
        main.FLAGS(["main.py", "--mode", "train", "--model_1", "ResNet18_v1", "--model_2", "DualCamHybridNet",
                    "--train_file", str(lists / "training.txt"), "--checkpoint_dir", str(tmp_path), "--exp_name", "t",
                    *flags])
        return plan.complete(main.flag_config())[1].loader.total_length

    assert total_length() == 2 and total_length("--sample_length", "3") == 3
    assert total_length("--sample_length", "3", "--total_length", "6") == 6


def test_mirror_flag_mirrors_the_training_loader_only(lists, tmp_path):
    import main
    from trainer import data, plan

    main.FLAGS.unparse_flags()
    main.FLAGS(["main.py", "--mode", "train", "--model_1", "ResNet18_v1", "--model_2", "DualCamHybridNet",
                "--train_file", str(lists / "training.txt"), "--checkpoint_dir", str(tmp_path), "--exp_name", "m",
                "--batch_size", "2", "--mirror", "--nostandardise_acoustic_images"])
    config, planned = plan.complete(main.flag_config())
    assert planned.loader.mirror and planned.loader.training
    batch = next(iter(data.dataset(config.train_file, planned.loader, config)))
    assert batch["acoustic_image"].shape[0] == batch["video"].shape[0] == 2 and "mirror" not in batch


def test_flip_flag_turns_acoustic_images_as_the_original_a_loader(lists, tmp_path):
    import main
    from trainer import data, plan

    batches = {}
    for flip in ("--flip_acoustic_images", "--noflip_acoustic_images"):
        main.FLAGS.unparse_flags()
        main.FLAGS(["main.py", "--mode", "train", "--model", "DualCamHybridNet", "--train_file",
                    str(lists / "training.txt"), "--checkpoint_dir", str(tmp_path), "--exp_name", "f",
                    "--batch_size", "2", "--sample_length", "1", flip, "--nostandardise_acoustic_images"])
        config, planned = plan.complete(main.flag_config())
        assert planned.loader.flip_acoustic_images == (flip == "--flip_acoustic_images")
        in_order = dataclasses.replace(planned.loader, training=False)  # training batches come in any order
        batches[flip] = next(iter(data.dataset(config.train_file, in_order, config)))["acoustic_image"].numpy()
    flipped, plain = batches.values()
    assert np.abs(plain).max() > 0
    np.testing.assert_array_equal(flipped, plain[:, :, ::-1, ::-1])  # (batch, frames, 36, 48, 12)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _main_process(args, env=None, **kwargs):
    return subprocess.Popen([sys.executable, str(REPO / "main.py"), *args], cwd=REPO, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})}, **kwargs)


def _final_summary(output: str) -> dict:
    return json.loads(output[output.rfind("\n{") + 1:])  # the JSON may be all there is


def _train_args(lists, run_dir, name, *extra):
    return ["--mode", "train", "--model", "DualCamHybridNet", "--sample_length", "1", "--number_of_crops", "3",
            "--train_file", str(lists / "training.txt"), "--checkpoint_dir", str(run_dir), "--exp_name", name,
            "--batch_size", "4", "--num_epochs", "2", "--verbose", "0", "--learning_rate", "1e-3", "--deterministic",
            *extra]


@pytest.mark.slow
def test_killed_run_resumes_from_its_last_state(lists, tmp_path):
    args = _train_args(lists, tmp_path, "killed", "--save_every_steps", "1")
    process = _main_process(args)
    last = tmp_path / "killed" / "checkpoints" / "last"
    deadline = time.time() + 300
    while not any(last.glob("ckpt-3.index")) and time.time() < deadline and process.poll() is None:
        time.sleep(0.2)
    process.send_signal(signal.SIGKILL)
    process.wait()
    saved = max(int(p.name.split("-")[1].split(".")[0]) for p in last.glob("ckpt-*.index"))
    assert 3 <= saved
    resumed = _main_process(args)
    output, _ = resumed.communicate(timeout=600)
    summary = _final_summary(output)
    straight = _main_process(_train_args(lists, tmp_path, "straight"))
    reference = _final_summary(straight.communicate(timeout=600)[0])
    assert summary["resumed"] and summary["steps"] == reference["steps"]
    assert summary["logs"]["loss"] == pytest.approx(reference["logs"]["loss"], rel=1e-4)


@pytest.mark.slow
def test_two_devices_match_one_device(lists, tmp_path):
    one = _final_summary(_main_process(_train_args(lists, tmp_path, "one")).communicate(timeout=600)[0])
    two = _final_summary(_main_process(_train_args(lists, tmp_path, "two", "--logical_cpus", "2"))
                         .communicate(timeout=600)[0])
    assert two["steps"] == one["steps"]
    assert two["logs"]["loss"] == pytest.approx(one["logs"]["loss"], rel=1e-4)
    assert two["logs"]["accuracy"] == pytest.approx(one["logs"]["accuracy"])


def test_two_devices_validate_a_batch_they_split_unevenly(lists, tmp_path):
    """The validation list's 3 windows make one batch of 3, split 2 + 1 between the replicas."""
    args = _train_args(lists, tmp_path, "two", "--logical_cpus", "2", "--num_epochs", "1", "--valid_file",
                       str(lists / "validation.txt"), "--sample_length", "3", "--number_of_crops", "1")
    process = _main_process(args)
    output = process.communicate(timeout=600)[0]
    assert process.returncode == 0, output[-3000:]
    assert np.isfinite(_final_summary(output)["logs"]["val_loss"])


@pytest.mark.slow
def test_two_workers_match_one_device(lists, tmp_path):
    one = _final_summary(_main_process(_train_args(lists, tmp_path, "one")).communicate(timeout=600)[0])
    ports = [_free_port(), _free_port()]
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    workers = [_main_process(_train_args(lists, tmp_path, "multi"), env={"TF_CONFIG": json.dumps(
        {"cluster": cluster, "task": {"type": "worker", "index": i}})}) for i in range(2)]
    outputs = [worker.communicate(timeout=900)[0] for worker in workers]
    assert all(worker.returncode == 0 for worker in workers), outputs[0][-3000:]
    chief, other = _final_summary(outputs[0]), _final_summary(outputs[1])
    assert chief["steps"] == other["steps"] == one["steps"]
    assert chief["logs"]["loss"] == pytest.approx(one["logs"]["loss"], rel=1e-4)
    assert chief["logs"]["accuracy"] == pytest.approx(one["logs"]["accuracy"])
    assert other["logs"] == chief["logs"]
    assert (tmp_path / "multi" / "checkpoints" / "best").is_dir() or list((tmp_path / "multi" / "checkpoints" /
                                                                           "last").glob("ckpt-*.index"))
    assert (tmp_path / "multi" / "worker_1").is_dir()


@pytest.mark.parametrize("tf_config, expected", [
    (None, "run"),
    ({"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 0}}, "run"),
    ({"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 1}}, "run/worker_1"),
    ({"cluster": {"chief": ["a:1"], "worker": ["b:2"]}, "task": {"type": "worker", "index": 0}}, "run/worker_0"),
    ({"cluster": {"chief": ["a:1"], "worker": ["b:2"]}, "task": {"type": "chief", "index": 0}}, "run"),
])
def test_each_process_of_a_run_writes_its_own_directory(monkeypatch, tf_config, expected):
    from trainer.distribute import process_run_dir

    if tf_config is None:
        monkeypatch.delenv("TF_CONFIG", raising=False)
    else:
        monkeypatch.setenv("TF_CONFIG", json.dumps(tf_config))
    assert process_run_dir(Path("run")) == Path(expected)


def test_a_recipe_by_name_plans_what_its_flags_plan_and_flags_override_it(lists, tmp_path):
    import main
    from trainer import plan

    def planned(*flags):
        main.FLAGS.unparse_flags()
        main.FLAGS(["main.py", "--mode", "train", "--train_file", str(lists / "training.txt"), "--checkpoint_dir",
                    str(tmp_path), "--exp_name", "r", *flags])
        return plan.complete(main.flag_config())

    config, by_name = planned("--recipe", "a_self_supervised")
    explicit_config, explicit = planned("--embedding", "1", "--model_1", "ResNet18_v1", "--model_2", "DualCamHybridNet",
                                        "--batch_size", "64", "--learning_rate", "1e-5", "--num_epochs", "20",
                                        "--sample_length", "2", "--total_length", "2", "--number_of_crops", "1")
    assert by_name == explicit
    assert (config.batch_size, config.learning_rate, config.num_epochs) == (64, 1e-5, 20)
    # config.json as a run of the original flags writes it, so one resumes the other
    assert config.as_dict() == {**explicit_config.as_dict(), "recipe": "a_self_supervised"}
    # a longer sample than the recipe's makes its blocks as long, as without --recipe
    assert planned("--recipe", "a_self_supervised", "--sample_length", "3")[1].loader.total_length == 3
    config, overridden = planned("--recipe", "b_teacher", "--sample_length", "2", "--batch_size", "8")
    assert overridden.stage == "supervised" and overridden.networks == {"net": "dualcamnet"}
    assert (config.sample_length, config.batch_size, config.learning_rate) == (2, 8, 1e-3)
    assert overridden.loader.number_of_crops == 30 and overridden.loader.total_length == 30
