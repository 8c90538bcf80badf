"""The converter: raw recordings -> one GZIP TFRecord per second (see `dataloader.schema`).

A run is resumable: each record is written under a temporary name and renamed when
complete, so a record that exists is finished and a re-run skips it. The output root keeps
the layout and modalities it was converted with (`conversion.json`), so a re-run with other
modalities cannot mix records silently. Recordings are converted in parallel, one per task,
longest first so that the last tasks are short.
"""
from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import json
import multiprocessing
import os
import time
from collections.abc import Iterator
from pathlib import Path

from tqdm import tqdm

from conversion import recordings as rec
from conversion.files import atomic_output, partial_path, write_text_atomic
from dataloader import schema
from dualcam.geometry import GEOMETRY_FILENAME
from dualcam.layouts import RawDataError

MANIFEST = "conversion.json"


@dataclasses.dataclass(frozen=True)
class Job:
    recording: rec.Recording
    out_root: str
    modalities: tuple[str, ...]
    overwrite: bool
    skip_bad: bool
    geometry_path: str | None


@dataclasses.dataclass(frozen=True)
class JobResult:
    recording: rec.Recording
    written: int = 0
    present: int = 0
    bytes_written: int = 0
    error: RawDataError | None = None


def _remove_outputs(job: Job) -> None:
    for second in range(job.recording.seconds):
        path = job.recording.record_path(job.out_root, second)
        path.unlink(missing_ok=True)
        partial_path(path).unlink(missing_ok=True)


def convert_recording(job: Job) -> JobResult:
    """Writes the missing records of one recording; with `skip_bad`, a recording with bad
    input leaves no records at all."""
    recording = job.recording
    written = present = size = 0
    counts = None
    try:
        for second in range(recording.seconds):
            path = recording.record_path(job.out_root, second)
            if path.exists() and not job.overwrite:
                present += 1
                continue
            if counts is None:
                dirs = rec.needed_dirs(job.modalities, recording.beamformed(job.modalities))
                counts = rec.check_file_counts(recording, dirs)
            arrays = rec.read_second(recording, second, job.modalities, counts, job.geometry_path)
            example = schema.make_sequence_example(recording.layout, recording.labels, **arrays)
            with atomic_output(path) as temporary:
                schema.write_record_file(temporary, example)
            written += 1
            size += path.stat().st_size
    except RawDataError as err:
        if job.skip_bad:
            _remove_outputs(job)
            written = present = size = 0
        return JobResult(recording, written, present, size, err)
    return JobResult(recording, written, present, size)


@dataclasses.dataclass
class Summary:
    recordings: int = 0
    records_written: int = 0
    records_present: int = 0
    bytes_written: int = 0
    skipped: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    elapsed: float = 0.0

    @property
    def seconds(self) -> int:
        """Recording-seconds now in the output: one per record."""
        return self.records_written + self.records_present

    def report(self) -> str:
        rate = self.records_written / self.elapsed if self.elapsed else 0.0
        lines = [
            f"recordings: {self.recordings} converted, {len(self.skipped)} skipped",
            f"records: {self.records_written} written, {self.records_present} already complete "
            f"({self.seconds} s of recording in the output)",
            f"written: {self.bytes_written / 1e6:.1f} MB in {self.elapsed:.1f} s "
            f"({rate:.1f} recording-seconds per second)",
        ]
        lines += [f"skipped {path}: {problem}" for path, problem in self.skipped]
        return "\n".join(lines)


def _check_manifest(out_root: Path, layout: str, modalities: tuple[str, ...], overwrite: bool) -> None:
    manifest = {"layout": layout, "modalities": list(modalities)}
    path = out_root / MANIFEST
    if path.exists() and not overwrite:
        try:
            previous = json.loads(path.read_text())
        except ValueError:
            previous = None
        if previous != manifest:
            raise ValueError(
                f"{out_root}: holds records converted as {previous}, this run asks for {manifest}; "
                "use another output directory, or --overwrite to convert everything again"
            )
    write_text_atomic(path, json.dumps(manifest, indent=1))


def _geometry_path(mat_root: Path, raw_root: Path, given: str | None) -> str:
    candidates = [Path(given)] if given else [raw_root / GEOMETRY_FILENAME, mat_root / GEOMETRY_FILENAME]
    for candidate in candidates:
        if candidate.is_file():
            return str(candidate)
    raise RawDataError(candidates[0], "missing array geometry file, needed to beamform (see --geometry)")


def convert_dataset(
    mat_root: str | os.PathLike,
    raw_root: str | os.PathLike,
    out_root: str | os.PathLike,
    *,
    layout: str | None = None,
    modalities: tuple[str, ...] = schema.MODALITIES,
    workers: int = 1,
    skip_bad: bool = False,
    overwrite: bool = False,
    beamform: bool = False,
    geometry: str | None = None,
    progress: bool = True,
) -> Summary:
    """Converts every recording under the roots (the same directory for a one-root dataset).

    Bad input raises RawDataError naming the file and the problem, unless `skip_bad`: then
    the recording is left out and listed in the summary. `beamform` computes the acoustic
    images of recordings that have raw 128-microphone audio but no MFCC_Image.
    """
    started = time.perf_counter()
    mat_root, raw_root, out_root = Path(mat_root), Path(raw_root), Path(out_root)
    for root in (mat_root, raw_root):
        if not root.is_dir():
            raise RawDataError(root, "not a directory")
    layout = layout or rec.detect_layout(mat_root)
    out_root.mkdir(parents=True, exist_ok=True)
    _check_manifest(out_root, layout, modalities, overwrite)

    found, problems = rec.discover(mat_root, raw_root, layout, modalities, beamform)
    summary = Summary()
    if problems and not skip_bad:
        raise problems[0]
    summary.skipped += [(err.path, err.problem) for err in problems]
    geometry_path = None
    if beamform and any(r.beamformed(modalities) for r in found):
        geometry_path = _geometry_path(mat_root, raw_root, geometry)
    jobs = [
        Job(recording, str(out_root), modalities, overwrite, skip_bad, geometry_path)
        for recording in sorted(found, key=lambda r: -r.seconds)
    ]

    bar = tqdm(total=sum(r.seconds for r in found), unit="s", desc="converting", disable=not progress)
    with bar, contextlib.closing(_run(jobs, workers)) as results:
        for result in results:
            bar.update(result.recording.seconds)
            if result.error is None:
                summary.recordings += 1
                summary.records_written += result.written
                summary.records_present += result.present
                summary.bytes_written += result.bytes_written
            elif skip_bad:
                summary.skipped.append((result.error.path, result.error.problem))
            else:
                raise result.error
    summary.elapsed = time.perf_counter() - started
    return summary


def _run(jobs: list[Job], workers: int) -> Iterator[JobResult]:
    """Results as they complete; closing the generator cancels the jobs not started and
    waits for the running ones, which finish their records."""
    if workers <= 1:
        yield from map(convert_recording, jobs)
        return
    # spawn, not fork: TensorFlow's runtime threads do not survive a fork.
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures = [pool.submit(convert_recording, job) for job in jobs]
        try:
            for future in concurrent.futures.as_completed(futures):
                yield future.result()
        finally:
            for future in futures:
                future.cancel()
