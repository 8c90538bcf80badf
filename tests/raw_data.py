"""Small raw datasets written with `dualcam.layouts`, and the values the converter must
give back for them, computed here from the arrays rather than through the converter."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import scipy.io

from dataloader.datasets import ACIVW_SPEC, AVIA_SPEC
from dataloader.raw import bmp_name, dc_name, jpeg_name, mat_name, npy_name
from dualcam import layouts

FPS = 12


def random_recording(rng: np.random.Generator, frames: int, noise: int = 6) -> dict[str, np.ndarray]:
    """Acoustic images, 128-microphone audio and RGB frames of `frames` frames.

    Images and frames are random but smooth, as real ones are: noise would make GZIP and
    JPEG several times slower and larger, and the tests with them. Frames are a ramp plus
    uniform noise in [0, noise); without noise, GZIP compresses decoded frames ten times faster.
    """
    ramp = np.linspace(0, 200, 640, dtype=np.float32)[None, :, None] + np.zeros((480, 1, 3), np.float32)
    video = np.stack([ramp + rng.integers(0, noise, (480, 640, 3)) for _ in range(frames)]).astype(np.uint8)
    return {
        "acoustic_images": np.repeat(rng.standard_normal((frames, 36, 6, 12)), 8, axis=2).astype(np.float32),
        "audio": rng.integers(-2**31, 2**31 - 1, (frames, 128, 1024), dtype=np.int64).astype(np.int32),
        "frames": video,
    }


def write_acivw(root: Path, seconds: dict[tuple[int, int], float], seed: int = 0) -> dict:
    """Recordings {(class, video): seconds} (fractions leave extra frames); returns their arrays."""
    rng = np.random.default_rng(seed)
    data = {}
    for (class_index, video), length in seconds.items():
        arrays = random_recording(rng, round(length * FPS))
        layouts.write_recording(ACIVW_SPEC, root, root, (class_index, video), arrays["acoustic_images"],
                                arrays["audio"], arrays["frames"], {})
        data[(class_index, video)] = arrays
    return data


def write_avia(mat_root: Path, raw_root: Path, frames: dict[tuple[int, int, int], int], seed: int = 0,
               mics: int = 1, noise: int = 6) -> dict:
    """Recordings {(location, subject, action): frames}; returns their arrays."""
    rng = np.random.default_rng(seed)
    data = {}
    for (location, subject, action), count in frames.items():
        arrays = random_recording(rng, count, noise)
        layouts.write_recording(AVIA_SPEC, mat_root, raw_root, (location, subject, action),
                                arrays["acoustic_images"], arrays["audio"], arrays["frames"], {}, mics=mics)
        data[(location, subject, action)] = arrays
    return data


def write_video_time(root: Path, class_index: int, video: int, seconds: int) -> None:
    path = root / ACIVW_SPEC.relative_dir((class_index, video)) / "video_time.txt"
    path.write_text(f"video seconds: {seconds}")


def acivw_expected(arrays: dict, second: int) -> dict[str, np.ndarray]:
    """What record `second` of an ACIVW recording holds, per SPEC.md: frames resized to
    224 x 298 with OpenCV's bicubic, microphone 0 of the audio."""
    window = slice(second * FPS, (second + 1) * FPS)
    return {
        "acoustic_image": arrays["acoustic_images"][window],
        "audio_data": arrays["audio"][window, :1],
        "video": np.stack([cv2.resize(f, (298, 224), interpolation=cv2.INTER_CUBIC)
                           for f in arrays["frames"][window]]),
    }


def avia_frame_numbers(second: int, count: int) -> list[int]:
    """The frames of record `second` of an AVIA recording of `count` frames: 30 s, wrapping."""
    return [(second * FPS + k) % count for k in range(FPS)]


def avia_expected(arrays: dict, second: int) -> dict[str, np.ndarray]:
    """What record `second` of an AVIA recording written with one microphone holds."""
    index = avia_frame_numbers(second, len(arrays["acoustic_images"]))
    return {"acoustic_image": arrays["acoustic_images"][index], "audio_data": arrays["audio"][index, :1]}


# The records of the original converters, built as their code builds them (read with the same
# libraries, the same context and feature-list dicts; TF 2 names for TF 1's tf.python_io and
# numpy's tobytes for tostring), to compare with ours byte for byte. They are serialised with
# map keys sorted, as ours: the originals' plain SerializeToString() orders map entries by a
# hash that protobuf 5+ seeds per process, so its own bytes vary run to run.


def original_record(context: dict[str, int], lists: dict[str, list[bytes]]) -> bytes:
    import tensorflow as tf

    feature = {key: tf.train.Feature(int64_list=tf.train.Int64List(value=[value])) for key, value in context.items()}
    feature_list = {
        key: tf.train.FeatureList(feature=[tf.train.Feature(bytes_list=tf.train.BytesList(value=[frame]))
                                           for frame in frames])
        for key, frames in lists.items()
    }
    return tf.train.SequenceExample(
        context=tf.train.Features(feature=feature), feature_lists=tf.train.FeatureLists(feature_list=feature_list)
    ).SerializeToString(deterministic=True)


def _original_fields(images: list[np.ndarray], audio: list[np.ndarray], frames: list[np.ndarray],
                     labels: dict[str, int]) -> bytes:
    context = dict(labels)
    context.update(zip(("audio_image/height", "audio_image/width", "audio_image/depth"), images[0].shape))
    context.update({"audio_data/mics": audio[0].shape[0], "audio_data/samples": audio[0].shape[1]})
    context.update(zip(("video/height", "video/width", "video/depth"), frames[0].shape))
    lists = {"audio/image": [m.tobytes() for m in images], "audio/data": [a.tobytes() for a in audio],
             "video/image": [f.tobytes() for f in frames]}
    return original_record(context, lists)


def original_acivw_record(recording_dir: Path, class_index: int, video: int, second: int) -> bytes:
    """(A)'s convert_data.py: the .mat as loaded, microphone 0 of the .dc, the BMP read by
    OpenCV and resized (cubic) so its short side is 224."""
    numbers = range(second * FPS + 1, (second + 1) * FPS + 1)
    images = [scipy.io.loadmat(str(recording_dir / "MFCC_Image" / mat_name(i)))["MFCC"] for i in numbers]
    audio = [np.fromfile(recording_dir / "audio" / dc_name(i), np.int32).reshape((128, 1024), order="F")[0]
             for i in numbers]
    frames = []
    for i in numbers:
        frame = cv2.imread(str(recording_dir / "video" / bmp_name(i)))
        height, width = float(frame.shape[0]), float(frame.shape[1])
        scale = 224.0 / width if height > width else 224.0 / height
        frames.append(cv2.resize(frame, (int(width * scale), int(height * scale)), interpolation=cv2.INTER_CUBIC))
    return _original_fields(images, [a[None] for a in audio], frames, {"classes": class_index, "location": video})


def original_avia_record(mat_dir: Path, raw_dir: Path, numbers: tuple[int, int, int], second: int) -> bytes:
    """(B)'s published convert_data.py: the .mat cast to float32 and zero padded at the front,
    the .npy as loaded, the JPEG decoded by OpenCV (raw BGR); files wrap around."""
    location, subject, action = numbers
    count = len(list((mat_dir / "MFCC_Image").glob("*.mat")))
    indices = [index % count + 1 for index in range(second * FPS, (second + 1) * FPS)]
    images = []
    for i in indices:
        image = scipy.io.loadmat(str(mat_dir / "MFCC_Image" / mat_name(i)))["MFCC"].astype("<f4")
        images.append(np.pad(image, [(before, 0) for before in np.array([36, 48, 12]) - np.array(image.shape)]))
    audio = [np.load(raw_dir / "audio" / npy_name(i)) for i in indices]
    frames = [cv2.imread(str(raw_dir / "video" / jpeg_name(i))) for i in indices]
    labels = {"action": action, "location": location - 1, "subject": subject - 1}
    return _original_fields(images, audio, frames, labels)
