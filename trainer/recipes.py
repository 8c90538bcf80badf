"""The papers' recipes, one row each: the stage, its networks and the settings it trained
with. `main.py --recipe NAME` runs one (flags given override its fields); a run without
--recipe takes its stage's (`recipe_for`), for every setting left unset. `scripts/` and the
benchmarks name them.

(A) ECCV 2020: every 2-s block of every ACIVW recording once an epoch, batch 64, Adam 1e-5,
20 epochs, for the self-supervised pretraining and the transfer alike. (B) WACV 2020, on
AVIA's 30-s recordings: the acoustic-image teacher on 30 crops of 1 s, the students on 6
crops of 5 s. The a_supervised and a_distillation rows are (B)'s student recipes on
ACIVW, whose recordings are too short for 5-s samples.
"""
from __future__ import annotations

import dataclasses

from dataloader.datasets import AVIA


@dataclasses.dataclass(frozen=True)
class Recipe:
    stage: str
    networks: dict[str, str]  # RunConfig model flag -> the papers' name of the network
    learning_rate: float
    batch_size: int
    num_epochs: int
    sample_length: int
    total_length: int
    number_of_crops: int

    def settings(self) -> dict:
        """The RunConfig fields the recipe sets."""
        return {"stage": self.stage, **self.networks,
                **{key: getattr(self, key) for key in ("learning_rate", "batch_size", "num_epochs", "sample_length",
                                                       "total_length", "number_of_crops")}}


_A = dict(learning_rate=1e-5, batch_size=64, num_epochs=20, sample_length=2, total_length=2, number_of_crops=1)
_B_STUDENT = dict(learning_rate=1e-4, batch_size=32, total_length=30, number_of_crops=6)
_DISTILLATION = {"student_model": "HearNet", "teacher_model": "DualCamHybridNet"}

RECIPES = {
    "a_self_supervised": Recipe("self_supervised", {"model_1": "ResNet18_v1", "model_2": "DualCamHybridNet"}, **_A),
    "a_transfer": Recipe("transfer", {"model_1": "ResNet18_v1", "model_2": "HearNet",
                                      "teacher_model": "DualCamHybridNet"}, **_A),
    "a_supervised": Recipe("supervised", {"model": "HearNet"}, num_epochs=100, sample_length=2, **_B_STUDENT),
    "a_distillation": Recipe("distillation", _DISTILLATION, num_epochs=10, sample_length=2, **_B_STUDENT),
    "b_teacher": Recipe("supervised", {"model": "DualCamHybridNet"}, learning_rate=1e-3, batch_size=32,
                        num_epochs=100, sample_length=1, total_length=30, number_of_crops=30),
    "b_students": Recipe("supervised", {"model": "HearNet"}, num_epochs=100, sample_length=5, **_B_STUDENT),
    "b_distillation": Recipe("distillation", _DISTILLATION, num_epochs=10, sample_length=5, **_B_STUDENT),
}


def recipe_for(stage: str, flavour: str, acoustic_only: bool) -> str:
    """The recipe a run of `stage` on `flavour` takes its unset settings from: (A)'s for its
    stages, the teacher's for a network of acoustic images alone, else (B)'s students' (on
    ACIVW with 2-s samples)."""
    if stage in ("self_supervised", "transfer"):
        return f"a_{stage}"
    if stage == "supervised" and acoustic_only:
        return "b_teacher"
    if stage == "distillation":
        return "b_distillation" if flavour == AVIA else "a_distillation"
    return "b_students" if flavour == AVIA else "a_supervised"
