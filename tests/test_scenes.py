"""The simulator's time, identity and words: events heard and seen when the ground truth says,
offsets recoverable, subjects recognisable by voice, captions that name the events."""
import json

import librosa
import numpy as np
import pytest

from dataloader.camera import FRAMES_PER_SECOND, SAMPLE_RATE
from dataloader.datasets import ACIVW_SPEC, AVIA_SPEC
from dualcam import captions, events, scenes, sounds, speech
from dualcam.geometry import Geometry, default_geometry, sunflower_array
from dualcam.propagation import NoiseField
from dualcam.recording import record
from dualcam.scenes import Options, Scene, Source

QUIET = scenes.Room("quiet", diffuse_db=-100.0, sensor_db=-110.0)


@pytest.fixture(scope="module")
def noise():
    return NoiseField(default_geometry())


def _source(name, events_, impacts=None, uv=(320.0, 260.0), depth=2.0, size=0.3):
    return Source(name=name, role="target", start_uv=uv, velocity=(0.0, 0.0), depth=depth, size=size,
                  level_db=-10.0, variation=sounds.Variation(seed=5), events=np.asarray(events_, dtype=float),
                  impacts=impacts)


def _record(geometry, noise, sources, seconds, offset_samples=0):
    scene = Scene(tuple(sources), QUIET, background=7, seconds=seconds, label={}, offset_samples=offset_samples)
    return record(scene, geometry, noise, np.random.default_rng(0))


def _array_energy(audio: np.ndarray) -> np.ndarray:
    """Energy per video frame at the array (mean over the microphones)."""
    return np.mean(audio.astype(np.float64) ** 2, axis=(1, 2))


def _struck(name, times):
    times = np.asarray(times, dtype=float)
    return _source(name, events.merge(np.stack([times, times + sounds.ring_seconds(name)], axis=1)),
                   impacts=(times, np.zeros(len(times), dtype=int)))


@pytest.mark.parametrize("source", [
    _source("drill", [(0.5, 1.7), (2.4, 3.1), (3.9, 4.6)]),
    _struck("knocking", [0.6, 2.1, 3.5, 4.4]),
])
def test_an_isolated_source_is_heard_from_each_onset_to_each_offset(geometry, noise, source):
    result = _record(geometry, noise, [source], seconds=5.0)
    energy = _array_energy(result["audio"])
    sounding = energy > 1e-4 * energy.max()  # 40 dB under the loudest frame
    truth = result["truth"]["events"]
    assert len(truth) == len(events.clip(source.events, 0.0, 5.0))
    for event in truth:
        onset_frame = int(event["onset"] * FRAMES_PER_SECOND)
        offset_frame = int(np.ceil(event["offset"] * FRAMES_PER_SECOND)) - 1  # the last frame it sounds in
        rises = np.flatnonzero(sounding[:onset_frame + 2])
        assert onset_frame - 1 <= rises[rises >= onset_frame - 3].min() <= onset_frame + 1, event
        assert not sounding[onset_frame - 2], event  # silent before
        assert sounding[offset_frame - 1:offset_frame + 2].any() and not sounding[offset_frame + 2], event


def _frame_motion(frames: np.ndarray, uv, radius: int = 60) -> np.ndarray:
    """Energy of the frame difference around a point; entry t compares frames t - 1 and t."""
    u, v = int(uv[0]), int(uv[1])
    box = frames[:, max(v - radius, 0):v + radius, max(u - radius, 0):u + radius].astype(np.float64)
    return np.concatenate([[0.0], np.sum(np.diff(box, axis=0) ** 2, axis=(1, 2, 3))])


def _onsets(audio: np.ndarray) -> np.ndarray:
    """How much the audio energy (microphone 0) rises into each frame-long span centred on a
    frame boundary t / 12, the span frame difference t looks at: an onset envelope, which
    peaks at an impact rather than through its ringing."""
    x = audio[:, 0].astype(np.float64).ravel()
    half = len(audio[0, 0]) // 2
    padded = np.concatenate([np.zeros(half), x, np.zeros(half)])
    energy = np.sum(padded[:len(audio) * 2 * half].reshape(len(audio), 2 * half) ** 2, axis=1)
    return np.maximum(np.diff(energy, prepend=0.0), 0.0)


IMPACTS = [0.55, 1.35, 2.6, 3.1, 4.45, 5.2, 6.3]


def test_a_struck_object_moves_when_it_is_heard_and_an_offset_is_recovered(geometry, noise):
    seconds, shift_frames = 7.0, 3
    source = _struck("hammering", IMPACTS)
    aligned = _record(geometry, noise, [source], seconds)
    motion = _frame_motion(aligned["frames"], source.start_uv)
    peaks = [t for t in range(1, len(motion) - 1) if motion[t] >= motion[t - 1] and motion[t] >= motion[t + 1]
             and motion[t] > 0.3 * motion.max()]
    for impact in IMPACTS:
        assert min(abs(p - impact * FRAMES_PER_SECOND) for p in peaks) <= 1.0, (impact, peaks)

    offset = shift_frames * len(aligned["audio"][0, 0])  # the array 3 frames (250 ms) behind the video
    late = _record(geometry, noise, [source], seconds, offset_samples=offset)
    assert late["truth"]["offset_s"] == pytest.approx(0.25) and late["truth"]["offset_samples"] == offset
    np.testing.assert_array_equal(late["frames"], aligned["frames"])  # the video is the reference
    lags = range(-6, 7)

    def recovered(result):
        envelope = _onsets(result["audio"])
        envelope, moving = envelope - envelope.mean(), motion - motion.mean()
        score = [np.sum(envelope[max(lag, 0):len(envelope) + min(lag, 0)] * moving[max(-lag, 0):len(moving) -
                                                                                       max(lag, 0)])
                 for lag in lags]
        return lags[int(np.argmax(score))]

    assert recovered(aligned) == 0
    assert recovered(late) == shift_frames


def _mean_mfcc(audio: np.ndarray) -> np.ndarray:
    """MFCCs 1..12 (c0, the level, left out) averaged over the frames within 20 dB of the
    loudest: the voice, not the room's silence between sentences."""
    x = audio[:, 0].astype(np.float64).ravel()
    x = x / np.abs(x).max()
    mfcc = librosa.feature.mfcc(y=x, sr=SAMPLE_RATE, n_mfcc=13)
    rms = librosa.feature.rms(y=x)[0][:mfcc.shape[1]]
    return mfcc[1:, rms > 0.1 * rms.max()].mean(axis=1)


@pytest.mark.skipif(not speech.available(), reason="eSpeak NG is not installed (pip install espeakng-loader)")
@pytest.mark.parametrize("location", [1, 2])
def test_subjects_keep_their_voices(location):
    """At a location (anechoic, office), each of two recordings of a subject speaking is
    closer to the other than to any other subject's. Eight microphones and no acoustic
    images: the voices are what is tested, not the array."""
    geometry = Geometry(mic_positions=sunflower_array(8))
    noise = NoiseField(geometry)
    speaking = AVIA_SPEC.class_names.index("speaking")
    embeddings, who = [], []
    for subject in range(4, 10):
        for take in range(2):
            rng = np.random.default_rng((subject, location, take))
            scene = scenes.avia_scene(rng, location, subject, speaking, 4.0, Options(background=(0, 0)), geometry)
            embeddings.append(_mean_mfcc(record(scene, geometry, noise, rng, images=False)["audio"]))
            who.append(subject)
    embeddings, who = np.array(embeddings), np.array(who)
    distance = np.linalg.norm(embeddings[:, None] - embeddings[None], axis=-1)
    for i in range(len(who)):
        same = distance[i, (who == who[i]) & (np.arange(len(who)) != i)]
        assert same.max() < distance[i, who != who[i]].min(), (i, distance[i].round(1))


def test_captions_name_the_events_and_their_segments(geometry):
    for seed in range(8):
        rng = np.random.default_rng(seed)
        scene = scenes.acivw_scene(rng, seed % 10, 1, 6.0, Options(background=(1, 2)), geometry)
        sounding = {s.name for s in scene.sources if s.level_db is not None}
        parsed = captions.parse(scene.caption)
        assert {name for _, name in parsed} == sounding, scene.caption
        assert [text for text, _ in parsed] == [text for text, _, _ in sorted(
            scene.phrases, key=lambda p: scene.caption.lower().index(p[0]))]
        for text, name, segments in scene.phrases:
            source = next(s for s in scene.sources if s.name == name)
            np.testing.assert_allclose(segments, events.merge(events.clip(np.round(source.events, 4), 0, 6.0)))
            assert text in scene.caption.lower()


def test_where_a_sound_comes_from_depends_on_what_it_is(geometry):
    """Drones and razors (at a face) sound from high in the picture, hoovers and carts from low down."""
    heights = {}
    for name in ("drone", "razor", "hoover", "shopping_cart"):
        index = ACIVW_SPEC.class_names.index(name)
        heights[name] = np.mean([scenes.acivw_scene(np.random.default_rng(seed), index, 1, 1.0, Options(),
                                                    geometry).sources[0].start_uv[1] for seed in range(20)])
    assert max(heights["drone"], heights["razor"]) + 100 < min(heights["hoover"], heights["shopping_cart"]), heights


def test_a_users_sound_file_is_a_source(tmp_path, geometry, noise):
    import soundfile

    t = np.arange(3 * 16000) / 16000
    path = tmp_path / "tone.flac"
    soundfile.write(path, 0.5 * np.sin(2 * np.pi * 1000.0 * t), 16000)
    options = Options(sound_files=(("drill", (str(path),)),), background=(0, 0))
    rng = np.random.default_rng(3)
    scene = scenes.acivw_scene(rng, ACIVW_SPEC.class_names.index("drill"), 1, 2.0, options, geometry)
    result = record(scene, geometry, noise, rng)
    target = result["truth"]["sources"][0]
    assert target["instance"] == f"drill/file:{path}"
    x = result["audio"][:, 0].astype(np.float64).ravel()
    freqs = np.fft.rfftfreq(len(x), 1 / SAMPLE_RATE)
    assert abs(freqs[np.argmax(np.abs(np.fft.rfft(x)))] - 1000.0) < 5.0


def test_ground_truth_is_json_with_events_caption_and_offset(geometry, noise):
    rng = np.random.default_rng(11)
    scene = scenes.acivw_scene(rng, 2, 1, 2.0, Options(offsets=(-0.2, 0.2)), geometry)
    truth = json.loads(json.dumps(record(scene, geometry, noise, rng)["truth"]))
    assert truth["offset_samples"] == scene.offset_samples and -0.2 <= truth["offset_s"] <= 0.2
    assert truth["caption"] == scene.caption and truth["phrases"]
    for phrase in truth["phrases"]:
        heard = [(e["onset"], e["offset"]) for e in truth["events"] if e["class"] == phrase["class"]]
        np.testing.assert_allclose(phrase["segments"], events.merge(heard))
        assert phrase["phrase"] in truth["caption"].lower()
    for event in truth["events"]:
        assert 0 <= event["onset"] < event["offset"] <= 2.0
        frames = len(event["pixels"])
        assert frames == len(event["position_m"]) >= 1
        assert event["first_frame"] == int(event["onset"] * FRAMES_PER_SECOND)


def test_every_sound_has_a_place_and_one_kind_of_timeline():
    from dualcam import objects

    assert set(objects.PLACES) == set(sounds.SOUND_NAMES)
    kinds = [set(objects.TIMINGS), set(sounds.STRUCK), {"speaking"}]
    assert set.union(*kinds) == set(sounds.SOUND_NAMES)
    assert sum(len(kind) for kind in kinds) == len(sounds.SOUND_NAMES)  # disjoint
