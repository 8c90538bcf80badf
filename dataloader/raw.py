"""The raw files of both datasets, as the DualCam writes them (the trees they lie in are the
specs' levels, `dataloader.datasets`): names, readers and writers.

A recording directory holds one file per frame i (from 1) in each of three directories:
    MFCC_Image/Data_{i}.mat   a MATLAB 5 file whose variable MFCC is the acoustic image,
                              float32 (36, 48, 12)
    audio/A_{i:06d}.dc        int32 (128, 1024) little-endian, Fortran order, no header (ACIVW)
    audio/A_{i:06d}.npy       int32 (mics, 1024), a NumPy file (AVIA)
    video/I_{i:06d}.bmp       480 x 640, 24-bit BMP (ACIVW)
    video/I_{i:06d}.jpeg      480 x 640 JPEG (AVIA)

Every reader refuses a malformed file with a RawDataError naming it, never with a library's
exception: the converter stops on it with one line, or skips the recording (--skip_bad).
The writers make the files the simulator writes (`dualcam.layouts`).
"""
from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import scipy.io
from PIL import Image, UnidentifiedImageError

from dataloader.camera import ACOUSTIC_IMAGE_SHAPE, FRAME_SAMPLES, NUM_MICS

ACOUSTIC_IMAGE_DIR, AUDIO_DIR, VIDEO_DIR = "MFCC_Image", "audio", "video"
MAT_SUFFIX = ".mat"
MAT_KEY = "MFCC"  # the .mat variable that holds the acoustic image
JPEG_START, JPEG_END = b"\xff\xd8\xff", b"\xff\xd9"
# scipy stamps the creation time into a .mat header; a fixed header keeps files
# byte-identical for the same seed.
_MAT_HEADER = b"MATLAB 5.0 MAT-file, written by dualcam".ljust(116, b" ")


class RawDataError(ValueError):
    """A raw input file is missing, truncated or malformed. The message is one line, whatever
    a library said about the file."""

    def __init__(self, path: str | os.PathLike, problem: str):
        problem = " ".join(str(problem).split())
        super().__init__(f"{path}: {problem}")
        self.path = str(path)
        self.problem = problem

    def __reduce__(self):  # rebuilt from its parts when it crosses a process pool
        return type(self), (self.path, self.problem)


def mat_name(i: int) -> str:
    return f"Data_{i}.mat"


def dc_name(i: int) -> str:
    return f"A_{i:06d}.dc"


def npy_name(i: int) -> str:
    return f"A_{i:06d}.npy"


def bmp_name(i: int) -> str:
    return f"I_{i:06d}.bmp"


def jpeg_name(i: int) -> str:
    return f"I_{i:06d}.jpeg"


FILE_NAMES = {MAT_SUFFIX: mat_name, ".dc": dc_name, ".npy": npy_name, ".bmp": bmp_name, ".jpeg": jpeg_name}
IMAGE_FORMATS = {".bmp": "BMP", ".jpeg": "JPEG"}  # PIL's names of the video files' formats


# ----------------------------------------------------------------------------- writers


def mat_bytes(acoustic_image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    scipy.io.savemat(buffer, {MAT_KEY: np.asarray(acoustic_image, dtype=np.float32)}, format="5")
    data = buffer.getvalue()
    return _MAT_HEADER + data[len(_MAT_HEADER):]


def dc_bytes(audio: np.ndarray) -> bytes:
    """One frame of all microphones, (mics, samples) int32, as the DualCam writes it."""
    return np.asarray(audio, dtype="<i4").tobytes(order="F")


def npy_bytes(audio: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(audio, dtype=np.int32))
    return buffer.getvalue()


def image_bytes(frame_rgb: np.ndarray, fmt: str) -> bytes:
    buffer = io.BytesIO()
    options = {"quality": 95} if fmt == "JPEG" else {}
    Image.fromarray(np.asarray(frame_rgb, dtype=np.uint8), "RGB").save(buffer, format=fmt, **options)
    return buffer.getvalue()


AUDIO_WRITERS = {".dc": dc_bytes, ".npy": npy_bytes}


# ----------------------------------------------------------------------------- readers


def _file_bytes(path: str | os.PathLike) -> bytes:
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise RawDataError(path, "missing file") from None
    except IsADirectoryError:
        raise RawDataError(path, "a directory, not a file") from None
    except OSError as err:
        raise RawDataError(path, f"cannot read the file ({err.strerror})") from None
    if not data:
        raise RawDataError(path, "empty file")
    return data


def non_finite(values: np.ndarray) -> str:
    """'N non-finite values (NaN or inf)', or '' if every value is finite."""
    count = values.size - np.count_nonzero(np.isfinite(values))
    return f"{count} non-finite values (NaN or inf)" if count else ""


def read_mat(path: str | os.PathLike, round_to_float32: bool = False) -> np.ndarray:
    """The acoustic image of a .mat file as float32, not padded: real floating point, three
    axes, every value finite. float64 values float32 cannot hold exactly are refused, or
    with `round_to_float32` rounded, as AVIA's converter cast them."""
    data = _file_bytes(path)
    try:
        contents = scipy.io.loadmat(io.BytesIO(data))
    except Exception as err:  # scipy raises IndexError, TypeError, OSError... for bad bytes
        raise RawDataError(path, f"not a readable .mat file ({err})") from None
    if MAT_KEY not in contents:
        found = sorted(k for k in contents if not k.startswith("__"))
        raise RawDataError(path, f"no '{MAT_KEY}' variable (found {found})")
    image = contents[MAT_KEY]
    if not isinstance(image, np.ndarray):
        raise RawDataError(path, f"{MAT_KEY} is a {type(image).__name__}, expected a float32 array")
    if image.dtype.kind != "f":
        raise RawDataError(path, f"{MAT_KEY} is {image.dtype.name}, expected float32")
    if image.ndim != 3:
        raise RawDataError(path, f"{MAT_KEY} has shape {image.shape}, expected 3 axes {ACOUSTIC_IMAGE_SHAPE}")
    problem = non_finite(image)
    if problem:
        raise RawDataError(path, f"{MAT_KEY} has {problem}")
    with np.errstate(over="ignore"):  # values beyond float32's range are refused below
        values = image.astype(np.float32)
    changed = np.count_nonzero(values != image)
    if changed and not round_to_float32:
        raise RawDataError(path, f"{MAT_KEY} is {image.dtype.name}, and {changed} of its values are not exactly "
                                 "float32")
    problem = non_finite(values)
    if problem:
        raise RawDataError(path, f"{MAT_KEY} has {problem} once cast to float32 (beyond its range)")
    return values


def read_dc(path: str | os.PathLike, mics: int = NUM_MICS, samples: int = FRAME_SAMPLES) -> np.ndarray:
    """One .dc frame as (mics, samples) int32."""
    raw = _file_bytes(path)
    expected = mics * samples * 4
    if len(raw) != expected:
        raise RawDataError(path, f"{len(raw)} bytes, expected {expected} ({mics} mics x {samples} int32 samples)")
    return np.frombuffer(raw, dtype="<i4").reshape((mics, samples), order="F")


def read_npy(path: str | os.PathLike) -> np.ndarray:
    """One .npy frame as (mics, samples) int32: one plain array, nothing pickled, no bytes
    missing or left over. The header is checked before the body is read, so a header
    claiming a huge array allocates nothing."""
    data = _file_bytes(path)
    stream = io.BytesIO(data)
    try:
        major, _ = np.lib.format.read_magic(stream)
        read_header = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
        shape, fortran_order, dtype = read_header(stream)
    except ValueError as err:  # numpy reports every malformed magic string or header so
        raise RawDataError(path, f"not a readable .npy file ({err})") from None
    if dtype != np.int32 or len(shape) != 2 or shape[0] < 1 or shape[1] != FRAME_SAMPLES:
        raise RawDataError(path, f"audio is {dtype} {shape}, expected int32 (mics, {FRAME_SAMPLES}) with mics >= 1")
    body, expected = len(data) - stream.tell(), shape[0] * shape[1] * dtype.itemsize
    if body != expected:
        raise RawDataError(path, f"{body} bytes of data after the header, which says {expected} ({dtype} {shape})")
    audio = np.frombuffer(data, dtype, offset=stream.tell())
    return audio.reshape(shape, order="F" if fortran_order else "C")


AUDIO_READERS = {".dc": read_dc, ".npy": read_npy}


def _decoded(path: str | os.PathLike, data: bytes) -> np.ndarray:
    """Every pixel decoded (a body cut short or broken is an error), as RGB (H, W, 3) uint8."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            return np.asarray(image.convert("RGB"))
    except UnidentifiedImageError:
        raise RawDataError(path, "not an image file (unknown format)") from None
    except Exception as err:  # decoders raise OSError, ValueError, SyntaxError, struct.error... for bad bytes
        raise RawDataError(path, f"not a readable image ({err})") from None


def read_image(path: str | os.PathLike) -> np.ndarray:
    """An RGB frame (H, W, 3) uint8."""
    return _decoded(path, _file_bytes(path))


def read_jpeg(path: str | os.PathLike) -> tuple[bytes, np.ndarray]:
    """A JPEG file's bytes and its RGB pixels (H, W, 3) uint8.

    The whole body is decoded: libjpeg refuses a broken one. Damage it decodes without an
    error (a few altered bytes, or a body cut short then closed with an end-of-image marker)
    gives grey or shifted blocks, which no decoder here reports.
    """
    data = _file_bytes(path)
    if not data.startswith(JPEG_START):
        raise RawDataError(path, "not a JPEG file (no start-of-image marker)")
    if not data.rstrip(b"\0").endswith(JPEG_END):
        raise RawDataError(path, f"truncated JPEG file ({len(data)} bytes, no end-of-image marker)")
    return data, _decoded(path, data)
