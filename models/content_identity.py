"""The SyncNet trainer's two trunks, sized for the DualCam: an audio trunk on log-mel frames
and a video trunk of 3-D convolutions, each giving per time step a content embedding (what
happens now, to be matched across modalities within a clip) and an identity embedding (who
it is, to be matched across clips). The `content_identity` stage trains them.

Time: the networks take (S)'s 2-s samples, F = 24 video frames (`SAMPLE_FRAMES`; the stage
crops them out of longer ones), with 4 F log-mel frames (hop 256 samples,
20.8 ms at 12,288 Hz; window 640 samples, the original's 400/160 hop ratio, 1024-point FFT,
40 bands, each band standardised over the sample: (S)'s instance norm). The audio trunk
strides time by 8 and the video trunk by 2, so both give F / 2 steps (12 for 2 s; (S): 23
for 50 frames at 25 fps), each 167 ms.

Audio trunk, on (4 F, 40, 1): five 2-D convolutions (32, 64, 128, 256 filters, 3 x 3, the
last three strided 2 in time, the first three followed by a max-pool of 2 over the bands;
then 256 filters spanning the last 5 bands), each with BatchNorm and ReLU. Video trunk, on
(F, 72, 96, 3) standardised over the sample: four 3-D convolutions (32 of 3 x 5 x 5 strided
2 in space, 64 of 3 x 3 x 3 strided 2 in time, 128 of 3 x 3 x 3, each followed by a max-pool
of 2 in space; then 256 spanning the remaining 4 x 6 pixels), each with BatchNorm and ReLU.
(S)'s trunks reach 512 channels on 224 x 224 face crops; these are a quarter of its width,
for whole 72 x 96 frames and two CPU cores.

Heads, as (S)'s: a 1 x 1 convolution over time (Dense per step) of 256, BatchNorm, ReLU, and
one of EMBEDDING_SIZE; one head for content and one for identity. The embedding mode's
output is (batch, F / 2, 2, EMBEDDING_SIZE): per step, [content, identity]; the classifier
mode puts a class layer on the identity embedding averaged over time.
"""
from __future__ import annotations

import keras
from keras import layers

from dataloader.camera import FRAME_SAMPLES
from dataloader.config import AUDIO, VIDEO_FRAMES
from models.functional import Functional
from models.layers import CLASSIFIER, SHORT_RUN_MOMENTUM, LogMel, check_mode, output, weight_decay
from models.sync import StandardiseWindow

SAMPLE_FRAMES = 24  # 2 s, (S)'s samples
AUDIO_FRAMES_PER_VIDEO_FRAME = 4
HOP = FRAME_SAMPLES // AUDIO_FRAMES_PER_VIDEO_FRAME  # 256 samples
WINDOW, FFT_LENGTH, MEL_BANDS = 640, 1024, 40
TRUNK_WIDTH, EMBEDDING_SIZE = 256, 128
CONTENT, IDENTITY = 0, 1  # the embedding's axis -2
VIDEO_SIZE = (72, 96)
WEIGHT_DECAY = 1e-4  # on every kernel; the stage's logit scales have none


def _block(x, conv, filters: int, kernel, strides, name: str, padding: str = "same"):
    x = conv(filters, kernel, strides=strides, padding=padding, kernel_regularizer=weight_decay(WEIGHT_DECAY),
             name=f"{name}_conv")(x)
    x = layers.BatchNormalization(momentum=SHORT_RUN_MOMENTUM, name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def _heads(steps, mode: str, num_classes: int):
    """(batch, T, 256) -> (batch, T, 2, EMBEDDING_SIZE), or the classifier's logits (of the
    identity head alone)."""
    check_mode(mode)
    embeddings = []
    for head in ("identity",) if mode == CLASSIFIER else ("content", "identity"):
        x = layers.Dense(TRUNK_WIDTH, kernel_regularizer=weight_decay(WEIGHT_DECAY), name=f"{head}_fc1")(steps)
        x = layers.BatchNormalization(momentum=SHORT_RUN_MOMENTUM, name=f"{head}_bn")(x)
        x = layers.ReLU(name=f"{head}_relu")(x)
        embeddings.append(layers.Dense(EMBEDDING_SIZE, kernel_regularizer=weight_decay(WEIGHT_DECAY),
                                       name=f"{head}_fc2")(x))
    if mode == CLASSIFIER:
        pooled = layers.GlobalAveragePooling1D(name="identity_mean")(embeddings[0])
        return output(layers.Dense(num_classes, name="classes")(pooled), mode)
    stacked = layers.Concatenate(axis=-2, name="content_and_identity")(
        [layers.Reshape((-1, 1, EMBEDDING_SIZE), name=f"{head}_step")(x)
         for head, x in zip(("content", "identity"), embeddings)])
    return output(stacked, mode)


def content_identity_audio(mode: str = CLASSIFIER, num_classes: int = 9,
                           num_samples: int = SAMPLE_FRAMES * FRAME_SAMPLES) -> keras.Model:
    """Input audio (batch, samples, 1), one microphone at 12,288 Hz, a whole number of video
    frames -> embedding (batch, samples / 2048, 2, 128)."""
    if num_samples % (2 * FRAME_SAMPLES):
        raise ValueError(f"the audio must span an even number of video frames ({2 * FRAME_SAMPLES} samples), "
                         f"got {num_samples} samples")
    audio = keras.Input((num_samples, 1), name=AUDIO)
    # In float32: raw samples reach 2^31, beyond float16.
    x = LogMel(WINDOW, HOP, FFT_LENGTH, MEL_BANDS, standardise=True, name="log_mel", dtype="float32")(audio)
    for index, (filters, strides) in enumerate(((32, 1), (64, 2), (128, 2), (256, 2)), start=1):
        x = _block(x, layers.Conv2D, filters, 3, (strides, 1), f"audio{index}")
        if index < 4:
            x = layers.MaxPooling2D((1, 2), name=f"audio{index}_pool")(x)
    x = _block(x, layers.Conv2D, TRUNK_WIDTH, (1, x.shape[2]), 1, "audio5", padding="valid")
    steps = layers.Reshape((-1, TRUNK_WIDTH), name="audio_steps")(x)
    return Functional(audio, _heads(steps, mode, num_classes), name="content_identity_audio")


def content_identity_video(mode: str = CLASSIFIER, num_classes: int = 9, num_frames: int = SAMPLE_FRAMES,
                           frame_shape: tuple[int, int, int] = (*VIDEO_SIZE, 3)) -> keras.Model:
    """Input video (batch, frames, 72, 96, 3), an even number of frames -> embedding
    (batch, frames / 2, 2, 128)."""
    if num_frames % 2:
        raise ValueError(f"the video trunk strides time by 2 and needs an even number of frames, got {num_frames}")
    video = keras.Input((num_frames, *frame_shape), name=VIDEO_FRAMES)
    x = StandardiseWindow(name="standardise")(video)
    for index, (filters, kernel, strides) in enumerate(((32, (3, 5, 5), (1, 2, 2)), (64, 3, (2, 1, 1)),
                                                        (128, 3, 1)), start=1):
        x = _block(x, layers.Conv3D, filters, kernel, strides, f"video{index}")
        x = layers.MaxPooling3D((1, 2, 2), name=f"video{index}_pool")(x)
    x = _block(x, layers.Conv3D, TRUNK_WIDTH, (1, *x.shape[2:4]), 1, "video4", padding="valid")
    steps = layers.Reshape((-1, TRUNK_WIDTH), name="video_steps")(x)
    return Functional(video, _heads(steps, mode, num_classes), name="content_identity_video")
