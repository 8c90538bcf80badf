"""From microphone frames to acoustic images.

Two public forms, both used by the simulator and by convert_data.py for recordings that
have raw 128-microphone audio but no acoustic images:

- `Beamformer.power`: frequency-domain delay-and-sum. Each frame of 1024 samples per
  microphone is Hann-windowed and Fourier transformed; for every acoustic cell the 128
  spectra are phase-aligned on the focus point of that cell (a point `focus_distance` metres
  along the cell's ray, so near-field curvature is honoured) and averaged. The result is
  the power of 512 bins (0 to 6,132 Hz in 12 Hz steps) per cell: (T, 36, 48, 512).
- `compress`: the 12 coefficients per cell the datasets ship ("MFCC"): a mel filter bank of
  `CompressionParams`, natural log, orthonormal DCT-II, coefficients 0..11 (c0 carries the
  cell's log energy, which is what makes the image an image).

Scale: int32 samples are divided by 2**31 (1.0 = digital full scale), spectra are divided by
the window's sum, so a full-scale sine gives a bin magnitude of 0.5 in every cell it is
steered to.
"""
from __future__ import annotations

import dataclasses
import functools

import numpy as np
import scipy.fft

from dataloader.camera import COEFFICIENTS, FRAME_SAMPLES, SAMPLE_RATE
from dualcam.geometry import Geometry

NUM_BINS = FRAME_SAMPLES // 2  # bins of a frame's spectrum kept: from 0 Hz, the Nyquist bin left out
INT32_FULL_SCALE = 2.0**31


@dataclasses.dataclass(frozen=True)
class CompressionParams:
    n_mels: int = 26
    fmin: float = 50.0
    fmax: float = SAMPLE_RATE / 2  # the Nyquist frequency
    n_coefficients: int = COEFFICIENTS
    log_floor: float = 1e-12  # power in full-scale units; about -120 dB


DEFAULT_COMPRESSION = CompressionParams()


def hz_to_mel(hz):
    """Slaney's mel scale: linear below 1 kHz, logarithmic above (librosa's default)."""
    hz = np.asarray(hz, dtype=np.float64)
    f_sp = 200.0 / 3
    min_log_hz, logstep = 1000.0, np.log(6.4) / 27.0
    mel = hz / f_sp
    return np.where(hz >= min_log_hz, min_log_hz / f_sp + np.log(np.maximum(hz, 1e-9) / min_log_hz) / logstep, mel)


def mel_to_hz(mel):
    mel = np.asarray(mel, dtype=np.float64)
    f_sp = 200.0 / 3
    min_log_hz, logstep = 1000.0, np.log(6.4) / 27.0
    min_log_mel = min_log_hz / f_sp
    return np.where(mel >= min_log_mel, min_log_hz * np.exp(logstep * (mel - min_log_mel)), f_sp * mel)


def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    """Triangular, area-normalised (Slaney) filters, (n_mels, n_fft // 2 + 1)."""
    fft_hz = np.linspace(0.0, sample_rate / 2.0, n_fft // 2 + 1)
    edges_hz = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    widths = np.diff(edges_hz)
    ramps = edges_hz[:, None] - fft_hz[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    return weights * (2.0 / (edges_hz[2:] - edges_hz[:-2]))[:, None]


def frame_spectra(frames: np.ndarray) -> np.ndarray:
    """Spectra (..., NUM_BINS) complex64 of frames (..., N) in full-scale units."""
    n = frames.shape[-1]
    window = np.hanning(n + 1)[:-1]  # periodic Hann
    spectra = np.fft.rfft(frames * window, axis=-1)[..., :NUM_BINS] / window.sum()
    return spectra.astype(np.complex64)


class Beamformer:
    """Delay-and-sum onto the acoustic grid of a geometry.

    The steering matrices (512 x 128 x 1728 complex64, about 0.9 GB) are built once per
    geometry and process, since every frame of every recording reuses them.
    """

    def __init__(self, geometry: Geometry):
        self.geometry = geometry
        focus = geometry.focus_points().reshape(-1, 3)
        distances = np.linalg.norm(focus[None, :, :] - geometry.mic_positions[:, None, :], axis=-1)
        # Advancing each microphone by its travel time from the focus point aligns a source
        # there; the common delay to the nearest microphone is dropped (it changes no power).
        self._advance = (distances - distances.min(axis=0, keepdims=True)) / geometry.speed_of_sound
        self._steering: np.ndarray | None = None

    @property
    def steering(self) -> np.ndarray:
        if self._steering is None:
            # Bin k's phase ramp is bin 1's raised to the k-th power: one complex multiply per
            # entry instead of an exp (in float64, so 512 products lose nothing measurable).
            step = np.exp(2j * np.pi * self.geometry.sample_rate / self.geometry.frame_samples * self._advance)
            steering = np.empty((NUM_BINS,) + self._advance.shape, dtype=np.complex64)
            ramp = np.full(self._advance.shape, 1.0 / self.geometry.num_mics, dtype=np.complex128)
            for k in range(NUM_BINS):
                steering[k] = ramp
                ramp *= step
            self._steering = steering
        return self._steering

    def power(self, frames: np.ndarray) -> np.ndarray:
        """Frames (T, M, N) float in full-scale units -> power (T, rows, cols, 512) float32."""
        if frames.ndim != 3 or frames.shape[1] != self.geometry.num_mics:
            raise ValueError(f"frames must be (T, {self.geometry.num_mics}, samples), got {frames.shape}")
        spectra = frame_spectra(frames)  # (T, M, F)
        by_bin = np.ascontiguousarray(spectra.transpose(2, 0, 1))  # (F, T, M)
        beams = np.matmul(by_bin, self.steering)  # (F, T, P)
        power = (beams.real**2 + beams.imag**2).transpose(1, 2, 0)  # (T, P, F)
        return power.reshape((len(frames),) + tuple(self.geometry.grid_size) + (NUM_BINS,))


_BEAMFORMERS: dict[str, Beamformer] = {}


def beamformer_for(geometry: Geometry) -> Beamformer:
    """The process's beamformer for this geometry (keyed by content: loading the same
    geometry file twice must not build the steering matrices twice)."""
    key = geometry.fingerprint()
    if key not in _BEAMFORMERS:
        _BEAMFORMERS.clear()  # one geometry at a time; each holds ~0.9 GB
        _BEAMFORMERS[key] = Beamformer(geometry)
    return _BEAMFORMERS[key]


@functools.lru_cache(maxsize=4)
def _compression_matrices(sample_rate: int, n_fft: int, params: CompressionParams):
    mel = mel_filterbank(sample_rate, n_fft, params.n_mels, params.fmin, params.fmax)[:, :NUM_BINS]
    dct = scipy.fft.dct(np.eye(params.n_mels), type=2, norm="ortho", axis=0)[: params.n_coefficients]
    return mel.T.astype(np.float32), dct.T.astype(np.float32)


def compress(power: np.ndarray, sample_rate: int = SAMPLE_RATE, n_fft: int = FRAME_SAMPLES,
             params: CompressionParams = DEFAULT_COMPRESSION) -> np.ndarray:
    """Power spectra (..., 512) -> (..., n_coefficients) float32: mel, log, DCT-II."""
    mel, dct = _compression_matrices(sample_rate, n_fft, params)
    log_mel = np.log(power.astype(np.float32) @ mel + np.float32(params.log_floor))
    return (log_mel @ dct).astype(np.float32)


def acoustic_images(audio: np.ndarray, geometry: Geometry, params: CompressionParams = DEFAULT_COMPRESSION,
                    chunk: int = 12) -> np.ndarray:
    """Raw int32 frames (T, M, N) -> acoustic images (T, rows, cols, n_coefficients) float32."""
    beamformer = beamformer_for(geometry)
    images = [
        compress(beamformer.power(audio[t:t + chunk] / INT32_FULL_SCALE), geometry.sample_rate,
                 geometry.frame_samples, params)
        for t in range(0, len(audio), chunk)
    ]
    return np.concatenate(images, axis=0)
