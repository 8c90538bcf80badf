"""The caption_alignment stage through main.py and evaluate.py on simulated ACIVW recordings
and their captions: a run with its vocabulary, checkpoints, resume and TensorBoard (loss,
R@1, the similarity image); evaluate.py's retrieval and grounding in time and in space; and
a user's mistakes, each one line naming its flag."""
import json
from pathlib import Path

import numpy as np
import pytest

import evaluate as evaluate_script


def _run_main(args):
    import main
    from trainer.session import run

    main.FLAGS.unparse_flags()
    main.FLAGS(["main.py", *args])
    return run(main.flag_config())


def _common(simulated_acivw, out: Path, name: str) -> list[str]:
    return ["--stage", "caption_alignment", "--model_2", "caption_acoustic_image", "--train_file",
            simulated_acivw["train_file"], "--valid_file", simulated_acivw["valid_file"], "--sample_length", "3",
            "--total_length", "3", "--acoustic_image_stats", simulated_acivw["acoustic_image_stats"],
            "--checkpoint_dir", str(out), "--exp_name", name, "--batch_size", "4", "--verbose", "0"]


@pytest.fixture(scope="module")
def caption_run(simulated_acivw, tmp_path_factory):
    out = tmp_path_factory.mktemp("caption_runs")
    common = _common(simulated_acivw, out, "ca")
    first = _run_main(["--mode", "train", *common, "--num_epochs", "1"])
    resumed = _run_main(["--mode", "train", *common, "--num_epochs", "2"])
    return {"out": out, "run": out / "ca", "first": first, "resumed": resumed}


def _tags(directory: Path, kind: str) -> set[str]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(str(directory), size_guidance={"tensors": 0})
    accumulator.Reload()
    return set(accumulator.Tags()[kind])


def test_a_run_makes_its_vocabulary_trains_resumes_and_logs(caption_run, simulated_acivw):
    from trainer.vocabulary import list_captions, make_vocabulary

    run, first, resumed = caption_run["run"], caption_run["first"], caption_run["resumed"]
    config = json.loads((run / "config.json").read_text())
    assert config["stage"] == "caption_alignment" and config["networks"] == {"audio_net": "caption_acoustic_image"}
    assert config["vocabulary"] == str(run / "vocabulary.txt") and config["caption_pooling"] == "MTSQ"
    captions = list_captions(simulated_acivw["train_file"], None, "acivw")
    assert len(captions) == 6 and (run / "vocabulary.txt").read_text().splitlines() == make_vocabulary(captions)
    # 6 training clips: one batch of 4 an epoch.
    assert first["steps"] == 1 and resumed["resumed"] and resumed["start_epoch"] == 1 and resumed["steps"] == 2
    names = {"positive_score", "recall_at_1", "audio_to_caption_r1", "caption_to_audio_r1"}
    assert set(resumed["logs"]) >= names | {"loss"} | {f"val_{name}" for name in names}
    assert all(np.isfinite(value) for value in resumed["logs"].values())
    assert 0 <= resumed["logs"]["val_recall_at_1"] <= 1
    assert {"epoch_loss", "epoch_recall_at_1"} <= _tags(run / "logs" / "validation", "tensors")
    assert {"frame_word_similarity", "caption"} <= _tags(run / "logs" / "similarity", "tensors")
    assert {Path(p).name for p in resumed["networks"].values()} == {"audio_net.weights.h5", "text_net.weights.h5"}


def test_test_mode_reads_the_runs_vocabulary(caption_run, simulated_acivw):
    metrics = _run_main(["--mode", "test", *_common(simulated_acivw, caption_run["out"], "ca"),
                         "--test_file", simulated_acivw["test_file"]])
    assert 0 <= metrics["recall_at_1"] <= 1 and np.isfinite(metrics["loss"])


def test_evaluate_measures_retrieval_and_grounding_in_time_and_space(caption_run, simulated_acivw, capsys, tmp_path):
    assert evaluate_script.main(["--checkpoint_dir", str(caption_run["out"]), "--exp_name", "ca", "--test_file",
                                 simulated_acivw["test_file"], "--raw_root", str(simulated_acivw["raw"]),
                                 "--out", str(tmp_path / "ca.json")]) == 0
    table = capsys.readouterr().out
    assert "audio -> caption R@1 (chance, ceiling)" in table and "phrase's cells: pointing" in table
    found = json.loads((tmp_path / "ca.json").read_text())["captions"]
    retrieval = found["retrieval"]
    assert retrieval["clips"] == 3 and retrieval["protocol"]["gallery"] == 3  # one clip of each test recording
    assert retrieval["protocol"]["chance"]["r1"] == pytest.approx(1 / 3)
    assert 0 <= retrieval["gallery"]["audio_to_caption"]["mAP"] <= 1
    time = found["time"]
    assert time["pairs"] >= 3 and set(time) >= {"mean", "max", "random"}
    assert all(0 <= time[how]["frame"]["f1"] <= 1 and 0 <= time[how]["event"]["f1"] <= 1 for how in ("mean", "max"))
    space = found["space"]
    assert space["phrases"] >= 3
    assert {"cell_shares", "acoustic_energy", "random_cell", "centre"} <= set(space)
    # The beamformed energy finds these sources: the simulator's images are not painted, but they are clean.
    assert space["acoustic_energy"]["pointing_accuracy"] >= 0.5


@pytest.mark.parametrize("mistake", ["missing vocabulary", "not word vectors", "pooling changed on resume"])
def test_a_mistake_in_training_is_one_line_naming_its_flag(caption_run, simulated_acivw, capsys, tmp_path, mistake):
    import main

    bad = tmp_path / "vectors.txt"
    bad.write_text("not a word2vec file\n")
    flags, expected = {
        "missing vocabulary": (["--exp_name", "new1", "--vocabulary", str(tmp_path / "none.txt")],
                               "--vocabulary: no such file"),
        "not word vectors": (["--exp_name", "new2", "--word_vectors", str(bad)], f"--word_vectors: {bad}"),
        "pooling changed on resume": (["--exp_name", "ca", "--caption_pooling", "STSQ", "--num_epochs", "3"],
                                      "--caption_pooling"),
    }[mistake]
    main.FLAGS.unparse_flags()
    main.FLAGS(["main.py", *_common(simulated_acivw, caption_run["out"], "ca"), *flags])
    assert main.main([]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith(f"main.py: error: {expected}") and "\n" not in error
    assert not (caption_run["out"] / "new1").exists() and not (caption_run["out"] / "new2").exists()


@pytest.mark.slow
def test_a_short_run_ranks_held_out_captions_above_chance(tmp_path):
    """Five classes, four 3-s recordings each: three train (CRNN, every clip once an epoch),
    the fourth of each class is held out, five recordings whose captions name different
    sounds. Retrieval by (C)'s protocol on them (chance 0.2) must beat chance and the same
    networks at random init, both ways (grounding's threshold is read on the training clips).
    Measured: R@1 0.8 audio to caption and 0.6 caption to audio; at random init every clip
    ranks one caption first and every caption one clip, 0.2 both ways. With --caption_pooling
    STSQ (and 40 epochs) the trained run stayed there too."""
    import convert_data
    import framecount
    from dualcam.simulate import simulate_dataset
    from evaluation.evaluate import evaluate_run

    simulate_dataset(tmp_path / "raw", "acivw", seconds=3.0, seed=11, classes=[0, 1, 2, 3, 4],
                     recordings_per_class=4, progress=False, workers=2)
    assert framecount.main([str(tmp_path / "raw"), "0"]) == 0
    assert convert_data.main([str(tmp_path / "raw"), str(tmp_path / "tfr"), "--modalities", "0", "1", "2",
                              "--quiet"]) == 0
    directories = sorted((tmp_path / "tfr").glob("class_*/data_*"))
    lists = {}
    for split, keep in (("train", lambda d: d.name != "data_004"), ("test", lambda d: d.name == "data_004")):
        lists[split] = tmp_path / f"{split}.txt"
        lists[split].write_text("".join(f"{d / f'Data_{s:03d}.tfrecord'}\n" for d in directories if keep(d)
                                        for s in (1, 2, 3)))
    # No validation list: the held-out recordings pick no checkpoint, the last is evaluated. Deterministic: on
    # five test recordings one clip is 0.2 of R@1, and runs that differ in the last bits of their sums end apart.
    _run_main(["--mode", "train", "--recipe", "c_caption_alignment", "--train_file", str(lists["train"]),
               "--sample_length", "3", "--total_length", "3", "--batch_size", "5", "--num_epochs", "60",
               "--seed", "1", "--deterministic", "--checkpoint_dir", str(tmp_path / "runs"), "--exp_name", "crnn",
               "--verbose", "0"])
    found = {}
    for random_init in (False, True):
        result = evaluate_run(tmp_path / "runs" / "crnn", test_file=str(lists["test"]), valid_file=str(lists["train"]),
                              random_init=random_init)
        found[random_init] = result["captions"]["retrieval"]["protocol"]
    trained, random = found[False], found[True]
    assert trained["chance"]["r1"] == pytest.approx(0.2)
    directions = ("audio_to_caption", "caption_to_audio")
    assert np.mean([trained[direction]["r1"] for direction in directions]) >= 0.5, (trained, random)
    for direction in directions:
        assert trained[direction]["r1"] > random[direction]["r1"], (direction, trained, random)
