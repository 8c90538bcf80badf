import numpy as np
import pytest
import scipy.signal

from dualcam.propagation import NoiseField, block_times, phase_ramp, point_source, point_sources, quantise
from tests.conftest import band_limited_noise

FS = 12_288


def test_phase_ramp_equals_exponential(rng):
    step = rng.uniform(-0.2, 0.2, size=(3, 5))
    np.testing.assert_allclose(phase_ramp(step, 1025), np.exp(1j * step[..., None] * np.arange(1025)), atol=1e-12)


def test_static_source_gets_exact_fractional_delay_and_1_over_r(geometry, rng):
    num_samples, preroll = 8192, 2048
    signal = band_limited_noise(rng, num_samples + 2 * preroll)
    position = np.array([0.7, -0.4, 3.2])
    positions = np.repeat(position[None], len(block_times(num_samples, FS)), axis=0)
    field = point_source(signal, preroll, positions, geometry.mic_positions, FS, 343.0, num_samples)
    distances = np.linalg.norm(geometry.mic_positions - position, axis=1)
    spectrum = np.fft.rfft(signal)
    freqs = np.fft.rfftfreq(len(signal), 1.0 / FS)
    reference = np.fft.irfft(spectrum * np.exp(-2j * np.pi * freqs * distances[:, None] / 343.0), n=len(signal))
    reference = reference[:, preroll:preroll + num_samples] / distances[:, None]
    assert np.abs(field - reference).max() < 1e-4 * np.abs(reference).max()


def test_moving_source_delay_follows_the_path(geometry, rng):
    """A source moving 1 m sideways: the arrival time difference between the two outermost
    microphones on the x axis changes sign as it passes the axis."""
    num_samples, preroll = 12 * 1024, 2048
    signal = band_limited_noise(rng, num_samples + 2 * preroll)
    times = block_times(num_samples, FS)
    positions = np.stack([np.interp(times, [0, times[-1]], [-0.5, 0.5]), np.zeros_like(times),
                          np.full_like(times, 1.0)], axis=1)
    field = point_source(signal, preroll, positions, geometry.mic_positions, FS, 343.0, num_samples)
    left, right = np.argmin(geometry.mic_positions[:, 0]), np.argmax(geometry.mic_positions[:, 0])

    def lag(a, b):
        corr = scipy.signal.correlate(a, b, mode="full", method="fft")
        return np.argmax(corr) - (len(b) - 1)

    first, last = slice(0, 3000), slice(num_samples - 3000, num_samples)
    assert lag(field[right, first], field[left, first]) > 3  # nearer to the left microphone first
    assert lag(field[right, last], field[left, last]) < -3


def test_too_short_preroll_is_refused(geometry):
    positions = np.repeat(np.array([[0.0, 0.0, 30.0]]), len(block_times(1024, FS)), axis=0)
    with pytest.raises(ValueError, match="preroll"):
        point_source(np.zeros(4096), 100, positions, geometry.mic_positions, FS, 343.0, 1024)


def test_diffuse_noise_has_unit_rms_and_isotropic_coherence(geometry, rng):
    noise = NoiseField(geometry).generate(12 * 1024 * 2, rng, lambda f: np.where(f > 50, 1.0, 0.0))
    np.testing.assert_allclose(noise.std(axis=1).mean(), 1.0, rtol=0.05)
    mics = geometry.mic_positions
    spacing = np.linalg.norm(mics[:, None] - mics[None], axis=-1)
    i, j = np.unravel_index(np.argmin(np.abs(spacing - 0.1)), spacing.shape)
    freqs, cross = scipy.signal.csd(noise[i], noise[j], fs=FS, nperseg=512)
    _, auto_i = scipy.signal.welch(noise[i], fs=FS, nperseg=512)
    _, auto_j = scipy.signal.welch(noise[j], fs=FS, nperseg=512)
    coherence = cross.real / np.sqrt(auto_i * auto_j)
    expected = np.sinc(2 * freqs * spacing[i, j] / geometry.speed_of_sound)
    band = (freqs > 200) & (freqs < 5000)
    assert np.abs(coherence[band] - expected[band]).mean() < 0.08


def test_incoherent_noise_is_uncorrelated(geometry, rng):
    noise = NoiseField(geometry).generate(4096, rng, lambda f: np.ones_like(f), coherent=False)
    correlation = np.corrcoef(noise[:16])
    assert np.abs(correlation[~np.eye(16, dtype=bool)]).max() < 0.1


def test_quantise_is_24_bit_left_justified_and_clips():
    samples = quantise(np.array([0.0, 0.5, -0.5, 2.0, -2.0, 1e-9]))
    np.testing.assert_array_equal(samples, [0, 2**30, -(2**30), 2**31 - 256, -(2**31), 0])


def test_several_images_of_a_source_sum_as_each_alone(geometry, rng):
    """A source and its mirror images, summed before the inverse transform, give what each
    gives alone, added."""
    n, fs = 4096, geometry.sample_rate
    signal = band_limited_noise(rng, n + 4096)
    blocks = len(block_times(n, fs))
    images = [(np.tile([0.3, -0.2, 2.0], (blocks, 1)), 1.0), (np.tile([0.3, 2.6, 2.0], (blocks, 1)), 0.6),
              (np.tile([-4.0, -0.2, 2.0], (blocks, 1)), -0.3)]
    together = point_sources(signal, 2048, images, geometry.mic_positions, fs, geometry.speed_of_sound, n)
    alone = sum(point_source(signal, 2048, where, geometry.mic_positions, fs, geometry.speed_of_sound, n, gain=gain)
                for where, gain in images)
    np.testing.assert_allclose(together, alone, rtol=0, atol=1e-12 * np.abs(alone).max())
