"""The conversion as an Apache Beam pipeline: the same steps as `conversion.convert`, run by
any Beam runner (the DirectRunner here; Dataflow, Flink or Spark on a cluster), and the same
output tree, byte for byte.

    launcher   convert.prepare      the output directory and its manifest, as locally
    Discover   Plan.jobs            one element, the whole tree -> one job per recording
    Spread     Reshuffle            so that a runner hands recordings to many workers
    Convert    convert_recording    one recording's records, written in place
    Summarise  CombineGlobally      the recordings' counts, skipped files, errors
    Report     a JSON file          read, reported and removed by the launcher

Every worker reads the roots and writes the records through local file APIs, at the paths
the launcher was given: the roots and the output must be on a filesystem that the launcher
and every worker mount at the same place. Records are written as locally (under a temporary
name, then renamed), so a re-run after any failure keeps the complete ones.

Discovery is one element for the whole tree rather than one per top-level directory: it
walks directories and reads one small file per recording, far less than converting one
does, and it has to see every recording before the first is converted, as locally: a bad
recording without --skip_bad, or a missing geometry file, stops the run before any record is
written.

Bad input and an output that cannot be written travel as data, not exceptions, to the
summary, and the launcher raises them as the local converter does: a runner retries a
failing bundle (Dataflow four times) and reports the failure in its own words, a traceback
of its worker. So without --skip_bad, a bad file found while converting stops the run only
once the other recordings are converted; of several errors, the first by path is reported.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import os
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import logger.quiet  # noqa: F401  (before anything imports tensorflow: workers import this module first)
from conversion.convert import Job, Plan, Summary, convert_recording, prepare
from conversion.files import PARTIAL_SUFFIX, OutputError, write_text_atomic
from dataloader.raw import RawDataError

# The pipeline's summary, in the output directory (the one place the launcher and the workers
# are known to share), named as a temporary file: if the launcher dies before it removes the
# file, the next run does (`files.remove_partials`).
SUMMARY = "beam_summary.json" + PARTIAL_SUFFIX
_STOPS = {cls.__name__: cls for cls in (RawDataError, OutputError)}
_TALLIES = "tallies"  # Discover's output that goes to the summary as it is: skipped recordings, errors


def _quietly_imported_beam():
    """apache_beam, imported without the warning its BigQuery client logs through the root
    logger when apitools is missing ("apitools not found", nothing the conversion uses).
    Logged while the root logger has no handler, it would also install one
    (`logging.basicConfig`), which would then print every library's warnings and Beam's
    runner INFO lines. Beam's warnings later (an unparseable runner option) still show."""
    root = logging.getLogger()
    swallow = logging.NullHandler()
    root.addHandler(swallow)
    try:
        import apache_beam
    finally:
        root.removeHandler(swallow)
    return apache_beam


beam = _quietly_imported_beam()


@dataclasses.dataclass
class _Tally:
    """What the pipeline gives back: the summary of what it converted and skipped, and the
    errors that stop the run (bad input without --skip_bad, an output that cannot be written,
    a missing geometry file)."""

    summary: Summary = dataclasses.field(default_factory=Summary)
    stops: list[RawDataError | OutputError] = dataclasses.field(default_factory=list)


def _discover(plan: Plan) -> Iterator:
    """The jobs, and (tagged `_TALLIES`) the recordings that cannot be converted, or what stops the run."""
    for root, error in ((plan.mat_root, RawDataError), (plan.raw_root, RawDataError), (plan.out_root, OutputError)):
        if not root.is_dir():  # the launcher saw it: this worker does not mount it
            problem = "not a directory on a Beam worker: every worker must mount the roots and the output"
            yield beam.pvalue.TaggedOutput(_TALLIES, _Tally(stops=[error(root, problem)]))
            return
    try:
        jobs, problems = plan.jobs()
    except RawDataError as err:
        yield beam.pvalue.TaggedOutput(_TALLIES, _Tally(stops=[err]))
        return
    skipped = Summary()
    for problem in problems:
        skipped.skip(problem)
    yield beam.pvalue.TaggedOutput(_TALLIES, _Tally(skipped))
    yield from jobs


def _convert(job: Job) -> _Tally:
    try:
        result = convert_recording(job)
    except OutputError as err:
        return _Tally(stops=[err])
    if result.error is not None and not job.skip_bad:
        return _Tally(stops=[result.error])
    tally = _Tally()
    tally.summary.add(result)
    return tally


def _merged(tallies: Iterable[_Tally]) -> _Tally:
    """The sum of tallies: Beam combines them in any order and grouping, and the launcher
    sorts the lists."""
    total = _Tally()
    for tally in tallies:
        for field in dataclasses.fields(Summary):
            setattr(total.summary, field.name, getattr(total.summary, field.name) + getattr(tally.summary, field.name))
        total.stops += tally.stops
    return total


def _write(tally: _Tally, path: str) -> None:
    stops = [[type(err).__name__, err.path, err.problem] for err in tally.stops]
    write_text_atomic(path, json.dumps({"summary": dataclasses.asdict(tally.summary), "stops": stops}))


def _read(path: Path) -> _Tally:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise OutputError(path, "missing after the pipeline finished: the launcher and the Beam workers must "
                                "mount the output at the same place") from None
    summary = Summary(**data["summary"])
    summary.skipped = sorted(map(tuple, summary.skipped))
    summary.padded_files.sort()
    stops = [_STOPS[kind](where, problem) for kind, where, problem in data["stops"]]
    return _Tally(summary, sorted(stops, key=lambda err: (err.path, err.problem)))


def _pipeline_options(runner: str, workers: int, runner_args: Sequence[str]):
    """The runner, `workers` as the DirectRunner's threads, then the user's runner options
    (which win: the last of a repeated option counts).

    Threads, not processes: the DirectRunner's worker processes each start Beam's SDK
    harness and import TensorFlow (on four 15-s simulated ACIVW recordings and two busy
    cores, 2 processes converted 0.8 recording-seconds per second, 2 threads 1.5), each
    build their own 0.9 GB of beamforming matrices, need this repository on their
    PYTHONPATH, and print the harness's INFO log to the terminal."""
    args = ["--runner", runner]
    if workers > 1:  # the DirectRunner's options, which other runners ignore
        args += ["--direct_num_workers", str(workers), "--direct_running_mode", "multi_threading"]
    return beam.options.pipeline_options.PipelineOptions([*args, *runner_args])


def _runner(name: str):
    """The DirectRunner as the engine it runs batch pipelines on here (FnApiRunner), or None
    (the runner `name` names). Beam's DirectRunner first tries the Prism runner, which it
    downloads from GitHub: offline, that fails and leaves a temporary directory in /tmp each
    run (measured with Beam 2.77); online, it would convert on another engine."""
    if name.lower().removesuffix("runner") != "direct":
        return None
    from apache_beam.runners.portability.fn_api_runner import FnApiRunner

    return FnApiRunner()


def convert_with_beam(
    mat_root: str | os.PathLike,
    raw_root: str | os.PathLike,
    out_root: str | os.PathLike,
    *,
    runner: str,
    workers: int = 1,
    runner_args: Sequence[str] = (),
    **settings,
) -> Summary:
    """`convert.convert_dataset` through a Beam pipeline on `runner`, with `runner_args`
    (Beam's pipeline options, such as `--project`); `workers` are the DirectRunner's. Waits
    for the pipeline, and raises what the local converter would."""
    started = time.perf_counter()
    try:  # before the output directory is made: an unknown runner is a ValueError
        pipeline = beam.Pipeline(runner=_runner(runner), options=_pipeline_options(runner, workers, runner_args))
    except ImportError as err:  # a runner whose extra is not installed, such as apache-beam[gcp]
        raise ValueError(f"runner {runner}: {err}") from None
    plan, summary = prepare(mat_root, raw_root, out_root, **settings)
    summary_path = plan.out_root / SUMMARY
    found = (pipeline
             | "Plan" >> beam.Create([plan])
             | "Discover" >> beam.FlatMap(_discover).with_outputs(_TALLIES, main="jobs"))
    converted = found.jobs | "Spread" >> beam.Reshuffle() | "Convert" >> beam.Map(_convert)
    (
        (converted, found[_TALLIES])
        | "Join" >> beam.Flatten()
        | "Summarise" >> beam.CombineGlobally(_merged)
        | "Report" >> beam.Map(_write, str(summary_path))
    )
    try:
        pipeline.run().wait_until_finish()
        tally = _read(summary_path)
    finally:
        summary_path.unlink(missing_ok=True)
    if tally.stops:
        raise tally.stops[0]
    total = _merged([_Tally(summary), tally]).summary
    total.elapsed = time.perf_counter() - started
    return total
