"""The DualCam's figures: what the acoustic camera records, the one place that states them.

The real camera and the simulated one (`dualcam`) are the same instrument: 128 microphones
sampled at 12,288 Hz beside a 480 x 640 video camera, both at 12 frames a second (one frame
is 1024 samples of every microphone), and a beamformer that turns each frame into an
acoustic image of 36 x 48 cells of 12 coefficients. Records hold one second, 12 frames.
"""
from __future__ import annotations

FRAMES_PER_SECOND = 12
FRAME_SAMPLES = 1024  # samples per microphone per frame
SAMPLE_RATE = FRAMES_PER_SECOND * FRAME_SAMPLES  # 12,288 Hz
NUM_MICS = 128
IMAGE_HEIGHT, IMAGE_WIDTH = 480, 640
IMAGE_SIZE = (IMAGE_HEIGHT, IMAGE_WIDTH)
GRID_ROWS, GRID_COLS = 36, 48  # acoustic cells; each covers a 13.3-pixel block of the image
COEFFICIENTS = 12  # per cell: the mel-cepstral coefficients the datasets ship ("MFCC"), c0 the log energy
ACOUSTIC_IMAGE_SHAPE = (GRID_ROWS, GRID_COLS, COEFFICIENTS)
