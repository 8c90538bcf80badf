"""Simulate -> framecount -> convert -> parse, through the command-line entry points, on the
simulator's data; values are compared with the raw files read by `dataloader.raw`."""
import shutil

import cv2
import numpy as np
import pytest

import convert_data
import framecount
from dataloader import schema
from dataloader.datasets import ACIVW_SPEC, AVIA_SPEC
from dataloader.raw import bmp_name, dc_name, jpeg_name, mat_name, npy_name, read_dc, read_image, read_mat, read_npy
from dualcam.beamforming import acoustic_images
from dualcam.geometry import GEOMETRY_FILENAME, Geometry
from dualcam.simulate import simulate_dataset

pytestmark = pytest.mark.slow  # simulating takes 5 to 10 s per recording


def test_simulated_acivw_round_trip(tmp_path):
    raw = tmp_path / "raw"
    simulate_dataset(raw, "acivw", seconds=2.0, seed=11, classes=[6], recordings_per_class=1, progress=False)
    assert framecount.main([str(raw), "0"]) == 0
    assert convert_data.main([str(raw), str(tmp_path / "out"), "--modalities", "0", "1", "2", "--quiet"]) == 0
    recording = raw / ACIVW_SPEC.relative_dir((6, 1))
    for second in range(2):
        record = tmp_path / f"out/class_6/data_001/Data_{second + 1:03d}.tfrecord"
        parsed = schema.read_record_file(record, "acivw")
        assert (parsed["classes"], parsed["location"]) == (6, 1)
        numbers = range(second * 12 + 1, second * 12 + 13)
        mat_files = [recording / "MFCC_Image" / mat_name(i) for i in numbers]
        images = np.stack([read_mat(str(path)) for path in mat_files])
        audio = np.stack([read_dc(recording / "audio" / dc_name(i))[:1] for i in numbers])
        frames = [read_image(recording / "video" / bmp_name(i)) for i in numbers]
        video = np.stack([cv2.resize(f, (298, 224), interpolation=cv2.INTER_CUBIC) for f in frames])
        np.testing.assert_array_equal(parsed["acoustic_image"], images)
        np.testing.assert_array_equal(parsed["audio_data"], audio)
        np.testing.assert_array_equal(parsed["video"], video)

    # Without its acoustic images, beamforming the 128-microphone audio gives them back.
    shutil.rmtree(recording / "MFCC_Image")
    assert convert_data.main([str(raw), str(tmp_path / "beamformed"), "--modalities", "0", "--beamform",
                              "--quiet"]) == 0
    parsed = schema.read_record_file(tmp_path / "beamformed/class_6/data_001/Data_002.tfrecord", "acivw",
                                     ("acoustic_image",))
    all_mics = np.stack([read_dc(recording / "audio" / dc_name(i)) for i in range(13, 25)])
    geometry = Geometry.load(raw / GEOMETRY_FILENAME)
    np.testing.assert_array_equal(parsed["acoustic_image"], acoustic_images(all_mics, geometry))
    np.testing.assert_allclose(parsed["acoustic_image"], images, atol=1e-4)


def test_simulated_avia_round_trip(tmp_path):
    simulate_dataset(tmp_path / "sim", "avia", seconds=1.0, seed=12, locations=[2], subjects=[4], actions=[9],
                     progress=False)
    mat, raw = tmp_path / "sim" / "mat", tmp_path / "sim" / "raw"
    assert framecount.main([str(raw), "0"]) == 0
    assert convert_data.main([str(mat), str(raw), str(tmp_path / "out"), "--quiet"]) == 0
    relative = AVIA_SPEC.relative_dir((2, 4, 9))
    out = tmp_path / "out" / "Location_02" / "Subject_04" / "Action_010"
    assert len(list(out.glob("*.tfrecord"))) == 30
    for second in (0, 1, 29):
        parsed = schema.read_record_file(out / f"Data_{second + 1:03d}.tfrecord", "avia", decode_video=False)
        assert (parsed["action"], parsed["location"], parsed["subject"]) == (9, 1, 3)
        numbers = [(second * 12 + k) % 12 + 1 for k in range(12)]  # 1 s of frames, wrapped to 30 records
        images = np.stack([read_mat(str(mat / relative / "MFCC_Image" / mat_name(i))) for i in numbers])
        audio = np.stack([read_npy(raw / relative / "audio" / npy_name(i)) for i in numbers])
        jpegs = [(raw / relative / "video" / jpeg_name(i)).read_bytes() for i in numbers]
        np.testing.assert_array_equal(parsed["acoustic_image"], images)
        np.testing.assert_array_equal(parsed["audio_data"], audio)
        assert list(parsed["video"]) == jpegs
