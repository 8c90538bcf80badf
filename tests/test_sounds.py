import numpy as np
import pytest

from dataloader.datasets import ACIVW_SPEC, AVIA_SPEC
from dualcam import sounds
from dualcam.sounds import SOUND_NAMES, Variation, sample_variation, synthesize

SUBJECTS = AVIA_SPEC.label("subject").depth

SR = 12_288


def _spectrum(x: np.ndarray, sample_rate: int = SR) -> tuple[np.ndarray, np.ndarray]:
    return np.fft.rfftfreq(len(x), 1 / sample_rate), np.abs(np.fft.rfft(x)) ** 2


def _frame_energy(x: np.ndarray, frame: int = 123) -> np.ndarray:
    """Energy per 10 ms frame."""
    return (x[: len(x) // frame * frame].reshape(-1, frame) ** 2).mean(axis=1)


def _swishes(x: np.ndarray) -> int:
    """Counts amplitude-modulation cycles: rises of the smoothed envelope from below its
    40th percentile to above its 60th."""
    envelope = np.convolve(np.sqrt(_frame_energy(x, 256)), np.ones(3) / 3, mode="same")
    low, high = np.percentile(envelope, [40, 60])
    count, armed = 0, False
    for value in envelope:
        if value < low:
            armed = True
        elif value > high and armed:
            count, armed = count + 1, False
    return count


def test_names_are_the_two_datasets_classes():
    assert SOUND_NAMES == ACIVW_SPEC.class_names + AVIA_SPEC.class_names
    assert len(set(SOUND_NAMES)) == 24


@pytest.mark.parametrize("name", SOUND_NAMES)
def test_every_sound_is_unit_rms_band_limited_and_without_dc(name):
    x = synthesize(name, 3.0, Variation(seed=7, brightness=2.0))
    assert x.dtype == np.float64 and x.shape == (3 * SR,)
    assert np.all(np.isfinite(x))
    assert np.sqrt(np.mean(x**2)) == pytest.approx(1.0, abs=1e-9)
    assert abs(x.mean()) < 1e-9
    freqs, power = _spectrum(x)
    assert power[freqs > 5800].sum() < 0.01 * power.sum()
    assert power[(freqs >= 80) & (freqs <= 5500)].sum() > 0.9 * power.sum()


@pytest.mark.parametrize("seconds, sample_rate",
                         [(1.0, SR), (0.5, SR), (2.37, SR), (2 / SR, SR), (1.0, 16_000)])
def test_length_is_seconds_times_rate(seconds, sample_rate):
    x = synthesize("clapping", seconds, Variation(seed=1), sample_rate=sample_rate)
    assert len(x) == round(seconds * sample_rate)
    assert np.sqrt(np.mean(x**2)) == pytest.approx(1.0, abs=1e-9)


@pytest.mark.parametrize("name", ["stick_dropping", "whistling", "paper_ripping", "drill"])
def test_short_clips_of_sparse_or_gated_sounds_are_not_silent(name):
    for seed in range(10):
        x = synthesize(name, 0.1, Variation(seed=seed))
        assert np.all(np.isfinite(x)) and np.sqrt(np.mean(x**2)) == pytest.approx(1.0)


def test_synthesis_is_deterministic_and_ignores_global_random_state():
    variation = Variation(pitch=1.05, rate=0.9, brightness=-1.0, seed=3)
    np.random.seed(0)
    a = synthesize("speaking", 2.0, variation)
    np.random.seed(1)
    b = synthesize("speaking", 2.0, variation)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("change", [{"seed": 4}, {"pitch": 1.1}, {"rate": 1.2}, {"brightness": 2.0}])
def test_every_variation_field_changes_the_sound(change):
    base = dict(pitch=1.0, rate=1.0, brightness=0.0, seed=3)
    for name in ("hoover", "typing"):
        a = synthesize(name, 2.0, Variation(**base))
        b = synthesize(name, 2.0, Variation(**{**base, **change}))
        assert np.abs(a - b).max() > 0.1


def test_pitch_scales_frequencies():
    for name in ("whistling", "drill"):
        peaks = []
        for pitch in (1.0, 1.15):
            freqs, power = _spectrum(synthesize(name, 4.0, Variation(pitch=pitch, seed=5)))
            peaks.append(freqs[np.argmax(power)])
        assert peaks[1] / peaks[0] == pytest.approx(1.15, rel=0.02)


def test_rate_scales_modulation():
    # Shaking at 4 Hz: 10 s at rates 0.9 and 1.2 hold about 36 and 48 swishes.
    slow = _swishes(synthesize("paper_shaking", 10.0, Variation(rate=0.9, seed=2)))
    fast = _swishes(synthesize("paper_shaking", 10.0, Variation(rate=1.2, seed=2)))
    assert 30 <= slow <= 42
    assert fast / slow == pytest.approx(1.2 / 0.9, rel=0.06)


def test_brightness_tilts_the_spectrum():
    centroids = []
    for brightness in (-3.0, 0.0, 3.0):
        freqs, power = _spectrum(synthesize("fountain", 2.0, Variation(brightness=brightness, seed=9)))
        centroids.append((freqs * power).sum() / power.sum())
    assert centroids[0] + 200 < centroids[1] < centroids[2] - 200


def test_impact_sounds_are_sparse_and_steady_sounds_are_not():
    def quiet_fraction(name):
        energy = _frame_energy(synthesize(name, 6.0, Variation(seed=11)))
        return np.mean(energy < 0.01 * np.percentile(energy, 99))

    for name in ("clapping", "snapping_fingers", "knocking", "stick_dropping", "clicking"):
        assert quiet_fraction(name) > 0.5, name
    for name in ("fountain", "hair_dryer", "razor", "boat", "train"):
        assert quiet_fraction(name) == 0.0, name


def test_similar_spectra_differ_in_time():
    # Broadband noise both, but paper is shaken in swishes while a fountain runs steadily.
    def modulation(name):
        envelope = np.sqrt(_frame_energy(synthesize(name, 6.0, Variation(seed=12)), 512))
        return envelope.std() / envelope.mean()

    assert modulation("paper_shaking") > 3 * modulation("fountain")


def _band_features(x: np.ndarray) -> np.ndarray:
    """Mean log energies in 16 log-spaced bands (a coarse log-mel), level removed."""
    frames = x[: len(x) // 512 * 512].reshape(-1, 512) * np.hanning(512)
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    freqs = np.fft.rfftfreq(512, 1 / SR)
    edges = np.geomspace(80, 5500, 17)
    bands = np.stack([power[:, (freqs >= lo) & (freqs < hi)].sum(axis=1)
                      for lo, hi in zip(edges[:-1], edges[1:])], axis=1)
    logs = np.log(bands.mean(axis=0) + 1e-12)
    return logs - logs.mean()


def test_classes_are_learnable_but_families_overlap():
    rng = np.random.default_rng(0)
    per_class = 5
    features = np.array([_band_features(synthesize(name, 2.0, sample_variation(rng)))
                         for name in SOUND_NAMES for _ in range(per_class)])
    labels = np.repeat(np.arange(len(SOUND_NAMES)), per_class)
    correct = 0
    for i in range(len(features)):  # leave-one-out nearest class centroid
        others = np.arange(len(features)) != i
        centroids = np.array([features[others & (labels == c)].mean(axis=0) for c in range(len(SOUND_NAMES))])
        correct += np.argmin(((centroids - features[i]) ** 2).sum(axis=1)) == labels[i]
    assert correct / len(features) > 0.5  # chance is 1/24

    centroids = np.array([features[labels == c].mean(axis=0) for c in range(len(SOUND_NAMES))])
    distance = np.sqrt(((centroids[:, None] - centroids[None]) ** 2).sum(axis=-1))
    median = np.median(distance[~np.eye(len(SOUND_NAMES), dtype=bool)])
    index = {name: i for i, name in enumerate(SOUND_NAMES)}
    for a, b in [("train", "traffic"), ("hair_dryer", "hoover"), ("fountain", "paper_shaking")]:
        assert distance[index[a], index[b]] < 0.6 * median, (a, b)


def test_sample_variation_ranges():
    rng = np.random.default_rng(0)
    variations = [sample_variation(rng) for _ in range(300)]
    pitch = np.array([v.pitch for v in variations])
    rate = np.array([v.rate for v in variations])
    brightness = np.array([v.brightness for v in variations])
    assert 0.9 <= pitch.min() and pitch.max() <= 1.1 and pitch.std() > 0.04
    assert 0.8 <= rate.min() and rate.max() <= 1.2 and rate.std() > 0.08
    assert -2 <= brightness.min() and brightness.max() <= 2 and brightness.std() > 0.8
    assert len({v.seed for v in variations}) == 300


def test_subjects_shift_variation_consistently():
    offsets = []
    for subject in range(1, SUBJECTS + 1):
        ratios = []
        for seed in range(20):
            plain = sample_variation(np.random.default_rng(seed))
            own = sample_variation(np.random.default_rng(seed), subject=subject)
            assert own.seed == plain.seed
            ratios.append((own.pitch / plain.pitch, own.rate / plain.rate, own.brightness - plain.brightness))
        ratios = np.array(ratios)
        # The same offset whatever the recording.
        np.testing.assert_allclose(ratios, ratios[:1].repeat(20, axis=0), atol=1e-12)
        offsets.append(ratios[0])
    offsets = np.array(offsets)
    assert np.all(np.abs(np.log(offsets[:, 0])) <= 0.05) and np.all(np.abs(np.log(offsets[:, 1])) <= 0.1)
    assert np.all(np.abs(offsets[:, 2]) <= 1.0)
    assert len(np.unique(offsets.round(6), axis=0)) == SUBJECTS  # subjects differ from each other


@pytest.mark.parametrize("subject", [0, SUBJECTS + 1])
def test_unknown_subject_is_rejected(subject):
    with pytest.raises(ValueError, match="subject"):
        sample_variation(np.random.default_rng(0), subject=subject)


def test_bad_arguments_are_rejected():
    with pytest.raises(ValueError, match="train.*stick_dropping"):
        synthesize("violin", 1.0, Variation(seed=0))
    with pytest.raises(ValueError, match="seconds"):
        synthesize("train", 0.0, Variation(seed=0))
    with pytest.raises(ValueError, match="positive"):
        Variation(pitch=0.0, seed=0)
    with pytest.raises(TypeError):
        Variation()  # a seed is required
    with pytest.raises(ValueError, match="3 variants"):
        synthesize("train", 1.0, Variation(seed=0, variant=3))
    with pytest.raises(ValueError, match="struck"):
        sounds.impact_schedule("drill", 1.0, Variation(seed=0))


@pytest.mark.parametrize("name", sorted(sounds.VARIANTS))
def test_variants_of_a_class_sound_different(name):
    """Each kind of object of a class has its own spectrum, beyond a recording's variation."""
    features = [_band_features(synthesize(name, 3.0, Variation(seed=2, variant=k)))
                for k in range(len(sounds.variants(name)))]
    for i in range(len(features)):
        for j in range(i):
            assert np.abs(features[i] - features[j]).max() > 1.0, (name, i, j)


def test_every_struck_object_has_one_struck_layer():
    for name in sounds.STRUCK:
        assert sum(isinstance(layer, sounds.Impacts) for layer in sounds.RECIPES[name].layers) == 1, name


@pytest.mark.parametrize("name", sounds.STRUCK)
def test_a_struck_object_is_heard_at_its_impacts_and_nowhere_else(name):
    impacts = np.array([0.3, 1.1, 1.9]), np.zeros(3, dtype=int)
    x = synthesize(name, 2.5, Variation(seed=6), impacts=impacts)
    energy = _frame_energy(x)  # 10 ms frames
    loud = np.flatnonzero(energy > 1e-3 * energy.max())
    onsets = loud[np.concatenate([[True], np.diff(loud) > 1])] * 123 / SR
    assert np.all(np.abs(onsets - impacts[0]) < 0.011), onsets  # within the frame of each impact
    ring = sounds.ring_seconds(name)
    assert np.all(energy[int((impacts[0][-1] + ring) * SR / 123) + 2:] < 1e-3 * energy.max())


def test_impact_schedule_is_the_variations_and_apart_from_the_sounds_draws():
    a = sounds.impact_schedule("knocking", 10.0, Variation(seed=1))
    b = sounds.impact_schedule("knocking", 10.0, Variation(seed=1))
    c = sounds.impact_schedule("knocking", 10.0, Variation(seed=2))
    np.testing.assert_array_equal(a[0], b[0])
    assert len(a[0]) != len(c[0]) or np.abs(a[0] - c[0]).max() > 0.01
    assert np.all((a[0] >= 0) & (a[0] < 10.0)) and np.all(np.diff(a[0]) > 0)


def test_a_sound_file_reads_as_mono_band_limited_unit_rms(tmp_path):
    import soundfile

    t = np.arange(22050) / 22050
    stereo = np.stack([np.sin(2 * np.pi * 440 * t), np.sin(2 * np.pi * 7000 * t)], axis=1) * 0.3
    soundfile.write(tmp_path / "two.wav", stereo, 22050)
    x = sounds.read_sound_file(str(tmp_path / "two.wav"))
    assert len(x) == SR and np.sqrt(np.mean(x**2)) == pytest.approx(1.0)
    freqs, power = _spectrum(x)
    assert power[freqs > 5700].sum() < 1e-6 * power.sum()  # 7 kHz is above the band (and aliasing)
    assert abs(freqs[np.argmax(power)] - 440) < 2


@pytest.mark.parametrize("content, problem", [(b"not audio", "not a readable sound file"), (None, "silent")])
def test_a_bad_sound_file_is_named(tmp_path, content, problem):
    import soundfile

    path = tmp_path / "bad.wav"
    if content is None:
        soundfile.write(path, np.zeros(8000), 8000)
    else:
        path.write_bytes(content)
    with pytest.raises(ValueError, match=f"{path}: .*{problem}"):
        sounds.read_sound_file(str(path))
