"""The audio-caption alignment system's networks (ICASSP 2022, (C)), for the DualCam: audio
frames and caption words embedded in one space, where max(0, a . w) says how much a frame
sounds like a word. The `caption_alignment` stage trains them.

- `caption_crnn`, (C)'s CRNN on one microphone: 64-band log-mel frames (window 512 samples,
  41.7 ms, hop 256, 20.8 ms at 12,288 Hz: (C)'s 40 ms / 20 ms, 4 frames a video frame),
  batch-normalised; five 3 x 3 convolutions (32, 128, 128, 128, 128 filters, each after a
  batch norm and before a leaky ReLU of slope 0.1) with power-4 pools of (2, 4), (2, 4) and
  (1, 4) (time, bands) after the first, third and fifth, dropout 0.3; a bidirectional GRU
  of 150 units each way over the 12 steps a second left; linear upsampling back to the
  log-mel frames (PyTorch's `interpolate(..., align_corners=False)`), L2-normalised:
  (batch, 4 F, 300) for F video frames.
- `caption_acoustic_image`, on the acoustic images (12 frames a second, 36 x 48 cells of 12
  coefficients): per frame a 3 x 3 convolution (32), a max-pool of 3 to the 12 x 16 cells of
  (A)'s maps and a second 3 x 3 convolution (64); then per cell two temporal convolutions
  over 5 frames (a cell's sound over 0.75 s) and a 1 x 1 convolution (128), each with batch
  norm and a leaky ReLU: a cell's features. An attention over each frame's cells (a softmax
  of a linear score) pools them, and a linear map embeds the pooled features, L2-normalised:
  the frame's embedding. The map is linear, so a word's similarity to a frame is the sum of
  the cells' shares alpha_c (e_c . w) (over the norm of the sum, e_c a cell's embedding,
  `cell_embeddings`): where in the picture the word sounds. Sized for two CPU cores: 19 M
  multiply-adds a frame, a tenth of a 3 x 3 convolution of 128 channels over 36 x 48 cells.
- `word_embedding`: (C)'s text encoder, a word embedding of the run's vocabulary (trainable,
  or started from a local word-vector file, `models.word_vectors`), L2-normalised, zero at
  padding: (batch, words) token ids -> (batch, words, 300). The words' ids come from a
  `keras.layers.TextVectorization` of that vocabulary, which the stage holds
  (`caption_vectorizer`).

Both audio networks' classifier mode puts a class layer on their frames' mean.
"""
from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

from dataloader.camera import ACOUSTIC_IMAGE_SHAPE, FRAME_SAMPLES, FRAMES_PER_SECOND
from dataloader.config import ACOUSTIC_IMAGE, AUDIO
from dataloader.presets import C_CAPTIONS
from models.functional import Functional
from models.layers import (
    CLASSIFIER,
    PACKAGE,
    SHORT_RUN_MOMENTUM,
    FoldFrames,
    LogMel,
    UnfoldFrames,
    check_mode,
    mean_over_frames,
    output,
)

AUDIO_FRAMES_PER_VIDEO_FRAME = 4
HOP = FRAME_SAMPLES // AUDIO_FRAMES_PER_VIDEO_FRAME  # 256 samples, 20.8 ms
WINDOW = FFT_LENGTH = 512  # 41.7 ms
MEL_BANDS = 64
EMBEDDING_SIZE = 300  # (C)'s: word2vec's size
CLIP_FRAMES = C_CAPTIONS.sample_length * FRAMES_PER_SECOND  # the recipe's clips, the networks' default size
CELL_GRID = (12, 16)
MAX_WORDS = 48  # a caption's words the stage reads (the simulator's have at most about 30)
# The TextVectorization's settings, shared by the stage and the vocabulary it is built from.
STANDARDIZE = "lower_and_strip_punctuation"
PADDING, UNKNOWN = 0, 1  # the token ids before the vocabulary's words


@keras.saving.register_keras_serializable(package=PACKAGE)
class LPPool2D(layers.Layer):
    """PyTorch's LPPool2d: (sum of x^p over each window)^(1 / p), windows not overlapping.
    In float32 (x^4 leaves float16's range at 16), and kept off (0)^(1 / p)'s infinite slope."""

    def __init__(self, power: int, pool_size: tuple[int, int], **kwargs):
        super().__init__(**kwargs)
        self.power, self.pool_size = int(power), tuple(pool_size)

    def call(self, inputs):
        x = ops.cast(inputs, "float32")
        pooled = ops.average_pool(x ** self.power, self.pool_size, self.pool_size, "valid")
        summed = pooled * float(np.prod(self.pool_size)) + 1e-12
        return ops.cast(summed ** (1.0 / self.power), inputs.dtype)

    def compute_output_shape(self, input_shape):
        batch, height, width, channels = input_shape
        return (batch, None if height is None else height // self.pool_size[0], width // self.pool_size[1], channels)

    def get_config(self):
        return {**super().get_config(), "power": self.power, "pool_size": self.pool_size}


def interpolation_matrix(source: int, target: int) -> np.ndarray:
    """(target, source): linear interpolation of `source` steps onto `target`, as PyTorch's
    `interpolate(mode="linear", align_corners=False)`: target step i reads source position
    (i + 0.5) source / target - 0.5, clamped to the ends."""
    position = np.clip((np.arange(target) + 0.5) * source / target - 0.5, 0.0, source - 1)
    low = np.floor(position).astype(int)
    high = np.minimum(low + 1, source - 1)
    weights = np.zeros((target, source), np.float32)
    np.add.at(weights, (np.arange(target), low), 1.0 - (position - low))
    np.add.at(weights, (np.arange(target), high), position - low)
    return weights


@keras.saving.register_keras_serializable(package=PACKAGE)
class Upsample(layers.Layer):
    """(batch, S, C) -> (batch, T, C) by `interpolation_matrix(S, T)`."""

    def __init__(self, steps: int, **kwargs):
        super().__init__(**kwargs)
        self.steps = int(steps)

    def call(self, inputs):
        matrix = ops.convert_to_tensor(interpolation_matrix(inputs.shape[1], self.steps), dtype=inputs.dtype)
        return ops.einsum("ts,bsc->btc", matrix, inputs)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.steps, input_shape[2])

    def get_config(self):
        return {**super().get_config(), "steps": self.steps}


@keras.saving.register_keras_serializable(package=PACKAGE)
class L2Normalise(layers.Layer):
    """Unit vectors along the last axis (zero stays zero), in float32."""

    def call(self, inputs):
        x = ops.cast(inputs, "float32")
        return x / ops.maximum(ops.sqrt(ops.sum(x * x, axis=-1, keepdims=True)), 1e-12)


def _crnn_block(x, filters: int, name: str):
    x = layers.BatchNormalization(momentum=SHORT_RUN_MOMENTUM, name=f"{name}_bn")(x)
    x = layers.Conv2D(filters, 3, padding="same", use_bias=False, kernel_initializer="he_normal",
                      name=f"{name}_conv")(x)
    return layers.LeakyReLU(0.1, name=f"{name}_relu")(x)


def caption_crnn(mode: str = CLASSIFIER, num_classes: int = 10, num_samples: int = CLIP_FRAMES * FRAME_SAMPLES,
                 embedding_size: int = EMBEDDING_SIZE) -> keras.Model:
    """Input audio (batch, samples, 1), one microphone at 12,288 Hz, a whole number of video
    frames -> (batch, samples / 256, embedding_size) unit frame embeddings."""
    check_mode(mode)
    if num_samples % FRAME_SAMPLES:
        raise ValueError(f"the audio must span whole video frames ({FRAME_SAMPLES} samples), got {num_samples}")
    audio = keras.Input((num_samples, 1), name=AUDIO)
    # In float32: raw samples reach 2^31, beyond float16.
    bands = LogMel(WINDOW, HOP, FFT_LENGTH, MEL_BANDS, name="log_mel", dtype="float32")(audio)
    x = bands
    for index, filters in enumerate((32, 128, 128, 128, 128), start=1):
        x = _crnn_block(x, filters, f"block{index}")
        if index in (1, 3, 5):
            x = LPPool2D(4, (2, 4) if index < 5 else (1, 4), name=f"pool{index}")(x)
    x = layers.Dropout(0.3, name="dropout")(x)
    x = layers.Reshape((x.shape[1], x.shape[2] * x.shape[3]), name="steps")(x)
    x = layers.Bidirectional(layers.GRU(embedding_size // 2, return_sequences=True), name="bigru")(x)
    frames = Upsample(bands.shape[1], name="upsample")(x)
    if mode == CLASSIFIER:
        return Functional(audio, output(layers.Dense(num_classes, name="classes")(mean_over_frames(frames)), mode),
                          name="caption_crnn")
    return Functional(audio, output(L2Normalise(name="unit")(frames), mode), name="caption_crnn")


@keras.saving.register_keras_serializable(package=PACKAGE)
class CellAttention(layers.Layer):
    """(batch, T, h, w) attention logits -> a softmax over each frame's h x w cells."""

    def call(self, inputs):
        shape = ops.shape(inputs)
        flat = ops.reshape(ops.cast(inputs, "float32"), (shape[0], shape[1], -1))
        return ops.reshape(ops.softmax(flat, axis=-1), shape)


@keras.saving.register_keras_serializable(package=PACKAGE)
class AttendCells(layers.Layer):
    """Cells (batch, T, h, w, D) and their attention (batch, T, h, w) -> (batch, T, D), the
    attention-weighted sum over each frame's cells."""

    def call(self, cells, attention):
        return ops.einsum("bthwd,bthw->btd", ops.cast(cells, "float32"), ops.cast(attention, "float32"))

    def compute_output_shape(self, cells_shape, attention_shape):
        return (cells_shape[0], cells_shape[1], cells_shape[-1])


def _cell_block(x, conv, filters: int, kernel, name: str):
    x = conv(filters, kernel, padding="same", use_bias=False, kernel_initializer="he_normal", name=f"{name}_conv")(x)
    x = layers.BatchNormalization(momentum=SHORT_RUN_MOMENTUM, name=f"{name}_bn")(x)
    return layers.LeakyReLU(0.1, name=f"{name}_relu")(x)


CELL_EMBEDDING = "cell_embedding"  # the layer that embeds a cell's features (`cell_embeddings`)


def caption_acoustic_image(mode: str = CLASSIFIER, num_classes: int = 10, num_frames: int = CLIP_FRAMES,
                           embedding_size: int = EMBEDDING_SIZE) -> keras.Model:
    """Input acoustic images (batch, T, 36, 48, 12) -> {"frames": (batch, T, D) unit frame
    embeddings, "attention": (batch, T, 12, 16), "features": (batch, T, 12, 16, 128)}, the
    cells' features that `cell_embeddings` embeds (see the module's docstring)."""
    check_mode(mode)
    images = keras.Input((num_frames, *ACOUSTIC_IMAGE_SHAPE), name=ACOUSTIC_IMAGE)
    x = FoldFrames(name="fold")(images)
    x = _cell_block(x, layers.Conv2D, 32, 3, "cell1")
    x = layers.MaxPooling2D(ACOUSTIC_IMAGE_SHAPE[0] // CELL_GRID[0], name="cell1_pool")(x)
    x = _cell_block(x, layers.Conv2D, 64, 3, "cell2")
    x = UnfoldFrames(num_frames, name="unfold")(x)
    for index in (1, 2):
        x = _cell_block(x, layers.Conv3D, 64, (5, 1, 1), f"time{index}")
    features = _cell_block(x, layers.Conv3D, 128, 1, "cell3")
    logits = layers.Reshape((num_frames, *CELL_GRID), name="attention_logits")(
        layers.Dense(1, name="attention")(features))
    attention = CellAttention(name="cell_attention", dtype="float32")(logits)
    # Embedding is linear, so the frame's embedding of its attended features is the attended sum
    # of its cells' embeddings: training never needs the cells' own.
    frames = layers.Dense(embedding_size, name=CELL_EMBEDDING)(AttendCells(name="attend", dtype="float32")(
        features, attention))
    if mode == CLASSIFIER:
        return Functional(images, output(layers.Dense(num_classes, name="classes")(mean_over_frames(frames)), mode),
                          name="caption_acoustic_image")
    outputs = {"frames": L2Normalise(name="frames")(frames),
               "attention": layers.Activation("linear", dtype="float32", name="attention_map")(attention),
               "features": layers.Activation("linear", dtype="float32", name="features")(features)}
    return Functional(images, outputs, name="caption_acoustic_image")


def cell_embeddings(net: keras.Model, features):
    """(batch, T, 12, 16, D) each cell's embedding, not normalised: alpha_c (e_c . w) over the
    norm of the frame's sum of alpha_c e_c is cell c's share of the frame's similarity to w."""
    return net.get_layer(CELL_EMBEDDING)(features)


def word_embedding(vocabulary_size: int, embedding_size: int = EMBEDDING_SIZE, initial: np.ndarray | None = None,
                   trainable: bool = True, max_words: int = MAX_WORDS) -> keras.Model:
    """Token ids (batch, max_words) int, 0 for padding -> (batch, max_words, embedding_size)
    unit word embeddings, zero at padding. `vocabulary_size` counts the padding and unknown
    tokens; `initial` (vocabulary_size, embedding_size) starts the embedding (default: He's
    uniform, as (C)'s kaiming_uniform), `trainable` False freezes it ((C) froze word2vec)."""
    ids = keras.Input((max_words,), dtype="int32", name="words")
    start = "he_uniform" if initial is None else keras.initializers.Constant(initial)
    embedded = layers.Embedding(vocabulary_size, embedding_size, embeddings_initializer=start, trainable=trainable,
                                name="word_vectors")(ids)
    words = L2Normalise(name="unit")(embedded)
    present = ops.cast(ops.not_equal(ids, PADDING), "float32")
    return Functional(ids, output(words * present[..., None], "embedding"), name="word_embedding")


def caption_vectorizer(vocabulary: list[str], max_words: int = MAX_WORDS) -> layers.TextVectorization:
    """Captions (batch,) strings -> (batch, max_words) token ids of `vocabulary` (0: padding,
    1: a word outside it), lower-cased and without punctuation, cut after max_words words."""
    return layers.TextVectorization(standardize=STANDARDIZE, output_sequence_length=max_words,
                                    vocabulary=list(vocabulary), name="caption_words")
