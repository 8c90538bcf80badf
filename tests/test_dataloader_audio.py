"""Audio inputs: resampling against librosa, spectrograms against a numpy reference computed
outside the pipeline, and the statistics tool against numpy."""
import dataclasses
import math
import os
import sys
import types

import librosa
import numpy as np
import pytest
import tensorflow as tf

from dataloader import audio, schema, stats
from dataloader.config import LoaderConfig
from dataloader.pipeline import make_dataset
from dataloader.presets import HEARNET_A, HEARNET_B

RATE_IN, RATE_OUT = 12_288, 22_050


def white_noise(rng, seconds: int) -> np.ndarray:
    return rng.standard_normal(RATE_IN * seconds).astype(np.float32)


def band_limited_noise(rng, seconds: int, high_hz: float = 5_500.0) -> np.ndarray:
    """Noise with the band of the recorded sounds (the simulated DualCam's too)."""
    spectrum = np.fft.rfft(rng.standard_normal(RATE_IN * seconds))
    spectrum[np.fft.rfftfreq(RATE_IN * seconds, 1 / RATE_IN) > high_hz] = 0
    return np.fft.irfft(spectrum).astype(np.float32)


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a, b)[0, 1])


TFIO_PROBLEM = audio.tfio_problem()
TFIO = pytest.param("tfio", marks=pytest.mark.skipif(
    TFIO_PROBLEM is not None, reason=f"tensorflow-io is optional and does not load here: {TFIO_PROBLEM}"))


@pytest.mark.parametrize("method", ["sinc", TFIO])
@pytest.mark.parametrize("seconds", [2, 5])
@pytest.mark.parametrize("signal", [white_noise, band_limited_noise])
def test_resampling_correlates_with_librosa(method, seconds, signal):
    x = signal(np.random.default_rng(seconds), seconds)
    reference = librosa.resample(x, orig_sr=RATE_IN, target_sr=RATE_OUT)  # soxr_hq, as the original
    resampled = audio.resample(tf.constant(x), RATE_IN, RATE_OUT, method).numpy()
    assert resampled.shape == reference.shape == (RATE_OUT * seconds,)
    assert correlation(resampled, reference) > (0.999 if signal is band_limited_noise else 0.99)


def test_resampling_keeps_a_sine_and_its_phase():
    t = np.arange(RATE_IN * 2) / RATE_IN
    resampled = audio.resample(tf.constant(np.sin(2 * np.pi * 440 * t), tf.float32), RATE_IN, RATE_OUT).numpy()
    expected = np.sin(2 * np.pi * 440 * np.arange(RATE_OUT * 2) / RATE_OUT)
    np.testing.assert_allclose(resampled[200:-200], expected[200:-200], atol=2e-3)


def test_resampling_of_a_batch_is_the_resampling_of_each_signal():
    x = np.random.default_rng(0).standard_normal((3, 5000)).astype(np.float32)
    batch = audio.resample(tf.constant(x), RATE_IN, RATE_OUT).numpy()
    assert batch.shape == (3, math.ceil(5000 * RATE_OUT / RATE_IN))
    for row, signal in zip(batch, x):
        np.testing.assert_allclose(row, audio.resample(tf.constant(signal), RATE_IN, RATE_OUT).numpy(), atol=1e-6)


def direct_resample(x: np.ndarray) -> np.ndarray:
    """The filter's definition, output by output: y[j] = sum_k x[k] h(j r_in / r_out - k)."""
    positions = np.arange(math.ceil(len(x) * RATE_OUT / RATE_IN)) * RATE_IN / RATE_OUT
    taps = np.floor(positions)[:, None].astype(int) + np.arange(-audio.SINC_HALF_WIDTH + 1, audio.SINC_HALF_WIDTH + 1)
    inside = (taps >= 0) & (taps < len(x))
    weights = audio.sinc_kernel(positions[:, None] - taps, 1.0)
    return np.sum(np.where(inside, weights * x[np.clip(taps, 0, len(x) - 1)], 0.0), axis=1)


def numpy_spectrogram(waveform: np.ndarray, frame_length: int, frame_step: int, fft_length: int) -> np.ndarray:
    """|rfft| of frames under a periodic Hann window, no end padding (tf.signal.stft's defaults)."""
    count = 1 + (len(waveform) - frame_length) // frame_step
    frames = np.stack([waveform[i * frame_step:i * frame_step + frame_length] for i in range(count)])
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(frame_length) / frame_length)
    return np.abs(np.fft.rfft(frames * window, n=fft_length))


@pytest.mark.parametrize("length, frame_length, frame_step", [(44_100, 440, 219), (110_250, 440, 220),
                                                               (1000, 100, 100), (1000, 64, 100), (999, 250, 31)])
def test_frames_are_tf_signal_frames(length, frame_length, frame_step):
    signal = tf.random.stateless_normal([2, length], seed=[0, length])
    expected = tf.signal.frame(signal, frame_length, frame_step)
    np.testing.assert_array_equal(audio.frames(signal, frame_length, frame_step).numpy(), expected.numpy())


@pytest.mark.parametrize("preset, frames", [(HEARNET_A, 200), (HEARNET_B, 500)])
def test_spectrogram_equals_numpy_and_has_the_frames_hearnet_takes(preset, frames):
    rng = np.random.default_rng(1)
    t = np.arange(RATE_OUT * preset.sample_length) / RATE_OUT
    waveform = (np.sin(2 * np.pi * 440 * t) + 0.1 * rng.standard_normal(len(t))).astype(np.float32)
    got = audio.spectrogram(tf.constant(waveform), preset.frame_length, preset.frame_step, preset.fft_length)
    expected = numpy_spectrogram(waveform.astype(np.float64), preset.frame_length, preset.frame_step, 512)
    assert got.shape == expected.shape == (frames, 257) and preset.spectrogram_frames == frames
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-4, atol=1e-4 * expected.max())
    assert np.all(np.argmax(expected, axis=1) == round(440 / RATE_OUT * 512))


def test_silence_stays_silent():
    silence = tf.zeros([RATE_IN * 2])
    waveform = audio.peak_normalise(audio.resample(silence, RATE_IN, RATE_OUT))
    assert np.all(waveform.numpy() == 0)
    assert np.all(audio.spectrogram(waveform, 440, 219, 512).numpy() == 0)


@pytest.fixture(scope="module")
def audio_records(tmp_path_factory):
    """Two ACIVW recordings of 6 s of band-limited noise at different levels, audio only."""
    root = tmp_path_factory.mktemp("audio")
    rng = np.random.default_rng(7)
    paths, signals = [], {}
    for video, level in ((1, 2.0**20), (2, 2.0**26)):
        signal = (band_limited_noise(rng, 6) * level).astype(np.int32)
        directory = root / f"class_3/data_{video:03d}"
        directory.mkdir(parents=True)
        for second in range(6):
            frames = signal[second * RATE_IN:(second + 1) * RATE_IN].reshape(12, 1, 1024)
            example = schema.make_sequence_example("acivw", {"classes": 3, "location": video}, audio_data=frames)
            path = str(directory / f"Data_{second + 1:03d}.tfrecord")
            schema.write_record_file(path, example)
            paths.append(path)
        signals[str(directory)] = signal
    list_path = root / "training.txt"
    list_path.write_text("".join(path + "\n" for path in paths))
    return {"list": str(list_path), "signals": signals, "root": root}


def reference_spectrogram(signal: np.ndarray, first_second: int, config: LoaderConfig) -> np.ndarray:
    """A window's spectrogram computed from the recording's samples without the pipeline."""
    start = (first_second - 1) * RATE_IN
    window = signal[start:start + RATE_IN * config.sample_length].astype(np.float64) / 2**31
    waveform = direct_resample(window)
    waveform /= np.abs(waveform).max()
    return numpy_spectrogram(waveform, config.frame_length, config.frame_step, config.fft_length)


def spectrograms(list_path, config) -> tuple[np.ndarray, list]:
    values, windows = [], []
    for batch in make_dataset(list_path, config, batch_size=4):
        values.append(batch["spectrogram"].numpy())
        windows += zip(batch["recording"].numpy(), batch["first_second"].numpy())
    return np.concatenate(values), windows


def test_pipeline_spectrograms_equal_a_reference_computed_without_it(audio_records):
    config = dataclasses.replace(HEARNET_A, training=False, normalisation=None)
    got, windows = spectrograms(audio_records["list"], config)
    assert got.shape == (6, 200, 1, 257)  # 3 windows of 2 s in each recording
    for value, (recording, first_second) in zip(got, windows):
        reference = reference_spectrogram(audio_records["signals"][recording.decode()], first_second, config)
        np.testing.assert_allclose(value[:, 0], reference, rtol=0, atol=2e-5 * reference.max())


def test_statistics_tool_gives_numpy_numbers_and_the_loader_normalises_with_them(audio_records, tmp_path):
    config = dataclasses.replace(HEARNET_A, training=False, normalisation=None)
    unnormalised, windows = spectrograms(audio_records["list"], config)
    out = tmp_path / "stats.npz"
    assert stats.main([audio_records["list"], "--preset", "hearnet_a", "--out", str(out), "--batch_size", "4"]) == 0
    saved = np.load(out)
    frames = unnormalised.reshape(-1, 257).astype(np.float64)
    for key, expected in (("mean", frames.mean(0)), ("std", frames.std(0)), ("min", frames.min(0)),
                          ("max", frames.max(0))):
        np.testing.assert_allclose(saved[key], expected, rtol=1e-9, atol=1e-12, err_msg=key)
    assert int(saved["count"]) == 6 * 200 and int(saved["windows"]) == 6
    assert str(saved["list"]) == os.path.abspath(audio_records["list"])

    for normalisation, shift, scale in (("mean_std", saved["mean"], saved["std"]),
                                        ("min_max", saved["min"], saved["max"] - saved["min"])):
        normalised = dataclasses.replace(config, normalisation=normalisation, stats_path=str(out))
        got, got_windows = spectrograms(audio_records["list"], normalised)
        assert got_windows == windows
        np.testing.assert_allclose(got, (unnormalised - shift) / scale, rtol=1e-5, atol=1e-5)
        if normalisation == "min_max":
            assert got.min() == pytest.approx(0, abs=1e-6) and got.max() == pytest.approx(1, abs=1e-6)
        else:
            np.testing.assert_allclose(got.reshape(-1, 257).mean(0), 0, atol=1e-4)


def test_waveform_is_the_resampled_peak_normalised_microphone(audio_records):
    config = LoaderConfig("acivw", ("waveform",), sample_length=2)
    batch = next(iter(make_dataset(audio_records["list"], config, batch_size=2)))
    for waveform, recording, first_second in zip(batch["waveform"].numpy(), batch["recording"].numpy(),
                                                 batch["first_second"].numpy()):
        signal = audio_records["signals"][recording.decode()]
        start = (first_second - 1) * RATE_IN
        window = signal[start:start + 2 * RATE_IN].astype(np.float32)
        reference = librosa.resample(window, orig_sr=RATE_IN, target_sr=RATE_OUT)
        reference /= np.abs(reference).max()
        assert waveform.shape == (2 * RATE_OUT, 1)
        assert correlation(waveform[:, 0], reference) > 0.999
        np.testing.assert_allclose(waveform[:, 0], reference, atol=0.02)


class _UnloadableOps:
    """tensorflow-io's lazy op library on a TensorFlow it was not built for."""

    def __getattr__(self, name):
        raise NotImplementedError("unable to open file: libtensorflow_io.so (undefined symbol)")


def _broken_tensorflow_io(monkeypatch) -> None:
    """tensorflow-io installed beside a TensorFlow its ops do not load on: it imports."""
    for name in ("tensorflow_io", "tensorflow_io.python", "tensorflow_io.python.ops"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    sys.modules["tensorflow_io.python.ops"].core_ops = _UnloadableOps()


@pytest.mark.parametrize("installed, problem", [
    (lambda monkeypatch: monkeypatch.setitem(sys.modules, "tensorflow_io", None), "tensorflow_io"),
    (_broken_tensorflow_io, "unable to open file: libtensorflow_io.so"),
], ids=["absent", "ops_do_not_load"])
def test_the_tfio_resampler_without_a_working_tensorflow_io_says_what_to_use(monkeypatch, installed, problem):
    installed(monkeypatch)
    assert problem in audio.tfio_problem()
    with pytest.raises(ImportError, match=f"resampler 'tfio' needs tensorflow-io.*{problem}.*'sinc'"):
        audio.resample(tf.zeros([100]), RATE_IN, RATE_OUT, "tfio")
