import numpy as np
import pytest

from dataloader.camera import GRID_COLS, GRID_ROWS
from dualcam.geometry import Geometry, sunflower_array


def test_array_is_planar_128_mics_half_metre_aperture(geometry):
    mics = geometry.mic_positions
    assert mics.shape == (128, 3)
    np.testing.assert_array_equal(mics[:, 2], 0.0)
    radius = np.linalg.norm(mics[:, :2], axis=1)
    assert 0.24 < radius.max() <= 0.25
    np.testing.assert_allclose(mics[:, :2].mean(axis=0), 0.0, atol=0.01)


def test_array_layout_is_irregular():
    # A regular grid repeats its inter-microphone vectors many times (that is what makes
    # grating lobes); the spiral's are all distinct.
    def repeated_fraction(mics):
        vectors = np.round((mics[:, None] - mics[None]).reshape(-1, 2), 4)
        vectors = vectors[np.any(vectors != 0, axis=1)]
        return 1.0 - len(np.unique(vectors, axis=0)) / len(vectors)

    mics = sunflower_array()[:, :2]
    grid = np.stack(np.meshgrid(np.arange(16) * 0.033, np.arange(8) * 0.066), axis=-1).reshape(-1, 2)
    assert repeated_fraction(mics) < 0.01
    assert repeated_fraction(grid) > 0.9
    spacing = np.linalg.norm(mics[:, None] - mics[None], axis=-1) + np.eye(128)
    assert spacing.min() > 0.015


def test_grid_cells_look_where_image_blocks_look(geometry):
    pixels = geometry.grid_pixels()
    assert pixels.shape == (GRID_ROWS, GRID_COLS, 2)
    # cell (r, c) covers image block (r, c): rows of 480/36 and columns of 640/48 pixels
    np.testing.assert_allclose(pixels[0, 0], [640 / 48 / 2, 480 / 36 / 2])
    np.testing.assert_allclose(pixels[35, 47], [640 - 640 / 96, 480 - 480 / 72])
    np.testing.assert_allclose(geometry.pixel_to_cell(pixels), np.stack(np.meshgrid(
        np.arange(GRID_ROWS), np.arange(GRID_COLS), indexing="ij"), axis=-1), atol=1e-9)
    focus = geometry.focus_points()
    np.testing.assert_allclose(np.linalg.norm(focus, axis=-1), geometry.focus_distance)
    np.testing.assert_allclose(geometry.project(focus), pixels, atol=1e-9)


def test_projection_round_trip(geometry, rng):
    uv = rng.uniform([0, 0], [640, 480], size=(20, 2))
    depth = rng.uniform(1, 8, size=20)
    points = geometry.back_project(uv, depth)
    np.testing.assert_allclose(points[:, 2], depth)
    np.testing.assert_allclose(geometry.project(points), uv, atol=1e-9)
    # 60 degrees of horizontal field of view
    left, right = geometry.pixel_rays(np.array([[0.0, 240.0], [640.0, 240.0]]))
    assert np.degrees(np.arccos(left @ right)) == pytest.approx(60.0, abs=0.01)


def test_geometry_file_round_trip(geometry, tmp_path):
    path = tmp_path / "array_geometry.json"
    geometry.save(path)
    loaded = Geometry.load(path)
    np.testing.assert_allclose(loaded.mic_positions, geometry.mic_positions, atol=1e-9)
    assert loaded.grid_size == geometry.grid_size and loaded.focal_length == geometry.focal_length
    assert loaded.fingerprint() == geometry.fingerprint()


def test_bad_geometry_file_names_the_file(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"mic_positions": [[0, 1]]}')
    with pytest.raises(ValueError, match="broken.json"):
        Geometry.load(path)
    with pytest.raises(ValueError, match="missing.json"):
        Geometry.load(tmp_path / "missing.json")
