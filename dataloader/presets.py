"""How the papers' stages cut their samples (`Sampling`, which the recipes of
`trainer.recipes` name), and the loader settings of each stage as training configurations.
What belongs to a dataset (its video crop, spectrogram step and normalisation) is read from
its spec (`dataloader.datasets`).

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


@dataclasses.dataclass(frozen=True)
class Sampling:
    """Samples of `sample_length` seconds, `number_of_crops` of them drawn every epoch from
    each block of `total_length` seconds of a recording."""

    sample_length: int
    total_length: int
    number_of_crops: int

    def settings(self) -> dict:
        return dataclasses.asdict(self)


A = Sampling(2, 2, 1)  # (A): every 2-s block of every recording, once an epoch
B_TEACHER = Sampling(1, 30, 30)  # (B)'s teacher: 30 crops of 1 s from each 30-s recording
B_STUDENTS = Sampling(5, 30, 6)  # (B)'s students: 6 crops of 5 s
A_STUDENTS = Sampling(2, 30, 6)  # (B)'s students on ACIVW, whose recordings are too short for 5 s
U_SYNC = Sampling(3, 30, 4)  # the sync stage: 4 samples of 3 s from a recording, cut into 5-frame windows
S_CONTENT_IDENTITY = Sampling(3, 30, 6)  # 6 samples of 3 s from a recording, of which the stage crops (S)'s 2 s
C_CAPTIONS = Sampling(4, 4, 1)  # every 4-s block once an epoch: a clip and its caption ((C)'s were 10 s)

# ResNet18 frames 224 x 298.
SELF_SUPERVISED_A = LoaderConfig(ACIVW, (ACOUSTIC_IMAGE, VIDEO_FRAMES), **A.settings(), training=True,
                                 video_short_side=ACIVW_SPEC.video_short_side, video_size=ACIVW_SPEC.video_size)
HEARNET_A = LoaderConfig(ACIVW, (SPECTROGRAM,), **A.settings(), training=True,
                         frame_step=ACIVW_SPEC.spectrogram_step, normalisation=ACIVW_SPEC.spectrogram_normalisation)
TRANSFER_A = dataclasses.replace(SELF_SUPERVISED_A, inputs=(ACOUSTIC_IMAGE, VIDEO_FRAMES, SPECTROGRAM),
                                 normalisation=ACIVW_SPEC.spectrogram_normalisation)

TEACHER_B = LoaderConfig(AVIA, (ACOUSTIC_IMAGE,), **B_TEACHER.settings(), training=True)
HEARNET_B = LoaderConfig(AVIA, (SPECTROGRAM,), **B_STUDENTS.settings(), training=True,
                         frame_step=AVIA_SPEC.spectrogram_step, normalisation=AVIA_SPEC.spectrogram_normalisation)
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
