"""Audio features in the graph against librosa (the mel spectrogram) and scipy (the DCT)."""
import librosa
import numpy as np
import pytest
import scipy.fft

from dataloader.features import lifter_weights, log_mel, mel_filterbank, mfcc, power_spectrum

RATE = 12_288


def _pre_emphasised(signal: np.ndarray, coefficient: float) -> np.ndarray:
    return np.append(signal[0], signal[1:] - coefficient * signal[:-1])


def test_the_filterbank_is_librosas_htk_mel():
    weights = mel_filterbank(RATE, 512, 26)
    assert weights.shape == (257, 26) and weights.dtype == np.float32
    reference = librosa.filters.mel(sr=RATE, n_fft=512, n_mels=26, fmax=RATE / 2, htk=True, norm=None)
    np.testing.assert_allclose(weights, reference.T, rtol=1e-6)


def test_log_mel_of_hann_frames_equals_librosas_mel_spectrogram(rng):
    signal = rng.standard_normal(2 * RATE).astype(np.float32)  # power in every band: no log of float32 rounding
    ours = log_mel(power_spectrum(signal, 512, 160, 512), RATE, 40).numpy()
    reference = librosa.feature.melspectrogram(y=signal, sr=RATE, n_fft=512, hop_length=160, window="hann",
                                               center=False, power=2.0, n_mels=40, htk=True, norm=None)
    assert ours.shape == reference.T.shape == (1 + (2 * RATE - 512) // 160, 40)
    np.testing.assert_allclose(ours, np.log(reference.T / 512), atol=1e-4)


def test_mfcc_follows_python_speech_features(rng):
    signal = (1000 * rng.standard_normal(5120)).astype(np.float32)
    ours = mfcc(signal, RATE, 512, 256).numpy()
    assert ours.shape == (20, 13)  # UltraSync's 20 x 13 for a 417-ms window
    emphasised = _pre_emphasised(signal.astype(np.float64), 0.97)
    padded = np.pad(emphasised, (0, 512))
    frames = np.stack([padded[i * 256:i * 256 + 512] for i in range(20)])  # rectangular, zero-padded at the end
    power = np.abs(np.fft.rfft(frames, 512)) ** 2 / 512
    # librosa's mel spectrogram of the same rectangular frames
    mel = librosa.feature.melspectrogram(S=power.T * 512, sr=RATE, n_fft=512, n_mels=26, htk=True, norm=None,
                                         fmax=RATE / 2).T / 512
    cepstra = scipy.fft.dct(np.log(mel), type=2, norm="ortho", axis=-1)[:, :13]
    cepstra *= 1 + 11 * np.sin(np.pi * np.arange(13) / 22)
    cepstra[:, 0] = np.log(power.sum(axis=1))
    np.testing.assert_allclose(ours, cepstra, rtol=1e-4, atol=2e-3)


def test_the_lifter_is_python_speech_features():
    expected = [1.0, *(1 + 11 * np.sin(n * np.pi / 22) for n in (1, 2, 3))]
    np.testing.assert_allclose(lifter_weights(4, 22), expected, rtol=1e-6)


def test_silence_gives_the_floor_not_minus_infinity():
    cepstra = mfcc(np.zeros(5120, np.float32), RATE, 512, 256).numpy()
    assert np.isfinite(cepstra).all()
    assert cepstra[0, 0] == pytest.approx(np.log(1e-10), rel=1e-5)


def test_an_unknown_window_is_refused():
    with pytest.raises(ValueError, match="window"):
        power_spectrum(np.zeros(1024, np.float32), 512, 256, 512, window="hamming")
