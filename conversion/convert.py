"""The converter: raw recordings -> one GZIP TFRecord per second (see `dataloader.schema`).

A run is resumable: each record is written under a temporary name and renamed when
complete, so a record that exists is finished and a re-run skips it (and removes the
temporary files of a killed run). The output root keeps the flavour, modalities and video
encoding it was converted with, and whether ground truth was left out (`conversion.json`),
so a re-run with others cannot mix records silently. Recordings are converted in parallel,
one per task, longest first so that the last tasks are short; the worker processes die with
the converter, even when it is killed with SIGKILL.

A conversion is four steps, which `conversion.beam` runs as a Beam pipeline too: `prepare`
(the output directory and its manifest), `Plan.jobs` (finding the recordings),
`convert_recording` (one recording's records) and `Summary.add` (counting what they did).
"""
from __future__ import annotations

import concurrent.futures
import contextlib
import ctypes
import dataclasses
import json
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from tqdm import tqdm

from conversion import recordings as rec
from conversion.files import OutputError, atomic_output, partial_path, remove_partials, write_text_atomic
from dataloader import schema
from dataloader.camera import ACOUSTIC_IMAGE_SHAPE
from dataloader.datasets import DATASETS
from dataloader.raw import RawDataError
from dualcam.geometry import GEOMETRY_FILENAME

MANIFEST = "conversion.json"
_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


@dataclasses.dataclass(frozen=True)
class Job:
    recording: rec.Recording
    out_root: str
    options: rec.ReadOptions
    overwrite: bool
    skip_bad: bool


@dataclasses.dataclass(frozen=True)
class JobResult:
    recording: rec.Recording
    written: int = 0
    present: int = 0
    bytes_written: int = 0
    padded: frozenset[str] = frozenset()  # .mat files zero padded to 36 x 48 x 12
    with_truth: int = 0  # records written with the recording's ground truth
    error: RawDataError | None = None


def _remove_outputs(job: Job) -> None:
    for second in range(job.recording.seconds):
        path = job.recording.record_path(job.out_root, second)
        try:
            path.unlink(missing_ok=True)
            partial_path(path).unlink(missing_ok=True)
        except OSError as err:
            raise OutputError(path, f"cannot remove the records of a skipped recording ({err.strerror})") from None


def _write_record(path: Path, example) -> None:
    import tensorflow as tf  # imported already, by the schema that made the example

    with atomic_output(path) as temporary:
        try:
            schema.write_record_file(temporary, example)
        except tf.errors.OpError as err:  # TensorFlow's file errors (a full disk...) are not OSErrors
            raise OutputError(path, f"cannot write ({err.message})") from None


def convert_recording(job: Job) -> JobResult:
    """Writes the missing records of one recording; with `skip_bad`, a recording with bad
    input leaves no records at all. Bad input is returned; an output that cannot be
    written raises OutputError."""
    recording = job.recording
    written = present = size = 0
    counts = truth = None
    padded = set()
    try:
        for second in range(recording.seconds):
            path = recording.record_path(job.out_root, second)
            if path.exists() and not job.overwrite:
                present += 1
                continue
            if counts is None:  # before the recording's first record: bad input leaves none of it
                dirs = rec.needed_dirs(job.options.modalities, recording.beamformed(job.options.modalities))
                counts = rec.check_file_counts(recording, dirs)
                if job.options.ground_truth:
                    truth = rec.read_truth(recording, next(iter(counts.values())))
            arrays, padded_files = rec.read_second(recording, second, job.options, counts, truth)
            padded |= padded_files
            _write_record(path, schema.make_sequence_example(recording.flavour, recording.labels, **arrays))
            written += 1
            size += path.stat().st_size
    except RawDataError as err:
        if job.skip_bad:
            _remove_outputs(job)
            written = present = size = 0
            padded = set()
        return JobResult(recording, written, present, size, error=err)
    return JobResult(recording, written, present, size, padded=frozenset(map(str, padded)),
                     with_truth=written if truth is not None else 0)


@dataclasses.dataclass
class Summary:
    recordings: int = 0
    records_written: int = 0
    records_present: int = 0
    bytes_written: int = 0
    skipped: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    padded_files: list[str] = dataclasses.field(default_factory=list)  # AVIA .mat files zero padded
    records_with_truth: int = 0  # of the records written, those carrying ground truth
    partials_removed: int = 0  # temporary files of an interrupted run
    elapsed: float = 0.0

    def add(self, result: JobResult) -> None:
        """Counts a recording's records, or the recording as skipped if its input was bad."""
        if result.error is not None:
            self.skip(result.error)
            return
        self.recordings += 1
        self.records_written += result.written
        self.records_present += result.present
        self.bytes_written += result.bytes_written
        self.records_with_truth += result.with_truth
        self.padded_files += sorted(result.padded)

    def skip(self, error: RawDataError) -> None:
        self.skipped.append((error.path, error.problem))

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
        if self.records_with_truth:
            lines.append(f"ground truth: carried by {self.records_with_truth} of the records written")
        if self.partials_removed:
            lines.append(f"removed {self.partials_removed} temporary files of an interrupted run")
        if self.padded_files:
            lines.append(
                f"zero padded to {' x '.join(map(str, ACOUSTIC_IMAGE_SHAPE))}, as AVIA's converter did: "
                f"{len(self.padded_files)} acoustic image files, e.g. {min(self.padded_files)} (--strict_shapes "
                "refuses them)"
            )
        lines += [f"skipped {path}: {problem}" for path, problem in self.skipped]
        return "\n".join(lines)


def _manifest(flavour: str, options: rec.ReadOptions) -> dict:
    """What determines the bytes of the records: a re-run must ask for the same. Ground truth
    is carried where there is some unless the manifest says `"ground_truth": false` (which
    manifests written before ground truth existed do not say: their raw data had none)."""
    manifest = {"flavour": flavour, "modalities": list(options.modalities)}
    if schema.VIDEO in options.modalities:
        manifest["video_encoding"] = options.video_encoding(flavour)
    if not options.ground_truth:
        manifest["ground_truth"] = False
    return manifest


def _read_manifest(path: Path) -> dict | None:
    """A manifest, in today's words whenever it was written; None if unreadable."""
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict):
        return manifest
    # Written before the dataset kind was called its flavour, and the acoustic images' modality acoustic_image.
    if "layout" in manifest:
        manifest["flavour"] = manifest.pop("layout")
    if isinstance(manifest.get("modalities"), list):
        manifest["modalities"] = [schema.ACOUSTIC_IMAGE if m == "audio_image" else m for m in manifest["modalities"]]
    if schema.VIDEO in manifest.get("modalities", ()) and manifest.get("flavour") in DATASETS:
        # Manifests written before AVIA's raw encoding existed name no encoding: the only one then.
        manifest.setdefault("video_encoding", rec.ReadOptions(()).video_encoding(manifest["flavour"]))
    return manifest


def _check_manifest(out_root: Path, manifest: dict, overwrite: bool) -> None:
    path = out_root / MANIFEST
    if path.exists() and not overwrite:
        previous = _read_manifest(path)
        if previous != manifest:
            raise ValueError(
                f"{out_root}: holds records converted as {previous}, this run asks for {manifest}; "
                "use another output directory, or --overwrite to convert everything again"
            )
    write_text_atomic(path, json.dumps(manifest, indent=1))


def _create_output(out_root: Path) -> None:
    if out_root.exists() and not out_root.is_dir():
        raise OutputError(out_root, "exists and is not a directory")
    try:
        out_root.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OutputError(out_root, f"cannot create the output directory ({err.strerror})") from None


def _geometry_path(mat_root: Path, raw_root: Path, given: str | None) -> str:
    candidates = [Path(given)] if given else [raw_root / GEOMETRY_FILENAME, mat_root / GEOMETRY_FILENAME]
    for candidate in candidates:
        if candidate.is_file():
            return str(candidate)
    raise RawDataError(candidates[0], "missing array geometry file, needed to beamform (see --geometry)")


@dataclasses.dataclass(frozen=True)
class Plan:
    """A conversion whose output directory is ready (`prepare`): what finding its recordings
    and making their jobs takes. It pickles, so that a Beam pipeline can find them on a worker."""

    mat_root: Path
    raw_root: Path
    out_root: Path
    flavour: str
    options: rec.ReadOptions
    skip_bad: bool
    overwrite: bool
    beamform: bool
    geometry: str | None

    def jobs(self) -> tuple[list[Job], list[RawDataError]]:
        """One job per recording, longest first (so that a pool's last tasks are short), and
        the problems of the recordings that cannot be converted. A problem raises unless
        `skip_bad`, and so does a missing geometry file when a recording needs beamforming:
        before any record is written."""
        modalities = self.options.modalities
        found, problems = rec.discover(self.mat_root, self.raw_root, self.flavour, modalities, self.beamform)
        if problems and not self.skip_bad:
            raise problems[0]
        options = self.options
        if self.beamform and any(r.beamformed(modalities) for r in found):
            geometry_path = _geometry_path(self.mat_root, self.raw_root, self.geometry)
            options = dataclasses.replace(options, geometry_path=geometry_path)
        jobs = [
            Job(recording, str(self.out_root), options, self.overwrite, self.skip_bad)
            for recording in sorted(found, key=lambda r: -r.seconds)
        ]
        return jobs, problems


def prepare(
    mat_root: str | os.PathLike,
    raw_root: str | os.PathLike,
    out_root: str | os.PathLike,
    *,
    flavour: str | None = None,
    modalities: tuple[str, ...] = schema.MODALITIES,
    skip_bad: bool = False,
    overwrite: bool = False,
    beamform: bool = False,
    geometry: str | None = None,
    strict_shapes: bool = False,
    raw_video: bool = False,
    ground_truth: bool = True,
) -> tuple[Plan, Summary]:
    """Checks the roots (the same directory for a one-root dataset), recognises the flavour
    unless it is given, and makes the output directory ready: created, cleared of an
    interrupted run's temporary files, and its manifest checked and written. Returns the plan
    and the summary so far. The keywords are a conversion's settings, which `convert_dataset`
    and `beam.convert_with_beam` pass on:

    Bad input raises RawDataError naming the file and the problem, unless `skip_bad`: then
    the recording is left out and listed in the summary. An output that cannot be written
    raises OutputError, naming it. `beamform` computes the acoustic images of recordings
    that have raw 128-microphone audio but no MFCC_Image. `strict_shapes` refuses AVIA
    acoustic images smaller than 36 x 48 x 12 instead of zero padding them, as ACIVW always
    does; `raw_video` stores AVIA's frames decoded (see `recordings.ReadOptions`).
    `ground_truth` False leaves the simulator's ground truth out of the records; else a
    recording whose raw directory holds one with events carries it (a malformed one is bad
    input, as above).
    """
    mat_root, raw_root, out_root = Path(mat_root), Path(raw_root), Path(out_root)
    for root in (mat_root, raw_root):
        if not root.is_dir():
            raise RawDataError(root, "not a directory")
    flavour = flavour or rec.detect_flavour(mat_root)
    options = rec.ReadOptions(modalities, strict_shapes=strict_shapes, raw_video=raw_video,
                              ground_truth=ground_truth)
    _create_output(out_root)
    summary = Summary(partials_removed=remove_partials(out_root))
    _check_manifest(out_root, _manifest(flavour, options), overwrite)
    return Plan(mat_root, raw_root, out_root, flavour, options, skip_bad, overwrite, beamform, geometry), summary


def convert_dataset(
    mat_root: str | os.PathLike,
    raw_root: str | os.PathLike,
    out_root: str | os.PathLike,
    *,
    workers: int = 1,
    progress: bool = True,
    **settings,
) -> Summary:
    """Converts every recording under the roots, `workers` at a time; `settings` are
    `prepare`'s, which says what is raised."""
    started = time.perf_counter()
    plan, summary = prepare(mat_root, raw_root, out_root, **settings)
    jobs, problems = plan.jobs()
    for problem in problems:
        summary.skip(problem)
    bar = tqdm(total=sum(job.recording.seconds for job in jobs), unit="s", desc="converting", disable=not progress)
    with bar, contextlib.closing(_run(jobs, workers)) as results:
        for result in results:
            bar.update(result.recording.seconds)
            if result.error is not None and not plan.skip_bad:
                raise result.error
            summary.add(result)
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
    with concurrent.futures.ProcessPoolExecutor(max_workers=workers, mp_context=context,
                                                initializer=_die_with_parent, initargs=(os.getpid(),)) as pool:
        futures = [pool.submit(convert_recording, job) for job in jobs]
        try:
            for future in concurrent.futures.as_completed(futures):
                yield future.result()
        finally:
            for future in futures:
                future.cancel()


def _die_with_parent(parent: int) -> None:
    """Worker initializer: the worker ends when the converter does, even when the converter
    is killed with SIGKILL and cannot shut its pool down (an orphaned worker would convert on,
    or wait for work forever). Linux kills it on the parent's death (prctl PDEATHSIG, which
    works even while the worker is busy in C code; armed for the thread that started the
    worker, which is the one waiting for its results); elsewhere a thread watches the parent."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    else:
        threading.Thread(target=_exit_when_orphaned, args=(parent,), daemon=True).start()
    if os.getppid() != parent:  # the parent died before the signal was armed
        os._exit(1)


def _exit_when_orphaned(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)
