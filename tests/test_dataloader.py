"""The input pipelines on tiny records whose contents encode their time: in recording r,
frame g of the recording (g = 12 (s - 1) + f for frame f of second s) holds acoustic
images of value 1000 r + g, audio samples 10^6 r + 1024 g + i, and video pixels whose red
is g and green r. A sample's values therefore say which seconds of which recording it holds."""
import dataclasses
import io
import os

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from dataloader import schema, stats
from dataloader.config import LoaderConfig, Throughput
from dataloader.pipeline import default_phases, make_dataset, output_keys
from dataloader.presets import PRESETS
from dataloader.video import RGB_MEAN
from dataloader.windows import find_clips, read_list, seconds_in_no_window, window_dataset, windows_per_epoch

FPS = 12
SMALL_VIDEO = {"video_size": (6, 8)}  # frames stored 6 x 8: no resize, no crop


def encoded_arrays(recording: int, second: int, mics: int = 1, video_shape=(6, 8)) -> dict[str, np.ndarray]:
    g = (second - 1) * FPS + np.arange(FPS)
    images = np.broadcast_to((1000 * recording + g).astype(np.float32)[:, None, None, None], (FPS, 36, 48, 12))
    samples = 10**6 * recording + 1024 * g[:, None] + np.arange(1024)
    audio = np.stack([samples + 100_000 * mic for mic in range(mics)], axis=1).astype(np.int32)
    video = np.zeros((FPS, *video_shape, 3), np.uint8)
    video[..., 0] = g[:, None, None] % 256
    video[..., 1] = recording
    video[..., 2] = 7
    return {"acoustic_image": images, "audio_data": audio, "video": video}


def write_recording(root, relative: str, recording: int, seconds, labels: dict, flavour: str = "acivw") -> list[str]:
    paths = []
    for second in seconds:
        path = os.path.join(root, relative, f"Data_{second:03d}.tfrecord")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        schema.write_record_file(path, schema.make_sequence_example(flavour, labels, **encoded_arrays(recording,
                                                                                                     second)))
        paths.append(path)
    return paths


@pytest.fixture(scope="module")
def acivw(tmp_path_factory):
    """Three recordings of 5, 4 and 7 s (recording ids 1, 2, 3), listed out of order."""
    root = tmp_path_factory.mktemp("acivw")
    lengths = {1: 5, 2: 4, 3: 7}
    paths = []
    for recording, length in lengths.items():
        labels = {"classes": recording + 2, "location": 10 * recording}
        paths += write_recording(root, f"class_{recording + 2}/data_{10 * recording:03d}", recording,
                                 range(1, length + 1), labels)
    order = np.random.default_rng(0).permutation(len(paths))
    list_path = root / "list.txt"
    list_path.write_text("".join(paths[i] + "\n" for i in order))
    return {"root": root, "list": str(list_path), "paths": paths, "lengths": lengths}


def recording_id(path) -> int:
    return int(os.path.basename(path.decode() if isinstance(path, bytes) else path)[len("data_"):]) // 10


def config(**changes) -> LoaderConfig:
    base = LoaderConfig("acivw", ("acoustic_image", "audio", "video"), sample_length=2, nr_frames=5, **SMALL_VIDEO)
    return dataclasses.replace(base, **changes)


def samples(dataset) -> list[dict[str, np.ndarray]]:
    out = []
    for batch in dataset:
        size = batch["first_second"].shape[0]
        out += [{key: value[i].numpy() for key, value in batch.items()} for i in range(size)]
    return out


def assert_sample_is_its_window(sample: dict, cfg: LoaderConfig) -> None:
    """Every modality holds the seconds first_second ... first_second + L - 1 of its recording."""
    recording = recording_id(sample["recording"])
    frames = (sample["first_second"] - 1) * FPS + np.arange(cfg.frames_per_sample)
    if "acoustic_image" in sample:
        np.testing.assert_array_equal(sample["acoustic_image"][:, 5, 7, 3], 1000 * recording + frames)
    if "audio" in sample:
        expected = 10**6 * recording + 1024 * frames[:, None] + np.arange(1024)
        np.testing.assert_array_equal(sample["audio"][:, 0], expected.ravel())
    if "video" in sample:
        picked = frames[np.linspace(0, cfg.frames_per_sample - 1, cfg.num_video_frames).astype(int)]
        rgb = sample["video"][:, 2, 3] + np.array(RGB_MEAN, np.float32)
        np.testing.assert_allclose(rgb, np.stack([picked % 256, np.full_like(picked, recording),
                                                  np.full_like(picked, 7)], axis=1), atol=1e-4)
    np.testing.assert_array_equal(sample["classes"], np.eye(10)[recording + 2])
    np.testing.assert_array_equal(sample["video_index"], np.eye(61)[10 * recording])


def test_evaluation_windows_are_consecutive_aligned_and_in_list_order(acivw):
    cfg = config()
    got = samples(make_dataset(acivw["list"], cfg, batch_size=3))
    first_listed = []
    for line in read_list(acivw["list"]):
        if recording_id(os.path.dirname(line)) not in first_listed:
            first_listed.append(recording_id(os.path.dirname(line)))
    expected = [(r, s) for r in first_listed for s in range(1, acivw["lengths"][r], 2)]
    assert [(recording_id(x["recording"]), int(x["first_second"])) for x in got] == expected
    for sample in got:
        assert_sample_is_its_window(sample, cfg)
    again = samples(make_dataset(acivw["list"], cfg, Throughput(cycle_length=2, parallel_calls=2), batch_size=4))
    assert [(x["recording"], x["first_second"]) for x in again] == [(x["recording"], x["first_second"]) for x in got]


def windows_of(dataset) -> list[tuple[int, int]]:
    return sorted((recording_id(x["recording"]), int(x["first_second"])) for x in samples(dataset))


def test_training_crops_are_new_every_epoch_and_repeat_with_the_seed(acivw):
    cfg = config(training=True, number_of_crops=4, seed=3)
    epochs = [windows_of(make_dataset(acivw["list"], cfg, batch_size=2, first_epoch=e)) for e in range(3)]
    assert all(len(epoch) == 12 for epoch in epochs)  # 3 recordings x 4 crops
    assert epochs[0] != epochs[1] != epochs[2]
    assert windows_of(make_dataset(acivw["list"], cfg, batch_size=2, first_epoch=1)) == epochs[1]
    assert windows_of(make_dataset(acivw["list"], config(training=True, number_of_crops=4, seed=4),
                                   batch_size=2, first_epoch=1)) != epochs[1]
    # Epochs of one long run are the epochs of separate runs: a resumed run draws the same crops.
    assert windows_of(make_dataset(acivw["list"], cfg, batch_size=2, epochs=2)) == sorted(epochs[0] + epochs[1])
    assert len(windows_of(make_dataset(acivw["list"], cfg, batch_size=8, epochs=2))) == 24  # a batch spans 2 epochs
    for epoch in epochs:
        for recording in (1, 2, 3):
            assert sum(r == recording for r, _ in epoch) == 4
    for sample in samples(make_dataset(acivw["list"], cfg, batch_size=4, epochs=2)):
        assert_sample_is_its_window(sample, cfg)


def test_training_covers_every_start_and_batches_have_static_shapes(acivw):
    cfg = config(training=True, number_of_crops=3, inputs=("acoustic_image",))
    dataset = make_dataset(acivw["list"], cfg, batch_size=4, epochs=None)
    assert dataset.element_spec["acoustic_image"].shape == (4, 24, 36, 48, 12)
    starts = {(recording_id(x["recording"]), int(x["first_second"])) for x in samples(dataset.take(40))}
    assert starts == {(r, s) for r, n in acivw["lengths"].items() for s in range(1, n)}


def test_windows_never_cross_a_gap_a_recording_or_total_length(tmp_path):
    paths = write_recording(tmp_path, "class_0/data_010", 1, [1, 2, 3, 5, 6, 9], {"classes": 0, "location": 10})
    paths += write_recording(tmp_path, "class_0/data_020", 2, [1, 2, 3], {"classes": 0, "location": 20})
    clips = find_clips(paths)
    assert [(c.first_second, len(c.paths)) for c in clips] == [(1, 3), (5, 2), (9, 1), (1, 3)]
    cfg = config(training=True, number_of_crops=5, inputs=("audio",))
    assert windows_per_epoch(clips, cfg) == 15  # the 1 s clip holds no 2 s window
    got = set(windows_of(make_dataset(paths, cfg, batch_size=5, epochs=6)))
    assert got == {(1, 1), (1, 2), (1, 5), (2, 1), (2, 2)}
    # Blocks of total_length seconds, as the originals' files.batch(total_length), never across a gap or
    # a recording; the 1-s leftovers hold no window.
    blocks = find_clips(paths, total_length=2)
    assert [(c.first_second, len(c.paths)) for c in blocks] == [(1, 2), (3, 1), (5, 2), (9, 1), (1, 2), (3, 1)]
    cut = config(training=True, number_of_crops=5, inputs=("audio",), total_length=2)
    assert windows_per_epoch(blocks, cut) == 15
    # What is lost is counted: 1-s clips in training; in evaluation, the tails that fill no 2-s window.
    assert seconds_in_no_window(clips, cfg) == 1 and seconds_in_no_window(blocks, cut) == 3
    assert seconds_in_no_window(clips, config(inputs=("audio",))) == 3
    assert set(windows_of(make_dataset(paths, cut, batch_size=5, epochs=6))) == {(1, 1), (1, 5), (2, 1)}
    long = write_recording(tmp_path, "class_0/data_030", 3, range(1, 8), {"classes": 0, "location": 30})
    assert [(c.first_second, len(c.paths)) for c in find_clips(long, total_length=3)] == [(1, 3), (4, 3), (7, 1)]
    every_block = config(training=True, number_of_crops=1, inputs=("audio",), total_length=2)
    got = windows_of(make_dataset(long, every_block, batch_size=3, epochs=1))
    assert sorted(got) == [(3, 1), (3, 3), (3, 5)]  # (A)'s recipe: each 2-s block once an epoch
    assert windows_of(make_dataset(paths, config(inputs=("audio",)), batch_size=5)) == [(1, 1), (1, 5), (2, 1)]


def test_window_dataset_gives_paths_in_time_order(acivw):
    cfg = config(sample_length=3)
    windows = list(window_dataset(find_clips(acivw["paths"]), cfg).as_numpy_iterator())
    for window in windows:
        seconds = [int(os.path.basename(p.decode())[5:8]) for p in window["paths"]]
        assert seconds == list(range(window["first_second"], window["first_second"] + 3))
        assert {os.path.dirname(p.decode()) for p in window["paths"]} == {window["recording"].decode()}


def test_list_lines_relative_to_a_root(acivw, tmp_path):
    relative = tmp_path / "relative.txt"
    relative.write_text("".join(os.path.relpath(p, acivw["root"]) + "\n" for p in acivw["paths"][:4]))
    with pytest.raises(ValueError, match="relative paths"):
        read_list(relative)
    got = samples(make_dataset(str(relative), config(), batch_size=2, root=acivw["root"]))
    assert [int(x["first_second"]) for x in got] == [1, 3]


def test_duplicate_lines_and_foreign_files_are_refused(acivw):
    with pytest.raises(ValueError, match="listed twice"):
        find_clips(acivw["paths"][:2] + acivw["paths"][:1])
    with pytest.raises(ValueError, match="not a record file name"):
        find_clips(["/data/class_0/data_001/I_000001.bmp"])


def test_malformed_records_name_their_file(tmp_path):
    labels = {"classes": 0, "location": 1}
    paths = write_recording(tmp_path, "class_0/data_001", 1, [1], labels)
    arrays = encoded_arrays(1, 2)
    example = schema.make_sequence_example("acivw", labels, **arrays)
    del example.feature_lists.feature_list["audio/image"].feature[-1]
    bad = str(tmp_path / "class_0/data_001/Data_002.tfrecord")
    schema.write_record_file(bad, example)
    # The window holds Data_001 and Data_002; the error names the one at fault.
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"\[[^,\]]*/Data_002.tfrecord: a record does not hold 12 frames of audio/image\]"):
        samples(make_dataset(paths + [bad], config(), batch_size=1))
    wrong_label = write_recording(tmp_path, "class_0/data_099", 1, [1, 2], {"classes": 0, "location": 99})
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match="data_099/Data_001.tfrecord: label location is outside 0..60"):
        samples(make_dataset(wrong_label, config(), batch_size=1))


def minimal_record(flavour: str, labels: dict, arrays: dict, jpeg: bool) -> bytes:
    """A record written from SPEC.md alone ("TFRecord format"), not through the schema module."""
    def int64(value):
        return tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))

    def frames(items):
        return tf.train.FeatureList(feature=[tf.train.Feature(bytes_list=tf.train.BytesList(value=[item]))
                                             for item in items])

    images, audio, video = arrays["acoustic_image"], arrays["audio_data"], arrays["video"]
    context = {key: int64(value) for key, value in labels.items()}
    sizes = {"audio_image/height": 36, "audio_image/width": 48, "audio_image/depth": 12,
             "audio_data/mics": audio.shape[1], "audio_data/samples": 1024,
             "video/height": video.shape[1], "video/width": video.shape[2], "video/depth": 3}
    context.update({key: int64(value) for key, value in sizes.items()})
    if jpeg:
        encoded = []
        for frame in video:
            buffer = io.BytesIO()
            Image.fromarray(frame).save(buffer, format="JPEG", quality=95)
            encoded.append(buffer.getvalue())
    else:
        encoded = [frame[..., ::-1].tobytes() for frame in video]  # OpenCV's BGR
    lists = {"audio/image": frames(f.astype("<f4").tobytes() for f in images),
             "audio/data": frames(f.astype("<i4").tobytes() for f in audio),
             "video/image": frames(encoded)}
    example = tf.train.SequenceExample(context=tf.train.Features(feature=context),
                                       feature_lists=tf.train.FeatureLists(feature_list=lists))
    return example.SerializeToString()


def write_minimal(path: str, record: bytes) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with tf.io.TFRecordWriter(path, options="GZIP") as writer:
        writer.write(record)


def test_records_of_a_minimal_acivw_writer_load(tmp_path):
    paths = []
    for second in (1, 2, 3):
        arrays = encoded_arrays(4, second, mics=2)
        path = str(tmp_path / f"class_1/data_040/Data_{second:03d}.tfrecord")
        write_minimal(path, minimal_record("acivw", {"classes": 6, "location": 40}, arrays, jpeg=False))
        paths.append(path)
    cfg = config(sample_length=3, nr_frames=3, flip_acoustic_images=True, inputs=("acoustic_image", "audio",
                                                                                  "video", "waveform"))
    (sample,) = samples(make_dataset(paths, cfg, batch_size=1))
    assert sample["recording"].decode().endswith("class_1/data_040")
    assert_sample_is_its_window(sample, cfg)  # microphone 0, RGB, one value per frame
    assert sample["waveform"].shape == (3 * 22_050, 1) and np.abs(sample["waveform"]).max() == pytest.approx(1)


def test_flips_turn_acoustic_images_left_right_and_upside_down(tmp_path):
    labels = {"classes": 0, "location": 1}
    arrays = encoded_arrays(1, 1)
    arrays["acoustic_image"] = np.broadcast_to(np.arange(36 * 48, dtype=np.float32).reshape(36, 48, 1),
                                            (12, 36, 48, 12))
    path = str(tmp_path / "class_0/data_001/Data_001.tfrecord")
    os.makedirs(os.path.dirname(path))
    schema.write_record_file(path, schema.make_sequence_example("acivw", labels, **arrays))
    plain, flipped = (samples(make_dataset([path], config(sample_length=1, inputs=("acoustic_image",),
                                                          flip_acoustic_images=flip), batch_size=1))[0]
                      for flip in (False, True))
    np.testing.assert_array_equal(flipped["acoustic_image"], plain["acoustic_image"][:, ::-1, ::-1])


def test_mirror_flips_acoustic_images_and_video_together_and_keeps_the_crops(tmp_path):
    """Images whose every cell and pixel differ: a mirrored sample is its unmirrored twin with
    the columns of both acoustic images and video reversed, and nothing else changed."""
    paths = []
    for second in range(1, 7):
        arrays = encoded_arrays(1, second)
        arrays["acoustic_image"] = arrays["acoustic_image"] + np.arange(36 * 48, dtype=np.float32).reshape(36, 48, 1)
        arrays["video"][..., 2] = np.arange(48).reshape(6, 8)
        path = str(tmp_path / f"class_0/data_010/Data_{second:03d}.tfrecord")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        schema.write_record_file(path, schema.make_sequence_example("acivw", {"classes": 0, "location": 10}, **arrays))
        paths.append(path)
    cfg = config(training=True, number_of_crops=8, seed=5)

    def run(mirror: bool, training: bool = True, epoch: int = 0):
        return samples(make_dataset(paths, dataclasses.replace(cfg, mirror=mirror, training=training),
                                    Throughput(deterministic=True), batch_size=4, first_epoch=epoch))

    mirrored = 0
    for epoch in (0, 1):
        plain, mirror = run(False, epoch=epoch), run(True, epoch=epoch)
        assert [x["first_second"] for x in mirror] == [x["first_second"] for x in plain]
        for x, y in zip(plain, mirror):
            flipped = not np.array_equal(x["acoustic_image"], y["acoustic_image"])
            mirrored += flipped
            expected = {key: value[:, :, ::-1] if flipped and key in ("acoustic_image", "video") else value
                        for key, value in x.items()}
            for key in x:
                np.testing.assert_array_equal(y[key], expected[key], err_msg=key)
        assert [x["acoustic_image"].tobytes() for x in run(True, epoch=epoch)] == [
            x["acoustic_image"].tobytes() for x in mirror]
    assert 0 < mirrored < 16
    evaluation = run(True, training=False)
    for x, y in zip(run(False, training=False), evaluation):
        np.testing.assert_array_equal(x["acoustic_image"], y["acoustic_image"])
        np.testing.assert_array_equal(x["video"], y["video"])


def test_acoustic_image_statistics_tool_and_dataset_standardisation(tmp_path):
    """Per-coefficient statistics over every frame and cell of the list, then (x - mean) / std:
    the two recordings keep their different levels (a per-sample standardisation would make
    both means 0)."""
    rng = np.random.default_rng(3)
    paths, images = [], []
    for recording, level in ((1, -100.0), (2, -80.0)):
        arrays = encoded_arrays(1, 1)
        arrays["acoustic_image"] = (rng.normal(size=(12, 36, 48, 12)) * np.arange(1, 13) + level).astype(np.float32)
        path = str(tmp_path / f"class_0/data_{recording:03d}/Data_001.tfrecord")
        os.makedirs(os.path.dirname(path))
        schema.write_record_file(path, schema.make_sequence_example("acivw", {"classes": 0, "location": recording},
                                                                    **arrays))
        paths.append(path)
        images.append(arrays["acoustic_image"])
    list_file = tmp_path / "list.txt"
    list_file.write_text("\n".join(paths) + "\n")
    out = tmp_path / "acoustic_stats.npz"
    assert stats.main([str(list_file), "--input", "acoustic_image", "--out", str(out)]) == 0
    values = np.stack(images).reshape(-1, 12).astype(np.float64)
    with np.load(out) as saved:
        assert str(saved["input"]) == "acoustic_image" and int(saved["count"]) == 2 * 12 * 36 * 48
        np.testing.assert_allclose(saved["mean"], values.mean(0), rtol=1e-9)
        np.testing.assert_allclose(saved["std"], values.std(0), rtol=1e-9)
        mean, std = saved["mean"], saved["std"]

    loader = config(sample_length=1, inputs=("acoustic_image",), acoustic_image_stats_path=str(out))
    got = {int(s["recording"].decode()[-3:]): s["acoustic_image"]
           for s in samples(make_dataset(paths, loader, batch_size=1))}
    for recording, image in enumerate(images, 1):
        np.testing.assert_allclose(got[recording], (image - mean) / std, rtol=1e-4, atol=1e-4)
    assert got[1][..., 0].mean() < -0.9 and got[2][..., 0].mean() > 0.9  # levels -100 and -80, c0's std ~10

    with pytest.raises(ValueError, match="statistics of acoustic_image, not of spectrogram"):
        stats.load_normalisation(dataclasses.replace(loader, normalisation="mean_std", stats_path=str(out)))


def test_records_of_a_minimal_avia_writer_with_jpeg_frames_load(tmp_path):
    """B: JPEG 48 x 64 frames, short side to 32, centre 32 x 32; the frames are flat colours,
    so JPEG and resizing keep them."""
    paths = []
    for second in (1, 2):
        arrays = encoded_arrays(2, second, video_shape=(48, 64))
        path = str(tmp_path / f"Location_02/Subject_05/Action_004/Data_{second:03d}.tfrecord")
        labels = {"action": 3, "location": 1, "subject": 4}
        write_minimal(path, minimal_record("avia", labels, arrays, jpeg=True))
        paths.append(path)
    cfg = LoaderConfig("avia", ("video", "acoustic_image"), sample_length=2, nr_frames=2, video_short_side=32,
                       video_size=(32, 32))
    (sample,) = samples(make_dataset(paths, cfg, batch_size=1))
    assert sample["video"].shape == (2, 32, 32, 3)
    np.testing.assert_allclose(sample["video"] + np.array(RGB_MEAN), np.broadcast_to(
        np.array([[0, 2, 7], [23, 2, 7]], np.float32)[:, None, None], (2, 32, 32, 3)), atol=3)
    np.testing.assert_array_equal(sample["acoustic_image"][:, 0, 0, 0], 2000 + np.arange(24))
    for name, index, depth in (("action", 3, 14), ("location", 1, 3), ("subject", 4, 9)):
        np.testing.assert_array_equal(sample[name], np.eye(depth)[index])


@pytest.fixture(scope="module")
def preset_data(tmp_path_factory):
    """One 2 s ACIVW recording with 224 x 298 frames and one 5 s AVIA recording with
    480 x 640 JPEG frames, as the converters write them, and statistics for both presets."""
    root = tmp_path_factory.mktemp("presets")
    frame = np.zeros((480, 640, 3), np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(frame).save(buffer, format="JPEG")
    jpeg = [buffer.getvalue()] * FPS
    lists = {}
    for flavour, relative, seconds, labels in (("acivw", "class_0/data_001", 2, {"classes": 0, "location": 1}),
                                               ("avia", "Location_01/Subject_01/Action_001", 5,
                                                {"action": 0, "location": 0, "subject": 0})):
        lists[flavour] = []
        for second in range(1, seconds + 1):
            arrays = encoded_arrays(1, second, video_shape=(224, 298) if flavour == "acivw" else (6, 8))
            video_shape = None
            if flavour == "avia":
                arrays["video"], video_shape = jpeg, (480, 640, 3)
            path = str(root / relative / f"Data_{second:03d}.tfrecord")
            os.makedirs(os.path.dirname(path), exist_ok=True)
            example = schema.make_sequence_example(flavour, labels, video_shape=video_shape, **arrays)
            schema.write_record_file(path, example)
            lists[flavour].append(path)
    stats = {}
    for flavour, step, length in (("acivw", 219, 2), ("avia", 220, 5)):
        stats[flavour] = str(root / f"stats_{flavour}.npz")
        np.savez(stats[flavour], mean=np.zeros(257), std=np.ones(257), min=np.zeros(257), max=np.ones(257),
                 frame_length=440, frame_step=step, fft_length=512, sample_length=length)
    return lists, stats


EXPECTED_SHAPES = {
    "acoustic_image": lambda c: (12 * c.sample_length, 36, 48, 12),
    "video": lambda c: (c.num_video_frames, *c.video_size, 3),
    "waveform": lambda c: (22_050 * c.sample_length, 1),
    "spectrogram": lambda c: ({2: 200, 5: 500}[c.sample_length], 1, 257),
}


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_presets_give_the_shapes_their_models_take(preset_data, name):
    lists, stats = preset_data
    cfg = dataclasses.replace(PRESETS[name], training=False)
    if cfg.normalisation:
        cfg = dataclasses.replace(cfg, stats_path=stats[cfg.flavour])
    dataset = make_dataset(lists[cfg.flavour], cfg, batch_size=1)
    spec = dataset.element_spec
    assert set(spec) == set(output_keys(cfg))
    for key in cfg.inputs:
        assert spec[key].shape[1:] == EXPECTED_SHAPES[key](cfg)
    sample = samples(dataset)[0]
    for key in cfg.inputs:
        assert sample[key].shape == EXPECTED_SHAPES[key](cfg)
        assert np.all(np.isfinite(sample[key]))


def test_a_stage_replaces_one_function_of_a_phase(acivw):
    cfg = config(inputs=("acoustic_image",))
    phases = default_phases(cfg)
    assert list(phases["decode"]) == ["acoustic_image"]
    phases["preprocess"]["acoustic_image"] = lambda f: {**f, "acoustic_image": f["acoustic_image"] * 0 + 1}
    phases["postprocess"]["count"] = lambda batch: {**batch, "acoustic_image": tf.reduce_sum(
        batch["acoustic_image"], axis=[1, 2, 3, 4])}
    (batch,) = make_dataset(acivw["paths"][:2], cfg, batch_size=2, phases=phases)
    assert batch["acoustic_image"].numpy().tolist() == [24 * 36 * 48 * 12]


def test_cache_serves_evaluation_and_is_refused_in_training(acivw):
    cfg = config(inputs=("audio",))
    cached = make_dataset(acivw["list"], cfg, Throughput(cache=""), batch_size=4, epochs=2)
    assert windows_of(cached) == sorted(windows_of(make_dataset(acivw["list"], cfg, batch_size=4)) * 2)
    with pytest.raises(ValueError, match="cache"):
        make_dataset(acivw["list"], config(training=True), Throughput(cache=""), batch_size=4)


def test_tf_data_service_makes_every_window_once(acivw):
    dispatcher = tf.data.experimental.service.DispatchServer()
    address = dispatcher.target.split("://")[1]
    workers = [tf.data.experimental.service.WorkerServer(
        tf.data.experimental.service.WorkerConfig(dispatcher_address=address)) for _ in range(2)]
    cfg = config(inputs=("audio",), training=True, number_of_crops=2)
    served = make_dataset(acivw["list"], cfg, Throughput(service_address=dispatcher.target), batch_size=1,
                          first_epoch=5)
    assert windows_of(served) == windows_of(make_dataset(acivw["list"], cfg, batch_size=1, first_epoch=5))
    del workers


@pytest.mark.parametrize("changes, message", [
    ({"inputs": ("depth",)}, "inputs must be"),
    ({"inputs": ()}, "inputs must be"),
    ({"total_length": 1}, "shorter than sample_length"),
    ({"nr_frames": 25}, "nr_frames must be in 1..24"),
    ({"resampler": "librosa"}, "resampler"),
    ({"normalisation": "z"}, "normalisation"),
    ({"flavour": "acivw2"}, "flavour"),
    ({"mirror": True, "audio_mics": 2}, "several microphones"),
    ({"truth": ("subject",)}, "truth must be distinct names among"),  # AVIA's label; its truth is target_subject
])
def test_bad_configurations_are_refused(changes, message):
    with pytest.raises(ValueError, match=message):
        config(**changes)


def test_normalised_spectrograms_need_their_statistics(acivw, preset_data):
    with pytest.raises(ValueError, match="python -m dataloader.stats"):
        make_dataset(acivw["list"], PRESETS["hearnet_a"], batch_size=1)
    _, stats = preset_data
    with pytest.raises(ValueError, match="frame_step 220 .loader: 219."):
        make_dataset(acivw["list"], dataclasses.replace(PRESETS["hearnet_a"], stats_path=stats["avia"]), batch_size=1)
