"""Small raw datasets written with `dualcam.layouts`, and the values the converter must
give back for them, computed here from the arrays rather than through the converter."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from dualcam import layouts

FPS = 12


def random_recording(rng: np.random.Generator, frames: int) -> dict[str, np.ndarray]:
    """Acoustic images, 128-microphone audio and RGB frames of `frames` frames.

    Images and frames are random but smooth, as real ones are: noise would make GZIP and
    JPEG several times slower and larger, and the tests with them.
    """
    ramp = np.linspace(0, 200, 640, dtype=np.float32)[None, :, None] + np.zeros((480, 1, 3), np.float32)
    video = np.stack([ramp + rng.integers(0, 6, (480, 640, 3)) for _ in range(frames)]).astype(np.uint8)
    return {
        "mfcc": np.repeat(rng.standard_normal((frames, 36, 6, 12)), 8, axis=2).astype(np.float32),
        "audio": rng.integers(-2**31, 2**31 - 1, (frames, 128, 1024), dtype=np.int64).astype(np.int32),
        "frames": video,
    }


def write_acivw(root: Path, seconds: dict[tuple[int, int], float], seed: int = 0) -> dict:
    """Recordings {(class, video): seconds} (fractions leave extra frames); returns their arrays."""
    rng = np.random.default_rng(seed)
    data = {}
    for (class_index, video), length in seconds.items():
        arrays = random_recording(rng, round(length * FPS))
        layouts.write_acivw_recording(root, class_index, video, arrays["mfcc"], arrays["audio"],
                                      arrays["frames"], {})
        data[(class_index, video)] = arrays
    return data


def write_avia(mat_root: Path, raw_root: Path, frames: dict[tuple[int, int, int], int], seed: int = 0,
               mics: int = 1) -> dict:
    """Recordings {(location, subject, action): frames}; returns their arrays."""
    rng = np.random.default_rng(seed)
    data = {}
    for (location, subject, action), count in frames.items():
        arrays = random_recording(rng, count)
        layouts.write_avia_recording(mat_root, raw_root, location, subject, action, arrays["mfcc"],
                                     arrays["audio"], arrays["frames"], {}, mics=mics)
        data[(location, subject, action)] = arrays
    return data


def write_video_time(root: Path, class_index: int, video: int, seconds: int) -> None:
    path = layouts.acivw_recording_dir(root, class_index, video) / "video_time.txt"
    path.write_text(f"video seconds: {seconds}")


def acivw_expected(arrays: dict, second: int) -> dict[str, np.ndarray]:
    """What record `second` of an ACIVW recording holds, per SPEC.md: frames resized to
    224 x 298 with OpenCV's bicubic, microphone 0 of the audio."""
    window = slice(second * FPS, (second + 1) * FPS)
    return {
        "audio_image": arrays["mfcc"][window],
        "audio_data": arrays["audio"][window, :1],
        "video": np.stack([cv2.resize(f, (298, 224), interpolation=cv2.INTER_CUBIC)
                           for f in arrays["frames"][window]]),
    }


def avia_frame_numbers(second: int, count: int) -> list[int]:
    """The frames of record `second` of an AVIA recording of `count` frames: 30 s, wrapping."""
    return [(second * FPS + k) % count for k in range(FPS)]


def avia_expected(arrays: dict, second: int) -> dict[str, np.ndarray]:
    """What record `second` of an AVIA recording written with one microphone holds."""
    index = avia_frame_numbers(second, len(arrays["mfcc"]))
    return {"audio_image": arrays["mfcc"][index], "audio_data": arrays["audio"][index, :1]}
