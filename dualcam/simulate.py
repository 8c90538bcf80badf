"""Writes a simulated raw dataset of either flavour, ACIVW or AVIA, in its directory layout.

    python -m dualcam.simulate --flavour acivw --out data/acivw_raw --recordings_per_class 2
    python -m dualcam.simulate --flavour avia --out data/avia --locations 1 2 --subjects 1 2
    python -m dualcam.simulate --flavour acivw --out data/sync --offsets -0.5 0.5 \
        --sound_file drone=my_drone.flac

ACIVW writes OUT/class_c/data_vvv/...; AVIA writes OUT/mat/Location_.. and OUT/raw/Location_..
(the two roots convert_data.py takes). Every recording is seeded from (--seed, its own
indices), so a dataset is the same whatever --workers and whichever recordings a re-run
skips: recordings already complete on disk are kept.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import json
import multiprocessing
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits
from tqdm import tqdm

from dataloader.camera import FRAMES_PER_SECOND, NUM_MICS
from dataloader.datasets import ACIVW, AVIA, FLAVOURS, DatasetSpec, dataset_spec
from dualcam import layouts, recording, scenes, speech
from dualcam.geometry import GEOMETRY_FILENAME, Geometry, default_geometry
from dualcam.propagation import NoiseField
from dualcam.sounds import SOUND_NAMES, read_sound_file

_SEED_CODES = {ACIVW: 1, AVIA: 2}  # part of every recording's seed: changing one changes its data


def roots(out: Path, flavour: str) -> tuple[Path, Path]:
    """The .mat root and the raw root of a simulated dataset: OUT/mat and OUT/raw for a
    flavour that ships two, else OUT for both."""
    return (out / "mat", out / "raw") if dataset_spec(flavour).two_roots else (out, out)


@dataclasses.dataclass(frozen=True)
class Job:
    """One recording to simulate: its flavour and the numbers of its directories."""

    flavour: str
    indices: tuple[int, ...]  # (class, video) for ACIVW; (location, subject, action) for AVIA

    def rng(self, seed: int) -> np.random.Generator:
        return np.random.default_rng(np.random.SeedSequence([seed, _SEED_CODES[self.flavour], *self.indices]))

    def done_marker(self, out: Path) -> Path:
        """Its raw directory, which is written last."""
        return roots(out, self.flavour)[1] / dataset_spec(self.flavour).relative_dir(self.indices)


def _checked(name: str, values, valid: range) -> list[int]:
    values = list(valid if values is None else values)
    bad = [v for v in values if v not in valid]
    if bad:
        raise ValueError(f"{name} {bad} out of range: valid are {valid.start}..{valid.stop - 1}")
    return values


def _numbers(spec: DatasetSpec, key: str) -> range:
    """The numbers of the level that gives label `key`, which is its number less the level's first."""
    level = next(level for level in spec.levels if level.key == key)
    depth = next(label.depth for label in spec.labels if label.key == key)
    return range(level.first, level.first + depth)


def plan(flavour: str, classes=None, recordings_per_class: int = 2, locations=None, subjects=None,
         actions=None) -> list[Job]:
    """The recordings of a dataset: ACIVW classes x videos, or AVIA locations x subjects x actions."""
    spec = dataset_spec(flavour)
    if flavour == ACIVW:
        classes = _checked("class", classes, _numbers(spec, "classes"))
        return [Job(flavour, (c, v)) for c in classes for v in range(1, recordings_per_class + 1)]
    locations = _checked("location", locations, _numbers(spec, "location"))
    subjects = _checked("subject", subjects, _numbers(spec, "subject"))
    actions = _checked("action", actions, _numbers(spec, "action"))
    return [Job(flavour, (loc, s, a)) for loc in locations for s in subjects for a in actions]


_WORKER: dict = {}


def _init_worker(geometry_json: dict, single_thread: bool) -> None:
    if single_thread:
        # BLAS sums in an order that depends on its thread count (OpenBLAS), so every
        # recording is simulated on one thread, in a worker as in the serial loop: the bytes
        # are then the same whatever --workers. One thread per worker also avoids
        # oversubscribing the cores.
        _WORKER["limits"] = threadpool_limits(1)
    geometry = Geometry(**{**geometry_json, "mic_positions": np.asarray(geometry_json["mic_positions"])})
    _WORKER["geometry"] = geometry
    _WORKER["noise"] = NoiseField(geometry)


def _simulate_one(job: Job, out: str, seconds: float, seed: int, avia_mics: int, options: scenes.Options) -> float:
    geometry, noise = _WORKER["geometry"], _WORKER["noise"]
    rng = job.rng(seed)
    scene = scenes.SCENES[job.flavour](rng, *job.indices, seconds, options, geometry)
    result = recording.record(scene, geometry, noise, rng)
    truth = {**result["truth"], "seed": seed, "indices": list(job.indices)}
    mics = avia_mics if job.flavour == AVIA else None
    layouts.write_recording(dataset_spec(job.flavour), *roots(Path(out), job.flavour), job.indices, result["images"],
                            result["audio"], result["frames"], truth, mics=mics)
    return result["audio"].shape[0] / FRAMES_PER_SECOND


def check_options(options: scenes.Options, flavour: str, jobs: list[Job]) -> None:
    """Refuses, in one line, what would fail halfway: an unreadable sound file, an unknown
    sound, speech without eSpeak NG."""
    low, high = options.offsets
    if not low <= high:
        raise ValueError(f"offsets: the range must be LOW <= HIGH, got {low} {high}")
    for name, paths in options.sound_files:
        if name not in SOUND_NAMES:
            raise ValueError(f"sound_file {name}: unknown sound; known sounds: {', '.join(SOUND_NAMES)}")
        for path in paths:
            read_sound_file(path)
    if options.speech not in scenes.SPEECHES:
        raise ValueError(f"speech must be one of {scenes.SPEECHES}, got {options.speech!r}")
    speaking = dataset_spec(AVIA).class_names.index("speaking")
    heard = options.background[1] > 0 or any(job.indices[2] == speaking for job in jobs)  # a background voice too
    if flavour == AVIA and options.speech == "espeak" and heard:
        try:
            speech.speak(speech.SENTENCES[0], speech.subject_voice(1))
        except speech.SpeechUnavailable as err:
            raise speech.SpeechUnavailable(f"{err}; or simulate with --speech formant, or leave the speaking "
                                           "action out (--actions)") from None


def _geometry_fields(geometry: Geometry) -> dict:
    return {f.name: getattr(geometry, f.name) for f in dataclasses.fields(geometry)}


def simulate_dataset(out: str | Path, flavour: str = ACIVW, seconds: float = 10.0, seed: int = 0,
                     workers: int = 1, geometry: Geometry | None = None, avia_mics: int = 1,
                     progress: bool = True, options: scenes.Options | None = None, **selection) -> dict:
    """Simulates every recording of `plan(flavour, **selection)` missing under `out`.
    Returns a summary: recordings written and kept, seconds simulated, wall time."""
    out = Path(out)
    geometry = geometry or default_geometry()
    options = options or scenes.Options()
    jobs = plan(flavour, **selection)
    check_options(options, flavour, jobs)
    for root in dict.fromkeys(roots(out, flavour)):
        root.mkdir(parents=True, exist_ok=True)
        geometry.save(root / GEOMETRY_FILENAME)
    todo = [job for job in jobs if not job.done_marker(out).is_dir()]
    start = time.perf_counter()
    simulated = 0.0
    args = (str(out), seconds, seed, avia_mics, options)
    bar = tqdm(total=len(todo), desc=f"simulating {flavour}", unit="rec", disable=not progress)
    if workers <= 1:
        _init_worker(_geometry_fields(geometry), single_thread=False)
        with threadpool_limits(1):  # as in the workers (see _init_worker)
            for job in todo:
                simulated += _simulate_one(job, *args)
                bar.update()
    else:
        context = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(
            workers, mp_context=context, initializer=_init_worker,
            initargs=(_geometry_fields(geometry), True),
        ) as pool:
            for seconds_done in pool.map(_simulate_one, todo, *[[a] * len(todo) for a in args]):
                simulated += seconds_done
                bar.update()
    bar.close()
    wall = time.perf_counter() - start
    return {
        "flavour": flavour,
        "out": str(out),
        "recordings_written": len(todo),
        "recordings_kept": len(jobs) - len(todo),
        "seconds_simulated": simulated,
        "wall_seconds": round(wall, 2),
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--flavour", "--layout", dest="flavour", choices=FLAVOURS, required=True,
                        help="the dataset to simulate (--layout: its former name)")
    parser.add_argument("--out", required=True, help="dataset root to write (created if missing)")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of every recording")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=1, help="recordings simulated in parallel")
    parser.add_argument("--classes", type=int, nargs="*", help="ACIVW class indices (default: all 10)")
    parser.add_argument("--recordings_per_class", type=int, default=2, help="ACIVW videos per class")
    parser.add_argument("--locations", type=int, nargs="*", help="AVIA locations 1..3 (default: all)")
    parser.add_argument("--subjects", type=int, nargs="*", help="AVIA subjects 1..9 (default: all)")
    parser.add_argument("--actions", type=int, nargs="*", help="AVIA actions 0..13 (default: all)")
    parser.add_argument("--avia_mics", type=int, default=1, choices=(1, NUM_MICS),
                        help="microphones stored in AVIA .npy files (1 as in the shipped dataset)")
    parser.add_argument("--offsets", type=float, nargs=2, default=(0.0, 0.0), metavar=("LOW", "HIGH"),
                        help="seconds the array's signals (and acoustic images) lag the video, drawn per "
                             "recording from [LOW, HIGH] in whole samples; negative: they lead")
    parser.add_argument("--sound_file", action="append", default=[], metavar="SOUND=PATH",
                        help="a recording (WAV, FLAC, ...) to use as sound SOUND instead of its synthetic one; "
                             "repeat for several (of one sound: each recording draws one)")
    parser.add_argument("--speech", choices=scenes.SPEECHES, default="espeak",
                        help="how subjects speak: eSpeak NG voices (pip install espeakng-loader), or the "
                             "built-in formant voice")
    parser.add_argument("--background", type=int, nargs=2, default=(0, 2), metavar=("MIN", "MAX"),
                        help="sounds from outside the picture per recording")
    args = parser.parse_args(argv)
    frames = args.seconds * FRAMES_PER_SECOND
    if frames < 1 or abs(frames - round(frames)) > 1e-9:
        parser.error(f"--seconds must be a positive multiple of 1/{FRAMES_PER_SECOND} (one video frame)")
    if args.flavour == ACIVW:
        selection = {"classes": args.classes, "recordings_per_class": args.recordings_per_class}
    else:
        selection = {"locations": args.locations, "subjects": args.subjects, "actions": args.actions}
    files: dict[str, list[str]] = {}
    for value in args.sound_file:
        name, _, path = value.partition("=")
        if not path:
            parser.error(f"--sound_file {value}: expected SOUND=PATH")
        files.setdefault(name, []).append(path)
    if not 0 <= args.background[0] <= args.background[1]:
        parser.error(f"--background {args.background[0]} {args.background[1]}: expected 0 <= MIN <= MAX")
    options = scenes.Options(offsets=tuple(args.offsets), sound_files=tuple((k, tuple(v)) for k, v in files.items()),
                             speech=args.speech, background=tuple(args.background))
    try:
        summary = simulate_dataset(args.out, args.flavour, args.seconds, args.seed, args.workers,
                                   avia_mics=args.avia_mics, options=options, **selection)
    except (ValueError, speech.SpeechUnavailable) as err:
        parser.exit(2, f"{parser.prog}: {err}\n")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
