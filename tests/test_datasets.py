"""The dataset specs against the tools that read them: the converter's discovery finds the
directories the specs name, flavours are told from paths, the presets hold the papers' values."""
import dataclasses

import numpy as np
import pytest

from conversion.recordings import find_recording_dirs
from dataloader import presets
from dataloader.datasets import ACIVW, ACIVW_SPEC, AVIA, AVIA_SPEC, DATASETS, dataset_spec, flavour_of_record
from dataloader.video import RGB_MEAN, restore_frames
from dataloader.windows import detect_flavour

RECORDINGS = {ACIVW: [(0, 1), (3, 12), (9, 60)], AVIA: [(1, 1, 0), (2, 9, 13), (3, 4, 7)]}


@pytest.mark.parametrize("flavour", DATASETS)
def test_discovery_finds_the_directories_the_spec_names(tmp_path, flavour):
    spec = dataset_spec(flavour)
    for numbers in RECORDINGS[flavour]:
        (tmp_path / "raw" / spec.relative_dir(numbers)).mkdir(parents=True)
        (tmp_path / "converted" / spec.converted_dir(numbers)).mkdir(parents=True)
    (tmp_path / "raw" / spec.relative_dir(RECORDINGS[flavour][0])).with_suffix(".partial").mkdir()
    found = find_recording_dirs(tmp_path / "raw", flavour)
    assert sorted(numbers for _, numbers in found) == sorted(RECORDINGS[flavour])
    assert all(relative == spec.relative_dir(numbers) for relative, numbers in found)
    converted = find_recording_dirs(tmp_path / "converted", flavour)
    assert sorted(numbers for _, numbers in converted) == sorted(map(spec.converted_numbers, RECORDINGS[flavour]))
    other = AVIA if flavour == ACIVW else ACIVW
    assert find_recording_dirs(tmp_path / "raw", other) == []


def test_paths_labels_and_levels_of_each_flavour():
    assert str(ACIVW_SPEC.relative_dir((3, 12))) == "class_3/data_012"
    assert str(AVIA_SPEC.relative_dir((2, 9, 13))) == "Location_02/Subject_09/Action_013"
    assert str(AVIA_SPEC.converted_dir((2, 9, 13))) == "Location_02/Subject_09/Action_014"
    assert ACIVW_SPEC.raw_labels((3, 12)) == {"classes": 3, "location": 12}
    assert AVIA_SPEC.raw_labels((2, 9, 13)) == {"action": 13, "location": 1, "subject": 8}
    for spec in DATASETS.values():
        assert set(spec.raw_labels(RECORDINGS[spec.flavour][0])) == {label.key for label in spec.labels}
    assert (ACIVW_SPEC.class_level, AVIA_SPEC.class_level) == (0, 2)
    assert AVIA_SPEC.number((2, 9, 13), "subject") == 9
    assert (ACIVW_SPEC.describe_tree(), AVIA_SPEC.describe_tree()) == ("class_*/data_*",
                                                                       "Location_*/Subject_*/Action_*")
    assert (ACIVW_SPEC.record_short_side, AVIA_SPEC.record_short_side) == (224, 480)
    assert AVIA_SPEC.label("subject").depth == 9


def test_flavour_is_told_from_a_record_path(tmp_path):
    assert flavour_of_record("/data/avia/Location_01/Subject_02/Action_003/Data_001.tfrecord") == AVIA
    assert flavour_of_record("/data/acivw/class_4/data_017/Data_001.tfrecord") == ACIVW
    assert flavour_of_record("/elsewhere/Data_001.tfrecord") == ACIVW
    assert flavour_of_record("/data/Location_01.tfrecord") == ACIVW  # a file's own name is no directory
    listed = tmp_path / "list.txt"
    listed.write_text("Location_03/Subject_01/Action_001/Data_004.tfrecord\n")
    assert detect_flavour(listed, root=tmp_path) == AVIA
    with pytest.raises(ValueError, match="unknown flavour 'acivx'"):
        dataset_spec("acivx")


def test_presets_keep_the_papers_settings():
    def settings(name):
        return {key: value for key, value in dataclasses.asdict(presets.PRESETS[name]).items()
                if key in ("flavour", "sample_length", "total_length", "number_of_crops", "video_short_side",
                           "video_size", "frame_step", "normalisation", "nr_frames")}

    assert settings("self_supervised_a") == {
        "flavour": "acivw", "sample_length": 2, "total_length": 2, "number_of_crops": 1, "video_short_side": 224,
        "video_size": (224, 298), "frame_step": 219, "normalisation": None, "nr_frames": None}
    assert settings("hearnet_a") == {**settings("self_supervised_a"), "video_short_side": None,
                                     "normalisation": "mean_std"}
    assert settings("transfer_a") == {**settings("self_supervised_a"), "normalisation": "mean_std"}
    assert settings("teacher_b") == {
        "flavour": "avia", "sample_length": 1, "total_length": 30, "number_of_crops": 30, "video_short_side": None,
        "video_size": (224, 298), "frame_step": 219, "normalisation": None, "nr_frames": None}
    assert settings("hearnet_b") == {**settings("teacher_b"), "sample_length": 5, "number_of_crops": 6,
                                     "frame_step": 220, "normalisation": "min_max"}
    assert settings("soundnet_b") == {**settings("hearnet_b"), "normalisation": None}
    assert settings("resnet50_b") == {**settings("soundnet_b"), "nr_frames": 5, "video_short_side": 256,
                                      "video_size": (224, 224)}
    for name in ("hearnet_b", "soundnet_b", "resnet50_b"):
        assert dataclasses.replace(presets.PRESETS[f"distill_{name}"], inputs=presets.PRESETS[name].inputs) == \
            presets.PRESETS[name]


def test_restore_frames_undoes_the_mean_subtraction():
    frames = np.random.default_rng(0).integers(0, 256, (2, 5, 7, 3), dtype=np.uint8)
    shown = frames.astype(np.float32) - np.float32(RGB_MEAN)
    restored = restore_frames(shown)
    assert restored.dtype == np.uint8
    np.testing.assert_array_equal(restored, frames)
    np.testing.assert_array_equal(restore_frames(np.full((1, 3), 1000.0)), np.full((1, 3), 255))
    np.testing.assert_array_equal(restore_frames(np.full((1, 3), -1000.0)), np.zeros((1, 3)))
