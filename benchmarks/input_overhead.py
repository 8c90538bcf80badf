"""Training input overhead: the time of a training step fed by the input pipeline, against
the same step fed from a batch already in memory, per stage; the difference is the share
of the step the input costs.

    .venv/bin/python benchmarks/input_overhead.py [--seconds 10] [--min_steps 2] [--batch_size 8] \
        [--rounds 2] [--only STAGE ...]

Each stage is planned, its statistics computed, built and compiled as main.py does
(`trainer.plan`, `trainer.statistics`, `trainer.experiment`) from its recipe, on simulated
ACIVW recordings of 4 s (simulated, counted, converted and listed as a user does, in a
temporary directory removed at the end). Its compiled train step is then fed, through
`stage.fit`, by
- pipeline: `trainer.data.dataset`, the GZIP records read and decoded every epoch;
- input_cache: the same with main.py's --input_cache, the records decoded once into the
  cache when the feed is made (the first epoch's work, reported apart), and read from it;
- memory: one batch of the pipeline, repeated (`Dataset.from_tensors(batch).repeat()`).
The overhead of a feed is 1 - t_memory / t_feed, its input CPU share 1 - c_memory / c_feed
(c: CPU time a step, all threads). The recipes draw more crops per block here (the same
samples, more of them), so that an epoch outlasts a measurement: a new epoch's pipeline
starts cold, which with the recipes' own crops of 24 records would be every few steps.
Every measurement starts untimed with a step (the pipeline's start); each feed's step is
traced before the rounds.

Step times are the best of alternating rounds, since other work on the machine slows
whichever round it lands in; CPU times are the least. On a CPU the input pipeline and the
step share the cores, so the overhead is the input's work as much as waiting for it; on a
loaded machine the CPU share is the steadier figure. The last line is JSON, with the load
average.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import logger.quiet  # noqa: E402, F401  (before anything imports tensorflow)

# isort: split

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

import convert_data  # noqa: E402
import framecount  # noqa: E402
import generate_lists  # noqa: E402
from dataloader.pipeline import record_paths  # noqa: E402
from dataloader.windows import find_clips, windows_per_epoch  # noqa: E402
from dualcam.simulate import simulate_dataset  # noqa: E402
from trainer import data, experiment, plan  # noqa: E402
from trainer.config import RunConfig  # noqa: E402
from trainer.distribute import make_strategy  # noqa: E402
from trainer.statistics import input_statistics  # noqa: E402

STAGES = {  # name: the flags of main.py that train it
    "self_supervised": {"recipe": "a_self_supervised"},  # ResNet18_v1 video vs DualCamHybridNet
    "teacher": {"recipe": "b_teacher"},  # DualCamHybridNet on acoustic images, 1-s samples
    "hearnet": {"recipe": "a_supervised"},  # HearNet on spectrograms, 2-s samples
    "distillation": {"recipe": "a_distillation"},  # HearNet from a frozen DualCamHybridNet
    "captions": {"recipe": "c_caption_alignment", "model_2": "caption_crnn"},  # (C)'s CRNN on 4-s raw audio
}
FEEDS = ("pipeline", "input_cache", "memory")
EPOCH_BATCHES = 400  # at least this many batches an epoch
WARMUP_STEPS = 1


def simulate(root: Path) -> str:
    """Three classes x two recordings of 4 s (the captions' stage reads 4-s samples), all in
    one list: 24 records."""
    simulate_dataset(root / "raw", "acivw", seconds=4.0, seed=5, classes=[0, 1, 2], recordings_per_class=2,
                     workers=2, progress=False)
    assert framecount.main([str(root / "raw"), "0"]) == 0
    assert convert_data.main([str(root / "raw"), str(root / "tfr"), "--modalities", "0", "1", "2", "--workers", "2",
                              "--quiet"]) == 0
    assert generate_lists.main([str(root / "tfr"), "--split_mode", "2"]) == 0
    return str(root / "tfr" / "lists" / "dataset.txt")


def planned(flags: dict, train_file: str, runs: Path, name: str, batch_size: int) -> tuple[RunConfig, plan.Plan]:
    """The run main.py would plan, with as many more crops per block as give an epoch
    EPOCH_BATCHES batches."""
    config = RunConfig(mode="train", train_file=train_file, checkpoint_dir=str(runs), exp_name=name,
                       batch_size=batch_size, verbose=0, **flags)
    _, run = plan.complete(config)
    windows = windows_per_epoch(find_clips(record_paths(train_file), run.loader.total_length), run.loader)
    crops = run.loader.number_of_crops * math.ceil(EPOCH_BATCHES * batch_size / windows)
    return plan.complete(config.replace(number_of_crops=crops))


class StepClock(keras.callbacks.Callback):
    """Wall and CPU time of the steps after the first `warmup`, until `seconds` have passed
    and at least `min_steps` were timed."""

    def __init__(self, warmup: int, seconds: float, min_steps: int):
        super().__init__()
        self.warmup, self.seconds, self.min_steps = warmup, seconds, min_steps
        self.steps, self.start, self.cpu, self.wall, self.cpu_used = 0, 0.0, 0.0, 0.0, 0.0

    def on_train_batch_end(self, batch, logs=None):
        now, cpu = time.perf_counter(), time.process_time()
        if batch + 1 == self.warmup:
            self.start, self.cpu = now, cpu
        elif batch + 1 > self.warmup:
            self.steps, self.wall, self.cpu_used = batch + 1 - self.warmup, now - self.start, cpu - self.cpu
            self.model.stop_training = self.wall >= self.seconds and self.steps >= self.min_steps


def measure(stage: keras.Model, batches: tf.data.Dataset, steps: int, args: argparse.Namespace
            ) -> tuple[float, float, int]:
    """(ms per step, CPU ms per step, steps timed) of `stage.fit` on `batches`."""
    clock = StepClock(WARMUP_STEPS, args.seconds, args.min_steps)
    stage.fit(batches, epochs=1, steps_per_epoch=steps, shuffle=False, verbose=0, callbacks=[clock])
    if not clock.steps:
        raise RuntimeError(f"an epoch of {steps} batches ended before any step was timed")
    return clock.wall * 1000 / clock.steps, clock.cpu_used * 1000 / clock.steps, clock.steps


def feeds(config: RunConfig, run: plan.Plan, cache: Path) -> tuple[dict[str, tf.data.Dataset], float]:
    """The three feeds of the stage, and the seconds the input cache took to fill."""
    pipeline = data.dataset(config.train_file, run.loader, config)
    start = time.perf_counter()
    cached = data.dataset(config.train_file, run.loader, config.replace(input_cache=str(cache)))
    filled = time.perf_counter() - start
    memory = tf.data.Dataset.from_tensors(next(iter(pipeline))).repeat()
    return {"pipeline": pipeline, "input_cache": cached, "memory": memory}, filled


def bench_stage(name: str, train_file: str, root: Path, args: argparse.Namespace) -> dict:
    start = time.perf_counter()
    config, run = planned(STAGES[name], train_file, root / "runs", name, args.batch_size)
    input_statistics(config, run)
    stage = experiment.build(config, run, make_strategy(config.logical_cpus))
    datasets, filled = feeds(config, run, root / "input_cache")
    steps = int(datasets["pipeline"].cardinality())
    for feed in FEEDS:  # traces the step for each feed's element spec, outside the rounds
        stage.fit(datasets[feed], epochs=1, steps_per_epoch=WARMUP_STEPS, shuffle=False, verbose=0)
    best: dict[str, float] = {}
    cpu: dict[str, float] = {}
    timed: dict[str, int] = {}
    for round_number in range(args.rounds):
        for feed in FEEDS:
            milliseconds, cpu_ms, count = measure(stage, datasets[feed], steps, args)
            best[feed] = min(best.get(feed, math.inf), milliseconds)
            cpu[feed] = min(cpu.get(feed, math.inf), cpu_ms)
            timed[feed] = timed.get(feed, 0) + count
            print(f"{name} round {round_number + 1}: {feed}: {milliseconds:.0f} ms a step, {cpu_ms:.0f} CPU ms "
                  f"({count} steps)", file=sys.stderr, flush=True)
    result = {"networks": run.networks, "batch_size": config.batch_size, "sample_seconds": run.loader.sample_length,
              "inputs": list(run.loader.inputs), "input_cache_fill_s": round(filled, 1)}
    for feed in FEEDS:
        result[feed] = {"ms_per_step": round(best[feed], 1), "cpu_ms_per_step": round(cpu[feed], 1),
                        "steps_timed": timed[feed]}
        if feed != "memory":
            result[feed]["overhead"] = round(1 - best["memory"] / best[feed], 3)
            result[feed]["input_cpu_share"] = round(1 - cpu["memory"] / cpu[feed], 3)
    result["wall_s"] = round(time.perf_counter() - start)
    result["load_average_1min"] = round(os.getloadavg()[0], 2)
    keras.backend.clear_session()
    return result


def table(name: str, result: dict) -> str:
    lines = [f"{name}: {', '.join(result['networks'].values())}, batch {result['batch_size']} of "
             f"{result['sample_seconds']} s ({', '.join(result['inputs'])}); input cache filled in "
             f"{result['input_cache_fill_s']} s",
             f"  {'feed':12s} {'ms/step':>9s} {'CPU ms/step':>12s} {'overhead':>9s} {'input CPU':>10s}"]
    for feed in FEEDS:
        figures = result[feed]
        shares = (f"{figures['overhead']:9.1%} {figures['input_cpu_share']:10.1%}" if "overhead" in figures
                  else f"{'-':>9s} {'-':>10s}")
        lines.append(f"  {feed:12s} {figures['ms_per_step']:9.1f} {figures['cpu_ms_per_step']:12.1f} {shares}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds timed per measurement")
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument("--min_steps", type=int, default=2, help="fewest steps timed per measurement")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--only", choices=tuple(STAGES), action="append", help="a stage to measure (repeatable)")
    args = parser.parse_args()
    start = time.perf_counter()
    results: dict = {}
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        train_file = simulate(root)
        print(f"simulated and converted in {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)
        for name in args.only or STAGES:
            results[name] = bench_stage(name, train_file, root, args)
            print(table(name, results[name]), file=sys.stderr, flush=True)
    results["seconds_per_measurement"] = args.seconds
    results["wall_s"] = round(time.perf_counter() - start)
    results["cores"] = os.cpu_count()
    results["load_average_1min"] = round(os.getloadavg()[0], 2)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
