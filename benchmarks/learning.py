"""Does it learn? Longer runs on the simulated camera, each beside its baseline.

    .venv/bin/python benchmarks/learning.py [--out build/learning] [--scale 1.0]

- (A) self-supervised pretraining (ResNet18_v1 video vs DualCamNet acoustic images):
  kNN accuracy of the audio and video features and audio-visual localisation (pointing
  accuracy of the attention map's peak), against the same networks at random init.
- (B) distillation: a DualCamNet teacher trained on acoustic images, distilled into HearNet
  ((B)'s defaults T = 1, lambda = 0.5; `--temperature` for others, in the standard form),
  against HearNet trained on labels alone; test accuracy on recording-disjoint AVIA lists,
  and on every recording of as many subjects again, left out of training (4 to 6 at scale 1).
- Sync (UltraSync's task): AVIA recordings whose audio lags or leads the video by up to
  0.4 s; a sync model for each visual input (whole frames, a crop around the acoustic peak,
  acoustic images), then offset prediction on held-out recordings and on an unseen subject,
  against the cross-correlation of the audio onsets with the frame differences, and chance.
- Identity (the SyncNet trainer's task): AVIA subjects speaking; content and identity
  embeddings of audio and video trained on six subjects, then speaker verification (EER) on
  held-out seconds of those six and on three subjects nobody trained on, against the
  mean-MFCC cosine and chance, and content top-1 against chance.
- Captions ((C)'s task): 4-s ACIVW recordings and their captions; (C)'s CRNN and an
  acoustic-image encoder, retrieval (R@1/5 both ways), phrase grounding in time (frame and
  event F1) and, for the acoustic images, in space (pointing), against chance, random
  scores, the acoustic energy's peak and random init.

Targets on simulated data: kNN at least 15 points above random init; pointing accuracy at
least 80 %; the distilled student above the student alone; sync offset accuracy above UltraSync's
82.9 %. `--scale` multiplies the data
and the epochs; `--seed` seeds the weights and the training crops (runs are named by it);
(A) runs with main.py's map-agreement term at weight 1 (`--map_agreement_weight 0`: (A)'s
objective alone), which teaches the video map where the acoustic image hears; `--cross_modal_weight W`
adds the cross-modal identity loss, `--mirror` the mirror augmentation.
The last line is JSON with every figure and its baseline. (A) trains at a higher learning
rate than the paper's (1e-3 instead of 1e-5) and with batch-norm momentum 0.9; (B)'s
students at the paper's 1e-4, for twice the teacher's epochs.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import convert_data  # noqa: E402
import framecount  # noqa: E402
import generate_lists  # noqa: E402
import logger.quiet  # noqa: E402, F401  (before anything imports tensorflow)
import main as main_script  # noqa: E402
from dataloader import stats  # noqa: E402
from dataloader.datasets import AVIA_SPEC  # noqa: E402
from demo import self_supervised_flags  # noqa: E402
from dualcam import scenes  # noqa: E402
from dualcam.simulate import simulate_dataset  # noqa: E402
from evaluation.evaluate import evaluate_run  # noqa: E402
from trainer.session import run  # noqa: E402


def _train(flags: list[str]) -> dict:
    main_script.FLAGS.unparse_flags()
    main_script.FLAGS(["main.py", "--mode", "train", "--verbose", "2", *flags])
    return run(main_script.flag_config())


def _prepare(roots: list[Path], records: Path, workers: int, *list_flags: str,
             modalities: tuple[str, ...] = ("0", "1", "2")) -> None:
    """framecount (ACIVW needs it), convert_data, generate_lists, as a user runs them."""
    if len(roots) == 1:
        framecount.main([str(roots[0]), "0"])
    convert_data.main([*map(str, roots), str(records), "--modalities", *modalities, "--workers", str(workers),
                       "--quiet"])
    generate_lists.main([str(records), *list_flags])


def self_supervised(out: Path, scale: float, workers: int, seed: int, cross_modal_weight: float = 0.0,
                    map_agreement_weight: float = 1.0, mirror: bool = False) -> dict:
    raw, records, runs = out / "acivw_raw", out / "acivw_tfrecords", out / "runs"
    # At least 5 recordings a class, so the greedy split gives every list a recording.
    simulate_dataset(raw, "acivw", seconds=6.0, workers=workers, recordings_per_class=max(5, round(8 * scale)),
                     seed=1, progress=False)
    _prepare([raw], records, workers)
    lists = records / "lists"
    epochs = max(2, round(12 * scale))
    name = (f"ss_seed{seed}" + (f"_cross_modal{cross_modal_weight:g}" if cross_modal_weight else "")
            + (f"_agreement{map_agreement_weight:g}" if map_agreement_weight else "") + ("_mirror" if mirror else ""))
    flags = self_supervised_flags(lists, runs, name, epochs, seed, map_agreement_weight=map_agreement_weight)
    summary = _train([*flags, "--cross_modal_weight", str(cross_modal_weight), f"--{'' if mirror else 'no'}mirror"])
    test = lists / "testing.txt"
    common = {"test_file": str(test), "raw_root": str(raw), "knn_crops": 4}
    trained = evaluate_run(runs / name, name="self-supervised", **common)
    random = evaluate_run(runs / name, random_init=True, name="random init", **common)

    def figures(results):
        return {"knn_audio": results["knn"]["audio"]["test_accuracy_mean"],
                "knn_video": results["knn"]["video"]["test_accuracy_mean"],
                "knn_attended_video": results["knn"]["attended_video"]["test_accuracy_mean"],
                "audio_variance": results["knn"]["audio"]["train_variance"],
                "audio_class_share": results["knn"]["audio"]["train_class_share"],
                "map_audio_to_video": results["retrieval"]["audio_to_video"]["mAP"],
                "map_video_to_audio": results["retrieval"]["video_to_audio"]["mAP"],
                "pointing_attention": results["localisation"]["attention"]["pointing_accuracy"],
                "pointing_audio_map": results["localisation"]["audio_map"]["pointing_accuracy"],
                "pointing_video_map": results["localisation"]["video_map"]["pointing_accuracy"],
                "pointing_acoustic_energy": results["localisation"]["acoustic_energy"]["pointing_accuracy"]}

    return {"epochs": epochs, "seed": seed, "cross_modal_weight": cross_modal_weight,
            "map_agreement_weight": map_agreement_weight, "mirror": mirror,
            "audio_map_orientation": summary.get("audio_map_orientation"), "trained": figures(trained),
            "random_init": figures(random)}


def distillation(out: Path, scale: float, workers: int, seed: int, temperature: float = 1.0) -> dict:
    raw, records, runs = out / "avia", out / "avia_tfrecords", out / "runs"
    subjects, all_subjects = max(2, round(3 * scale)), AVIA_SPEC.label("subject").depth
    simulate_dataset(raw, "avia", seconds=10.0, workers=workers, subjects=range(1, 1 + subjects), seed=2,
                     progress=False)
    _prepare([raw / "mat", raw / "raw"], records, workers, "--num_samples", "5", "--disjoint", "recording")
    lists = records / "5_seconds_recording_disjoint" / "lists"
    test_lists = {"test_accuracy": lists / "testing.txt"}
    if subjects < all_subjects:
        # The recording-disjoint test list holds one recording of each action, so one recording
        # moves accuracy by 7 points; as many subjects again, whom nobody trained on, give a test
        # 9 times larger. Acoustic images (the teacher's) and audio (the students'): no stage
        # here reads video, whose records would be most of the disk.
        unseen_raw, unseen_records = out / "avia_unseen", out / "avia_unseen_tfrecords"
        simulate_dataset(unseen_raw, "avia", seconds=10.0, workers=workers,
                         subjects=range(1 + subjects, 1 + min(all_subjects, 2 * subjects)), seed=2, progress=False)
        _prepare([unseen_raw / "mat", unseen_raw / "raw"], unseen_records, workers, "--num_samples", "5",
                 "--split_mode", "2", modalities=("0", "1"))
        test_lists["unseen_subjects_accuracy"] = unseen_records / "5_seconds" / "lists" / "dataset.txt"
    files = ["--train_file", str(lists / "training.txt"), "--valid_file", str(lists / "validation.txt"),
             "--checkpoint_dir", str(runs), "--seed", str(seed)]
    statistics = out / "hearnet_b_stats.npz"
    if not statistics.is_file():
        from dataloader.presets import HEARNET_B

        stats.save_statistics(statistics, stats.compute_statistics(str(lists / "training.txt"), HEARNET_B))
    epochs = max(2, round(10 * scale))
    teacher, alone, distilled = (f"{name}_seed{seed}" for name in (
        "teacher", "hearnet_alone", "hearnet_distilled" + ("" if temperature == 1 else f"_T{temperature:g}")))
    # (B)'s recipes, shortened: 10 crops of a recording for the teacher, and the students
    # (batch 16) for twice the teacher's epochs.
    _train(["--recipe", "b_teacher", *files, "--exp_name", teacher, "--number_of_crops", "10", "--num_epochs",
            str(epochs)])
    student = ["--batch_size", "16", "--num_epochs", str(2 * epochs), "--stats_file", str(statistics)]
    _train(["--recipe", "b_students", *files, "--exp_name", alone, *student])
    _train(["--recipe", "b_distillation", *files, "--exp_name",
            distilled, "--teacher_restore_checkpoint", str(runs / teacher / "networks/net.weights.h5"),
            "--acoustic_image_stats", str(runs / teacher / "acoustic_image_stats.npz"),
            "--temperature_value", str(temperature), "--lambda_value", "0.5", *student])
    roles = (("teacher", teacher), ("hearnet_alone", alone), ("hearnet_distilled", distilled))
    accuracies = {key: {role: evaluate_run(runs / name, test_file=str(test))["classification"]["accuracy"]
                        for role, name in roles}
                  for key, test in test_lists.items()}
    return {"epochs": epochs, "seed": seed, "temperature": temperature, **accuracies}


SYNC_INPUTS = ("sync_video", "sync_crop", "sync_acoustic_image")


def synchronisation(out: Path, scale: float, workers: int, seed: int) -> dict:
    """UltraSync's task on AVIA recordings whose audio lags or leads the video by up to 0.4 s:
    a sync model per visual input, trained on subjects 1 and 2 (recording-disjoint lists),
    then each recording's offset predicted on the test list and on every recording of a
    subject nobody trained on, beside the cross-correlation and random baselines."""
    subjects = max(2, round(2 * scale))
    offsets = scenes.Options(offsets=(-0.4, 0.4))
    raw, records, unseen_raw, unseen_records, runs = (out / name for name in (
        "avia_sync", "avia_sync_tfrecords", "avia_sync_unseen", "avia_sync_unseen_tfrecords", "runs"))
    simulate_dataset(raw, "avia", seconds=10.0, workers=workers, subjects=range(1, 1 + subjects), seed=4,
                     progress=False, options=offsets)
    simulate_dataset(unseen_raw, "avia", seconds=10.0, workers=workers, subjects=[1 + subjects], seed=4,
                     progress=False, options=offsets)
    _prepare([raw / "mat", raw / "raw"], records, workers, "--num_samples", "3", "--disjoint", "recording")
    _prepare([unseen_raw / "mat", unseen_raw / "raw"], unseen_records, workers, "--num_samples", "3",
             "--split_mode", "2")
    lists = records / "3_seconds_recording_disjoint" / "lists"
    tests = {"test": lists / "testing.txt", "unseen_subject": unseen_records / "3_seconds" / "lists" / "dataset.txt"}
    epochs = max(2, round(30 * scale))
    result: dict = {"epochs": epochs, "seed": seed, "subjects": subjects}
    for visual in SYNC_INPUTS:
        name = f"{visual}_seed{seed}"
        summary = _train(["--recipe", "u_sync", "--model_1", visual, "--train_file", str(lists / "training.txt"),
                          "--valid_file", str(lists / "validation.txt"), "--checkpoint_dir", str(runs),
                          "--exp_name", name, "--num_epochs", str(epochs), "--seed", str(seed)])
        figures: dict = {"val_pair_accuracy": summary["logs"].get("val_accuracy")}
        for key, test in tests.items():
            found = evaluate_run(runs / name, test_file=str(test))["sync"]
            figures[key] = {method: {k: found[method][k] for k in ("accuracy", "mean_error_ms", "sd_error_ms")}
                            for method in ("model", "cross_correlation", "random") if method in found}
            figures[key]["recordings"] = found["recordings"]
            figures[key]["candidates"] = len(found["candidates"])
        result[visual] = figures
        print(json.dumps({visual: figures}), file=sys.stderr, flush=True)
    return result


SPEAKING = AVIA_SPEC.class_names.index("speaking")
# Seconds of each 30-s recording of a seen subject: training, validation (two 3-s samples, the
# best checkpoint) and test (two 4-s verification clips); unseen subjects' recordings are all test.
IDENTITY_SECONDS = {"training": range(1, 17), "validation": range(17, 23), "testing": range(23, 31)}


def _write_list(path: Path, records: Path, directories: list[Path], seconds) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{records / d / f'Data_{s:03d}.tfrecord'}\n" for d in directories for s in seconds))
    return path


def identity(out: Path, scale: float, workers: int, seed: int) -> dict:
    """The SyncNet trainer's task: AVIA subjects speaking (one voice and one look each), 30 s in
    each of the three locations. Subjects 1-6 train on each recording's first 16 s (the next
    6 s pick the checkpoint); verification on their last 8 s (seen) and on every second of
    subjects 7-9 (unseen), 4-s clips, every pair of clips from two recordings; EER of the audio
    identity against the mean-MFCC cosine and chance, and content top-1, for each of the
    identity loss's targets (the subject's clips, or the clip's own), beside the same networks
    at random init."""
    raw, records, runs = out / "avia_identity", out / "avia_identity_tfrecords", out / "runs"
    simulate_dataset(raw, "avia", seconds=30.0, workers=workers, actions=[SPEAKING], seed=5, progress=False)
    _prepare([raw / "mat", raw / "raw"], records, workers)
    directories = sorted(d.relative_to(records) for d in records.glob("Location_*/Subject_*/Action_*"))
    seen = [d for d in directories if AVIA_SPEC.numbers_of(d)[1] <= 6]
    unseen = [d for d in directories if AVIA_SPEC.numbers_of(d)[1] > 6]
    lists = {split: _write_list(records / "identity_lists" / f"{split}.txt", records, seen, seconds)
             for split, seconds in IDENTITY_SECONDS.items()}
    with lists["testing"].open("a") as test:
        test.write(_write_list(records / "identity_lists" / "unseen.txt", records, unseen, range(1, 31)).read_text())
    epochs = max(2, round(30 * scale))
    result: dict = {"epochs": epochs, "seed": seed, "recordings": len(directories)}
    for targets in ("subject", "own"):
        name = f"content_identity_{targets}_seed{seed}"
        summary = _train(["--recipe", "s_content_identity", "--identity_targets", targets,
                          "--train_file", str(lists["training"]), "--valid_file", str(lists["validation"]),
                          "--checkpoint_dir", str(runs), "--exp_name", name, "--num_epochs", str(epochs),
                          "--seed", str(seed)])
        trials = runs / name / "trials.txt"
        # Both variants start from the same weights (the seed's): one random-init baseline.
        for key, random_init in ((targets, False), *((("random_init", True),) if targets == "own" else ())):
            found = evaluate_run(runs / name, test_file=str(lists["testing"]), random_init=random_init,
                                 trials=str(trials) if trials.is_file() else None, trials_out=trials)["identity"]
            result[key] = {"eer": {scorer: found["eer"][scorer] for scorer in found["eer"] if scorer != "trials"},
                           "trials": found["eer"]["trials"], "content_top1": found["content_top1"],
                           "content_chance": found["content_chance"], "clips": found["clips"]}
            if not random_init:
                result[key]["validation"] = {k: summary["logs"].get(f"val_{k}")
                                             for k in ("identity_accuracy", "content_accuracy")}
            print(json.dumps({key: result[key]}), file=sys.stderr, flush=True)
    return result


CAPTION_NETWORKS = ("caption_crnn", "caption_acoustic_image")


def captions(out: Path, scale: float, workers: int, seed: int, pooling: str = "MTSQ",
             networks: tuple[str, ...] = CAPTION_NETWORKS) -> dict:
    """(C)'s task on the simulator's captions: ACIVW recordings of 4 s, each a clip with its
    caption (the class's sound, perhaps a second one in the picture, up to two out of it).
    For each audio network ((C)'s CRNN on one microphone, the acoustic-image encoder):
    retrieval both ways on the 30 test recordings, against chance and the ceiling of
    repeated captions; grounding in time (frame and event F1, the threshold from validation)
    against random scores; grounding in space (acoustic-image encoder) against the acoustic
    energy's peak, a random cell and the centre; each beside the same networks at random init."""
    raw, records, runs = out / "acivw_captions", out / "acivw_captions_tfrecords", out / "runs"
    simulate_dataset(raw, "acivw", seconds=4.0, workers=workers, recordings_per_class=max(5, round(24 * scale)),
                     seed=7, progress=False)
    _prepare([raw], records, workers)
    lists = records / "lists"
    epochs = max(2, round(60 * scale))
    result: dict = {"epochs": epochs, "seed": seed, "pooling": pooling}
    for network in networks:
        name = f"{network}_{pooling}_seed{seed}"
        summary = _train(["--recipe", "c_caption_alignment", "--model_2", network, "--caption_pooling", pooling,
                          "--train_file", str(lists / "training.txt"), "--valid_file", str(lists / "validation.txt"),
                          "--checkpoint_dir", str(runs), "--exp_name", name, "--num_epochs", str(epochs),
                          "--seed", str(seed)])
        result[network] = {"validation_recall_at_1": summary["logs"].get("val_recall_at_1")}
        for key, random_init in (("trained", False), ("random_init", True)):
            found = evaluate_run(runs / name, test_file=str(lists / "testing.txt"), raw_root=raw,
                                 random_init=random_init)["captions"]
            result[network][key] = found
            print(json.dumps({network: {key: found}}), file=sys.stderr, flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="build/learning")
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--only", choices=("self_supervised", "distillation", "sync", "identity", "captions"))
    parser.add_argument("--caption_pooling", default="MTSQ", choices=("STSQ", "MTSQ", "MQST"),
                        help="captions: how the clip-caption score pools the frame-word similarities")
    parser.add_argument("--caption_networks", nargs="+", default=CAPTION_NETWORKS, choices=CAPTION_NETWORKS,
                        help="captions: the audio networks to train")
    parser.add_argument("--seed", type=int, default=0, help="seed of the weights and the training crops")
    parser.add_argument("--cross_modal_weight", type=float, default=0.0,
                        help="weight of main.py's cross-modal identity loss added to (A)'s objective")
    parser.add_argument("--map_agreement_weight", type=float, default=1.0,
                        help="weight of main.py's map-agreement term (0: (A)'s objective alone)")
    parser.add_argument("--mirror", action="store_true", help="(A) with main.py's --mirror augmentation")
    parser.add_argument("--temperature", type=float, default=1.0,
                        help="distillation temperature, (B)'s default 1, where the standard form and (B)'s agree")
    args = parser.parse_args()
    out = Path(args.out).resolve()
    result: dict = {"scale": args.scale}
    benches = (("self_supervised", lambda: self_supervised(out, args.scale, args.workers, args.seed,
                                                           args.cross_modal_weight, args.map_agreement_weight,
                                                           args.mirror)),
               ("distillation", lambda: distillation(out, args.scale, args.workers, args.seed, args.temperature)),
               ("sync", lambda: synchronisation(out, args.scale, args.workers, args.seed)),
               ("identity", lambda: identity(out, args.scale, args.workers, args.seed)),
               ("captions", lambda: captions(out, args.scale, args.workers, args.seed, args.caption_pooling,
                                             tuple(args.caption_networks))))
    for name, bench in benches:
        if args.only in (None, name):
            start = time.perf_counter()
            result[name] = bench()
            result[name]["wall_seconds"] = round(time.perf_counter() - start)
            print(json.dumps({name: result[name]}), file=sys.stderr, flush=True)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
