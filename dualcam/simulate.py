"""Writes a simulated raw dataset in the ACIVW or the AVIA layout.

    python -m dualcam.simulate --layout acivw --out data/acivw_raw --recordings_per_class 2
    python -m dualcam.simulate --layout avia --out data/avia --locations 1 2 --subjects 1 2

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

from dualcam import layouts, scenes
from dualcam.geometry import GEOMETRY_FILENAME, Geometry, default_geometry
from dualcam.propagation import NoiseField

_LAYOUT_CODES = {"acivw": 1, "avia": 2}


@dataclasses.dataclass(frozen=True)
class Job:
    """One recording to simulate: its layout and indices."""

    layout: str
    indices: tuple[int, ...]  # (class, video) for ACIVW; (location, subject, action) for AVIA

    def rng(self, seed: int) -> np.random.Generator:
        return np.random.default_rng(np.random.SeedSequence([seed, _LAYOUT_CODES[self.layout], *self.indices]))

    def done_marker(self, out: Path) -> Path:
        if self.layout == "acivw":
            return layouts.acivw_recording_dir(out, *self.indices)
        return out / "raw" / layouts.avia_relative_dir(*self.indices)


def _checked(name: str, values, valid: range) -> list[int]:
    values = list(valid if values is None else values)
    bad = [v for v in values if v not in valid]
    if bad:
        raise ValueError(f"{name} {bad} out of range: valid are {valid.start}..{valid.stop - 1}")
    return values


def plan(layout: str, classes=None, recordings_per_class: int = 2, locations=None, subjects=None,
         actions=None) -> list[Job]:
    """The recordings of a dataset: ACIVW classes x videos, or AVIA locations x subjects x actions."""
    if layout == "acivw":
        classes = _checked("class", classes, range(len(layouts.ACIVW_CLASSES)))
        return [Job("acivw", (c, v)) for c in classes for v in range(1, recordings_per_class + 1)]
    if layout == "avia":
        locations = _checked("location", locations, range(1, len(layouts.AVIA_LOCATIONS) + 1))
        subjects = _checked("subject", subjects, range(1, layouts.AVIA_SUBJECTS + 1))
        actions = _checked("action", actions, range(len(layouts.AVIA_ACTIONS)))
        return [Job("avia", (loc, s, a)) for loc in locations for s in subjects for a in actions]
    raise ValueError(f"unknown layout {layout!r}: expected 'acivw' or 'avia'")


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


def _simulate_one(job: Job, out: str, seconds: float, seed: int, avia_mics: int) -> float:
    geometry, noise = _WORKER["geometry"], _WORKER["noise"]
    rng = job.rng(seed)
    if job.layout == "acivw":
        scene = scenes.acivw_scene(rng, *job.indices, seconds)
    else:
        scene = scenes.avia_scene(rng, *job.indices, seconds)
    result = scenes.record(scene, geometry, noise, rng)
    truth = {**result["truth"], "seed": seed, "indices": list(job.indices)}
    if job.layout == "acivw":
        layouts.write_acivw_recording(out, *job.indices, result["images"], result["audio"], result["frames"], truth)
    else:
        layouts.write_avia_recording(Path(out) / "mat", Path(out) / "raw", *job.indices, result["images"],
                                     result["audio"], result["frames"], truth, mics=avia_mics)
    return result["audio"].shape[0] / 12.0


def _geometry_fields(geometry: Geometry) -> dict:
    return {f.name: getattr(geometry, f.name) for f in dataclasses.fields(geometry)}


def simulate_dataset(out: str | Path, layout: str = "acivw", seconds: float = 10.0, seed: int = 0,
                     workers: int = 1, geometry: Geometry | None = None, avia_mics: int = 1,
                     progress: bool = True, **selection) -> dict:
    """Simulates every recording of `plan(layout, **selection)` missing under `out`.
    Returns a summary: recordings written and kept, seconds simulated, wall time."""
    out = Path(out)
    geometry = geometry or default_geometry()
    jobs = plan(layout, **selection)
    roots = [out] if layout == "acivw" else [out / "mat", out / "raw"]
    for root in roots:
        root.mkdir(parents=True, exist_ok=True)
        geometry.save(root / GEOMETRY_FILENAME)
    todo = [job for job in jobs if not job.done_marker(out).is_dir()]
    start = time.perf_counter()
    simulated = 0.0
    args = (str(out), seconds, seed, avia_mics)
    bar = tqdm(total=len(todo), desc=f"simulating {layout}", unit="rec", disable=not progress)
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
        "layout": layout,
        "out": str(out),
        "recordings_written": len(todo),
        "recordings_kept": len(jobs) - len(todo),
        "seconds_simulated": simulated,
        "wall_seconds": round(wall, 2),
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--layout", choices=sorted(_LAYOUT_CODES), required=True)
    parser.add_argument("--out", required=True, help="dataset root to write (created if missing)")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of every recording")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=1, help="recordings simulated in parallel")
    parser.add_argument("--classes", type=int, nargs="*", help="ACIVW class indices (default: all 10)")
    parser.add_argument("--recordings_per_class", type=int, default=2, help="ACIVW videos per class")
    parser.add_argument("--locations", type=int, nargs="*", help="AVIA locations 1..3 (default: all)")
    parser.add_argument("--subjects", type=int, nargs="*", help="AVIA subjects 1..9 (default: all)")
    parser.add_argument("--actions", type=int, nargs="*", help="AVIA actions 0..13 (default: all)")
    parser.add_argument("--avia_mics", type=int, default=1, choices=(1, 128),
                        help="microphones stored in AVIA .npy files (1 as in the shipped dataset)")
    args = parser.parse_args(argv)
    if args.seconds * 12 < 1 or abs(args.seconds * 12 - round(args.seconds * 12)) > 1e-9:
        parser.error("--seconds must be a positive multiple of 1/12 (one video frame)")
    if args.layout == "acivw":
        selection = {"classes": args.classes, "recordings_per_class": args.recordings_per_class}
    else:
        selection = {"locations": args.locations, "subjects": args.subjects, "actions": args.actions}
    summary = simulate_dataset(args.out, args.layout, args.seconds, args.seed, args.workers,
                               avia_mics=args.avia_mics, **selection)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
