"""Audio inputs in the graph: resampling 12,288 -> 22,050 Hz, peak normalisation, and the
HearNet spectrogram.

Resampling. The original ran librosa in a py_func (soxr_hq by default today). The
tensorflow-io op (`tfio.audio.resample`, a Speex resampler) runs in the graph but takes
40-50 ms of CPU per 5 s of audio, 20x librosa, and delays its output by its filter's
latency (32 input samples, 57.4 output samples here), which `resample(..., method="tfio")`
compensates exactly. The default, "sinc", is a polyphase windowed-sinc filter in plain
TensorFlow: a Kaiser-windowed sinc (beta 6) of 2 x 48 input samples, cut off at 96 % of
the input Nyquist frequency. Its output correlates with librosa's above 0.9997 on white
noise and above 0.99999 on sounds below 5.5 kHz; it takes about 2 ms per 5 s, batches,
and needs no custom op (tensorflow-io's ops load on TF 2.16/2.17 only).

The polyphase form: output j sits at input position j * down / up (up/down the rate ratio
in lowest terms), and the pattern of fractional positions repeats every `up` outputs and
`down` inputs. Each period is cut into blocks of outputs whose inputs form a short
contiguous span; one gather collects every block's span, and each block is one small
matrix product with a constant filter matrix.
"""
from __future__ import annotations

import functools
import math
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import tensorflow as tf

SINC_HALF_WIDTH = 48  # input samples each side of an output
SINC_CUTOFF = 0.96  # of the lower Nyquist frequency
KAISER_BETA = 6.0
TFIO_LATENCY = 32  # input samples: half the length of tfio's Speex filter at its quality
MAX_BLOCK = 160  # outputs per filter block: longer blocks multiply more zeros, shorter ones gather more


def sinc_kernel(offset: np.ndarray, scale: float, half_width: int = SINC_HALF_WIDTH,
                cutoff: float = SINC_CUTOFF, beta: float = KAISER_BETA) -> np.ndarray:
    """The filter's weight for an input `offset` input samples before an output; `scale`
    is min(1, rate_out / rate_in), which widens the filter when downsampling."""
    fc = cutoff * scale
    reach = half_width / scale
    inside = np.abs(offset) < reach
    window = np.i0(beta * np.sqrt(np.clip(1.0 - (offset / reach) ** 2, 0.0, 1.0))) / np.i0(beta)
    return np.where(inside, fc * np.sinc(fc * offset) * window, 0.0)


@functools.lru_cache(maxsize=8)
def _polyphase(rate_in: int, rate_out: int, length: int) -> tuple[int, int, int, np.ndarray, np.ndarray]:
    """(output length, left padding, right padding, gather indices [periods, blocks,
    width] into the padded signal, filters [blocks, width, block]) for `length` inputs."""
    common = math.gcd(rate_in, rate_out)
    up, down = rate_out // common, rate_in // common
    scale = min(1.0, up / down)
    reach = math.ceil(SINC_HALF_WIDTH / scale)
    block = max(d for d in range(1, min(up, MAX_BLOCK) + 1) if up % d == 0)
    positions = np.arange(up).reshape(-1, block) * down / up  # [blocks, block] in input samples
    first = np.floor(positions[:, 0]).astype(int) - reach + 1
    width = int(np.max(np.floor(positions[:, -1]).astype(int) + reach - first + 1))
    inputs = first[:, None] + np.arange(width)  # [blocks, width], relative to the period's start
    filters = sinc_kernel(positions[:, None, :] - inputs[:, :, None], scale).astype(np.float32)
    out_length = math.ceil(length * up / down)
    periods = math.ceil(out_length / up)
    pad_left = reach - 1
    indices = np.arange(periods)[:, None, None] * down + inputs + pad_left
    pad_right = int(indices.max()) + 1 - pad_left - length
    return out_length, pad_left, max(pad_right, 0), indices.astype(np.int32), filters


def _sinc_resample(signal: tf.Tensor, rate_in: int, rate_out: int) -> tf.Tensor:
    import tensorflow as tf

    out_length, pad_left, pad_right, indices, filters = _polyphase(rate_in, rate_out, signal.shape[-1])
    padded = tf.pad(signal, [[0, 0]] * (signal.shape.rank - 1) + [[pad_left, pad_right]])
    blocks = tf.einsum("...pbw,bwo->...pbo", tf.gather(padded, indices, axis=-1), filters)
    flat = tf.reshape(blocks, tf.concat([tf.shape(signal)[:-1], [-1]], 0))
    return flat[..., :out_length]


def tfio_problem() -> str | None:
    """Why tensorflow-io, which `method="tfio"` needs, cannot run here, or None if it can. It
    is not a dependency: its compiled ops load on TF 2.16 and 2.17 only, and on a later
    TensorFlow the package still imports (with warnings) but its ops raise when first used."""
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from tensorflow_io.python.ops import core_ops

            core_ops.io_audio_resample  # noqa: B018  (loads the compiled library)
    except (ImportError, NotImplementedError) as err:
        return str(err).splitlines()[0] if str(err) else type(err).__name__
    return None


def _tfio_resample(signal: tf.Tensor, rate_in: int, rate_out: int) -> tf.Tensor:
    import tensorflow as tf

    problem = tfio_problem()
    if problem is not None:
        raise ImportError(f"resampler 'tfio' needs tensorflow-io, which does not load here ({problem}); "
                          "the default resampler 'sinc' needs nothing more")
    import tensorflow_io as tfio

    if signal.shape.rank != 1:
        raise ValueError("the tfio resampler takes one signal at a time")
    common = math.gcd(rate_in, rate_out)
    up, down = rate_out // common, rate_in // common
    out_length = math.ceil(signal.shape[0] * up / down)
    # The op's latency is a fraction of an output sample; leading zeros stretch it to whole
    # periods of the rate ratio, which are whole output samples, and cut off exactly.
    lead = -TFIO_LATENCY % down
    periods = (lead + TFIO_LATENCY) // down
    padded = tf.pad(signal, [[lead, TFIO_LATENCY]])
    resampled = tfio.audio.resample(padded[:, tf.newaxis], rate_in=rate_in, rate_out=rate_out)[:, 0]
    return tf.ensure_shape(resampled[periods * up:periods * up + out_length], [out_length])


def resample(signal: tf.Tensor, rate_in: int, rate_out: int, method: str = "sinc") -> tf.Tensor:
    """float32 (..., n) with a static n -> (..., ceil(n * rate_out / rate_in)); signals are
    taken as zero outside their span, as librosa takes them."""
    if signal.shape[-1] is None:
        raise ValueError("resample needs the signal's length known when the graph is built")
    if method == "sinc":
        return _sinc_resample(signal, rate_in, rate_out)
    if method == "tfio":
        return _tfio_resample(signal, rate_in, rate_out)
    raise ValueError(f"unknown resampling method {method!r}; known: sinc, tfio")


def peak_normalise(signal: tf.Tensor) -> tf.Tensor:
    """Divides by the largest magnitude along the last axis; silence stays zero."""
    import tensorflow as tf

    return tf.math.divide_no_nan(signal, tf.reduce_max(tf.abs(signal), axis=-1, keepdims=True))


def frames(signal: tf.Tensor, frame_length: int, frame_step: int) -> tf.Tensor:
    """(..., n) with a static n -> (..., 1 + (n - frame_length) // frame_step, frame_length),
    as tf.signal.frame without padding, from whole slices of the signal cut into rows of
    `frame_step`: tf.signal.frame gathers sample by sample, three times slower here."""
    import tensorflow as tf

    length = signal.shape[-1]
    count = 1 + (length - frame_length) // frame_step
    whole, rest = divmod(frame_length, frame_step)
    rows = count + whole + (rest > 0)
    padding = [[0, 0]] * (signal.shape.rank - 1) + [[0, max(0, rows * frame_step - length)]]
    padded = tf.pad(signal, padding)[..., :rows * frame_step]
    cut = tf.reshape(padded, tf.concat([tf.shape(signal)[:-1], [rows, frame_step]], 0))
    parts = [cut[..., i:i + count, :] for i in range(whole)] + ([cut[..., whole:whole + count, :rest]] if rest else [])
    return tf.concat(parts, axis=-1)


def spectrogram(waveform: tf.Tensor, frame_length: int, frame_step: int, fft_length: int) -> tf.Tensor:
    """STFT magnitude (..., frames, fft_length // 2 + 1), periodic Hann window, no padding:
    tf.signal.stft's defaults."""
    import tensorflow as tf

    windowed = frames(waveform, frame_length, frame_step) * tf.signal.hann_window(frame_length)
    return tf.abs(tf.signal.rfft(windowed, [fft_length]))
