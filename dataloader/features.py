"""Audio features in the graph: power spectra, log-mel spectrograms and MFCCs with tf.signal.

The mel filterbank is librosa's (HTK mel scale, triangles in Hz, no area normalisation),
computed once in numpy and used as a constant, so a log-mel here equals librosa's
`melspectrogram` of the same frames; tests compare them.

`mfcc` follows python_speech_features' defaults, which UltraSync's MFCCs used: pre-emphasis
0.97 over the whole signal, rectangular frames, the power spectrum |FFT|^2 / n_fft, 26 bands,
the orthonormal DCT-II of their natural log, 13 coefficients lifted by
1 + (L / 2) sin(pi n / L) with L = 22, and c0 replaced by the log of the frame's energy. One
frame starts every step to the signal's end, the last ones zero-padded (ceil(samples / step)
frames: 20 for a 417-ms window, as UltraSync's 20 x 13). python_speech_features' filterbank
rounds the triangles' corners to FFT bins; librosa's does not.
"""
from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import tensorflow as tf

LOG_FLOOR = 1e-10  # power below this is taken as this before the log (silence, padded frames)


@functools.lru_cache(maxsize=16)
def mel_filterbank(sample_rate: int, fft_length: int, bands: int, fmin: float = 0.0,
                   fmax: float | None = None) -> np.ndarray:
    """(fft_length // 2 + 1, bands) float32: librosa's HTK mel triangles."""
    import librosa

    weights = librosa.filters.mel(sr=sample_rate, n_fft=fft_length, n_mels=bands, fmin=fmin,
                                  fmax=fmax or sample_rate / 2, htk=True, norm=None)
    return np.ascontiguousarray(weights.T, dtype=np.float32)


def power_spectrum(signal: tf.Tensor, frame_length: int, frame_step: int, fft_length: int,
                   window: str | None = "hann", pre_emphasis: float = 0.0, pad_end: bool = False) -> tf.Tensor:
    """(..., samples) -> (..., frames, fft_length // 2 + 1): |FFT|^2 / fft_length of each
    frame, after pre-emphasis y[n] = x[n] - a x[n - 1]; `window` "hann" (periodic) or None
    (rectangular)."""
    import tensorflow as tf

    signal = tf.cast(signal, tf.float32)
    if pre_emphasis:
        signal = tf.concat([signal[..., :1], signal[..., 1:] - pre_emphasis * signal[..., :-1]], axis=-1)
    if window not in ("hann", None):
        raise ValueError(f"window must be 'hann' or None, got {window!r}")
    window_fn = tf.signal.hann_window if window == "hann" else None
    spectrum = tf.signal.stft(signal, frame_length, frame_step, fft_length, window_fn=window_fn, pad_end=pad_end)
    return tf.square(tf.abs(spectrum)) / fft_length


def log_mel(power: tf.Tensor, sample_rate: int, bands: int, fmin: float = 0.0, fmax: float | None = None) -> tf.Tensor:
    """(..., frames, bins) power spectra -> (..., frames, bands) natural-log mel energies."""
    import tensorflow as tf

    fft_length = 2 * (power.shape[-1] - 1)
    weights = tf.constant(mel_filterbank(sample_rate, fft_length, bands, fmin, fmax))
    return tf.math.log(tf.maximum(tf.tensordot(power, weights, axes=1), LOG_FLOOR))


def lifter_weights(coefficients: int, lifter: int) -> np.ndarray:
    """python_speech_features' cepstral lifter, 1 + (L / 2) sin(pi n / L) for n = 0, 1, ..."""
    return (1.0 + lifter / 2.0 * np.sin(np.pi * np.arange(coefficients) / lifter)).astype(np.float32)


def mfcc(signal: tf.Tensor, sample_rate: int, frame_length: int, frame_step: int, coefficients: int = 13,
         bands: int = 26, fft_length: int = 512, pre_emphasis: float = 0.97, lifter: int = 22) -> tf.Tensor:
    """(..., samples) -> (..., ceil(samples / frame_step), coefficients): python_speech_features'
    MFCCs (see the module's docstring), c0 the log frame energy."""
    import tensorflow as tf

    power = power_spectrum(signal, frame_length, frame_step, fft_length, window=None, pre_emphasis=pre_emphasis,
                           pad_end=True)
    cepstra = tf.signal.dct(log_mel(power, sample_rate, bands), type=2, norm="ortho")[..., :coefficients]
    cepstra *= tf.constant(lifter_weights(coefficients, lifter))
    energy = tf.math.log(tf.maximum(tf.reduce_sum(power, axis=-1, keepdims=True), LOG_FLOOR))
    return tf.concat([energy, cepstra[..., 1:]], axis=-1)
