"""The sync stage through main.py and evaluate.py on simulated records: a run with its
checkpoints, resume, distance histograms and test metrics, and offset prediction on a list."""
import json
from pathlib import Path

import numpy as np
import pytest

import evaluate as evaluate_script
from dataloader.datasets import ACIVW_SPEC


@pytest.fixture(scope="module")
def lists(simulated_acivw):
    return simulated_acivw["lists"]


def _run_main(args):
    import main
    from trainer.session import run

    main.FLAGS.unparse_flags()
    main.FLAGS(["main.py", *args])
    return run(main.flag_config())


def _events(directory: Path) -> dict[str, list]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(str(directory), size_guidance={"histograms": 0, "tensors": 0})
    accumulator.Reload()
    return {tag: accumulator.Tensors(tag) for tag in accumulator.Tags()["tensors"]}


@pytest.fixture(scope="module")
def crop_run(lists, tmp_path_factory):
    out = tmp_path_factory.mktemp("sync_runs")
    common = ["--stage", "sync", "--model_1", "sync_crop", "--train_file", str(lists / "training.txt"),
              "--valid_file", str(lists / "validation.txt"), "--checkpoint_dir", str(out), "--exp_name", "crop",
              "--batch_size", "2", "--steps_per_epoch", "2", "--verbose", "0"]
    first = _run_main(["--mode", "train", *common, "--num_epochs", "1"])
    resumed = _run_main(["--mode", "train", *common, "--num_epochs", "2"])
    return {"out": out, "run": out / "crop", "common": common, "first": first, "resumed": resumed}


def test_a_sync_run_trains_resumes_and_logs_distance_histograms(crop_run):
    run, first, resumed = crop_run["run"], crop_run["first"], crop_run["resumed"]
    config = json.loads((run / "config.json").read_text())
    assert config["stage"] == "sync" and config["networks"] == {"visual_net": "sync_crop", "audio_net": "sync_audio"}
    assert config["sample_length"] == 3 and config["learning_rate"] == 1e-3  # the u_sync recipe
    assert first["steps"] == 2 and not first["resumed"]
    assert resumed["resumed"] and resumed["start_epoch"] == 1 and resumed["steps"] == 4
    assert set(first["logs"]) >= {"loss", "accuracy", "positive_distance", "negative_distance", "val_accuracy"}
    assert all(np.isfinite(value) for value in resumed["logs"].values())
    histograms = _events(run / "logs" / "distances")
    assert {"in_sync", "out_of_sync"} <= set(histograms) and len(histograms["in_sync"]) == 2  # one an epoch
    assert {Path(p).name for p in resumed["networks"].values()} == {"visual_net.weights.h5", "audio_net.weights.h5"}


def test_a_sync_run_tests_its_best_checkpoint(crop_run, lists):
    tested = _run_main(["--mode", "test", *crop_run["common"], "--test_file", str(lists / "validation.txt")])
    metrics = json.loads(Path(tested["metrics_file"]).read_text())
    best = json.loads((crop_run["run"] / "checkpoints" / "best.json").read_text())
    assert best["monitor"] == "val_accuracy"
    assert metrics["accuracy"] == pytest.approx(best["value"], abs=1e-6)


def test_evaluate_predicts_every_recordings_offset(crop_run, lists, capsys, tmp_path):
    out = tmp_path / "sync.json"
    assert evaluate_script.main(["--checkpoint_dir", str(crop_run["out"]), "--exp_name", "crop", "--test_file",
                                 str(lists / "validation.txt"), "--candidates", "-0.2", "0.2", "0.1",
                                 "--out", str(out)]) == 0
    table = capsys.readouterr().out
    assert "model: offset accuracy (-125 < error < 45 ms)" in table and "cross-correlation" in table
    results = json.loads(out.read_text())["sync"]
    assert results["recordings"] == 3 and results["candidates"] == pytest.approx([-0.2, -0.1, 0.0, 0.1, 0.2])
    assert {row["recording"].split("/")[-2] for row in results["predictions"]} == {"class_0", "class_1", "class_2"}
    assert all(row["offset"] == 0.0 and row["predicted"] in results["candidates"] for row in results["predictions"])
    # 1 candidate in 5 is inside the window around 0 (-0.1 is 100 ms early: inside too)
    assert results["random"]["accuracy"] == pytest.approx(2 / 5)
    assert set(results["model"]["by_group"]) == set(ACIVW_SPEC.class_names[:3])  # by class


def test_a_bad_candidate_grid_is_one_line(crop_run, lists, capsys):
    with pytest.raises(SystemExit) as exit_info:
        evaluate_script.main(["--checkpoint_dir", str(crop_run["out"]), "--exp_name", "crop", "--test_file",
                              str(lists / "validation.txt"), "--candidates", "0.2", "-0.2", "0.1"])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("evaluate.py: error: --candidates:") and "\n" not in error


@pytest.mark.slow
def test_a_short_run_predicts_offsets_better_than_chance(tmp_path):
    """Acoustic images against the audio, the sync the stage learns fastest, on machines that
    start and stop within 6-s recordings (a constant sound has no offset to find): 180 steps,
    then every held-out recording's offset over candidates from -0.4 to +0.365 s (chance: 3 of
    18 candidates are within the window around 0)."""
    import convert_data
    import framecount
    import generate_lists
    from dualcam.simulate import simulate_dataset
    from evaluation.evaluate import evaluate_run

    simulate_dataset(tmp_path / "raw", "acivw", seconds=6.0, seed=11, classes=[4, 5, 6], recordings_per_class=5,
                     progress=False, workers=2)
    assert framecount.main([str(tmp_path / "raw"), "0"]) == 0
    assert convert_data.main([str(tmp_path / "raw"), str(tmp_path / "tfr"), "--modalities", "0", "1", "--quiet"]) == 0
    assert generate_lists.main([str(tmp_path / "tfr")]) == 0
    lists = tmp_path / "tfr" / "lists"
    held_out = tmp_path / "held_out.txt"
    held_out.write_text((lists / "validation.txt").read_text() + (lists / "testing.txt").read_text())
    _run_main(["--mode", "train", "--stage", "sync", "--model_1", "sync_acoustic_image",
               "--train_file", str(lists / "training.txt"), "--checkpoint_dir", str(tmp_path),
               "--exp_name", "short", "--batch_size", "8", "--number_of_crops", "8", "--num_epochs", "20",
               "--deterministic", "--verbose", "0"])
    found = evaluate_run(tmp_path / "short", test_file=str(held_out),
                         candidates=[round(-0.4 + 0.045 * i, 3) for i in range(18)])["sync"]
    candidates = np.asarray(found["candidates"])
    errors = np.array([row["predicted"] - row["offset"] for row in found["predictions"]])
    assert found["recordings"] == 6
    assert found["random"]["accuracy"] == pytest.approx(3 / 18)
    # A run measured: every prediction within 50 ms of 0 (the window's +45 ms edge cut half of them),
    # accuracy 0.5 and a mean absolute error of 32 ms; chance's mean absolute error is 200 ms.
    assert found["model"]["accuracy"] >= 2 * found["random"]["accuracy"]
    assert np.abs(errors).mean() < 0.5 * np.abs(candidates).mean()


def test_without_offsets_or_candidates_evaluate_says_so_in_one_line(crop_run, lists, capsys, monkeypatch):
    from dataloader import schema

    monkeypatch.setattr(schema, "record_contents",
                        lambda path: schema.RecordContents(modalities=schema.MODALITIES, offset=None))
    with pytest.raises(SystemExit) as exit_info:
        evaluate_script.main(["--checkpoint_dir", str(crop_run["out"]), "--exp_name", "crop", "--test_file",
                              str(lists / "validation.txt")])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("evaluate.py: error: --candidates:") and "give a grid" in error and "\n" not in error
