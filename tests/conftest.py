import sys

import numpy as np
import pytest

from dualcam.geometry import default_geometry


def _op_determinism() -> bool:
    if "tensorflow" not in sys.modules:
        return False
    from tensorflow.python.framework import config

    return config.is_op_determinism_enabled()


@pytest.fixture(autouse=True)
def _op_determinism_left_as_found():
    """Op determinism is process-wide, and a test that turns it on (or runs main.py with
    --deterministic) would change the tests after it: XLA, for one, has no deterministic
    max-pool gradient and refuses to compile."""
    before = _op_determinism()
    yield
    if not before and _op_determinism():
        from tensorflow.python.framework import config

        config.disable_op_determinism()


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


@pytest.fixture(scope="session")
def simulated_acivw(tmp_path_factory):
    """Three classes x three 3-s recordings, simulated, converted and split (2 training and 1
    validation recording per class; validation doubles as the test list). Shared by every
    test that trains or evaluates, since simulating it takes half a minute."""
    import convert_data
    import framecount
    import generate_lists
    from dataloader import stats
    from dualcam.simulate import simulate_dataset

    root = tmp_path_factory.mktemp("simulated_acivw")
    simulate_dataset(root / "raw", "acivw", seconds=3.0, seed=5, classes=[0, 1, 2], recordings_per_class=3,
                     progress=False)
    assert framecount.main([str(root / "raw"), "0"]) == 0
    assert convert_data.main([str(root / "raw"), str(root / "tfr"), "--modalities", "0", "1", "2", "--quiet"]) == 0
    assert generate_lists.main([str(root / "tfr")]) == 0
    lists = root / "tfr" / "lists"
    statistics = root / "acoustic_image_stats.npz"
    assert stats.main([str(lists / "training.txt"), "--input", "acoustic_image", "--out", str(statistics)]) == 0
    return {"raw": root / "raw", "lists": lists, "train_file": str(lists / "training.txt"),
            "valid_file": str(lists / "validation.txt"), "test_file": str(lists / "validation.txt"),
            "acoustic_image_stats": str(statistics)}
