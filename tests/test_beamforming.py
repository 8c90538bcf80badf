import librosa
import numpy as np
import pytest
import scipy.fft

from dualcam.beamforming import (
    INT32_FULL_SCALE,
    CompressionParams,
    acoustic_images,
    beamformer_for,
    compress,
    mel_filterbank,
)
from dualcam.propagation import block_times, point_source, quantise
from tests.conftest import band_limited_noise

FS = 12_288


def _frames_from(geometry, signal, uv, depth, num_frames, preroll=2048):
    """(T, 128, 1024) microphone frames of a static source seen at image point uv."""
    position = geometry.back_project(np.asarray(uv, dtype=float), depth)
    num_samples = num_frames * 1024
    positions = np.repeat(position[None], len(block_times(num_samples, FS)), axis=0)
    field = point_source(signal, preroll, positions, geometry.mic_positions, FS, geometry.speed_of_sound,
                         num_samples)
    return field.reshape(128, num_frames, 1024).transpose(1, 0, 2)


@pytest.mark.parametrize("uv,depth", [
    ((320.0, 240.0), 3.0), ((100.0, 80.0), 3.0), ((560.0, 410.0), 2.5), ((455.0, 130.0), 5.0), ((200.0, 330.0), 1.8),
])
def test_broadband_source_peaks_within_one_cell(geometry, rng, uv, depth):
    signal = band_limited_noise(rng, 2 * 1024 + 4096, low_hz=300.0)
    frames = _frames_from(geometry, 0.05 * signal, uv, depth, num_frames=2)
    energy = beamformer_for(geometry).power(frames).sum(axis=(0, 3))
    peak = np.unravel_index(np.argmax(energy), energy.shape)
    true_cell = geometry.pixel_to_cell(np.asarray(uv))
    assert np.all(np.abs(np.asarray(peak) - true_cell) <= 1.0), (peak, true_cell)


@pytest.mark.parametrize("frequency", [1500.0, 3000.0, 5000.0])
def test_narrowband_beam_width_matches_aperture(geometry, frequency):
    """A 0.5 m disc aperture of near-uniform density has an Airy main lobe whose half-power
    width is 1.029 lambda / D; the array's grid of cells must show it."""
    t = np.arange(2 * 1024 + 4096) / FS
    frames = _frames_from(geometry, np.sin(2 * np.pi * frequency * t), (320.0, 240.0), 3.0, num_frames=2)
    power = beamformer_for(geometry).power(frames)[..., int(frequency / 12)].mean(axis=0)
    row = power[17:19].mean(axis=0)  # the source is on the boundary of rows 17 and 18
    centres = (np.arange(48) + 0.5) * 640 / 48
    angles = np.arctan((centres - 320.0) / geometry.focal_length)
    fine = np.linspace(angles[0], angles[-1], 8000)
    above = fine[np.interp(fine, angles, row / row.max()) >= 0.5]
    expected = 1.029 * geometry.speed_of_sound / frequency / 0.5
    assert above.max() - above.min() == pytest.approx(expected, rel=0.06)
    # no grating lobe: everything outside the main lobe is well below the peak
    rays = geometry.pixel_rays(geometry.grid_pixels())
    off_axis = np.arccos(np.clip(rays[..., 2], -1, 1)) > 1.5 * expected
    if off_axis.any():  # at low frequencies the main lobe fills the field of view
        assert power[off_axis].max() < 0.1 * power.max()


def test_full_scale_sine_has_bin_magnitude_one_half(geometry):
    # the documented scale: spectra divided by the window's sum, mean over microphones
    t = np.arange(2 * 1024 + 4096) / FS
    frames = _frames_from(geometry, np.sin(2 * np.pi * 1200.0 * t), (320.0, 240.0), 1.0, num_frames=2)
    power = beamformer_for(geometry).power(frames)
    row, col = 17, 24
    distances = np.linalg.norm(geometry.mic_positions - geometry.back_project(np.array([320.0, 240.0]), 1.0), axis=1)
    assert power[:, row:row + 2, col:col + 2, 100].max() == pytest.approx(0.25 * np.mean(1 / distances) ** 2, rel=0.05)


def test_mel_filterbank_equals_librosa():
    ours = mel_filterbank(FS, 1024, 26, 50.0, 6144.0)
    reference = librosa.filters.mel(sr=FS, n_fft=1024, n_mels=26, fmin=50.0, fmax=6144.0)
    np.testing.assert_allclose(ours, reference, rtol=1e-5, atol=1e-9)


def test_compression_matches_librosa_mel_and_scipy_dct(rng):
    power = rng.gamma(0.5, 1e-6, size=(3, 4, 5, 512)).astype(np.float32)
    params = CompressionParams()
    mel = librosa.filters.mel(sr=FS, n_fft=1024, n_mels=params.n_mels, fmin=params.fmin, fmax=params.fmax)[:, :512]
    log_mel = np.log(power.astype(np.float64) @ mel.T + params.log_floor)
    reference = scipy.fft.dct(log_mel, type=2, norm="ortho", axis=-1)[..., :12]
    ours = compress(power)
    assert ours.shape == (3, 4, 5, 12) and ours.dtype == np.float32
    np.testing.assert_allclose(ours, reference, rtol=1e-4, atol=1e-3)


def test_acoustic_images_from_int32_frames(geometry, rng):
    signal = band_limited_noise(rng, 3 * 1024 + 4096)
    frames = _frames_from(geometry, 0.05 * signal, (480.0, 300.0), 3.0, num_frames=3)
    audio = quantise(frames)
    assert audio.dtype == np.int32 and np.all(audio % 256 == 0)  # 24-bit samples, left-justified
    images = acoustic_images(audio, geometry)
    assert images.shape == (3, 36, 48, 12) and images.dtype == np.float32
    direct = compress(beamformer_for(geometry).power(audio / INT32_FULL_SCALE))
    np.testing.assert_allclose(images, direct, rtol=1e-5)
    # c0 (log energy) peaks at the source
    peak = np.unravel_index(np.argmax(images[..., 0].mean(axis=0)), (36, 48))
    assert np.all(np.abs(np.asarray(peak) - geometry.pixel_to_cell(np.array([480.0, 300.0]))) <= 1.0)
