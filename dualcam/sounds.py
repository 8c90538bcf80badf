"""Synthetic sources: one characteristic sound per ACIVW class and AVIA action.

Each sound is a recipe of physically motivated layers (`RECIPES`, read top to bottom):
harmonic sources for motors, engines, rotors and whistles; coloured noise for air, water
and traffic; impacts (resonant modes excited by a contact click, in groups, bounces or
dense crackle) for the actions; a glottal source through moving formants for speech.
Envelopes add use patterns: strokes, swishes, pass-bys. When a source sounds at all (a
trigger pressed, a phrase spoken) is the scene's timeline (`dualcam.events`), not the recipe's;
the scene also chooses when a struck object is struck (`impact_schedule`) so its picture can
move at the same instants.

Within a class, `VARIANTS` are different objects of the kind (a diesel or an electric train, a
quadcopter or a hexacopter), and `Variation` the differences between recordings of one.

Families are meant to overlap (motors share harmonic series, rumbles share the low band,
air, water and paper share broadband noise) so classes are learnable without being
trivially separable. Every sound is band-limited to `BAND` and has no DC.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy import fft

from dataloader.camera import SAMPLE_RATE
from dataloader.datasets import ACIVW_SPEC, AVIA_SPEC

SOUND_NAMES = ACIVW_SPEC.class_names + AVIA_SPEC.class_names
# Objects heard when struck, whose struck layer is their recipe's one Impacts layer: the scene
# draws when they are struck, so the picture moves at those instants (`impact_schedule`).
STRUCK = ("clapping", "snapping_fingers", "playing_kendama", "clicking", "typing", "knocking", "hammering",
          "peanut_breaking", "stick_dropping")
BAND = (80.0, 5500.0)  # Hz: where the energy of every sound lies
_FLAT, _TOP = 5000.0, 5700.0  # Hz: the output filter is flat up to _FLAT and zero from _TOP
_CONTROL_RATE = 256  # Hz: envelopes and pitch tracks are slow, so they are built at this rate
_PAD = 0.25  # seconds of FFT padding, so circular filtering does not wrap the end onto the start


@dataclass(frozen=True, kw_only=True)
class Variation:
    """How one recording differs from the class's typical sound."""

    pitch: float = 1.0  # multiplies every characteristic frequency
    rate: float = 1.0  # multiplies event and modulation rates
    brightness: float = 0.0  # spectral tilt, dB per octave about 1 kHz
    variant: int = 0  # which of the class's VARIANTS
    seed: int

    def __post_init__(self):
        if not (self.pitch > 0 and self.rate > 0):
            raise ValueError(f"pitch and rate must be positive, got {self.pitch}, {self.rate}")
        if self.variant < 0:
            raise ValueError(f"variant must be >= 0, got {self.variant}")


def _subject_offset(subject: int) -> tuple[float, float, float]:
    """(pitch factor, rate factor, brightness) a subject adds to every recording."""
    subjects = AVIA_SPEC.label("subject").depth
    if not 1 <= subject <= subjects:
        raise ValueError(f"subject must be in 1..{subjects}, got {subject}")
    rng = np.random.default_rng((0x5B1EC7, subject))
    return float(np.exp(rng.uniform(-0.05, 0.05))), float(np.exp(rng.uniform(-0.1, 0.1))), rng.uniform(-1, 1)


def sample_variation(rng: np.random.Generator, subject: int | None = None) -> Variation:
    """A random per-recording variation; a subject (1..9) adds its own consistent offset."""
    # Draw everything first, so one generator state gives the same recording for every
    # subject except for the subject's offset.
    pitch, rate, brightness = rng.uniform(0.9, 1.1), rng.uniform(0.8, 1.2), rng.uniform(-2.0, 2.0)
    seed = int(rng.integers(2**31))
    if subject is not None:
        sp, sr, sb = _subject_offset(subject)
        pitch, rate, brightness = pitch * sp, rate * sr, brightness + sb
    return Variation(pitch=float(pitch), rate=float(rate), brightness=float(brightness), seed=seed)


# ----------------------------------------------------------------------------- layers


@dataclass(frozen=True)
class AM:
    """Periodic amplitude modulation: strokes, swishes, waves."""

    rate: float  # Hz
    depth: float  # 0 = none, 1 = down to silence
    sharpness: float = 1.0  # > 1 narrows the peaks
    wobble: float = 0.15  # relative random drift of the rate: people are not metronomes


@dataclass(frozen=True)
class Swells:
    """Pass-bys: a bump per passing vehicle over a background floor."""

    every: float  # mean seconds between pass-bys
    width: float  # seconds
    floor: float


@dataclass(frozen=True)
class Tone:
    """A periodic source: motor, engine, rotor, buzzer or whistle."""

    f0: float  # Hz
    rolloff: float  # dB per octave of harmonic number
    even: float = 1.0  # gain of the even harmonics; < 1 gives the hollow sound of a buzz
    wander: float = 0.0  # relative slow pitch drift (load, throttle, intonation)
    vibrato: tuple[float, float] = (0.0, 0.0)  # (Hz, relative depth)
    melody: tuple[float, float] = (0.0, 0.0)  # (notes per second, semitone range)
    copies: int = 1  # independent detuned sources (rotors), whose sum beats
    detune: float = 0.0
    level: float = 1.0
    am: AM | None = None


@dataclass(frozen=True)
class Noise:
    """Noise between `low` and `high` (12 dB/octave skirts) with a spectral tilt."""

    low: float
    high: float
    tilt: float = 0.0  # dB per octave: -3 pink, -6 brown
    level: float = 1.0
    am: AM | None = None


@dataclass(frozen=True)
class Impacts:
    """Struck objects: each event is a contact click plus ringing modes; events come in
    groups (double clicks, knock patterns, bouncing) separated by pauses."""

    modes: tuple[tuple[float, float, float], ...]  # (Hz, decay seconds, amplitude)
    click: tuple[float, float, float, float]  # contact noise (low Hz, high Hz, decay s, level)
    every: float  # mean pause between groups, seconds
    group: tuple[int, int] = (1, 1)  # events per group, uniform range
    spacing: float = 0.0  # seconds between events of a group
    decay: float = 1.0  # ratio of successive spacings and amplitudes in a group (bounces < 1)
    regularity: float = 0.0  # 0: Poisson timing; towards 1: a metronome
    spread: float = 0.3  # log-normal spread of event amplitudes
    scatter: float = 0.05  # log-normal spread of mode frequencies between events
    level: float = 1.0
    am: AM | None = None


@dataclass(frozen=True)
class Voice:
    """Speech: glottal pulses through formants that glide between vowels within each
    syllable, syllables in phrases, some syllables led by a fricative."""

    f0: float
    syllables: float  # per second
    phrase: tuple[int, int]  # syllables per phrase
    pause: float  # mean seconds between phrases
    fricatives: float  # fraction of syllables that start with one
    level: float = 1.0


@dataclass(frozen=True)
class Recipe:
    layers: tuple[Tone | Noise | Impacts | Voice, ...]
    envelope: tuple[AM | Swells, ...] = ()


RECIPES: dict[str, Recipe] = {
    # Diesel engine, rail rumble and the periodic double clack of bogies over rail joints.
    "train": Recipe((
        Tone(48, rolloff=-4.0, wander=0.01, level=0.5),
        Noise(60, 700, tilt=-4.0),
        Impacts(((260, 0.05, 1.0), (950, 0.02, 0.6), (2300, 0.01, 0.3)), (200, 3000, 0.004, 0.5),
                every=0.55, group=(2, 2), spacing=0.13, regularity=0.9, level=0.8),
    ), (AM(0.08, 0.3),)),
    # Two-stroke outboard: odd harmonics dominate; splashes rise and fall with the waves.
    "boat": Recipe((
        Tone(95, rolloff=-5.0, even=0.4, wander=0.015),
        Noise(100, 2500, tilt=-3.0, level=0.5, am=AM(0.4, 0.7)),
    )),
    # Four rotors' blade-pass series, each at its own speed, beat against each other.
    "drone": Recipe((
        Tone(175, rolloff=-5.0, wander=0.015, copies=4, detune=0.02),
        Tone(1220, rolloff=-20.0, wander=0.015, level=0.3),
        Noise(150, 5000, tilt=-2.0, level=0.3),
    )),
    # Steady falling water: broadband noise and a dense patter of droplets.
    "fountain": Recipe((
        Noise(300, 5500, tilt=-1.0),
        Impacts(((1400, 0.006, 1.0),), (500, 5000, 0.001, 0.3),
                every=0.008, scatter=0.5, spread=0.6, level=0.5),
    )),
    # Brushed motor plus gear mesh (the trigger's bursts are the scene's events).
    "drill": Recipe((
        Tone(330, rolloff=-5.0, wander=0.02),
        Tone(2350, rolloff=-24.0, wander=0.02, level=0.35),
        Noise(400, 5000, tilt=-3.0, level=0.3),
    )),
    # A vibrating blade: a buzz so rich its harmonics barely fall, with cutting noise per stroke.
    "razor": Recipe((
        Tone(120, rolloff=-1.5, even=0.5, wander=0.005),
        Noise(2000, 5500, level=0.35, am=AM(2.0, 0.6)),
    )),
    # Mostly air: pink-ish flow noise with a weak fan blade-pass whine.
    "hair_dryer": Recipe((
        Noise(200, 4000, tilt=-3.0),
        Tone(560, rolloff=-12.0, wander=0.005, level=0.3),
    )),
    # Fast universal motor whine over airflow; pitch and level move with the push strokes.
    "hoover": Recipe((
        Tone(720, rolloff=-9.0, wander=0.03, level=0.6),
        Noise(300, 5000, tilt=-1.5),
        Noise(80, 300, tilt=-3.0, level=0.3),
    ), (AM(0.7, 0.4),)),
    # Rattling wire and castors: metallic clicks in rolling bursts over wheel rumble.
    "shopping_cart": Recipe((
        Impacts(((1450, 0.04, 1.0), (2900, 0.03, 0.6), (4100, 0.02, 0.4)), (300, 5000, 0.002, 0.5),
                every=0.04, scatter=0.15, spread=0.8, am=AM(4.0, 0.5)),
        Noise(80, 500, tilt=-3.0, level=0.5),
    )),
    # Engines and tyres swell and fade as vehicles pass; no periodic pattern, more hiss.
    "traffic": Recipe((
        Noise(60, 600, tilt=-3.0),
        Noise(1000, 4500, tilt=-1.0, level=0.4),
        Tone(35, rolloff=-6.0, wander=0.1, level=0.3),
    ), (Swells(every=3.0, width=1.2, floor=0.25),)),
    # Claps: short noise bursts with a hollow palm resonance, in sequences.
    "clapping": Recipe((
        Impacts(((1100, 0.006, 0.5),), (500, 3500, 0.008, 1.0),
                every=2.0, group=(5, 12), spacing=0.3, regularity=0.85, spread=0.2),
    )),
    # A finger snap: a sharp, bright, very short click.
    "snapping_fingers": Recipe((
        Impacts(((2200, 0.004, 1.0), (3400, 0.003, 0.5)), (1500, 5000, 0.002, 1.0),
                every=0.8, regularity=0.6),
    )),
    "speaking": Recipe((
        Voice(125, syllables=4.0, phrase=(4, 14), pause=0.6, fricatives=0.35),
    )),
    # A pure pitched tone with vibrato, stepping through notes; some breath noise.
    "whistling": Recipe((
        Tone(1500, rolloff=-30.0, vibrato=(5.5, 0.012), melody=(2.5, 5.0)),
        Noise(1000, 5000, level=0.1),
    )),
    # The wooden ball landing on a cup: a "tock", often a second settling hit.
    "playing_kendama": Recipe((
        Impacts(((760, 0.03, 1.0), (1850, 0.02, 0.6), (3050, 0.012, 0.4)), (500, 4000, 0.003, 0.4),
                every=1.0, group=(1, 3), spacing=0.12, decay=0.6, regularity=0.5),
    )),
    # Mouse button press and release: a pair of tiny high clicks.
    "clicking": Recipe((
        Impacts(((3200, 0.003, 1.0), (4500, 0.002, 0.5)), (2000, 5500, 0.0015, 0.8),
                every=0.6, group=(2, 2), spacing=0.09, regularity=0.5),
    )),
    # Keystrokes: a plastic click and the bottoming-out thock, in word-long runs.
    "typing": Recipe((
        Impacts(((420, 0.01, 0.7), (1800, 0.008, 1.0), (3000, 0.005, 0.5)), (1000, 5000, 0.002, 0.6),
                every=0.35, group=(3, 8), spacing=0.13, regularity=0.3, scatter=0.1),
    )),
    # Knuckles on a wooden door: low body modes, in groups of two to four.
    "knocking": Recipe((
        Impacts(((180, 0.06, 1.0), (420, 0.04, 0.7), (900, 0.02, 0.4)), (300, 2000, 0.003, 0.4),
                every=1.8, group=(2, 4), spacing=0.18, regularity=0.7),
    )),
    # A hammer on a nail: a thud and long metallic ringing, struck steadily in bouts.
    "hammering": Recipe((
        Impacts(((250, 0.05, 1.0), (1700, 0.15, 0.6), (2900, 0.1, 0.4), (4300, 0.06, 0.3)),
                (200, 5000, 0.002, 0.6), every=2.0, group=(4, 10), spacing=0.6, regularity=0.8),
    )),
    # A shell cracking: a burst of micro-fractures, over faint rustling.
    "peanut_breaking": Recipe((
        Impacts(((1500, 0.004, 1.0), (2600, 0.003, 0.6)), (800, 5000, 0.0015, 0.8),
                every=2.0, group=(3, 9), spacing=0.008, regularity=0.2, spread=0.5, scatter=0.2),
        Noise(1500, 5000, level=0.05),
    )),
    # A tear: dense fibre-breaking crackle over noise.
    "paper_ripping": Recipe((
        Impacts((), (800, 5500, 0.0015, 1.0), every=0.003, spread=0.7),
        Noise(1000, 5000, level=0.5),
    )),
    # Dense, heavy-tailed micro-clicks from folds snapping, following the squeezes of the hand.
    "plastic_crumpling": Recipe((
        Impacts(((3500, 0.0015, 1.0),), (1500, 5500, 0.001, 0.8),
                every=0.004, spread=0.9, scatter=0.3),
    ), (AM(0.8, 0.7),)),
    # Broadband swishes, one per shake.
    "paper_shaking": Recipe((
        Noise(500, 5000, tilt=-1.5),
    ), (AM(4.0, 0.9, sharpness=2.0),)),
    # A dropped stick: wooden modes, bouncing with shrinking gaps and strength.
    "stick_dropping": Recipe((
        Impacts(((620, 0.05, 1.0), (1500, 0.03, 0.6), (2700, 0.02, 0.4)), (400, 5000, 0.002, 0.5),
                every=2.0, group=(3, 6), spacing=0.15, decay=0.6, regularity=0.5, scatter=0.1),
    )),
}

@dataclass(frozen=True)
class Variant:
    """One kind of object of a class: the recipe's layers replaced (None keeps them), and
    factors on the recording's pitch and rate."""

    name: str
    layers: tuple[Tone | Noise | Impacts | Voice, ...] | None = None
    pitch: float = 1.0
    rate: float = 1.0


_CLACKS = Impacts(((260, 0.05, 1.0), (950, 0.02, 0.6), (2300, 0.01, 0.3)), (200, 3000, 0.004, 0.5),
                  every=0.55, group=(2, 2), spacing=0.13, regularity=0.9, level=0.8)

# The first of each class is its recipe as it stands; classes not listed have that one only.
VARIANTS: dict[str, tuple[Variant, ...]] = {
    "train": (Variant("diesel"),
              Variant("electric", (Tone(880, rolloff=-16.0, wander=0.01, level=0.35),
                                   Noise(60, 900, tilt=-3.0), _CLACKS)),
              Variant("freight", pitch=0.8, rate=0.7)),
    "boat": (Variant("outboard"),
             Variant("inboard", (Tone(62, rolloff=-4.0, wander=0.01),
                                 Noise(80, 1500, tilt=-4.0, level=0.6, am=AM(0.3, 0.6)))),
             Variant("speedboat", pitch=1.6, rate=1.3)),
    "drone": (Variant("quadcopter"),
              Variant("hexacopter", (Tone(140, rolloff=-5.0, wander=0.015, copies=6, detune=0.015),
                                     Tone(980, rolloff=-20.0, wander=0.015, level=0.3),
                                     Noise(120, 4500, tilt=-2.5, level=0.35))),
              Variant("racer", pitch=1.7, rate=1.3)),
    "fountain": (Variant("jet"),
                 Variant("basin", (Noise(150, 3000, tilt=-2.0),
                                   Impacts(((700, 0.01, 1.0),), (300, 3000, 0.002, 0.3),
                                           every=0.03, scatter=0.5, spread=0.6, level=0.6)))),
    "drill": (Variant("cordless"),
              Variant("hammer_drill", RECIPES["drill"].layers + (
                  Impacts(((900, 0.008, 1.0), (2100, 0.005, 0.5)), (500, 5000, 0.002, 0.5),
                          every=0.022, regularity=0.9, level=0.8),)),
              Variant("mini", pitch=1.5)),
    "razor": (Variant("foil"), Variant("rotary", pitch=1.5, rate=1.2)),
    "hair_dryer": (Variant("salon"), Variant("travel", pitch=1.4)),
    "hoover": (Variant("upright"), Variant("handheld", pitch=1.45, rate=1.3)),
    "shopping_cart": (Variant("wire"), Variant("plastic", pitch=0.6)),
    "traffic": (Variant("town"),
                Variant("motorway", (Noise(60, 600, tilt=-3.0, level=0.6), Noise(700, 5000, tilt=-1.0),
                                     Tone(45, rolloff=-6.0, wander=0.1, level=0.2)), rate=1.8)),
}


def variants(name: str) -> tuple[Variant, ...]:
    """The kinds of object of sound `name`, the first its recipe as it stands."""
    if name not in RECIPES:
        raise ValueError(f"unknown sound {name!r}; known sounds: {', '.join(SOUND_NAMES)}")
    return VARIANTS.get(name, (Variant("standard"),))


def _recipe(name: str, variation: Variation) -> tuple[Recipe, Variation]:
    """The recipe of the recording's variant, and the variation with the variant's factors."""
    kinds = variants(name)
    if variation.variant >= len(kinds):
        raise ValueError(f"{name} has {len(kinds)} variants, got variant {variation.variant}")
    kind, recipe = kinds[variation.variant], RECIPES[name]
    if kind.layers is not None:
        recipe = Recipe(kind.layers, recipe.envelope)
    return recipe, replace(variation, pitch=variation.pitch * kind.pitch, rate=variation.rate * kind.rate)


# Adult vowels (F1, F2, F3 in Hz), Peterson & Barney: a, e, i, o, u.
_VOWELS = np.array([
    (730, 1090, 2440), (530, 1840, 2480), (270, 2290, 3010), (570, 840, 2410), (300, 870, 2240),
])
_FORMANT_BANDWIDTHS = np.array([90.0, 110.0, 170.0])[:, None]
_FORMANT_GAINS = np.array([1.0, 0.6, 0.3])[:, None]


# ----------------------------------------------------------------------------- synthesis


@dataclass(frozen=True)
class _Context:
    n: int
    nfft: int
    sample_rate: int
    rng: np.random.Generator
    pitch: float
    rate: float
    struck: tuple[np.ndarray, np.ndarray] | None = None  # given impact times (s) and indices in group

    @property
    def seconds(self) -> float:
        return self.n / self.sample_rate

    def freqs(self) -> np.ndarray:
        return fft.rfftfreq(self.nfft, 1.0 / self.sample_rate)

    def control_times(self) -> np.ndarray:
        return np.arange(int(self.seconds * _CONTROL_RATE) + 2) / _CONTROL_RATE

    def to_audio(self, control: np.ndarray) -> np.ndarray:
        return np.interp(np.arange(self.n) / self.sample_rate, self.control_times(), control)


def _band(f: np.ndarray, low: float, high: float, tilt: float = 0.0) -> np.ndarray:
    """Magnitude of a band-pass with second-order skirts and a tilt in dB/octave."""
    f = np.maximum(f, 1e-3)
    return (f / 1000.0) ** (tilt / 6.0206) / np.sqrt((1 + (low / f) ** 4) * (1 + (f / high) ** 4))


def _filter(c: _Context, x: np.ndarray, gain: np.ndarray) -> np.ndarray:
    return fft.irfft(fft.rfft(x, c.nfft) * gain, c.nfft)[: c.n]


def _unit(x: np.ndarray) -> np.ndarray:
    rms = np.sqrt(np.mean(x**2))
    return x / rms if rms > 0 else x


def _drift(c: _Context, hz: float) -> np.ndarray:
    """Smooth unit-variance random drift at control rate, changing about `hz` times a second."""
    t = c.control_times()
    knots = np.arange(-1, t[-1] * hz + 2) / hz
    return np.interp(t, knots, c.rng.standard_normal(len(knots)))


def _gamma(rng: np.random.Generator, mean: float, regularity: float, size) -> np.ndarray:
    """Intervals with the given mean; the coefficient of variation is 1 - regularity."""
    shape = 1.0 / max(1.0 - regularity, 0.05) ** 2
    return rng.gamma(shape, mean / shape, size)


def _event_times(c: _Context, every: float, group: tuple[int, int], spacing: float, decay: float,
                 regularity: float) -> tuple[np.ndarray, np.ndarray]:
    """Onsets (seconds, within the clip) of grouped events, and each one's index in its group."""
    rng, lo, hi = c.rng, group[0], group[1]
    every, spacing = every / c.rate, spacing / c.rate
    k = np.arange(hi)
    mean_period = every + spacing * np.sum(decay ** k[: (lo + hi) // 2])
    count = int(1.3 * (c.seconds / mean_period + _PAD)) + 3
    while True:
        sizes = rng.integers(lo, hi + 1, count)
        steps = spacing * decay ** (k - 1) * _gamma(rng, 1.0, regularity, (count, hi))
        steps[:, 0] = 0.0
        offsets = np.cumsum(steps, axis=1)
        pauses = _gamma(rng, every, regularity, count)
        lengths = offsets[np.arange(count), sizes - 1]
        starts = np.cumsum(pauses + np.concatenate([[0.0], lengths[:-1]]))
        starts -= rng.uniform(0.0, starts[0] + lengths[0])  # a random phase at the clip start
        if starts[-1] > c.seconds:
            break
        count *= 2
    times = starts[:, None] + offsets
    index = np.broadcast_to(k, times.shape)
    keep = (k < sizes[:, None]) & (times >= 0) & (times < c.seconds)
    if not keep.any():  # a clip shorter than a pause must still hold one event
        return np.array([rng.uniform(0.0, 0.5 * c.seconds)]), np.zeros(1, dtype=int)
    return times[keep], index[keep]


def _overlap_add(c: _Context, onsets: np.ndarray, grains: np.ndarray) -> np.ndarray:
    """Sums grains (events, length) starting at the onset samples, cut at the clip end."""
    length = grains.shape[1]
    index = (onsets[:, None] + np.arange(length)).ravel()
    keep = index < c.n
    return np.bincount(index[keep], weights=grains.ravel()[keep], minlength=c.n)


def _am(c: _Context, s: AM) -> np.ndarray:
    rate = s.rate * c.rate * (1 + s.wobble * _drift(c, 0.5))
    phase = np.cumsum(rate) / _CONTROL_RATE + c.rng.uniform()
    return (1 - s.depth) + s.depth * (0.5 + 0.5 * np.cos(2 * np.pi * phase)) ** s.sharpness


def _swells(c: _Context, s: Swells) -> np.ndarray:
    t = c.control_times()
    margin = 3 * s.width
    count = c.rng.poisson((c.seconds + 2 * margin) * c.rate / s.every) + 1
    centres = c.rng.uniform(-margin, c.seconds + margin, count)
    heights = c.rng.uniform(0.5, 1.5, count)
    bumps = heights * np.exp(-0.5 * ((t[:, None] - centres) / s.width) ** 2)
    return s.floor + bumps.sum(axis=1)


def _pitch_track(c: _Context, s: Tone) -> np.ndarray:
    """Relative pitch (control rate) from wander, vibrato and melody."""
    t = c.control_times()
    track = np.exp(s.wander * _drift(c, 0.7 * c.rate))
    rate, depth = s.vibrato
    if depth:
        track *= 1 + depth * np.sin(2 * np.pi * rate * c.rate * t + c.rng.uniform(0, 2 * np.pi))
    notes_per_second, semitones = s.melody
    if semitones:
        count = int(c.seconds * notes_per_second * c.rate * 2) + 3
        changes = np.cumsum(_gamma(c.rng, 1.0 / (notes_per_second * c.rate), 0.5, count)) - 0.5
        notes = c.rng.integers(-semitones, semitones + 1, count)
        glide = 0.04  # seconds to slide into the next note
        x = np.stack([changes, changes + glide], axis=1).ravel()
        y = np.stack([np.roll(notes, 1), notes], axis=1).ravel()
        track *= 2.0 ** (np.interp(t, x, y) / 12)
    return track


def _tone(c: _Context, s: Tone) -> np.ndarray:
    out = np.zeros(c.n)
    for _ in range(s.copies):
        f0 = s.f0 * c.pitch * np.exp(s.detune * c.rng.standard_normal()) * _pitch_track(c, s)
        top = min(_TOP, 0.45 * c.sample_rate)  # no aliasing at lower sample rates either
        harmonics = np.arange(1, int(np.clip(top / f0.max(), 1, 1023)) + 1)
        amplitude = harmonics ** (s.rolloff / 6.0206) * np.where(harmonics % 2 == 0, s.even, 1.0)
        # One period as a wavetable: the cost per sample does not grow with the harmonic count.
        spectrum = np.zeros(1025, dtype=complex)
        # As many phases drawn whatever the pitch: the rest of the recording stays the same.
        phases = c.rng.uniform(size=1024)[harmonics - 1]
        spectrum[harmonics] = amplitude * np.exp(2j * np.pi * phases)
        table = fft.irfft(spectrum, 2048)
        table = np.append(table, table[0])
        cycles = np.cumsum(c.to_audio(f0)) / c.sample_rate + c.rng.uniform()
        position = (cycles % 1.0) * 2048
        i = position.astype(int)
        frac = position - i
        out += table[i] * (1 - frac) + table[i + 1] * frac
    return out


def _noise(c: _Context, s: Noise) -> np.ndarray:
    bins = c.nfft // 2 + 1
    spectrum = c.rng.standard_normal(bins) + 1j * c.rng.standard_normal(bins)
    gain = _band(c.freqs(), s.low * c.pitch, s.high * c.pitch, s.tilt)
    return fft.irfft(spectrum * gain, c.nfft)[: c.n]


def _impacts(c: _Context, s: Impacts) -> np.ndarray:
    times, index = c.struck or _event_times(c, s.every, s.group, s.spacing, s.decay, s.regularity)
    onsets = (times * c.sample_rate).astype(int)
    amplitude = s.decay**index * np.exp(s.spread * c.rng.standard_normal(len(times)))
    low, high, click_decay, click_level = s.click
    length = int(5 * max([click_decay] + [d for _, d, _ in s.modes]) * c.sample_rate) + 1
    t = np.arange(length) / c.sample_rate
    ring = np.zeros((len(times), length))
    for freq, decay, gain in s.modes:
        f = freq * c.pitch * np.exp(s.scatter * c.rng.standard_normal((len(times), 1)))
        phase = c.rng.uniform(0, 2 * np.pi, (len(times), 1))
        ring += gain * np.exp(-t / decay) * np.sin(2 * np.pi * f * t + phase)
    clicks = c.rng.standard_normal((len(times), length)) * np.exp(-t / click_decay)
    clicks = _overlap_add(c, onsets, amplitude[:, None] * clicks)
    # White clicks are coloured once for the whole clip rather than once per event; the
    # filter keeps their power, so click_level stays relative to the mode amplitudes.
    colour = _band(c.freqs(), low * c.pitch, high * c.pitch)
    colour /= np.sqrt(np.mean(colour**2))
    return _overlap_add(c, onsets, amplitude[:, None] * ring) + click_level * _filter(c, clicks, colour)


def _voice(c: _Context, s: Voice) -> np.ndarray:
    onsets, _ = _event_times(c, s.pause, s.phrase, 1.0 / s.syllables, 1.0, 0.6)
    count = len(onsets)
    gaps = np.diff(onsets, append=onsets[-1] + 1.0 / s.syllables)
    durations = np.minimum(0.85 * gaps, 0.3 / c.rate)
    # Glottal pulses fall at about -12 dB/octave; intonation wanders.
    source = _tone(c, Tone(s.f0, rolloff=-12.0, wander=0.1))
    spectrum = fft.rfft(source, c.nfft)
    f = c.freqs()[None, :]
    vowels = []
    for formants in _VOWELS * c.pitch:
        peaks = 1.0 / np.sqrt(1 + ((f - formants[:, None]) / (_FORMANT_BANDWIDTHS / 2)) ** 2)
        gain = (_FORMANT_GAINS * peaks).sum(axis=0) + 0.02
        vowels.append(fft.irfft(spectrum * gain, c.nfft)[: c.n])
    vowels = np.stack(vowels)
    start, end = c.rng.integers(0, len(_VOWELS), (2, count))  # each syllable glides between two
    t = np.arange(c.n) / c.sample_rate
    which = np.clip(np.searchsorted(onsets, t, side="right") - 1, 0, count - 1)
    local = (t - onsets[which]) / durations[which]
    inside = (local >= 0) & (local < 1)
    glide = np.clip(local, 0, 1)
    samples = np.arange(c.n)
    voiced = vowels[start[which], samples] * (1 - glide) + vowels[end[which], samples] * glide
    voiced *= inside * np.sin(np.pi * glide) ** 2
    led = onsets[c.rng.uniform(size=count) < s.fricatives] - 0.04
    bursts = np.exp(-0.5 * ((c.control_times()[:, None] - led) / 0.025) ** 2).sum(axis=1)
    hiss = _noise(c, Noise(2500, 5500, tilt=2.0)) * c.to_audio(bursts)
    return _unit(voiced) + 0.5 * _unit(hiss)


_LAYERS = {Tone: _tone, Noise: _noise, Impacts: _impacts, Voice: _voice}
_ENVELOPES = {AM: _am, Swells: _swells}


def _output_gain(c: _Context, brightness: float) -> np.ndarray:
    """Keeps energy within BAND, removes DC and applies the recording's brightness."""
    f = c.freqs()
    low_cut = 1.0 / np.sqrt(1 + (BAND[0] / np.maximum(f, 1e-3)) ** 4)
    taper = np.clip((_TOP - f) / (_TOP - _FLAT), 0.0, 1.0)
    gain = low_cut * np.sin(0.5 * np.pi * taper) ** 2 * (np.maximum(f, 1.0) / 1000.0) ** (brightness / 6.0206)
    gain[0] = 0.0
    return gain


def _context(name: str, seconds: float, variation: Variation, sample_rate: int,
             struck: tuple[np.ndarray, np.ndarray] | None = None, salt: int = 0) -> tuple[_Context, Recipe, Variation]:
    recipe, variation = _recipe(name, variation)
    n = round(seconds * sample_rate)
    if n < 2:  # one sample cannot have both no DC and unit RMS
        raise ValueError(f"seconds must give at least two samples, got {seconds}")
    c = _Context(n=n, nfft=fft.next_fast_len(n + int(_PAD * sample_rate), real=True), sample_rate=sample_rate,
                 rng=np.random.default_rng((variation.seed, salt) if salt else variation.seed),
                 pitch=variation.pitch, rate=variation.rate, struck=struck)
    return c, recipe, variation


def _struck_layer(name: str, recipe: Recipe) -> Impacts:
    if name not in STRUCK:
        raise ValueError(f"{name} is not a struck object; struck objects: {', '.join(STRUCK)}")
    return next(layer for layer in recipe.layers if isinstance(layer, Impacts))


def impact_schedule(name: str, seconds: float, variation: Variation,
                    sample_rate: int = SAMPLE_RATE) -> tuple[np.ndarray, np.ndarray]:
    """When a struck object (one of STRUCK) is struck in `seconds` of its sound: times (s) and
    each one's index within its group (a bounce's number), drawn from the variation's seed
    apart from the sound's own draws. Give them back to `synthesize` to be heard."""
    c, recipe, _ = _context(name, seconds, variation, sample_rate, salt=0x57A0C)
    s = _struck_layer(name, recipe)
    return _event_times(c, s.every, s.group, s.spacing, s.decay, s.regularity)


def ring_seconds(name: str) -> float:
    """How long a struck object rings after a hit, to 30 dB down: the end of its event."""
    s = _struck_layer(name, RECIPES[name])
    return float(np.log(10**1.5) * max([s.click[2]] + [decay for _, decay, _ in s.modes]))


def synthesize(name: str, seconds: float, variation: Variation, sample_rate: int = SAMPLE_RATE,
               impacts: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """`seconds` of the sound `name` as float64 mono at unit RMS, determined by its arguments;
    a struck object is struck at `impacts` (`impact_schedule`) if given."""
    if impacts is not None:
        _struck_layer(name, RECIPES[name])
    c, recipe, variation = _context(name, seconds, variation, sample_rate, impacts)
    mix = np.zeros(c.n)
    for layer in recipe.layers:
        signal = layer.level * _unit(_LAYERS[type(layer)](c, layer))
        if getattr(layer, "am", None) is not None:
            signal *= c.to_audio(_am(c, layer.am))
        mix += signal
    for envelope in recipe.envelope:
        mix *= c.to_audio(_ENVELOPES[type(envelope)](c, envelope))
    out = _filter(c, mix, _output_gain(c, variation.brightness))
    return _unit(out - out.mean())


def read_sound_file(path: str, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """A user's recording (WAV, FLAC, anything libsndfile reads) as float64 mono at
    `sample_rate`, band-limited as the synthetic sounds are, unit RMS."""
    import soundfile
    from scipy.signal import resample_poly

    try:
        audio, rate = soundfile.read(path, dtype="float64", always_2d=True)
    except (OSError, RuntimeError, soundfile.LibsndfileError) as err:
        raise ValueError(f"{path}: not a readable sound file ({err})") from None
    mono = audio.mean(axis=1)
    if len(mono) < rate // 10 or not np.all(np.isfinite(mono)) or not np.any(mono):
        raise ValueError(f"{path}: a source needs at least 0.1 s of finite, not silent sound")
    divisor = np.gcd(int(rate), int(sample_rate))
    mono = resample_poly(mono, sample_rate // divisor, int(rate) // divisor)
    c = _Context(n=len(mono), nfft=fft.next_fast_len(len(mono) + int(_PAD * sample_rate), real=True),
                 sample_rate=sample_rate, rng=np.random.default_rng(0), pitch=1.0, rate=1.0)
    out = _filter(c, mono, _output_gain(c, 0.0))
    if not np.any(out):
        raise ValueError(f"{path}: no sound within {BAND[0]:.0f}-{BAND[1]:.0f} Hz")
    return _unit(out - out.mean())
