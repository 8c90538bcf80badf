"""Synthetic speech for the simulator's subjects: eSpeak NG, loaded with ctypes.

The library and its voices come from the pip package espeakng-loader; nothing is installed
system-wide or downloaded, and the module imports without it: the library is loaded on first
use, and `SpeechUnavailable` says what is missing if it cannot be.

A subject speaks with a `Voice` (an eSpeak voice variant on US English, with a base pitch,
pitch range and speaking rate): `subject_voice(n)`. `speak` returns a sentence as float64
audio; `speak_with_words` also says when each word is heard.

Determinism: eSpeak keeps synthesis state in C statics that `espeak_Terminate` does not
reset (the pitch flutter's position, the glottal phase, the echo buffer), so the samples of
a sentence would depend on what was said before it. Each synthesis therefore runs in a
freshly loaded library (dlclose, dlopen, initialise and load the voice: about 8 ms) with its
noise generator seeded, which makes a sentence bit-identical in any order, thread and process.
The library is a private copy (a file in a temporary directory), so another user of
libespeak-ng in the same process neither shares nor disturbs its state.
"""
from __future__ import annotations

import _ctypes  # ctypes has no public dlclose
import bisect
import ctypes
import functools
import math
import operator
import re
import shutil
import string
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

_LANGUAGE = "en-us"
_GENDERS = ("man", "woman")
_RATES = (80, 450)  # words per minute eSpeak accepts


class SpeechUnavailable(RuntimeError):
    """eSpeak NG cannot be loaded or initialised here; the message says why and what to install."""


@dataclass(frozen=True)
class Voice:
    """What makes one speaker."""

    variant: str  # a file of espeak-ng-data/voices/!v: "m3", "f1", "steph", "Andy", ...
    pitch: int  # base pitch, 0..99: 50 is the variant's own, 0 an octave below, 99 one above
    pitch_range: int  # intonation range, 0..99: 0 is monotone, 50 the variant's own
    rate: int  # words per minute
    gender: str  # "man" or "woman", as captions say who speaks

    def __post_init__(self):
        if not (0 <= self.pitch <= 99 and 0 <= self.pitch_range <= 99):
            raise ValueError(f"pitch and pitch_range must be in 0..99, got {self.pitch}, {self.pitch_range}")
        if not _RATES[0] <= self.rate <= _RATES[1]:
            raise ValueError(f"rate must be {_RATES[0]}..{_RATES[1]} words per minute, got {self.rate}")
        if self.gender not in _GENDERS:
            raise ValueError(f"gender must be one of {_GENDERS}, got {self.gender!r}")


# Subjects 1..9 (the AVIA subjects) are chosen by hand, to be told apart by ear: each its own
# variant, base pitch, range and pace; five men and four women, alternating. Variants with a
# built-in echo (m2, f2..f5) are left out: the simulator adds the room's reflections itself,
# and an echo would blur where a word ends.
_SUBJECTS = (
    Voice("m3", pitch=48, pitch_range=55, rate=170, gender="man"),
    Voice("steph", pitch=40, pitch_range=70, rate=175, gender="woman"),
    Voice("Andy", pitch=34, pitch_range=45, rate=155, gender="man"),
    Voice("Andrea", pitch=42, pitch_range=50, rate=160, gender="woman"),
    Voice("iven", pitch=72, pitch_range=40, rate=185, gender="man"),
    Voice("aunty", pitch=58, pitch_range=60, rate=165, gender="woman"),
    Voice("Lee", pitch=64, pitch_range=65, rate=180, gender="man"),
    Voice("grandma", pitch=55, pitch_range=45, rate=150, gender="woman"),
    Voice("norbert", pitch=42, pitch_range=55, rate=190, gender="man"),
)
# Further subjects walk a grid with the variant changing fastest, men and women alternating.
_MEN = ("m3", "Andy", "Lee", "iven", "norbert", "m7", "m8", "antonio", "travis", "gustave", "m1")
_WOMEN = ("steph", "Andrea", "aunty", "grandma", "f1", "anika", "Annie", "belinda", "steph3", "linda", "steph2")
_GRID_PITCHES = (50, 40, 60, 45, 55)
_GRID_RANGES = (50, 65, 35, 80)
_GRID_RATES = (170, 150, 190, 160)


@functools.cache
def _grid() -> tuple[Voice, ...]:
    variants = [(v, g) for pair in zip(_MEN, _WOMEN) for v, g in zip(pair, _GENDERS)]
    voices = (Voice(v, pitch=p, pitch_range=r, rate=w, gender=g)
              for w in _GRID_RATES for r in _GRID_RANGES for p in _GRID_PITCHES for v, g in variants)
    return tuple(v for v in voices if v not in _SUBJECTS)


def subject_voice(subject: int) -> Voice:
    """The voice of subject `subject` (1, 2, ...): fixed, and distinct for subjects 1..1769
    (9 chosen voices, then a grid of 1760), after which the grid repeats."""
    if subject < 1:
        raise ValueError(f"subject must be a positive integer, got {subject}")
    if subject <= len(_SUBJECTS):
        return _SUBJECTS[subject - 1]
    grid = _grid()
    return grid[(subject - len(_SUBJECTS) - 1) % len(grid)]


SENTENCES = (
    "Could you pass me the blue folder?",
    "The printer on the second floor is jammed again.",
    "I will send you the report this afternoon.",
    "Let us start the meeting in five minutes.",
    "Has anyone seen my coffee mug?",
    "The microscope needs to be calibrated first.",
    "Please close the window, it is getting cold.",
    "We should order more pipette tips.",
    "The server went down during the night.",
    "Can you check the temperature of the freezer?",
    "I think the battery is almost empty.",
    "Lunch is ready in the kitchen.",
    "The samples have to stay in the fridge.",
    "Do not forget to label every tube.",
    "My computer is running very slowly today.",
    "The new results look quite promising.",
    "Who booked the small meeting room?",
    "Please write your name on the list.",
    "The deadline has been moved to Friday.",
    "Turn off the lights when you leave.",
    "I need a signature on this form.",
    "The delivery should arrive before noon.",
    "Can we talk about the budget later?",
    "The centrifuge is making a strange noise.",
    "Wear your safety glasses in the lab.",
    "The projector does not show anything.",
    "I left my keys on your desk.",
    "Let me know when the experiment is finished.",
    "The heating is broken in this office.",
    "We are out of paper for the copier.",
    "Please save the data before you log out.",
    "The visitors will be here at ten.",
    "Could you open the door for me?",
    "This cable does not fit the socket.",
    "I am going to get some fresh air.",
    "The measurements were taken this morning.",
    "Somebody left the tap running again.",
    "Thank you for helping me with the boxes.",
    "The fire drill starts after lunch.",
    "Remember to water the plants on Monday.",
)


# ----------------------------------------------------------------------------- the library

# From speak_lib.h, eSpeak NG 1.52.
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_DONT_EXIT = 0x8000  # report bad data as an error instead of calling exit()
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_RATE, _PITCH, _RANGE = 1, 3, 4  # espeak_PARAMETER
_EVENT_LIST_TERMINATED, _EVENT_WORD = 0, 1
_SEED = 1  # of the noise generator (breath, frication), which eSpeak seeds with the clock


class _Event(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int), ("unique_identifier", ctypes.c_uint), ("text_position", ctypes.c_int),
                ("length", ctypes.c_int), ("audio_position", ctypes.c_int), ("sample", ctypes.c_int),
                ("user_data", ctypes.c_void_p), ("id", ctypes.c_void_p)]


_SynthCallback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))


class _Engine:
    """A private copy of libespeak-ng, and the data its voices are read from."""

    def __init__(self):
        import espeakng_loader

        self._data = espeakng_loader.get_data_path()
        self._variants = frozenset(p.name for p in (Path(self._data) / "voices" / "!v").iterdir())
        self._dir = tempfile.TemporaryDirectory(prefix="dualcam-espeak-")  # deleted with the engine
        self._library = str(Path(self._dir.name) / "libespeak-ng.so")
        shutil.copyfile(espeakng_loader.get_library_path(), self._library)
        self.synthesize("a", _SUBJECTS[0])  # so that a library that cannot speak fails here, as unavailable

    def synthesize(self, text: str, voice: Voice) -> tuple[np.ndarray, list[tuple[int, int]], int]:
        """int16 samples, (character offset, sample) of each word marker, and the sample rate."""
        if voice.variant not in self._variants:  # eSpeak would silently ignore an unknown variant
            raise ValueError(f"no eSpeak voice variant {voice.variant!r}; known: {', '.join(sorted(self._variants))}")
        chunks, markers = [], []

        def collect(wav, n, events):
            if wav and n > 0:
                chunks.append(np.ctypeslib.as_array(wav, (n,)).copy())
            i = 0
            while events[i].type != _EVENT_LIST_TERMINATED:
                if events[i].type == _EVENT_WORD:
                    markers.append((events[i].text_position - 1, events[i].sample))
                i += 1
            return 0

        callback = _SynthCallback(collect)  # must outlive every call into the library
        lib = ctypes.CDLL(self._library)
        try:
            rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, self._data.encode(), _INITIALIZE_DONT_EXIT)
            if rate <= 0:
                raise RuntimeError(f"espeak_Initialize failed on the data in {self._data}")
            lib.espeak_SetSynthCallback(callback)
            name = f"{_LANGUAGE}+{voice.variant}"
            if lib.espeak_SetVoiceByName(name.encode()) != 0:
                raise RuntimeError(f"eSpeak could not load the voice {name} from {self._data}")
            for parameter, value in ((_RATE, voice.rate), (_PITCH, voice.pitch), (_RANGE, voice.pitch_range)):
                lib.espeak_SetParameter(parameter, value, 0)
            lib.espeak_ng_SetRandSeed(ctypes.c_long(_SEED))
            encoded = text.encode() + b"\0"
            status = lib.espeak_Synth(encoded, len(encoded), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
            if status != 0 or lib.espeak_Synchronize() != 0:
                raise RuntimeError(f"eSpeak failed (status {status}) on {text!r}")
        finally:
            lib.espeak_Terminate()
            _ctypes.dlclose(lib._handle)  # unloading is what resets the statics
        return (np.concatenate(chunks) if chunks else np.zeros(0, np.int16)), markers, rate


_lock = threading.Lock()  # eSpeak's state is global to the library: calls must not interleave
_engine: _Engine | str | None = None  # the engine, or why there is none, or not tried yet


def _get_engine() -> _Engine:
    """The engine, loaded on first use; call with `_lock` held. A failure is remembered."""
    global _engine
    if _engine is None:
        try:
            _engine = _Engine()
        except (ImportError, OSError, RuntimeError, AttributeError) as e:
            _engine = ("speech needs eSpeak NG: pip install espeakng-loader (it bundles libespeak-ng and its "
                       f"voices); {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
    if isinstance(_engine, str):
        raise SpeechUnavailable(_engine)
    return _engine


def available() -> bool:
    """Whether speech can be synthesised here (tries to load the library the first time)."""
    with _lock:
        try:
            _get_engine()
        except SpeechUnavailable:
            return False
        return True


# ----------------------------------------------------------------------------- audio

_SILENCE = 1e-3  # of the peak (-60 dB): quieter samples at either end, or between words, are silence
_MARGIN = 0.005  # seconds of silence kept before the first and after the last sound
_FRAME = 0.010  # seconds per frame of the level measurement
_ACTIVE = 1e-4  # of the loudest frame's energy (-40 dB): quieter frames are pauses, not speech


def _words(text: str, markers: list[tuple[int, int]], loud: np.ndarray) -> list[tuple[str, int, int]]:
    """(word, first sample, end sample) of each word of `text` eSpeak marked, where it is audible
    between its marker and the next word's. A word of the text is a run of non-space characters
    without the punctuation around it; one that eSpeak marks twice ("o'clock") is one word."""
    tokens = list(re.finditer(r"\S+", text))
    token_starts = [t.start() for t in tokens]
    first_marker: dict[int, int] = {}
    for offset, sample in markers:
        i = bisect.bisect_right(token_starts, offset) - 1
        if i >= 0 and offset < tokens[i].end():
            first_marker.setdefault(i, sample)
    order = sorted(first_marker)
    bounds = [first_marker[i] for i in order] + [len(loud)]
    words = []
    for i, lo, hi in zip(order, bounds, bounds[1:]):
        heard = np.flatnonzero(loud[lo:hi])
        if len(heard):
            words.append((tokens[i].group().strip(string.punctuation), lo + heard[0], lo + heard[-1] + 1))
    return words


def _active_level(x: np.ndarray, sample_rate: int) -> float:
    """RMS over the frames within 40 dB of the loudest: the level of the speech, not of its pauses."""
    n = min(round(_FRAME * sample_rate), len(x))
    energy = (x[: len(x) // n * n].reshape(-1, n) ** 2).mean(axis=1)
    return float(np.sqrt(energy[energy >= _ACTIVE * energy.max()].mean()))


@functools.cache
def _resampler(up: int, down: int) -> Callable[[np.ndarray], np.ndarray]:
    """resample_poly with its own anti-aliasing filter, designed once: from 22050 to 12288 Hz
    the filter has 73,501 taps, and designing it took longer than the synthesis. scipy.signal
    is imported here, not at the top, because it takes over a second to import."""
    from scipy import signal

    m = max(up, down)
    lowpass = signal.firwin(20 * m + 1, 1.0 / m, window=("kaiser", 5.0))
    return functools.partial(signal.resample_poly, up=up, down=down, window=lowpass)


@functools.lru_cache(maxsize=128)  # ~250 kB a sentence at 12288 Hz, so at most ~32 MB
def _speak(text: str, voice: Voice, sample_rate: int) -> tuple[np.ndarray, tuple[tuple[str, float, float], ...]]:
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate}")
    with _lock:
        raw, markers, native = _get_engine().synthesize(text, voice)
    x = raw.astype(np.float64)
    loud = np.abs(x) > _SILENCE * np.abs(x).max(initial=0.0)
    if not loud.any():
        raise ValueError(f"eSpeak says nothing for {text!r}")
    heard = np.flatnonzero(loud)
    margin = round(_MARGIN * native)
    lo, hi = max(heard[0] - margin, 0), min(heard[-1] + 1 + margin, len(x))
    g = math.gcd(sample_rate, native)
    up, down = sample_rate // g, native // g
    audio = _resampler(up, down)(x[lo:hi]) if up != down else x[lo:hi]
    audio /= _active_level(audio, sample_rate)
    audio.flags.writeable = False
    seconds = len(audio) / sample_rate
    words = tuple((word, min(max(float(a - lo) / native, 0.0), seconds), min(float(b - lo) / native, seconds))
                  for word, a, b in _words(text, markers, loud))
    return audio, words


def speak(text: str, voice: Voice, sample_rate: int = 12288) -> np.ndarray:
    """`text` said by `voice`: float64 mono at `sample_rate`, read-only (copy it to change it).

    Silence at either end is trimmed to 5 ms. The level is unit RMS over the active speech
    (the 10-ms frames within 40 dB of the loudest), so pauses do not lower it; peaks are
    mostly 3 to 9. The same arguments give the same bits in every call, thread and process.
    """
    return _speak(text, voice, operator.index(sample_rate))[0]


def speak_with_words(text: str, voice: Voice,
                     sample_rate: int = 12288) -> tuple[np.ndarray, list[tuple[str, float, float]]]:
    """`speak`'s audio, and (word, start, end) in seconds for each word heard, in order.

    A word lasts from its first to its last sample above -60 dB of the peak, between eSpeak's
    marker for it and the next word's marker: a pause after a word is not part of it. Words are
    the text's, without the punctuation around them ("noon." is "noon").
    """
    audio, words = _speak(text, voice, operator.index(sample_rate))
    return audio, list(words)
