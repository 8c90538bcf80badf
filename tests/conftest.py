import numpy as np
import pytest

from dualcam.geometry import default_geometry


@pytest.fixture(scope="session")
def geometry():
    return default_geometry()


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def band_limited_noise(rng: np.random.Generator, num_samples: int, sample_rate: int = 12_288,
                       high_hz: float = 5_500.0, low_hz: float = 100.0) -> np.ndarray:
    """White noise with no energy outside [low_hz, high_hz]: the band every simulated sound
    lives in, where fractional delays are exact."""
    spectrum = np.fft.rfft(rng.standard_normal(num_samples))
    freqs = np.fft.rfftfreq(num_samples, 1.0 / sample_rate)
    spectrum[(freqs > high_hz) | (freqs < low_hz)] = 0.0
    signal = np.fft.irfft(spectrum, n=num_samples)
    return signal / signal.std()
