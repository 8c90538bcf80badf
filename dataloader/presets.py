"""The loader settings of each stage of both papers, as training configurations.

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
from dataloader.schema import ACIVW, AVIA

# A: 2 s samples, one crop per video and epoch (the paper's recipe), ResNet18 frames 224 x 298.
SELF_SUPERVISED_A = LoaderConfig(ACIVW, (ACOUSTIC_IMAGE, VIDEO_FRAMES), sample_length=2, training=True,
                                 video_short_side=224, video_size=(224, 298))
HEARNET_A = LoaderConfig(ACIVW, (SPECTROGRAM,), sample_length=2, training=True, frame_step=219,
                         normalisation="mean_std")
TRANSFER_A = dataclasses.replace(SELF_SUPERVISED_A, inputs=(ACOUSTIC_IMAGE, VIDEO_FRAMES, SPECTROGRAM),
                                 normalisation="mean_std")

# B: 30 s recordings; the teacher sees 30 crops of 1 s, students 6 crops of 5 s.
TEACHER_B = LoaderConfig(AVIA, (ACOUSTIC_IMAGE,), sample_length=1, total_length=30, number_of_crops=30,
                         training=True)
HEARNET_B = LoaderConfig(AVIA, (SPECTROGRAM,), sample_length=5, total_length=30, number_of_crops=6, training=True,
                         frame_step=220, normalisation="min_max")
SOUNDNET_B = dataclasses.replace(HEARNET_B, inputs=(WAVEFORM,), normalisation=None)
RESNET50_B = dataclasses.replace(HEARNET_B, inputs=(VIDEO_FRAMES,), normalisation=None, nr_frames=5,
                                 video_short_side=256, video_size=(224, 224))


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
