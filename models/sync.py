"""UltraSync's two streams, for the DualCam: a visual window of 5 frames (417 ms at 12 fps)
and the microphone audio of the same span, each to a 64-d embedding whose Euclidean
distance is small when the two are in sync (the `sync` stage trains them).

Each stream: three conv blocks (32, 64, 128 filters; BatchNorm over channels, ReLU, max-pool
2), then fc 64 and fc 64, each with BatchNorm and ReLU, as UltraSync's. The visual stream's
kernels are 5 x 5 and unpadded, on its frames and their differences stacked as channels
(UltraSync stacked the frames alone; with them, whole video frames learned nothing in 150
steps, and with the differences the pairs in sync drew apart within 60); the audio stream's 3 x 3 and
padded, on the 20 x 13 MFCCs of the window (`dataloader.features.mfcc`, 41.7-ms frames
every 20.8 ms: a tenth and a twentieth of the span, as UltraSync's). UltraSync min-max
scaled every input; here each window (its frames, its differences, its MFCCs) is
standardised over all its values, which keeps how the frames differ from one another (the
sync cue) and removes the window's level.

The visual inputs, one builder each:
- `sync_video`: whole video frames, small (72 x 96);
- `sync_acoustic_image`: the acoustic images of the window (36 x 48 x 12 coefficients);
- `sync_crop`: the 64 x 64 pixels of the video (at 144 x 192) around the window's acoustic
  peak, the cell whose energy (coefficient c0) averaged over the window's acoustic frames
  is highest: the acoustic camera tells the visual stream where to look.
`sync_audio` is the audio stream. Inputs are float32 (the audio as the loader's int32
values); the classifier mode puts a class layer on the embedding.
"""
from __future__ import annotations

import keras
from keras import layers, ops

from dataloader.camera import ACOUSTIC_IMAGE_SHAPE, FRAME_SAMPLES, SAMPLE_RATE
from dataloader.config import ACOUSTIC_IMAGE, AUDIO, VIDEO_FRAMES
from dataloader.features import mfcc
from models.functional import Functional
from models.layers import CLASSIFIER, PACKAGE, SHORT_RUN_MOMENTUM, check_mode, output

WINDOW_FRAMES = 5  # video frames of a window: 417 ms at 12 fps
WINDOW_SAMPLES = WINDOW_FRAMES * FRAME_SAMPLES  # the audio of the same span, 5120 samples
MFCC_FRAME, MFCC_STEP = WINDOW_SAMPLES // 10, WINDOW_SAMPLES // 20  # 512 and 256 samples
MFCC_COEFFICIENTS = 13
FILTERS = (32, 64, 128)
EMBEDDING_SIZE = 64
VIDEO_SIZE = (72, 96)
CROP_VIDEO_SIZE = (144, 192)  # the frames a crop is cut from: twice as fine as VIDEO_SIZE
CROP = 64
# The last batch norm's scale starts here, so the two streams' distances start near 0.7, inside
# the contrastive margin, and pairs out of sync are pushed apart from the first step; at 1 they
# start near 6 and hundreds of steps only shrink every distance.
LAST_SCALE = 0.1


@keras.saving.register_keras_serializable(package=PACKAGE)
class StandardiseWindow(layers.Layer):
    """Each sample minus its mean, over its standard deviation (all its values together)."""

    def call(self, inputs):
        axes = tuple(range(1, len(inputs.shape)))
        mean = ops.mean(inputs, axis=axes, keepdims=True)
        std = ops.sqrt(ops.mean(ops.square(inputs - mean), axis=axes, keepdims=True))
        return (inputs - mean) / ops.maximum(std, 1e-6)


@keras.saving.register_keras_serializable(package=PACKAGE)
class FramesAsChannels(layers.Layer):
    """(batch, T, H, W, C) -> (batch, H, W, T * C), frame after frame."""

    def call(self, inputs):
        frames, height, width, channels = inputs.shape[1:]
        return ops.reshape(ops.transpose(inputs, (0, 2, 3, 1, 4)), (-1, height, width, frames * channels))


@keras.saving.register_keras_serializable(package=PACKAGE)
class FrameDifferences(layers.Layer):
    """(batch, T, ...) -> (batch, T - 1, ...): each frame minus the one before."""

    def call(self, inputs):
        return inputs[:, 1:] - inputs[:, :-1]


@keras.saving.register_keras_serializable(package=PACKAGE)
class Mfcc(layers.Layer):
    """(batch, samples, 1) audio -> (batch, frames, 13, 1) MFCCs of the window."""

    def call(self, inputs):
        cepstra = mfcc(inputs[..., 0], SAMPLE_RATE, MFCC_FRAME, MFCC_STEP, MFCC_COEFFICIENTS)
        return cepstra[..., None]


@keras.saving.register_keras_serializable(package=PACKAGE)
class CropAroundPeak(layers.Layer):
    """[video (batch, T, H, W, 3), acoustic images (batch, T', 36, 48, 12)] -> (batch, T,
    size, size, 3): every frame's size x size pixels around the acoustic images' peak, the
    centre of the cell of highest mean c0, moved inside the frame where the peak is near its
    edge. The acoustic image covers the frame, so cell (r, c) is centred at ((r + 0.5) / 36,
    (c + 0.5) / 48) of its height and width. Pixels are taken as they are (a gather, which
    XLA compiles; tf.image.crop_and_resize has no XLA kernel)."""

    def __init__(self, size: int, **kwargs):
        super().__init__(**kwargs)
        self.size = int(size)

    def call(self, inputs):
        import tensorflow as tf

        video, acoustic = inputs
        height, width = video.shape[2:4]
        rows, cols = acoustic.shape[2:4]
        energy = tf.reshape(tf.reduce_mean(tf.cast(acoustic[..., 0], tf.float32), axis=1), (-1, rows * cols))
        peak = tf.argmax(energy, axis=1, output_type=tf.int32)

        def first(cell, cells, pixels):
            centre = (tf.cast(cell, tf.float32) + 0.5) * (pixels / cells)
            return tf.clip_by_value(tf.cast(tf.round(centre - self.size / 2), tf.int32), 0, pixels - self.size)

        span = tf.range(self.size)
        top, left = first(peak // cols, rows, height), first(peak % cols, cols, width)
        crops = tf.gather(video, top[:, None] + span, axis=2, batch_dims=1)
        return tf.gather(crops, left[:, None] + span, axis=3, batch_dims=1)

    def compute_output_shape(self, input_shape):
        video = input_shape[0]
        return (video[0], video[1], self.size, self.size, video[-1])

    def get_config(self):
        return {**super().get_config(), "size": self.size}


def _stream(x, kernel: int, padding: str, prefix: str):
    for index, filters in enumerate(FILTERS, start=1):
        x = layers.Conv2D(filters, kernel, padding=padding, name=f"{prefix}_conv{index}")(x)
        x = layers.BatchNormalization(axis=-1, momentum=SHORT_RUN_MOMENTUM, name=f"{prefix}_bn{index}")(x)
        x = layers.ReLU(name=f"{prefix}_relu{index}")(x)
        x = layers.MaxPooling2D(2, name=f"{prefix}_pool{index}")(x)
    x = layers.Flatten(name=f"{prefix}_flatten")(x)
    for index in (1, 2):
        x = layers.Dense(EMBEDDING_SIZE, name=f"{prefix}_fc{index}")(x)
        scale = keras.initializers.Constant(LAST_SCALE if index == 2 else 1.0)
        x = layers.BatchNormalization(momentum=SHORT_RUN_MOMENTUM, gamma_initializer=scale,
                                      name=f"{prefix}_fc{index}_bn")(x)
        x = layers.ReLU(name=f"{prefix}_fc{index}_relu")(x)
    return x


def _head(x, mode: str, num_classes: int):
    check_mode(mode)
    if mode == CLASSIFIER:
        x = layers.Dense(num_classes, name="classes")(x)
    return output(x, mode)


def _visual(inputs, frames, mode: str, num_classes: int, name: str) -> keras.Model:
    """The frames and their differences, each standardised, stacked as channels."""
    differences = FrameDifferences(name="differences")(frames)
    stacked = [StandardiseWindow(name=f"standardise_{part}")(FramesAsChannels(name=f"{part}_as_channels")(x))
               for part, x in (("frames", frames), ("differences", differences))]
    x = layers.Concatenate(name="frames_and_differences")(stacked)
    return Functional(inputs, _head(_stream(x, 5, "valid", "visual"), mode, num_classes), name=name)


def sync_video(mode: str = CLASSIFIER, num_classes: int = 10, num_frames: int = WINDOW_FRAMES,
               frame_shape: tuple[int, int, int] = (*VIDEO_SIZE, 3)) -> keras.Model:
    """Input video (batch, 5, 72, 96, 3) -> embedding (batch, 64)."""
    video = keras.Input((num_frames, *frame_shape), name=VIDEO_FRAMES)
    return _visual(video, video, mode, num_classes, "sync_video")


def sync_acoustic_image(mode: str = CLASSIFIER, num_classes: int = 10, num_frames: int = WINDOW_FRAMES) -> keras.Model:
    """Input acoustic_image (batch, 5, 36, 48, 12) -> embedding (batch, 64)."""
    images = keras.Input((num_frames, *ACOUSTIC_IMAGE_SHAPE), name=ACOUSTIC_IMAGE)
    return _visual(images, images, mode, num_classes, "sync_acoustic_image")


def sync_crop(mode: str = CLASSIFIER, num_classes: int = 10, num_frames: int = WINDOW_FRAMES,
              frame_shape: tuple[int, int, int] = (*CROP_VIDEO_SIZE, 3), crop: int = CROP) -> keras.Model:
    """Inputs video (batch, 5, 144, 192, 3) and acoustic_image (batch, 5, 36, 48, 12) ->
    embedding (batch, 64) of the 64 x 64 crop around the acoustic peak."""
    video = keras.Input((num_frames, *frame_shape), name=VIDEO_FRAMES)
    images = keras.Input((num_frames, *ACOUSTIC_IMAGE_SHAPE), name=ACOUSTIC_IMAGE)
    crops = CropAroundPeak(crop, name="crop_around_peak")([video, images])
    return _visual([video, images], crops, mode, num_classes, "sync_crop")


def sync_audio(mode: str = CLASSIFIER, num_classes: int = 10, num_samples: int = WINDOW_SAMPLES) -> keras.Model:
    """Input audio (batch, 5120, 1), one microphone's samples -> embedding (batch, 64)."""
    audio = keras.Input((num_samples, 1), name=AUDIO)
    # Raw samples reach 2^31: float16 (to 65,504), under a mixed policy, would make them infinite.
    x = StandardiseWindow(name="standardise")(Mfcc(name="mfcc", dtype="float32")(audio))
    return Functional(audio, _head(_stream(x, 3, "same", "audio"), mode, num_classes), name="sync_audio")
