import hashlib
import os
import subprocess
import sys
import threading
from pathlib import Path

import librosa
import numpy as np
import pytest

from dualcam import speech

SR = 12_288
SUBJECTS = range(1, 10)
needs_espeak = pytest.mark.skipif(not speech.available(),
                                  reason="eSpeak NG cannot be loaded here: pip install espeakng-loader")


def _sha1(x: np.ndarray) -> str:
    return hashlib.sha1(x.tobytes()).hexdigest()


def _islands(x: np.ndarray, frame: int = 61, gap: float = 0.1) -> list[tuple[float, float]]:
    """(start, end) in seconds of the sounding stretches: 5-ms frames within 50 dB of the
    loudest, apart from the next by at least `gap` seconds of quieter frames."""
    rms = np.sqrt((x[: len(x) // frame * frame].reshape(-1, frame) ** 2).mean(axis=1))
    active = np.flatnonzero(rms > 10 ** (-50 / 20) * rms.max())
    breaks = np.flatnonzero(np.diff(active) * frame / SR > gap)
    starts = np.concatenate([[active[0]], active[breaks + 1]])
    ends = np.concatenate([active[breaks], [active[-1]]]) + 1
    return [(s * frame / SR, e * frame / SR) for s, e in zip(starts, ends)]


def test_sentences_are_short_and_plain():
    assert 35 <= len(speech.SENTENCES) <= 45
    assert len(set(speech.SENTENCES)) == len(speech.SENTENCES)
    for sentence in speech.SENTENCES:
        assert 4 <= len(sentence.split()) <= 10, sentence
        assert all(c.isalpha() or c in " ,.?'" for c in sentence), sentence


def test_subjects_have_distinct_voices():
    voices = [speech.subject_voice(s) for s in SUBJECTS]
    assert len(set(voices)) == 9
    assert len({v.variant for v in voices}) == 9 and len({v.pitch for v in voices}) >= 7
    assert sorted(v.gender for v in voices) == ["man"] * 5 + ["woman"] * 4
    assert speech.subject_voice(3) == speech.subject_voice(3)
    assert len({speech.subject_voice(s) for s in range(1, 1770)}) == 1769
    with pytest.raises(ValueError, match="positive"):
        speech.subject_voice(0)


def test_voice_is_checked():
    with pytest.raises(ValueError, match="pitch"):
        speech.Voice("m3", pitch=120, pitch_range=50, rate=170, gender="man")
    with pytest.raises(ValueError, match="rate"):
        speech.Voice("m3", pitch=50, pitch_range=50, rate=20, gender="man")
    with pytest.raises(ValueError, match="gender"):
        speech.Voice("m3", pitch=50, pitch_range=50, rate=170, gender="male")


@needs_espeak
def test_unknown_variant_names_the_known_ones():
    with pytest.raises(ValueError, match=r"'m99'.*m3"):
        speech.speak("Hello there.", speech.Voice("m99", pitch=50, pitch_range=50, rate=170, gender="man"))


@needs_espeak
def test_speech_is_plausible():
    x = speech.speak("Could you pass me the blue folder?", speech.subject_voice(1))
    assert x.dtype == np.float64 and x.ndim == 1 and np.isfinite(x).all()
    assert 0.8 < len(x) / SR < 5.0
    assert not x.flags.writeable
    # Silence trimmed to 5 ms at either end.
    loud = np.flatnonzero(np.abs(x) > 1e-2 * np.abs(x).max())
    assert loud[0] / SR < 0.02 and (len(x) - loud[-1]) / SR < 0.02
    # Unit RMS over the speech: the whole clip, pauses included, is a little quieter.
    assert 0.6 < np.sqrt(np.mean(x**2)) <= 1.0 and 2.0 < np.abs(x).max() < 15.0
    power = np.abs(np.fft.rfft(x)) ** 2
    below = np.fft.rfftfreq(len(x), 1 / SR) < 5500
    assert power[below].sum() > 0.99 * power.sum()
    longer = speech.speak("Please write your name on the list and bring it to the office.", speech.subject_voice(1))
    assert len(longer) > 1.3 * len(x)


@needs_espeak
def test_sample_rate_changes_the_samples_not_the_duration():
    sentence, voice = speech.SENTENCES[5], speech.subject_voice(4)
    durations = [len(speech.speak(sentence, voice, rate)) / rate for rate in (12_288, 16_000, 22_050)]
    assert np.ptp(durations) < 1e-3


@needs_espeak
def test_repeats_are_bit_identical_whatever_was_said_before():
    sentence, voice = speech.SENTENCES[0], speech.subject_voice(2)
    first = speech.speak(sentence, voice)
    assert speech.speak(sentence, voice) is first  # cached
    speech._speak.cache_clear()
    speech.speak(speech.SENTENCES[1], speech.subject_voice(7))  # eSpeak's state moves on
    again = speech.speak(sentence, voice)
    assert again is not first and again.tobytes() == first.tobytes()


@needs_espeak
def test_another_process_says_the_same_bits():
    # f5 breathes: its noise comes from the generator eSpeak seeds with the clock.
    voices = [speech.subject_voice(6), speech.Voice("f5", pitch=50, pitch_range=50, rate=170, gender="woman")]
    sentence = speech.SENTENCES[7]
    code = ("import hashlib; from dualcam import speech; from dualcam.speech import Voice; "
            f"print(*(hashlib.sha1(speech.speak({sentence!r}, v).tobytes()).hexdigest() for v in {voices!r}))")
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root)}
    out = subprocess.run([sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == [_sha1(speech.speak(sentence, v)) for v in voices]


@needs_espeak
def test_threads_get_what_one_thread_gets():
    jobs = [(speech.SENTENCES[k], speech.subject_voice(s)) for k, s in ((10, 1), (11, 2), (12, 3), (13, 4))]
    speech._speak.cache_clear()
    alone = [_sha1(speech.speak(*job)) for job in jobs]
    speech._speak.cache_clear()
    together = [None] * len(jobs)

    def run(i):
        together[i] = _sha1(speech.speak(*jobs[i]))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert together == alone


@pytest.fixture(scope="module")
def said():
    """Sentences 0..5 said by each of subjects 1..9."""
    return {(s, k): speech.speak(speech.SENTENCES[k], speech.subject_voice(s)) for s in SUBJECTS for k in range(6)}


@needs_espeak
def test_women_speak_higher_than_men(said):
    f0 = {s: np.median([np.median(librosa.yin(said[s, k], fmin=60, fmax=400, sr=SR, frame_length=1024))
                        for k in range(6)]) for s in SUBJECTS}
    men = [f0[s] for s in SUBJECTS if speech.subject_voice(s).gender == "man"]
    women = [f0[s] for s in SUBJECTS if speech.subject_voice(s).gender == "woman"]
    assert 70 < min(men) and max(men) < 140 and 150 < min(women) and max(women) < 280
    assert min(women) > 1.25 * max(men)


@needs_espeak
@pytest.mark.parametrize("a, b", [(0, 1), (2, 3), (4, 5)])
def test_a_subject_sounds_like_itself_across_sentences(said, a, b):
    """Mean MFCC (13 coefficients, librosa's defaults, over all frames) as an embedding. For
    each ordered pair of subjects s != t (72), count whether s's sentence a is closer
    (euclidean) to s's sentence b than to t's sentence a: the speaker, not the words, decides.
    All 72 hold today; 90 % are required."""
    def embed(x):
        return librosa.feature.mfcc(y=x, sr=SR, n_mfcc=13).mean(axis=1)

    e = {key: embed(x) for key, x in said.items() if key[1] in (a, b)}
    wins = [np.linalg.norm(e[s, a] - e[s, b]) < np.linalg.norm(e[s, a] - e[t, a])
            for s in SUBJECTS for t in SUBJECTS if s != t]
    assert sum(wins) >= 0.9 * len(wins)


@needs_espeak
def test_words_are_where_the_sound_is():
    x, words = speech.speak_with_words("One. Two. Three.", speech.subject_voice(2))
    assert [w for w, _, _ in words] == ["One", "Two", "Three"]
    islands = _islands(x)
    assert len(islands) == 3
    for (_, start, end), (island_start, island_end) in zip(words, islands):
        assert abs(start - island_start) < 0.015 and abs(end - island_end) < 0.015


@needs_espeak
@pytest.mark.parametrize("subject", SUBJECTS)
def test_words_are_in_order_and_skip_the_pause(subject):
    voice = speech.subject_voice(subject)
    x, words = speech.speak_with_words("Yes, the meeting starts at noon.", voice)
    assert x is speech.speak("Yes, the meeting starts at noon.", voice)
    assert [w for w, _, _ in words] == ["Yes", "the", "meeting", "starts", "at", "noon"]
    starts, ends = np.array([w[1] for w in words]), np.array([w[2] for w in words])
    assert starts[0] < 0.01 and abs(ends[-1] - len(x) / SR) < 0.01
    assert (starts < ends).all() and (ends[:-1] <= starts[1:]).all()
    gaps = starts[1:] - ends[:-1]
    assert gaps[0] > 0.08 and (gaps[1:] < 0.05).all()  # the comma's pause, then running speech
    pause = x[int(ends[0] * SR) + 20: int(starts[1] * SR) - 20]
    assert np.abs(pause).max() < 1e-2 * np.abs(x).max()


def test_import_loads_nothing_heavy():
    code = ("import sys, dualcam.speech; "
            "print(sorted(m for m in ('espeakng_loader', 'scipy.signal') if m in sys.modules))")
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, env={**os.environ, "PYTHONPATH": str(root)},
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_without_the_package_speech_is_unavailable(monkeypatch):
    monkeypatch.setitem(sys.modules, "espeakng_loader", None)  # import fails as if not installed
    monkeypatch.setattr(speech, "_engine", None)
    speech._speak.cache_clear()
    with pytest.raises(speech.SpeechUnavailable) as caught:
        speech.speak("Hello there.", speech.subject_voice(1))
    message = str(caught.value)
    assert "espeakng-loader" in message and "\n" not in message
    assert speech.available() is False
