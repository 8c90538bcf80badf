"""Sensor geometry: the microphone array, the pinhole camera and the acoustic grid.

Coordinates are metres in the camera frame: x to the right, y down, z along the optical
axis. The camera's pinhole and the array's centre are both at the origin, the array lies
in the plane z = 0, so a direction seen by image pixel (u, v) is also a direction the
array can steer to. This is how the DualCam keeps acoustic and optical images aligned.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import numpy as np

from dataloader.camera import FRAME_SAMPLES, GRID_COLS, GRID_ROWS, IMAGE_SIZE, NUM_MICS, SAMPLE_RATE

SPEED_OF_SOUND = 343.0  # m/s, dry air at 20 degrees C

_GOLDEN_ANGLE = np.pi * (3.0 - np.sqrt(5.0))


def sunflower_array(num_mics: int = NUM_MICS, aperture: float = 0.5) -> np.ndarray:
    """Microphone positions (num_mics, 3) on a Vogel (sunflower) spiral.

    The spiral has near-uniform density but no two inter-microphone vectors repeat, so
    steering at frequencies above the spatial Nyquist limit of its ~4 cm mean spacing
    spreads energy into a low, diffuse sidelobe floor instead of grating lobes. The
    half-index offset keeps the innermost microphone off the exact centre.
    """
    k = np.arange(num_mics) + 0.5
    radius = 0.5 * aperture * np.sqrt(k / num_mics)
    theta = k * _GOLDEN_ANGLE
    return np.stack([radius * np.cos(theta), radius * np.sin(theta), np.zeros(num_mics)], axis=1)


@dataclasses.dataclass(frozen=True, eq=False)
class Geometry:
    """Everything needed to simulate and beamform: saved beside every dataset."""

    mic_positions: np.ndarray  # (M, 3) metres
    focal_length: float = 554.26  # pixels: 60 degrees horizontal field of view at 640 px
    image_size: tuple[int, int] = IMAGE_SIZE
    grid_size: tuple[int, int] = (GRID_ROWS, GRID_COLS)
    focus_distance: float = 3.0  # metres: the beamformer focuses on a sphere this far
    sample_rate: int = SAMPLE_RATE
    frame_samples: int = FRAME_SAMPLES
    speed_of_sound: float = SPEED_OF_SOUND

    @property
    def num_mics(self) -> int:
        return int(self.mic_positions.shape[0])

    def principal_point(self) -> tuple[float, float]:
        height, width = self.image_size
        return width / 2.0, height / 2.0

    def grid_pixels(self) -> np.ndarray:
        """Image coordinates (rows, cols, 2) as (u, v) of the centre of each acoustic cell."""
        height, width = self.image_size
        rows, cols = self.grid_size
        v = (np.arange(rows) + 0.5) * height / rows
        u = (np.arange(cols) + 0.5) * width / cols
        uu, vv = np.meshgrid(u, v)
        return np.stack([uu, vv], axis=-1)

    def pixel_rays(self, uv: np.ndarray) -> np.ndarray:
        """Unit direction vectors (..., 3) of the rays through image points (..., 2)."""
        cx, cy = self.principal_point()
        uv = np.asarray(uv, dtype=np.float64)
        ray = np.stack(
            [uv[..., 0] - cx, uv[..., 1] - cy, np.full(uv.shape[:-1], self.focal_length)], axis=-1
        )
        return ray / np.linalg.norm(ray, axis=-1, keepdims=True)

    def project(self, points: np.ndarray) -> np.ndarray:
        """Image coordinates (..., 2) of 3-D points (..., 3) in front of the camera."""
        points = np.asarray(points, dtype=np.float64)
        cx, cy = self.principal_point()
        z = points[..., 2]
        return np.stack(
            [cx + self.focal_length * points[..., 0] / z, cy + self.focal_length * points[..., 1] / z],
            axis=-1,
        )

    def back_project(self, uv: np.ndarray, depth: np.ndarray | float) -> np.ndarray:
        """3-D points (..., 3) at distance `depth` (metres, along z) behind image points."""
        ray = self.pixel_rays(uv)
        return ray * (np.asarray(depth, dtype=np.float64) / ray[..., 2])[..., None]

    def pixel_to_cell(self, uv: np.ndarray) -> np.ndarray:
        """Fractional (row, col) acoustic-grid coordinates of image points (..., 2)."""
        height, width = self.image_size
        rows, cols = self.grid_size
        uv = np.asarray(uv, dtype=np.float64)
        return np.stack([uv[..., 1] * rows / height - 0.5, uv[..., 0] * cols / width - 0.5], axis=-1)

    def focus_points(self) -> np.ndarray:
        """Points (rows, cols, 3) the beamformer focuses on: one per acoustic cell."""
        return self.pixel_rays(self.grid_pixels()) * self.focus_distance

    def fingerprint(self) -> str:
        """A digest of every field, so caches can tell equal geometries apart from equal ids.
        Exact: a geometry and its file's copy share it only because they are equal to the bit."""
        return hashlib.sha1(json.dumps(self.to_json(), sort_keys=True).encode()).hexdigest()

    def to_json(self) -> dict:
        fields = dataclasses.asdict(self)
        # Not rounded: JSON writes each float's shortest repr, which reads back to the same
        # bits, so a loaded geometry beamforms to the same bytes as the one saved (rounded to
        # 9 decimals, it shared the fingerprint, and so the cached beamformer, yet not the
        # acoustic images' last bits).
        fields["mic_positions"] = self.mic_positions.tolist()
        fields["layout"] = "Vogel sunflower spiral, centre at the camera pinhole, plane z = 0"
        fields["units"] = "metres; pixels for focal_length, image_size; Hz for sample_rate"
        return fields

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_json(), indent=1))

    @classmethod
    def load(cls, path: str | Path) -> Geometry:
        try:
            fields = json.loads(Path(path).read_text())
            known = {f.name for f in dataclasses.fields(cls)}
            kwargs = {k: v for k, v in fields.items() if k in known}
            kwargs["mic_positions"] = np.asarray(kwargs["mic_positions"], dtype=np.float64)
            for key in ("image_size", "grid_size"):
                if key in kwargs:
                    kwargs[key] = tuple(kwargs[key])
            geometry = cls(**kwargs)
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise ValueError(f"{path}: not a readable array geometry file ({err})") from err
        if geometry.mic_positions.ndim != 2 or geometry.mic_positions.shape[1] != 3:
            raise ValueError(f"{path}: mic_positions must be a list of [x, y, z] triples")
        return geometry


def default_geometry() -> Geometry:
    return Geometry(mic_positions=sunflower_array())


GEOMETRY_FILENAME = "array_geometry.json"
