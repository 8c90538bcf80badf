"""The papers' recipes, one row each: the stage, its networks and the settings it trained
with. `main.py --recipe NAME` runs one (flags given override its fields); a run without
--recipe takes its stage's (`recipe_for`), for every setting left unset. `scripts/` and the
benchmarks name them.

(A) ECCV 2020: every 2-s block of every ACIVW recording once an epoch, batch 64, Adam 1e-5,
20 epochs, for the self-supervised pretraining and the transfer alike. (B) WACV 2020, on
AVIA's 30-s recordings: the acoustic-image teacher on 30 crops of 1 s, the students on 6
crops of 5 s. The a_supervised and a_distillation rows are (B)'s student recipes on ACIVW,
whose recordings are too short for 5-s samples. u_sync, UltraSync's task: 4 samples of 3 s
from each recording an epoch, each cut into 5-frame windows by the stage, 16 samples a batch
(UltraSync's 32 pairs in sync become 96), Adam 1e-3. s_content_identity, the SyncNet
trainer's task: 6 samples of 3 s from each recording an epoch, every frame, of which the
stage crops (S)'s 2 s at a random frame, 16 a batch, Adam 1e-3 (the original's SGD at 1e-4
was for VoxCeleb's million clips; these trunks start from scratch on minutes).
c_caption_alignment, (C)'s task: every 4-s block of every recording once an epoch (the
simulator's captioned recordings are 4 s in the benchmark), (C)'s CRNN, batch 32, Adam 1e-3.
"""
from __future__ import annotations

import dataclasses

from dataloader import presets
from dataloader.datasets import AVIA
from dataloader.presets import Sampling


@dataclasses.dataclass(frozen=True)
class Recipe:
    stage: str
    networks: dict[str, str]  # RunConfig model flag -> the papers' name of the network
    sampling: Sampling  # how its samples are cut (dataloader.presets)
    learning_rate: float
    batch_size: int
    num_epochs: int

    def settings(self) -> dict:
        """The RunConfig fields the recipe sets."""
        return {"stage": self.stage, **self.networks, **self.sampling.settings(), "learning_rate": self.learning_rate,
                "batch_size": self.batch_size, "num_epochs": self.num_epochs}


_A = dict(sampling=presets.A, learning_rate=1e-5, batch_size=64, num_epochs=20)
_STUDENTS = dict(learning_rate=1e-4, batch_size=32)
_DISTILLATION = {"student_model": "HearNet", "teacher_model": "DualCamHybridNet"}

RECIPES = {
    "a_self_supervised": Recipe("self_supervised", {"model_1": "ResNet18_v1", "model_2": "DualCamHybridNet"}, **_A),
    "a_transfer": Recipe("transfer", {"model_1": "ResNet18_v1", "model_2": "HearNet",
                                      "teacher_model": "DualCamHybridNet"}, **_A),
    "a_supervised": Recipe("supervised", {"model": "HearNet"}, presets.A_STUDENTS, num_epochs=100, **_STUDENTS),
    "a_distillation": Recipe("distillation", _DISTILLATION, presets.A_STUDENTS, num_epochs=10, **_STUDENTS),
    "b_teacher": Recipe("supervised", {"model": "DualCamHybridNet"}, presets.B_TEACHER, learning_rate=1e-3,
                        batch_size=32, num_epochs=100),
    "b_students": Recipe("supervised", {"model": "HearNet"}, presets.B_STUDENTS, num_epochs=100, **_STUDENTS),
    "b_distillation": Recipe("distillation", _DISTILLATION, presets.B_STUDENTS, num_epochs=10, **_STUDENTS),
    "u_sync": Recipe("sync", {"model_1": "sync_video", "model_2": "sync_audio"}, presets.U_SYNC, learning_rate=1e-3,
                     batch_size=16, num_epochs=20),
    "s_content_identity": Recipe("content_identity", {"model_1": "content_identity_video",
                                                      "model_2": "content_identity_audio"},
                                 presets.S_CONTENT_IDENTITY, learning_rate=1e-3, batch_size=16, num_epochs=30),
    "c_caption_alignment": Recipe("caption_alignment", {"model_2": "caption_crnn"}, presets.C_CAPTIONS,
                                  learning_rate=1e-3, batch_size=32, num_epochs=50),
}


def recipe_for(stage: str, flavour: str, acoustic_only: bool) -> str:
    """The recipe a run of `stage` on `flavour` takes its unset settings from: (A)'s for its
    stages, the teacher's for a network of acoustic images alone, else (B)'s students' (on
    ACIVW with 2-s samples)."""
    if stage in ("self_supervised", "transfer"):
        return f"a_{stage}"
    if stage == "sync":
        return "u_sync"
    if stage in ("content_identity", "caption_alignment"):
        return {"content_identity": "s_content_identity", "caption_alignment": "c_caption_alignment"}[stage]
    if stage == "supervised" and acoustic_only:
        return "b_teacher"
    if stage == "distillation":
        return "b_distillation" if flavour == AVIA else "a_distillation"
    return "b_students" if flavour == AVIA else "a_supervised"
