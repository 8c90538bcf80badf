"""The two raw dataset layouts of the original papers: names, paths, file formats.

ACIVW (ECCV 2020), one root:
    ROOT/class_{c}/data_{v:03d}/MFCC_Image/Data_{i}.mat     key MFCC, float32 (36, 48, 12)
    ROOT/class_{c}/data_{v:03d}/audio/A_{i:06d}.dc          int32 (128, 1024), Fortran order
    ROOT/class_{c}/data_{v:03d}/video/I_{i:06d}.bmp         480 x 640, 24-bit BMP
AVIA (WACV 2020), a root of .mat files and a root of raw files with the same tree:
    MAT/Location_{l:02d}/Subject_{s:02d}/Action_{a:03d}/MFCC_Image/Data_{i}.mat
    RAW/Location_{l:02d}/Subject_{s:02d}/Action_{a:03d}/audio/A_{i:06d}.npy   int32 (mics, 1024)
    RAW/Location_{l:02d}/Subject_{s:02d}/Action_{a:03d}/video/I_{i:06d}.jpeg  480 x 640 JPEG
Frame indices i start at 1 in every file name; classes c and actions a at 0; videos v,
locations l and subjects s at 1 (as the original converters parse them).

Each simulated recording also gets `ground_truth.json` (class, source pixel positions per
frame); each dataset root gets the array geometry file.
"""
from __future__ import annotations

import io
import json
import os
import shutil
from pathlib import Path

import numpy as np
import scipy.io
from PIL import Image, UnidentifiedImageError

from dualcam.geometry import FRAME_SAMPLES, GRID_COLS, GRID_ROWS, IMAGE_HEIGHT, IMAGE_WIDTH, NUM_MICS

ACIVW_CLASSES = (
    "train", "boat", "drone", "fountain", "drill",
    "razor", "hair_dryer", "hoover", "shopping_cart", "traffic",
)
AVIA_ACTIONS = (
    "clapping", "snapping_fingers", "speaking", "whistling", "playing_kendama",
    "clicking", "typing", "knocking", "hammering", "peanut_breaking",
    "paper_ripping", "plastic_crumpling", "paper_shaking", "stick_dropping",
)
AVIA_LOCATIONS = ("anechoic", "office", "outdoor")
AVIA_SUBJECTS = 9
MFCC_KEY = "MFCC"
MFCC_SHAPE = (GRID_ROWS, GRID_COLS, 12)
GROUND_TRUTH = "ground_truth.json"
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


def acivw_recording_dir(root: str | Path, class_index: int, video_index: int) -> Path:
    return Path(root) / f"class_{class_index}" / f"data_{video_index:03d}"


def avia_relative_dir(location: int, subject: int, action: int) -> Path:
    return Path(f"Location_{location:02d}") / f"Subject_{subject:02d}" / f"Action_{action:03d}"


# ----------------------------------------------------------------------------- writers


def mat_bytes(mfcc: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    scipy.io.savemat(buffer, {MFCC_KEY: np.asarray(mfcc, dtype=np.float32)}, format="5")
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


def _write_tree(final_dir: Path, files: dict[str, bytes]) -> None:
    """Writes files under a temporary sibling directory and renames it into place, so a
    recording directory either is complete or does not exist."""
    final_dir.parent.mkdir(parents=True, exist_ok=True)
    partial = final_dir.with_name(final_dir.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    for relative, payload in files.items():
        path = partial / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(payload)
    shutil.rmtree(final_dir, ignore_errors=True)
    partial.rename(final_dir)


def _check_recording(mfcc: np.ndarray, audio: np.ndarray, frames: np.ndarray) -> None:
    n = len(mfcc)
    if mfcc.shape[1:] != MFCC_SHAPE:
        raise ValueError(f"acoustic images must be (T, 36, 48, 12), got {mfcc.shape}")
    if audio.shape[0] != n or audio.shape[2] != FRAME_SAMPLES:
        raise ValueError(f"audio must be (T={n}, mics, {FRAME_SAMPLES}), got {audio.shape}")
    if frames.shape != (n, IMAGE_HEIGHT, IMAGE_WIDTH, 3):
        raise ValueError(f"frames must be (T={n}, 480, 640, 3), got {frames.shape}")


def write_acivw_recording(
    root: str | Path, class_index: int, video_index: int,
    mfcc: np.ndarray, audio: np.ndarray, frames: np.ndarray, truth: dict,
) -> Path:
    """Writes one recording: mfcc (T, 36, 48, 12), audio (T, 128, 1024) int32, frames
    (T, 480, 640, 3) RGB uint8."""
    _check_recording(mfcc, audio, frames)
    files = {GROUND_TRUTH: json.dumps(truth, indent=1).encode()}
    for t in range(len(mfcc)):
        files[f"MFCC_Image/{mat_name(t + 1)}"] = mat_bytes(mfcc[t])
        files[f"audio/{dc_name(t + 1)}"] = dc_bytes(audio[t])
        files[f"video/{bmp_name(t + 1)}"] = image_bytes(frames[t], "BMP")
    out = acivw_recording_dir(root, class_index, video_index)
    _write_tree(out, files)
    return out


def write_avia_recording(
    mat_root: str | Path, raw_root: str | Path, location: int, subject: int, action: int,
    mfcc: np.ndarray, audio: np.ndarray, frames: np.ndarray, truth: dict, mics: int = 1,
) -> tuple[Path, Path]:
    """Writes one recording into both roots; `mics` microphones (from mic 0) go into the
    .npy files, 1 as in the shipped dataset."""
    _check_recording(mfcc, audio, frames)
    relative = avia_relative_dir(location, subject, action)
    mat_files = {f"MFCC_Image/{mat_name(t + 1)}": mat_bytes(mfcc[t]) for t in range(len(mfcc))}
    raw_files = {GROUND_TRUTH: json.dumps(truth, indent=1).encode()}
    for t in range(len(mfcc)):
        raw_files[f"audio/{npy_name(t + 1)}"] = npy_bytes(audio[t, :mics])
        raw_files[f"video/{jpeg_name(t + 1)}"] = image_bytes(frames[t], "JPEG")
    # The raw tree is written last: its presence marks the recording complete.
    _write_tree(Path(mat_root) / relative, mat_files)
    _write_tree(Path(raw_root) / relative, raw_files)
    return Path(mat_root) / relative, Path(raw_root) / relative


# ----------------------------------------------------------------------------- readers
# Every reader refuses a malformed file with a RawDataError naming it, never with a library's
# exception: the converter stops on it with one line, or skips the recording (--skip_bad).

JPEG_START, JPEG_END = b"\xff\xd8\xff", b"\xff\xd9"


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
    """The MFCC array of a .mat file as float32, not padded: real floating point, three
    axes, every value finite. float64 values float32 cannot hold exactly are refused, or
    with `round_to_float32` rounded, as AVIA's converter cast them."""
    data = _file_bytes(path)
    try:
        contents = scipy.io.loadmat(io.BytesIO(data))
    except Exception as err:  # scipy raises IndexError, TypeError, OSError... for bad bytes
        raise RawDataError(path, f"not a readable .mat file ({err})") from None
    if MFCC_KEY not in contents:
        found = sorted(k for k in contents if not k.startswith("__"))
        raise RawDataError(path, f"no '{MFCC_KEY}' variable (found {found})")
    mfcc = contents[MFCC_KEY]
    if not isinstance(mfcc, np.ndarray):
        raise RawDataError(path, f"MFCC is a {type(mfcc).__name__}, expected a float32 array")
    if mfcc.dtype.kind != "f":
        raise RawDataError(path, f"MFCC is {mfcc.dtype.name}, expected float32")
    if mfcc.ndim != 3:
        raise RawDataError(path, f"MFCC has shape {mfcc.shape}, expected 3 axes {MFCC_SHAPE}")
    problem = non_finite(mfcc)
    if problem:
        raise RawDataError(path, f"MFCC has {problem}")
    with np.errstate(over="ignore"):  # values beyond float32's range are refused below
        values = mfcc.astype(np.float32)
    changed = np.count_nonzero(values != mfcc)
    if changed and not round_to_float32:
        raise RawDataError(path, f"MFCC is {mfcc.dtype.name}, and {changed} of its values are not exactly float32")
    problem = non_finite(values)
    if problem:
        raise RawDataError(path, f"MFCC has {problem} once cast to float32 (beyond its range)")
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
