"""evaluate.py and evaluation/: features, kNN runs, retrieval, classification and
localisation on simulated data, for a trained run and for a randomly initialised stage."""
import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

import evaluate
from dataloader.config import LoaderConfig
from dataloader.datasets import ACIVW, AVIA
from evaluation import localise, metrics
from evaluation.evaluate import build, evaluate_run, knn_loader
from evaluation.extract import Extractor, extract
from evaluation.report import format_table
from trainer import data as run_data
from trainer.config import RunConfig
from trainer.plan import complete
from trainer.session import run as run_main
from trainer.statistics import input_statistics

SELF_SUPERVISED = {"model_1": "ResNet18_v1", "model_2": "DualCamHybridNet", "sample_length": 1, "batch_size": 4}


@pytest.fixture(scope="module")
def data(simulated_acivw):
    return simulated_acivw


def _lists(data):
    return {key: data[key] for key in ("train_file", "valid_file", "test_file", "acoustic_image_stats")}


def _write_truth(directory: Path, pixels: np.ndarray) -> None:
    directory.mkdir(parents=True)
    sources = [{"name": "x", "role": "target", "pixels": pixels.tolist()}, {"name": "y", "role": "secondary",
                                                                           "pixels": (pixels * 0).tolist()}]
    (directory / "ground_truth.json").write_text(json.dumps({"sources": sources}))


def test_true_positions_average_the_window_frames_and_wrap_avia(tmp_path):
    track = np.stack([np.arange(36.0), 100 + np.arange(36.0)], axis=1)  # frame f at (f, 100 + f)
    _write_truth(tmp_path / "acivw" / "class_4" / "data_007", track)
    recording = "/converted/class_4/data_007"
    # second 2, 1 s: frames 12..23 -> mean 17.5; second 2, 2 s: frames 12..35 -> 23.5
    got = localise.true_positions([recording, recording], [2, 2], 1, ACIVW, tmp_path / "acivw")
    assert got.positions[0] == pytest.approx([17.5, 117.5]) and got.heard.tolist() == [1.0, 1.0]
    got = localise.true_positions([recording], [2], 2, ACIVW, tmp_path / "acivw")
    assert got.positions[0] == pytest.approx([23.5, 123.5])
    with pytest.raises(ValueError, match="36 frames"):
        localise.true_positions([recording], [3], 2, ACIVW, tmp_path / "acivw")

    # AVIA: the converter's Action_004 is the raw tree's Action_003, under the simulator's raw/
    _write_truth(tmp_path / "avia" / "raw" / "Location_01" / "Subject_02" / "Action_003", track)
    got = localise.true_positions(["/tfr/Location_01/Subject_02/Action_004"], [3], 2, AVIA, tmp_path / "avia")
    wrapped = np.concatenate([np.arange(24, 36), np.arange(0, 12)]).mean()  # frames 24..47 mod 36
    assert got.positions[0] == pytest.approx([wrapped, 100 + wrapped])
    with pytest.raises(FileNotFoundError, match="raw_root"):
        localise.true_positions(["/tfr/Location_01/Subject_02/Action_001"], [1], 1, AVIA, tmp_path / "avia")


def test_video_view_is_the_box_the_frames_show():
    # ACIVW: 224 x 298 records of the whole 480 x 640 image, cropped to themselves
    view = localise.video_view(LoaderConfig(ACIVW, ("video",), video_short_side=224, video_size=(224, 298)))
    assert view == pytest.approx((0.0, 0.0, 480.0, 640.0))
    # AVIA: short side to 256 (256 x 341), centre 224 x 224: rows 16..240, columns 58..282
    view = localise.video_view(LoaderConfig(AVIA, ("video",), video_short_side=256, video_size=(224, 224)))
    assert view == pytest.approx((58 * 640 / 341, 16 * 480 / 256, 224 * 480 / 256, 224 * 640 / 341))
    # a map covering that box: its centre cell points at the box's centre
    heat = np.zeros((1, 3, 3))
    heat[0, 1, 1] = 1.0
    centre = np.array([[view.u0 + view.width / 2, view.v0 + view.height / 2]])
    assert localise.localise(heat, centre, view)["mean_error_px"] == pytest.approx(0.0, abs=1e-9)


def test_a_stage_without_run_or_statistics_is_refused(data):
    lists = {key: value for key, value in _lists(data).items() if key != "acoustic_image_stats"}
    with pytest.raises(ValueError, match="standardised with dataset statistics"):
        build({**SELF_SUPERVISED, **lists}, None)
    config, plan, _ = build({**SELF_SUPERVISED, **lists, "standardise_acoustic_images": False}, None)
    assert config.acoustic_image_stats is None and plan.loader.acoustic_image_stats_path is None


def test_testing_a_run_without_its_statistics_is_refused(data, tmp_path):
    config, plan = complete(RunConfig.from_dict({**SELF_SUPERVISED, "mode": "test", "test_file": data["test_file"],
                                                 "checkpoint_dir": str(tmp_path), "exp_name": "never_trained"}))
    assert plan.loader.acoustic_image_stats_path == str(tmp_path / "never_trained" / "acoustic_image_stats.npz")
    with pytest.raises(ValueError, match="no acoustic-image statistics"):
        input_statistics(config, plan)


def test_extraction_and_acoustic_energy_find_the_sources(data):
    config, plan, stage = build({**SELF_SUPERVISED, **_lists(data)}, None)
    loader = dataclasses.replace(plan.loader, training=False)
    batches = run_data.dataset(data["test_file"], loader, config, training=False, metadata=True)
    test = extract(stage, batches, ("classes",), maps=True)
    n = 9  # 3 recordings x 3 one-second windows
    assert len(test) == n and test.features["audio"].shape == (n, 128) and test.features["video"].shape == (n, 128)
    np.testing.assert_allclose(np.linalg.norm(test.features["audio"], axis=1), 1.0, rtol=1e-5)
    assert test.attention.shape == test.audio_map.shape == test.video_map.shape == (n, 12, 16)
    assert test.acoustic_energy.shape == (n, 36, 48)
    audio, video, _ = (t.numpy() for t in stage.maps(next(iter(batches))))  # the list's first windows
    first = len(audio)
    np.testing.assert_allclose(test.audio_map[:first], audio.sum(-1), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(test.video_map[:first], (video**2).sum(-1), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(test.attention[:first], (audio * video**2).sum(-1), rtol=1e-4, atol=1e-6)
    attended = (audio[:, None] * video[None] ** 2).sum(axis=(2, 3))  # x_ij of the loss, (audio, video, c)
    attended /= np.linalg.norm(attended, axis=-1, keepdims=True)
    np.testing.assert_allclose(test.features["attended_video"][:first], attended[np.arange(first), np.arange(first)],
                               rtol=1e-4, atol=1e-6)
    # Retrieval's distances are the loss's, |x_ij - y_i|^2, whatever the chunks they are computed in.
    distances = test.attention_distances(chunk=4)
    assert distances.shape == (n, n)
    y = test.features["audio"][:first]
    np.testing.assert_allclose(distances[:first, :first], ((attended - y[:, None]) ** 2).sum(-1), rtol=1e-3,
                               atol=1e-5)
    np.testing.assert_allclose(distances, test.attention_distances(chunk=n), rtol=1e-6)
    assert sorted(test.first_second.tolist()) == [1, 1, 1, 2, 2, 2, 3, 3, 3]
    assert all(f"class_{c}/" in r for r, c in zip(test.recording, test.labels["classes"]))
    correct, total = test.triplet_counts
    assert total > 0 and 0 <= correct <= total

    truth = localise.true_positions(test.recording, test.first_second, 1, ACIVW, data["raw"])
    scored = truth.heard >= localise.HEARD
    assert scored.sum() == 8  # the drone of the third recording falls silent early in its last second
    energy = localise.localise(test.acoustic_energy[scored], truth.positions[scored])
    centre = localise.localise(localise.centre_map(scored.sum()), truth.positions[scored])
    # The beamformed energy peaks on the target, mostly within a cell of the 36 x 48 image (13 px);
    # in one window a second source's hiss outshines a distant train's rumble in the log energy.
    assert energy["pointing_accuracy"] >= 7 / 8 and energy["median_error_px"] < 13.3
    assert centre["median_error_px"] > 5 * energy["median_error_px"]


def test_knn_runs_draw_their_own_training_windows_reproducibly(data):
    config, plan, _ = build({**SELF_SUPERVISED, **_lists(data)}, None)

    def windows(seed):
        dataset = run_data.dataset(data["train_file"], knn_loader(plan.loader, seed), config, training=True,
                                   metadata=True)
        return [(r, int(s)) for batch in dataset for r, s in zip(batch["recording"].numpy(),
                                                                 batch["first_second"].numpy())]

    first, again, other = sorted(windows(0)), sorted(windows(0)), sorted(windows(1))
    # One window per clip, none dropped by batching: the recipe's clips are 2-s blocks, two of each 3-s recording.
    assert len(first) == 12
    assert first == again and first != other



def test_knn_extracts_blocks_as_long_as_a_window_once(data, monkeypatch):
    calls = []
    original = Extractor.__call__

    def counting(self, dataset, *args, **kwargs):
        calls.append(dataset)
        return original(self, dataset, *args, **kwargs)

    monkeypatch.setattr(Extractor, "__call__", counting)
    # (A)'s recipe: 2-s blocks, 2-s samples, so each 3-s recording holds one training window.
    results = evaluate_run(config={**SELF_SUPERVISED, **_lists(data), "sample_length": 2}, random_init=True,
                           runs=3, knn_crops=4)
    assert len(calls) == 3  # test, validation, and the training windows once
    assert results["samples"]["train_per_run"] == 6 and results["run"]["knn_crops"] == 1
    for knn in results["knn"].values():
        assert [run["seed"] for run in knn["runs"]] == [0, 1, 2] and knn["test_accuracy_std"] == 0.0
        assert len({run["test_accuracy"] for run in knn["runs"]}) == 1


def test_self_supervised_random_init_has_every_metric(data, tmp_path):
    results = evaluate_run(config={**SELF_SUPERVISED, **_lists(data)}, random_init=True, raw_root=data["raw"],
                           runs=2, tensorboard=tmp_path / "tb")
    assert results["run"]["stage"] == "self_supervised" and results["run"]["checkpoint"] is None
    assert results["samples"] == {"test": 9, "validation": 9, "train_per_run": 12}
    assert 0 <= results["triplet_accuracy"] <= 1
    for feature in ("audio", "video"):
        knn = results["knn"][feature]
        assert [run["seed"] for run in knn["runs"]] == [0, 1] and len(knn["k"]) == 2
        accuracies = [run["test_accuracy"] for run in knn["runs"]]
        assert knn["test_accuracy_mean"] == pytest.approx(np.mean(accuracies))
        assert knn["test_accuracy_std"] == pytest.approx(np.std(accuracies))
    # The spread is run 0's training windows'.
    config, plan, stage = build({**SELF_SUPERVISED, **_lists(data)}, None)
    train = extract(stage, run_data.dataset(data["train_file"], knn_loader(plan.loader, 0),
                                            config.replace(steps_per_epoch=None), training=True, metadata=True),
                    ("classes",))
    for feature in ("audio", "video"):
        spread = metrics.class_share(train.features[feature], train.labels["classes"])
        assert results["knn"][feature]["train_variance"] == pytest.approx(spread["variance"], rel=1e-5)
        assert results["knn"][feature]["train_class_share"] == pytest.approx(spread["class_share"], rel=1e-4)
        assert 0 < spread["class_share"] < 1
    for direction in ("audio_to_video", "video_to_audio"):
        assert set(results["retrieval"][direction]) == {"rank_1", "rank_2", "rank_5", "mAP"}  # gallery of 9
    assert "classification" not in results
    localisation = results["localisation"]
    assert set(localisation) >= {"attention", "audio_map", "video_map", "acoustic_energy", "acoustic_energy_12x16",
                                 "centre"}
    assert localisation["windows"] == 8 and localisation["windows_without_target"] == 1
    assert localisation["acoustic_energy"]["pointing_accuracy"] >= 7 / 8
    assert localisation["acoustic_energy_12x16"]["pointing_accuracy"] >= 7 / 8
    assert localisation["centre"]["pointing_accuracy"] < localisation["acoustic_energy"]["pointing_accuracy"]
    json.dumps(results)  # JSON-ready
    assert (tmp_path / "tb" / "projector_audio" / "metadata.tsv").read_text().split() == \
        [["train", "boat", "drone"][c] for c in np.repeat([0, 1, 2], 3)]

    again = evaluate_run(config={**SELF_SUPERVISED, **_lists(data)}, random_init=True, runs=2)
    assert again["knn"] == results["knn"] and again["retrieval"] == results["retrieval"]

    table = format_table([("random", results), ("again", again)])
    lines = table.splitlines()
    assert lines[0].split() == ["metric", "random", "again"]
    row = next(line for line in lines if line.startswith("audio -> video Rank-1"))
    assert row.split()[-2:] == [f"{results['retrieval']['audio_to_video']['rank_1']:.3f}"] * 2
    assert next(line for line in lines if line.startswith("centre: pointing")).split()[-1] == "-"  # not localised
    row = next(line for line in lines if line.startswith("audio variance / class share"))
    assert row.split()[-3:] == [f"{results['knn']['audio']['train_variance']:.4f}", "/",
                                f"{results['knn']['audio']['train_class_share']:.2f}"]
    # Results saved before the class share was measured still print.
    older = json.loads(json.dumps(results))
    for knn in older["knn"].values():
        del knn["train_variance"], knn["train_class_share"]
    assert "class share" not in format_table(older) and "kNN audio accuracy" in format_table(older)


@pytest.mark.slow
@pytest.mark.parametrize("stage, flags, features", [
    ("transfer", {"embedding": 1, "transfer": 1, "model_1": "ResNet18_v1", "model_2": "HearNet"},
     {"audio", "audio_embedding", "video", "attended_video"}),
    ("distillation", {"distillation": 1, "model_1": "DualCamHybridNet", "model_2": "HearNet"}, {"logits"}),
])
def test_hearnet_stages_give_their_features(data, stage, flags, features):
    # A configuration of no run has no directory to compute spectrogram statistics into.
    results = evaluate_run(config={**flags, "sample_length": 2, "batch_size": 4, "normalize": False, **_lists(data)},
                           random_init=True, raw_root=data["raw"], runs=2)
    assert results["run"]["stage"] == stage and set(results["knn"]) == features
    assert ("retrieval" in results) == (stage == "transfer") and ("classification" in results) == (stage != "transfer")
    # HearNet reads no acoustic image; the energy baseline gets them all the same
    energy, centre = results["localisation"]["acoustic_energy"], results["localisation"]["centre"]
    assert energy["pointing_accuracy"] >= 2 / 3 and energy["median_error_px"] < centre["median_error_px"] / 5


def _train(args):
    import main

    main.FLAGS.unparse_flags()
    main.FLAGS(["main.py", *args])
    return run_main(main.flag_config())


def test_cli_evaluates_a_trained_classifier_as_main_restores_it(data, tmp_path, capsys):
    _train(["--mode", "train", "--model", "DualCamHybridNet", "--sample_length", "1", "--number_of_crops", "2",
            "--train_file", data["train_file"], "--valid_file", data["valid_file"], "--checkpoint_dir",
            str(tmp_path), "--exp_name", "sup", "--batch_size", "4", "--num_epochs", "2", "--steps_per_epoch", "2",
            "--verbose", "0", "--learning_rate", "1e-3"])
    best = json.loads((tmp_path / "sup" / "checkpoints" / "best.json").read_text())
    capsys.readouterr()
    assert evaluate.main(["--checkpoint_dir", str(tmp_path), "--exp_name", "sup", "--test_file", data["test_file"],
                          "--raw_root", str(data["raw"]), "--runs", "2"]) == 0
    printed = capsys.readouterr().out
    run = tmp_path / "sup"
    results = json.loads((run / "evaluation.json").read_text())
    assert results["run"]["checkpoint"].endswith("checkpoints/best")
    classification = results["classification"]
    # the best checkpoint's validation accuracy, as training measured it
    assert classification["accuracy"] == pytest.approx(best["value"], abs=1e-6)
    # ... and its logits: those of the best weights main.py exported, not the initial ones
    logs = run / "logs" / "evaluation"
    saved = tf.train.load_checkpoint(str(logs / "projector_logits")).get_tensor("embedding/.ATTRIBUTES/VARIABLE_VALUE")
    config, plan, stage = build({**json.loads((run / "config.json").read_text()), **_lists(data)}, None)
    test = run_data.dataset(data["test_file"], dataclasses.replace(plan.loader, training=False), config, training=False,
                       metadata=True)
    initial = extract(stage, test, ("classes",)).features["logits"]
    stage.net.load_weights(run / "networks" / "net.weights.h5")
    np.testing.assert_allclose(saved, extract(stage, test, ("classes",)).features["logits"], rtol=1e-5, atol=1e-6)
    assert not np.allclose(saved, initial, rtol=1e-3)
    matrix = np.array(classification["confusion_matrix"])
    assert matrix.shape == (10, 10) and matrix.sum() == 9 and matrix.sum(axis=1)[:3].tolist() == [3, 3, 3]
    assert classification["per_class_accuracy"][3] is None
    assert set(results["knn"]) == {"logits"} and "retrieval" not in results
    assert not {"attention", "audio_map", "video_map"} & set(results["localisation"])
    assert results["localisation"]["acoustic_energy"]
    assert "classification accuracy" in printed and "accuracy of train" in printed
    events = list((logs / "images").glob("events.out.tfevents.*"))
    assert events and _image_tags(events[0]) == ["confusion_matrix"]

    assert evaluate.main(["--compare", str(run / "evaluation.json"), str(run / "evaluation.json")]) == 0
    assert capsys.readouterr().out.splitlines()[0].split() == ["metric", "sup", "sup"]


def _image_tags(path: Path) -> list[str]:
    return [value.tag for event in tf.compat.v1.train.summary_iterator(str(path)) for value in event.summary.value]


def test_true_positions_average_only_the_frames_in_which_the_target_sounds(tmp_path):
    track = np.stack([np.arange(24.0), 100 + np.arange(24.0)], axis=1)
    directory = tmp_path / "class_4" / "data_007"
    _write_truth(directory, track)
    truth = json.loads((directory / "ground_truth.json").read_text())
    # The target sounds in frames 2..4 (0.2 s to 0.4 s touches frame 4); a secondary's event does not count.
    truth.update(frames=24, offset_s=0.0, caption="", phrases=[], events=[
        {"class": "train", "role": "target", "source": 0, "onset": 0.2, "offset": 0.4},
        {"class": "boat", "role": "secondary", "source": 1, "onset": 0.0, "offset": 2.0}])
    (directory / "ground_truth.json").write_text(json.dumps(truth))
    localise.recording_truth.cache_clear()
    localise._target_track.cache_clear()
    got = localise.true_positions(["/c/class_4/data_007", "/c/class_4/data_007"], [1, 2], 1, ACIVW, tmp_path)
    assert got.positions[0] == pytest.approx([3.0, 103.0])  # frames 2, 3, 4
    assert got.positions[1] == pytest.approx([17.5, 117.5])  # silent throughout the second second: every frame
    assert got.heard == pytest.approx([3 / 12, 0.0])
