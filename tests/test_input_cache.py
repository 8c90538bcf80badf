"""The decode-once input cache (dataloader/input_cache.py): samples from the cache equal the
samples from the records, epoch after epoch; later epochs read no record; a cache is
keyed so that a stale one is never read; an unfinished one resumes."""
import dataclasses
import os
import time

import numpy as np
import pytest
import tensorflow as tf

from dataloader import input_cache, schema
from dataloader.config import LoaderConfig, Throughput
from dataloader.input_cache import InputCache, cached_video_frames, window_video_indices
from dataloader.pipeline import describe_read_error, make_dataset
from tests.test_dataloader import SMALL_VIDEO, encoded_arrays, samples, write_recording


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    """Recordings of 5, 4 and 7 s whose values say which second they hold
    (tests/test_dataloader.py), listed in order."""
    root = tmp_path_factory.mktemp("records")
    paths = []
    for recording, length in {1: 5, 2: 4, 3: 7}.items():
        paths += write_recording(root, f"class_{recording + 2}/data_{10 * recording:03d}", recording,
                                 range(1, length + 1), {"classes": recording + 2, "location": 10 * recording})
    return paths


def config(**changes) -> LoaderConfig:
    base = LoaderConfig("acivw", ("acoustic_image", "audio", "video"), sample_length=2, nr_frames=5, **SMALL_VIDEO)
    return dataclasses.replace(base, **changes)


def load(paths, cfg, cache=None, epoch=0, batch_size=3):
    return samples(make_dataset(paths, cfg, Throughput(deterministic=True, input_cache=cache and str(cache)),
                                batch_size=batch_size, first_epoch=epoch))


def assert_same_samples(expected: list[dict], served: list[dict]) -> None:
    assert len(served) == len(expected) > 0
    for want, got in zip(expected, served):
        assert want.keys() == got.keys()
        for key in want:
            assert np.asarray(got[key]).dtype == np.asarray(want[key]).dtype, key
            np.testing.assert_array_equal(got[key], want[key], err_msg=key)


@pytest.mark.parametrize("changes", [
    {"training": True, "number_of_crops": 3, "seed": 4, "mirror": True},
    {},  # evaluation windows
    {"sample_length": 3, "nr_frames": 7, "training": True},  # frames picked from three positions
    {"inputs": ("spectrogram", "waveform"), "training": True, "number_of_crops": 2},
    {"inputs": ("audio",), "audio_mics": 1, "training": True},
])
def test_samples_from_the_cache_are_the_records_samples_every_epoch(records, tmp_path, changes):
    cfg = config(**changes)
    for epoch in range(3):
        assert_same_samples(load(records, cfg, epoch=epoch), load(records, cfg, tmp_path, epoch=epoch))


def test_normalised_spectrograms_from_the_cache_are_the_records(records, tmp_path):
    from dataloader import stats

    cfg = config(inputs=("spectrogram",), training=True, normalisation="min_max")
    path = tmp_path / "stats.npz"
    stats.save_statistics(path, stats.compute_statistics(records, cfg))
    cfg = dataclasses.replace(cfg, stats_path=str(path))
    assert_same_samples(load(records, cfg, epoch=1), load(records, cfg, tmp_path / "cache", epoch=1))


def test_after_the_first_epoch_no_record_is_read(records, tmp_path, monkeypatch):
    cfg = config(training=True, number_of_crops=2)
    first = load(records, cfg, tmp_path, epoch=0)

    def unread(*args, **kwargs):
        raise AssertionError("a record was read")

    monkeypatch.setattr(schema, "read_record", unread)
    assert_same_samples(first, load(records, cfg, tmp_path, epoch=0))
    assert len(load(records, cfg, tmp_path, epoch=1)) == len(first)


def test_the_cache_keeps_only_the_frames_a_window_can_pick():
    cfg = config(sample_length=2, nr_frames=2)  # frames 0 and 23 of a window: 0 of its first second, 11 of its last
    assert cached_video_frames(cfg) == (0, 11)
    np.testing.assert_array_equal(window_video_indices(cfg), [0, 3])
    assert cached_video_frames(config(sample_length=1, nr_frames=12)) == tuple(range(12))


def test_avia_jpeg_frames_from_the_cache_are_the_decoded_records(tmp_path):
    from tests.test_dataloader import minimal_record, write_minimal

    paths = []
    for second in range(1, 4):
        arrays = encoded_arrays(1, second, mics=3, video_shape=(32, 40))
        path = tmp_path / "avia" / f"Location_01/Subject_01/Action_001/Data_{second:03d}.tfrecord"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_minimal(str(path), minimal_record("avia", {"action": 1, "location": 0, "subject": 0}, arrays, jpeg=True))
        paths.append(str(path))
    cfg = LoaderConfig("avia", ("video", "acoustic_image", "audio"), sample_length=2, nr_frames=3,
                       video_short_side=32, video_size=(32, 32), audio_mics=2, training=True, number_of_crops=3)
    for epoch in range(2):
        assert_same_samples(load(paths, cfg, epoch=epoch), load(paths, cfg, tmp_path / "cache", epoch=epoch))


def test_ground_truth_from_the_cache_is_the_records(simulated_acivw, tmp_path):
    from dataloader.pipeline import record_paths

    paths = record_paths(simulated_acivw["valid_file"])
    cfg = LoaderConfig("acivw", ("acoustic_image",), sample_length=3, training=True,
                       truth=("activity", "phrase_activity", "offset", "caption"))
    assert_same_samples(load(paths, cfg), load(paths, cfg, tmp_path))


def _cache_dirs(root) -> list[str]:
    return sorted(d.name for d in root.iterdir())


def test_a_record_converted_again_makes_a_new_cache_and_the_stale_one_goes(records, tmp_path):
    paths = [str(tmp_path / "copy" / os.path.relpath(p, os.path.dirname(os.path.dirname(os.path.dirname(p)))))
             for p in records]
    for original, copy in zip(records, paths):
        os.makedirs(os.path.dirname(copy), exist_ok=True)
        with open(original, "rb") as src, open(copy, "wb") as dst:
            dst.write(src.read())
    cfg = config()
    cache = tmp_path / "cache"
    before = load(paths, cfg, cache)
    (first,) = _cache_dirs(cache)
    # Recording 1's first second now holds recording 2's values, written later.
    time.sleep(0.01)
    schema.write_record_file(paths[0], schema.make_sequence_example(
        "acivw", {"classes": 3, "location": 10}, **encoded_arrays(2, 1)))
    after = load(paths, cfg, cache)
    assert after[0]["acoustic_image"][0, 0, 0, 0] == 2000.0 != before[0]["acoustic_image"][0, 0, 0, 0]
    assert_same_samples(load(paths, cfg), after)
    assert _cache_dirs(cache) != [first] and len(_cache_dirs(cache)) == 1
    # Rewritten within the same second at the same size, a record still differs in its
    # modification time's nanoseconds (TensorFlow's file stat has whole seconds only).
    (second,) = _cache_dirs(cache)
    info = os.stat(paths[1])
    os.utime(paths[1], ns=(info.st_atime_ns, info.st_mtime_ns + 1))
    load(paths, cfg, cache)
    assert _cache_dirs(cache) != [second] and len(_cache_dirs(cache)) == 1


def test_other_settings_make_a_cache_of_their_own_and_clear_removes_only_caches(records, tmp_path):
    cache = tmp_path / "cache"
    load(records, config(), cache)
    load(records, config(inputs=("audio",)), cache)
    load(records, config(training=True, mirror=True), cache)  # decodes as evaluation does: the same cache
    (cache / "notes").mkdir()
    assert len(_cache_dirs(cache)) == 3
    assert input_cache.clear(cache) == 2
    assert _cache_dirs(cache) == ["notes"]
    assert input_cache.clear(tmp_path / "none") == 0


def test_an_unfinished_cache_resumes_keeping_its_complete_files(records, tmp_path):
    cfg = config()
    cache = tmp_path / "cache"
    expected = load(records, cfg, cache)
    (key,) = _cache_dirs(cache)
    files = sorted((cache / key / "records").iterdir())
    (cache / key / input_cache.INDEX).unlink()  # killed before its index: unfinished
    files[0].unlink()
    (cache / key / "records" / "x.bin.partial").write_bytes(b"half")
    kept = {f.name: f.stat().st_mtime_ns for f in files[1:]}
    assert_same_samples(expected, load(records, cfg, cache))
    assert {f.name: f.stat().st_mtime_ns for f in files[1:]} == kept
    assert sorted(f.name for f in (cache / key / "records").iterdir()) == [f.name for f in files]


def test_a_bad_record_is_named_and_leaves_the_cache_unfinished(records, tmp_path):
    paths = list(records[:4])
    bad = tmp_path / "class_3/data_010/Data_005.tfrecord"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"not a record")
    cache = tmp_path / "cache"
    with pytest.raises(tf.errors.InvalidArgumentError) as raised:
        load([*paths, str(bad)], config(), cache)
    assert describe_read_error(raised.value).startswith(f"{bad}: ")
    (key,) = _cache_dirs(cache)
    assert not (cache / key / input_cache.INDEX).exists()


def test_a_missing_record_is_named(records, tmp_path):
    with pytest.raises(ValueError, match="nothing.tfrecord: no such record file"):
        InputCache.of(tmp_path, [*records, str(tmp_path / "nothing.tfrecord")], config())


def test_a_run_with_the_cache_trains_as_one_without_and_clear_rebuilds_it(simulated_acivw, tmp_path, capsys):
    import main
    from tests.test_main import _run_main

    common = ["--model", "DualCamHybridNet", "--sample_length", "1", "--number_of_crops", "2", "--batch_size", "4",
              "--num_epochs", "1", "--verbose", "0", "--deterministic", "--train_file", simulated_acivw["train_file"],
              "--valid_file", simulated_acivw["valid_file"], "--checkpoint_dir", str(tmp_path / "runs"),
              "--acoustic_image_stats", simulated_acivw["acoustic_image_stats"]]
    cache = tmp_path / "cache"
    plain = _run_main([*common, "--exp_name", "plain"])
    cached = _run_main([*common, "--exp_name", "cached", "--input_cache", str(cache)])
    assert cached["logs"] == plain["logs"]
    assert len(_cache_dirs(cache)) == 2  # the training and the validation list
    built = {d: (cache / d / input_cache.INDEX).stat().st_mtime_ns for d in _cache_dirs(cache)}
    _run_main([*common, "--exp_name", "again", "--input_cache", str(cache)])
    assert {d: (cache / d / input_cache.INDEX).stat().st_mtime_ns for d in _cache_dirs(cache)} == built
    _run_main([*common, "--exp_name", "cleared", "--input_cache", str(cache),
               "--clear_input_cache"])
    assert _cache_dirs(cache) == sorted(built)
    assert all((cache / d / input_cache.INDEX).stat().st_mtime_ns > built[d] for d in built)

    main.FLAGS.unparse_flags()
    main.FLAGS(["main.py", *common, "--exp_name", "x", "--clear_input_cache"])
    assert main.main([]) == 2
    assert capsys.readouterr().err.strip().endswith("--clear_input_cache: needs --input_cache, the directory to clear")
