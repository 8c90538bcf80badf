"""The loader settings of each stage of both papers, as training configurations. What
belongs to a dataset (its video crop, spectrogram step and normalisation, recording length)
is read from its spec (`dataloader.datasets`); the rest is each stage's recipe.

Evaluate with `dataclasses.replace(preset, training=False)`; normalised spectrograms need
`stats_path=` (see `dataloader.stats`). Acoustic images are used as stored: the original A
loader flipped them left-right and up-down, which the original ACIVW recordings need
(`flip_acoustic_images=True`) and the simulated DualCam's, already aligned with the
video, do not.

Video frames per sample default to one per second (`nr_frames` = sample_length): the
original's block_size of frames per second is not recorded in SPEC.md, and every frame
of a 2 s window would be 24 ResNet passes a sample.
"""
from __future__ import annotations

import dataclasses

from dataloader.config import ACOUSTIC_IMAGE, SPECTROGRAM, VIDEO_FRAMES, WAVEFORM, LoaderConfig
from dataloader.datasets import ACIVW, ACIVW_SPEC, AVIA, AVIA_SPEC

# A: 2 s samples, one crop per video and epoch (the paper's recipe), ResNet18 frames 224 x 298.
SELF_SUPERVISED_A = LoaderConfig(ACIVW, (ACOUSTIC_IMAGE, VIDEO_FRAMES), sample_length=2, training=True,
                                 video_short_side=ACIVW_SPEC.video_short_side, video_size=ACIVW_SPEC.video_size)
HEARNET_A = LoaderConfig(ACIVW, (SPECTROGRAM,), sample_length=2, training=True,
                         frame_step=ACIVW_SPEC.spectrogram_step, normalisation=ACIVW_SPEC.spectrogram_normalisation)
TRANSFER_A = dataclasses.replace(SELF_SUPERVISED_A, inputs=(ACOUSTIC_IMAGE, VIDEO_FRAMES, SPECTROGRAM),
                                 normalisation=ACIVW_SPEC.spectrogram_normalisation)

# B: 30 s recordings; the teacher sees 30 crops of 1 s, students 6 crops of 5 s.
TEACHER_B = LoaderConfig(AVIA, (ACOUSTIC_IMAGE,), sample_length=1, total_length=AVIA_SPEC.record_seconds,
                         number_of_crops=30, training=True)
HEARNET_B = LoaderConfig(AVIA, (SPECTROGRAM,), sample_length=5, total_length=AVIA_SPEC.record_seconds,
                         number_of_crops=6, training=True, frame_step=AVIA_SPEC.spectrogram_step,
                         normalisation=AVIA_SPEC.spectrogram_normalisation)
SOUNDNET_B = dataclasses.replace(HEARNET_B, inputs=(WAVEFORM,), normalisation=None)
RESNET50_B = dataclasses.replace(HEARNET_B, inputs=(VIDEO_FRAMES,), normalisation=None, nr_frames=5,
                                 video_short_side=AVIA_SPEC.video_short_side, video_size=AVIA_SPEC.video_size)


def _distillation(student: LoaderConfig) -> LoaderConfig:
    """The student's input and the frozen teacher's acoustic images, of the same window."""
    return dataclasses.replace(student, inputs=(*student.inputs, ACOUSTIC_IMAGE))


PRESETS = {
    "self_supervised_a": SELF_SUPERVISED_A,
    "hearnet_a": HEARNET_A,
    "transfer_a": TRANSFER_A,
    "teacher_b": TEACHER_B,
    "hearnet_b": HEARNET_B,
    "soundnet_b": SOUNDNET_B,
    "resnet50_b": RESNET50_B,
    "distill_hearnet_b": _distillation(HEARNET_B),
    "distill_soundnet_b": _distillation(SOUNDNET_B),
    "distill_resnet50_b": _distillation(RESNET50_B),
}
