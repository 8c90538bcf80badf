"""Checks every record file of a list as the loader will read it, and names every bad one.

    python -m dataloader.verify LIST [--root ROOT] [--flavour acivw|avia] [--workers N] [--quiet]

A good file is a whole GZIP stream holding one record (`schema.record_file_problem`) that
parses with the schema's specs for the modalities it holds, with 12 frames of each; its
context sizes are ones the loader takes (acoustic images 36 x 48 x 12, audio frames of 1024
samples, video of 3 channels) and its frames decode to them (video as raw BGR pixels or JPEG
files, told apart as the loader does); its acoustic images are finite and its labels within
the loader's ranges. Every file is checked, whatever the others hold. Prints the number of
files, of good records (one second each), every bad file with its problem, and exits 0 if
all are good, 1 if any is bad, 2 on a bad flag or an unreadable list.
"""
from __future__ import annotations

import argparse
import functools
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from dataloader import schema
from dataloader.camera import ACOUSTIC_IMAGE_SHAPE, FRAME_SAMPLES
from dataloader.datasets import FLAVOURS, dataset_spec
from dataloader.pipeline import describe_read_error
from dataloader.schema import ACOUSTIC_IMAGE, AUDIO_DATA, FRAMES_PER_RECORD, VIDEO
from dataloader.windows import detect_flavour, read_list


@functools.cache
def _reader() -> Callable:
    """path -> (its one record, what is wrong with the file or ""), traced once for all files."""
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec([], tf.string)])
    def read(path: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        record, problem = schema.read_record(path)
        # The loader reads a record whose GZIP stream lost its trailer; a checker names the file.
        problem = tf.cond(tf.equal(problem, ""), lambda: schema.record_file_problem(path), lambda: problem)
        return record, problem

    return read


@functools.cache
def _video_decoder() -> Callable:
    import tensorflow as tf

    return tf.function(schema.decode_video_frames, input_signature=[tf.TensorSpec([None], tf.string),
                                                                    *[tf.TensorSpec([], tf.int64)] * 3])


def _frames_problem(frames: np.ndarray, modality: str, sizes: tuple[int, ...]) -> str:
    expected = int(np.prod(sizes)) * schema.DTYPES[modality].itemsize
    wrong = [i for i, frame in enumerate(frames) if len(frame) != expected]
    if wrong:
        return (f"{schema.SEQUENCE_KEYS[modality]} frame {wrong[0]} holds {len(frames[wrong[0]])} bytes, expected "
                f"{expected} ({' x '.join(map(str, sizes))} {schema.DTYPES[modality].name})")
    return ""


def _acoustic_image_problem(frames: np.ndarray, sizes: tuple[int, ...]) -> str:
    if sizes != ACOUSTIC_IMAGE_SHAPE:
        return f"acoustic images are {' x '.join(map(str, sizes))}, the loader takes {ACOUSTIC_IMAGE_SHAPE}"
    if problem := _frames_problem(frames, ACOUSTIC_IMAGE, sizes):
        return problem
    images = np.frombuffer(b"".join(frames), schema.DTYPES[ACOUSTIC_IMAGE]).reshape(len(frames), -1)
    bad = np.count_nonzero(~np.isfinite(images), axis=1)
    if bad.any():
        return f"acoustic images hold {bad.sum()} NaN or infinite values (the first in frame {np.flatnonzero(bad)[0]})"
    return ""


def _audio_problem(frames: np.ndarray, sizes: tuple[int, ...]) -> str:
    mics, samples = sizes
    if samples != FRAME_SAMPLES or mics < 1:
        return f"audio frames are {mics} microphone(s) x {samples} samples, the loader takes {FRAME_SAMPLES} samples"
    return _frames_problem(frames, AUDIO_DATA, sizes)


def _video_problem(frames: np.ndarray, sizes: tuple[int, ...]) -> str:
    import tensorflow as tf

    height, width, depth = sizes
    if depth != 3 or height < 1 or width < 1:
        return f"video frames are {height} x {width} x {depth}, the loader takes 3 channels"
    try:
        decoded = _video_decoder()(tf.constant(frames), *(tf.constant(size, tf.int64) for size in sizes))
    except tf.errors.OpError as err:
        return f"video frames do not decode as raw pixels or JPEG ({describe_read_error(err)})"
    if tuple(decoded.shape[1:]) != sizes:
        return f"video frames decode to {' x '.join(map(str, decoded.shape[1:]))}, the context says {height} x {width}"
    return ""


_MODALITY_PROBLEMS = {ACOUSTIC_IMAGE: _acoustic_image_problem, AUDIO_DATA: _audio_problem, VIDEO: _video_problem}


def record_problem(serialized: bytes, flavour: str) -> str:
    """What the loader would find wrong with one serialized record of `flavour`, or ""."""
    import tensorflow as tf
    from google.protobuf.message import DecodeError

    try:
        lists = tf.train.SequenceExample.FromString(serialized).feature_lists.feature_list
    except DecodeError:
        return "its record is not a SequenceExample"
    modalities = tuple(m for m in schema.MODALITIES if schema.SEQUENCE_KEYS[m] in lists)
    if not modalities:
        return f"its record holds none of {', '.join(schema.SEQUENCE_KEYS.values())}"
    try:
        context, sequences = tf.io.parse_single_sequence_example(
            serialized, context_features=schema.context_spec(flavour, modalities),
            sequence_features=schema.sequence_spec(modalities))
    except tf.errors.OpError as err:
        return f"not a {flavour} record of {', '.join(modalities)} ({describe_read_error(err)})"
    for label in dataset_spec(flavour).labels:
        if not 0 <= int(context[label.key]) < label.depth:
            return f"label {label.key} {int(context[label.key])} is outside 0..{label.depth - 1}"
    for modality in modalities:
        frames = sequences[schema.SEQUENCE_KEYS[modality]].numpy()
        if len(frames) != FRAMES_PER_RECORD:
            return f"holds {len(frames)} frames of {schema.SEQUENCE_KEYS[modality]}, expected {FRAMES_PER_RECORD}"
        sizes = tuple(int(context[key]) for key in schema.SIZE_KEYS[modality])
        if problem := _MODALITY_PROBLEMS[modality](frames, sizes):
            return problem
    return ""


def file_problem(path: str, flavour: str) -> str:
    """What is wrong with the record file at `path` for a loader of `flavour`, or ""."""
    record, problem = (value.numpy() for value in _reader()(path))
    return problem.decode() if problem else record_problem(record, flavour)


def verify_files(paths: Sequence[str], flavour: str, workers: int = 1, progress: bool = False) -> list[str]:
    """The problem of each file of `paths` ("" for a good one), in their order, whatever `workers`."""
    from tqdm import tqdm

    _reader()  # imports TensorFlow in this thread: threads importing it at once can deadlock
    with ThreadPoolExecutor(workers) as pool:  # TensorFlow's ops and zlib run outside the GIL
        problems = pool.map(functools.partial(file_problem, flavour=flavour), paths)
        return list(tqdm(problems, total=len(paths), desc="verifying", unit="file", disable=not progress))


class _OneLineParser(argparse.ArgumentParser):
    def error(self, message: str) -> None:
        self.exit(2, f"{self.prog}: error: {message}\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _OneLineParser(prog="python -m dataloader.verify", description=__doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("list", help="a list file: one record path per line")
    parser.add_argument("--root", help="the directory relative paths in the list are relative to")
    parser.add_argument("--flavour", choices=FLAVOURS, help="the records' dataset (default: told by the list)")
    parser.add_argument("--workers", type=int, default=1, help="files checked at once (threads)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error(f"--workers {args.workers}: must be at least 1")
    try:
        paths = read_list(args.list, args.root)
    except OSError as err:
        parser.error(f"{args.list}: cannot read the list ({err.strerror})")
    except ValueError as err:  # relative paths without a root
        parser.error(str(err))
    if not paths:
        parser.error(f"{args.list}: holds no record path")
    import logger.quiet  # noqa: F401  (before tensorflow is imported, below)

    start = time.monotonic()
    problems = verify_files(paths, args.flavour or detect_flavour(args.list, args.root), args.workers,
                            progress=not args.quiet)
    bad = [(path, problem) for path, problem in zip(paths, problems) if problem]
    good = len(paths) - len(bad)
    print(f"{args.list}: {len(paths)} files, {good} good records ({good} s), {len(bad)} bad files "
          f"(checked in {time.monotonic() - start:.1f} s)")
    for path, problem in bad:
        print(f"{path}: {problem}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
