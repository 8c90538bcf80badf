import hashlib
import json

import numpy as np
import pytest
import scipy.io
from PIL import Image

from dataloader.datasets import ACIVW_SPEC, AVIA_SPEC
from dualcam.beamforming import acoustic_images, beamformer_for
from dualcam.geometry import GEOMETRY_FILENAME, Geometry, default_geometry
from dualcam.scenes import Options
from dualcam.simulate import main, plan, simulate_dataset


def _digest(root):
    return {str(p.relative_to(root)): hashlib.sha1(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def acivw(tmp_path_factory):
    root = tmp_path_factory.mktemp("acivw")
    simulate_dataset(root, "acivw", seconds=1.0, seed=3, classes=[0, 4], recordings_per_class=1, progress=False)
    return root


@pytest.fixture(scope="module")
def avia(tmp_path_factory):
    root = tmp_path_factory.mktemp("avia")
    simulate_dataset(root, "avia", seconds=1.0, seed=3, locations=[2], subjects=[4], actions=[0, 13],
                     progress=False)
    return root


def test_acivw_files_read_back_with_spec_dtypes_shapes_and_order(acivw):
    recording = acivw / "class_4" / "data_001"
    assert sorted(p.name for p in recording.iterdir()) == ["MFCC_Image", "audio", "ground_truth.json", "video"]
    assert sorted(p.name for p in (recording / "MFCC_Image").iterdir()) == sorted(f"Data_{i}.mat" for i in range(1, 13))
    assert sorted(p.name for p in (recording / "audio").iterdir()) == [f"A_{i:06d}.dc" for i in range(1, 13)]
    assert sorted(p.name for p in (recording / "video").iterdir()) == [f"I_{i:06d}.bmp" for i in range(1, 13)]
    image = scipy.io.loadmat(recording / "MFCC_Image" / "Data_5.mat")["MFCC"]
    assert image.dtype == np.float32 and image.shape == (36, 48, 12)
    frames = np.stack([np.fromfile(recording / "audio" / f"A_{i:06d}.dc", dtype=np.int32)
                       .reshape((128, 1024), order="F") for i in range(1, 13)])
    assert (recording / "audio" / "A_000001.dc").stat().st_size == 128 * 1024 * 4
    # The acoustic image is the beamformed .dc frame: only the Fortran-order reading gives it back.
    geometry = Geometry.load(acivw / GEOMETRY_FILENAME)
    np.testing.assert_allclose(acoustic_images(frames[4:5], geometry)[0], image, rtol=1e-5, atol=1e-4)
    wrong_order = np.fromfile(recording / "audio" / "A_000005.dc", dtype=np.int32).reshape((1, 128, 1024))
    assert not np.allclose(acoustic_images(wrong_order, geometry)[0], image, atol=1e-2)
    with Image.open(recording / "video" / "I_000001.bmp") as image:
        assert image.format == "BMP" and image.mode == "RGB" and image.size == (640, 480)


def test_avia_files_read_back_with_spec_dtypes_and_shapes(avia):
    relative = "Location_02/Subject_04/Action_013"
    mat_dir, raw_dir = avia / "mat" / relative, avia / "raw" / relative
    assert len(list((mat_dir / "MFCC_Image").glob("Data_*.mat"))) == 12
    audio = np.load(raw_dir / "audio" / "A_000012.npy")
    assert audio.dtype == np.int32 and audio.shape == (1, 1024)
    with Image.open(raw_dir / "video" / "I_000012.jpeg") as image:
        assert image.format == "JPEG" and image.size == (640, 480)
    truth = json.loads((raw_dir / "ground_truth.json").read_text())
    assert truth["action"] == 13 and truth["action_name"] == AVIA_SPEC.class_names[13]
    assert truth["location"] == 2 and truth["subject"] == 4 and truth["room"] == "office"
    assert (avia / "mat" / GEOMETRY_FILENAME).is_file() and (avia / "raw" / GEOMETRY_FILENAME).is_file()


def test_acoustic_image_peaks_at_the_sounding_object(acivw):
    """The c0 (log energy) image, averaged over a second, peaks where the target is."""
    geometry = Geometry.load(acivw / GEOMETRY_FILENAME)
    for recording in sorted(acivw.glob("class_*/data_*")):
        truth = json.loads((recording / "ground_truth.json").read_text())
        target = truth["sources"][0]
        assert target["role"] == "target" and target["name"] == truth["class_name"]
        energy = np.mean([scipy.io.loadmat(recording / "MFCC_Image" / f"Data_{i}.mat")["MFCC"][..., 0]
                          for i in range(1, 13)], axis=0)
        peak = np.unravel_index(np.argmax(energy), energy.shape)
        true_cell = geometry.pixel_to_cell(np.mean(target["pixels"], axis=0))
        assert np.all(np.abs(np.asarray(peak) - true_cell) <= 1.5), (recording, peak, true_cell)


def test_same_seed_same_bytes_whatever_the_workers(acivw, tmp_path):
    simulate_dataset(tmp_path, "acivw", seconds=1.0, seed=3, workers=2, classes=[0, 4], recordings_per_class=1,
                     progress=False)
    assert _digest(tmp_path) == _digest(acivw)


def test_another_seed_gives_another_dataset(acivw, tmp_path):
    simulate_dataset(tmp_path, "acivw", seconds=1.0, seed=4, classes=[0], recordings_per_class=1, progress=False)
    a, b = _digest(tmp_path), _digest(acivw)
    assert a["class_0/data_001/audio/A_000001.dc"] != b["class_0/data_001/audio/A_000001.dc"]


def test_rerun_keeps_complete_recordings_and_replaces_partial_ones(acivw, tmp_path):
    simulate_dataset(tmp_path, "acivw", seconds=1.0, seed=3, classes=[0], recordings_per_class=1, progress=False)
    (tmp_path / "class_4" / "data_001.partial" / "audio").mkdir(parents=True)  # an interrupted run's leftovers
    summary = simulate_dataset(tmp_path, "acivw", seconds=1.0, seed=3, classes=[0, 4], recordings_per_class=1,
                               progress=False)
    assert summary["recordings_kept"] == 1 and summary["recordings_written"] == 1
    assert _digest(tmp_path) == _digest(acivw)


def test_plan_counts_and_rejects_unknown_flavours():
    assert len(plan("acivw", recordings_per_class=3)) == 3 * len(ACIVW_SPEC.class_names)
    assert len(plan("avia")) == 3 * 9 * 14
    with pytest.raises(ValueError, match="flavour"):
        plan("acivx")
    with pytest.raises(ValueError, match="class"):
        plan("acivw", classes=[10])
    with pytest.raises(ValueError, match="subject"):
        plan("avia", subjects=[0])


@pytest.mark.parametrize("flag", ["--flavour", "--layout"])
def test_cli_rejects_partial_frames(tmp_path, capsys, flag):
    with pytest.raises(SystemExit):
        main([flag, "acivw", "--out", str(tmp_path), "--seconds", "0.05"])
    assert "multiple of 1/12" in capsys.readouterr().err


def test_a_geometry_file_gives_back_the_geometry_to_the_last_bit(tmp_path):
    """Else the file's copy would beamform to other acoustic-image bytes, and a simulation in a
    process that had converted a dataset with --beamform (loading its geometry file) would
    differ from one in a fresh process: they share the cached beamformer."""
    exact = default_geometry()
    exact.save(tmp_path / GEOMETRY_FILENAME)
    copy = Geometry.load(tmp_path / GEOMETRY_FILENAME)
    np.testing.assert_array_equal(copy.mic_positions, exact.mic_positions)
    assert copy.fingerprint() == exact.fingerprint()
    # A geometry off by less than a file rounded to (older files) is another geometry.
    rounded = Geometry(mic_positions=np.round(exact.mic_positions, 9))
    assert not np.array_equal(rounded.mic_positions, exact.mic_positions)
    assert rounded.fingerprint() != exact.fingerprint()
    for geometry in (rounded, exact, copy, rounded):
        np.testing.assert_array_equal(beamformer_for(geometry).geometry.mic_positions, geometry.mic_positions)


def test_speech_offsets_and_a_users_file_give_the_same_bytes_whatever_the_workers(tmp_path):
    """eSpeak NG's voices, per-recording offsets and a user's file, in a worker process as in
    this one: same seed, same bytes."""
    import soundfile

    sound = tmp_path / "hum.wav"
    soundfile.write(sound, 0.3 * np.sin(2 * np.pi * 220 * np.arange(8000) / 8000), 8000)
    speaking = AVIA_SPEC.class_names.index("speaking")
    options = Options(offsets=(-0.3, 0.3), sound_files=(("typing", (str(sound),)),))
    runs = []
    for workers in (1, 2):
        out = tmp_path / f"workers_{workers}"
        simulate_dataset(out, "avia", seconds=1.0, seed=5, workers=workers, locations=[1], subjects=[2, 7],
                         actions=[speaking, AVIA_SPEC.class_names.index("typing")], options=options, progress=False)
        runs.append(_digest(out))
    assert runs[0] == runs[1]
    truths = [json.loads(p.read_text()) for p in sorted((tmp_path / "workers_1").rglob("ground_truth.json"))]
    assert len({t["offset_samples"] for t in truths}) == 4 and all(abs(t["offset_s"]) <= 0.3 for t in truths)
    assert {t["sources"][0]["instance"] for t in truths if t["action_name"] == "typing"} == {f"typing/file:{sound}"}
    spoken = [e for t in truths for e in t["events"] if e["class"] == "speaking" and e["role"] == "target"]
    assert spoken and all(e["subject"] in (2, 7) for e in spoken)


@pytest.mark.parametrize("args, problem", [
    (["--sound_file", "drill"], "expected SOUND=PATH"),
    (["--sound_file", "violin=x.wav"], "sound_file violin: unknown sound"),
    (["--sound_file", "drill=/nonexistent.wav"], "/nonexistent.wav: not a readable sound file"),
    (["--offsets", "0.5", "-0.5"], "LOW <= HIGH"),
    (["--background", "2", "1"], "0 <= MIN <= MAX"),
])
def test_cli_names_a_bad_option_in_one_line_and_writes_nothing(tmp_path, capsys, args, problem):
    out = tmp_path / "out"
    with pytest.raises(SystemExit):
        main(["--flavour", "acivw", "--out", str(out), "--seconds", "1", "--classes", "0", *args])
    err = capsys.readouterr().err.strip().splitlines()
    assert problem in err[-1] and "Traceback" not in "".join(err)
    assert not any(p.is_file() for p in out.rglob("*")) if out.exists() else True


def test_without_espeak_speech_is_refused_with_the_way_out(tmp_path, capsys, monkeypatch):
    from dualcam import speech

    def unavailable(*args, **kwargs):
        raise speech.SpeechUnavailable("speech needs eSpeak NG: pip install espeakng-loader (...)")

    monkeypatch.setattr(speech, "speak", unavailable)
    speaking = str(AVIA_SPEC.class_names.index("speaking"))
    with pytest.raises(SystemExit):
        main(["--flavour", "avia", "--out", str(tmp_path), "--seconds", "1", "--locations", "1", "--subjects", "1",
              "--actions", speaking])
    err = capsys.readouterr().err.strip()
    assert "pip install espeakng-loader" in err and "--speech formant" in err and len(err.splitlines()) == 1
    # The built-in voice needs nothing.
    main(["--flavour", "avia", "--out", str(tmp_path), "--seconds", "1", "--locations", "1", "--subjects", "1",
          "--actions", speaking, "--speech", "formant"])
    assert (tmp_path / "raw" / "Location_01" / "Subject_01" / f"Action_{int(speaking):03d}").is_dir()
