"""A run's configuration: one frozen dataclass of every setting, built once and validated.

`RunConfig` is what main.py's flags set (it defines one flag per field, with the field's
default and help), what a run's `config.json` holds (`as_dict` / `from_dict`, flat, under
the flags' names), and what Python builds directly (`RunConfig(model="DualCamNet", ...)`).
A wrong value raises `FlagError` naming the field, when the configuration is built.

Settings left None are filled from the stage's recipe (`trainer.recipes`: its networks and
how it samples and trains) when the run is planned (`trainer.plan`), which also resolves
the stage and the dataset flavour; every other default is stated here, once. The originals' flags keep their names; a
few are accepted for compatibility and change nothing (`compat` in their metadata).
"""
from __future__ import annotations

import dataclasses
import functools
import json
import typing
from collections.abc import Mapping
from typing import Any

from dataloader.datasets import FLAVOURS
from trainer.recipes import RECIPES

# trainer.stage_specs.STAGES' keys (a test checks that they agree): the specs import Keras,
# which main.py's flags, made from these fields, should not wait for.
STAGE_NAMES = ("self_supervised", "transfer", "supervised", "distillation", "sync", "content_identity",
               "caption_alignment")


class FlagError(ValueError):
    """A mistake in the flags a user gave: which flags, and what is wrong with them, in one
    line (`--train_file: no such file: x.txt`). main.py and evaluate.py print it and exit 2."""

    def __init__(self, flags: str | tuple[str, ...], problem: str):
        self.flags = (flags,) if isinstance(flags, str) else tuple(flags)
        self.problem = problem
        super().__init__(f"{', '.join(f'--{flag}' for flag in self.flags)}: {problem}")


def setting(default: Any, help: str, *, least: int | None = None, choices: tuple[str, ...] | None = None,
            compat: bool = False, flag: bool = True) -> Any:
    """A field of RunConfig: its default, main.py's help text, and what values it takes
    (`least` for counts, `choices` for names); `flag` False for what a run derives."""
    return dataclasses.field(default=default, metadata={"help": help, "least": least, "choices": choices,
                                                        "compat": compat, "flag": flag})


@dataclasses.dataclass(frozen=True)
class RunConfig:
    # What to run (the originals' switches, or --stage / --recipe directly)
    mode: str = setting("train", "Execution mode", choices=("train", "test"))
    recipe: str | None = setting(None, "A recipe of the papers by name (trainer.recipes): its stage, networks and "
                                 "settings, each overridden by a flag given", choices=tuple(RECIPES))
    stage: str | None = setting(None, "The stage, instead of deriving it from --embedding/--transfer/--distillation/"
                                "--student_model", choices=STAGE_NAMES)
    embedding: int | None = setting(None, "1: self-supervised (or --transfer) with --model_1 and --model_2; 0: "
                                    "supervised --model (default: 1 when --model_1/--model_2 are given)")
    transfer: int = setting(0, "1: (A)'s transfer from a frozen DualCamNet into HearNet")
    distillation: int = setting(0, "1: distil a DualCamHybridNet teacher into a HearNet student")
    model: str | None = setting(None, "Network of a supervised stage: DualCamHybridNet, DualCamNet, HearNet, "
                                "SoundNet5, ResNet18_v1, ResNet50, TemporalResNet50, AVModel, or a registry name "
                                "(models.registry)")
    model_1: str | None = setting(None, "Video network of the self-supervised stages (ResNet18_v1); "
                                  "sync: the visual stream, sync_video, sync_crop or sync_acoustic_image")
    model_2: str | None = setting(None, "Audio network of the self-supervised stages (DualCamHybridNet or "
                                  "HearNet); sync: the audio stream, sync_audio")
    student_model: str | None = setting(None, "Distillation: the student network (HearNet, SoundNet5, ResNet50, ...)")
    teacher_model: str | None = setting(None, "Distillation and transfer: the frozen teacher network")

    # Data
    train_file: str | None = setting(None, "List of training records")
    valid_file: str | None = setting(None, "List of validation records")
    test_file: str | None = setting(None, "List of records evaluated by --mode test")
    data_root: str | None = setting(None, "Root of relative paths in the lists")
    flavour: str | None = setting(None, "Dataset flavour (default: recognised from the list)", choices=FLAVOURS)
    sample_length: int | None = setting(None, "Seconds per sample (default: the stage's recipe)", least=1)
    total_length: int | None = setting(None, "Recordings are cut into blocks of this many seconds and training draws "
                                       "number_of_crops windows from each block (default: the stage's recipe, 2 for "
                                       "(A)'s self-supervised and transfer stages, every block once; 30 otherwise)",
                                       least=1)
    number_of_crops: int | None = setting(None, "Training windows per block of total_length and epoch", least=1)
    block_size: int = setting(1, "Video frames per second of sample (nr_frames = block_size * sample_length)", least=1)
    nr_frames: int | None = setting(None, "Video frames per sample (overrides --block_size)", least=1)
    mirror: bool = setting(False, "Mirror each training window left-right with probability 1/2: acoustic images and "
                           "video frames together, so the source stays where both see it (single-microphone audio is "
                           "unchanged)")
    flip_acoustic_images: bool = setting(False, "Flip acoustic images left-right and up-down as they are read, as "
                                         "(A)'s loader did: the original ACIVW recordings need it to face the video, "
                                         "the simulated camera's do not")
    normalize: bool = setting(True, "Normalise spectrograms with --stats_file (default: the run's own, computed from "
                              "the training list when the run starts)")
    stats_file: str | None = setting(None, "HearNet normalisation statistics (python -m dataloader.stats)")
    standardise_acoustic_images: bool = setting(True, "Standardise each acoustic-image coefficient with dataset "
                                                "statistics: --acoustic_image_stats, or computed from --train_file "
                                                "into the run directory (the originals fed them unscaled: "
                                                "--nostandardise_acoustic_images)")
    acoustic_image_stats: str | None = setting(None, "Acoustic-image statistics (python -m dataloader.stats --input "
                                               "acoustic_image); default: the run directory's "
                                               "acoustic_image_stats.npz")

    # Weights to start from
    init_checkpoint: str | None = setting(None, "Checkpoint (a run's checkpoints/best or /last) to initialise the "
                                          "whole stage from")
    restore_checkpoint: str | None = setting(None, "Checkpoint to continue training from, or to test")
    visual_init_checkpoint: str | None = setting(None, "Weights file (.weights.h5) for the video network")
    acoustic_init_checkpoint: str | None = setting(None, "Weights file for the audio network (transfer: for the "
                                                   "frozen DualCamNet)")
    student_init_checkpoint: str | None = setting(None, "Weights file for the student")
    teacher_restore_checkpoint: str | None = setting(None, "Weights file for the teacher")
    resnet50_weights: str | None = setting(None, "Local Keras ImageNet ResNet-50 weights (.h5)")
    soundnet_weights: str | None = setting(None, "Local soundnet5_final.t7 for SoundNet5's conv1-4")
    orient_audio_map: bool = setting(True, "Self-supervised: draw DualCamNet's initial weights again until its map "
                                     "rises with the acoustic energy of the first batch ((A)'s objective keeps "
                                     "whichever way the map starts, and only a rising one localises); "
                                     "--noorient_audio_map keeps the first draw")
    batch_norm_decay: float | None = setting(None, "Momentum of the batch norms' moving averages (default: each "
                                             "model's, 0.997 for the ResNets as slim's); runs of a few hundred steps "
                                             "need ~0.9, or the inference-mode statistics lag the weights")

    # Objectives
    loss: str = setting("Triplet", "Self-supervised loss (the original's Contrastive was unused)",
                        choices=("Triplet",))
    margin: float = setting(0.2, "Triplet margin")
    hard_from_epoch: int = setting(4, "Self-supervised: batch-all triplets before this epoch (counted from 0), then "
                                   "batch-hard; (A) switched after epoch 3")
    alpha: float = setting(0.5, "Transfer: weight of the triplet loss towards the frozen DualCamNet")
    cross_modal_weight: float = setting(0.0, "Self-supervised: weight of a cross-modal identity loss (SyncNet's, "
                                        "scaled cosines of the pooled audio and video features across the batch) "
                                        "added to the triplets")
    cross_modal_scale: float = setting(10.0, "Scale w of the cross-modal identity loss's logits w * cos")
    map_agreement_weight: float = setting(0.0, "Self-supervised: weight of KL(audio map || video map) over the cells "
                                          "of each clip, the audio map fixed: the video map learns where the "
                                          "acoustic image hears")
    contrastive_margin: float = setting(1.0, "Sync: margin of the contrastive loss (UltraSync's 1)")
    max_offset: float = setting(0.5, "Sync: the largest offset, in seconds either way, of a training record's audio "
                                "against its video; each sample's windows keep that far from its ends")
    identity_targets: str = setting("subject", "Content_identity: what a clip's identity must pick across the batch: "
                                    "subject, every clip of its subject (the other modality's, its share spread "
                                    "evenly); own, its own clip only, the others of its subject left out of the "
                                    "softmax (the original's pairing, without counting them as negatives)",
                                    choices=("subject", "own"))
    caption_pooling: str = setting("MTSQ", "Caption_alignment: how a clip's score against a caption pools the "
                                   "frame-word similarities max(0, a . w): MTSQ, the mean over words of each word's "
                                   "best frame; STSQ, the mean over frames and words ((C)'s configured default, far "
                                   "slower to learn here: README); MQST, the mean over frames of each frame's best "
                                   "word ((C)'s three)", choices=("STSQ", "MTSQ", "MQST"))
    caption_margin: float = setting(1.0, "Caption_alignment: margin of the ranking hinge ((C)'s 1)")
    vocabulary: str | None = setting(None, "Caption_alignment: the words the text network knows, one a line "
                                     "(default: the run directory's vocabulary.txt, made from --train_file's "
                                     "captions when the run starts)")
    word_vectors: str | None = setting(None, "Caption_alignment: a local word2vec file (text or binary) of "
                                       "300-d vectors to start the word embedding from (default: random); "
                                       "nothing is downloaded")
    freeze_word_vectors: bool = setting(False, "Caption_alignment: keep the word embedding as --word_vectors "
                                        "started it ((C) froze its word2vec vectors)")
    lambda_value: float = setting(0.5, "Distillation: weight of the teacher's soft targets")
    temperature_value: float = setting(1.0, "Distillation: softmax temperature")
    distillation_form: str = setting("standard", "standard: T^2 * CE(softmax(t/T), softmax(s/T)); original: (B)'s "
                                     "CE(softmax(t/T), s)", choices=("standard", "original"))

    # Optimisation
    batch_size: int | None = setting(None, "Global mini-batch size (default: the stage's recipe)", least=1)
    learning_rate: float | None = setting(None, "Adam's learning rate (default: the stage's recipe)")
    num_epochs: int | None = setting(None, "Epochs to train (default: the stage's recipe)", least=1)
    steps_per_epoch: int | None = setting(None, "Train at most N batches per epoch (for quick runs)", least=1)
    seed: int = setting(0, "Seed of weights and training crops (crops differ every epoch)")
    deterministic: bool = setting(False, "Same batches in the same order and deterministic ops: a resumed run then "
                                  "reproduces an uninterrupted one exactly (slower input pipeline)")
    mixed_precision: bool = setting(False, "Train in mixed_float16")
    jit_compile: bool = setting(False, "Compile train steps with XLA")
    logical_cpus: int = setting(0, "Split the CPU into N devices under MirroredStrategy (testing)", least=0)
    buffer_size: int | None = setting(None, "Batches to prefetch (default: autotuned)")
    input_cache: str | None = setting(None, "Directory (on a local disk) where the lists' records are kept decoded "
                                      "and uncompressed after their first reading, so later epochs and runs "
                                      "inflate no GZIP; keyed by the records and the input settings, a stale "
                                      "one is never used (dataloader.input_cache)")
    clear_input_cache: bool = setting(False, "Remove every cache in --input_cache before the run")
    data_service: str | None = setting(None, "Address of a tf.data service dispatcher (grpc://HOST:PORT) whose "
                                       "workers make the samples (python -m dataloader.service starts them)")
    data_service_job: str | None = setting(None, "tf.data service job name, for clients (the workers of a "
                                           "multi-worker run) that share one job's samples")

    # Output
    checkpoint_dir: str | None = setting("runs", "Directory holding the runs")
    exp_name: str = setting("experiment", "Name of the experiment: its run is CHECKPOINT_DIR/EXP_NAME")
    tensorboard: str | None = setting(None, "Directory for TensorBoard logs (default: the run's logs/); (B)'s "
                                      "--log_dir (absl's own flag) works too")
    save_every_steps: int = setting(100, "Also save the resumable state every N steps (0: epochs only)", least=0)
    verbose: int = setting(2, "Keras verbosity: 0 silent, 1 progress bar, 2 one line per epoch")
    display_freq: int = setting(1, "Accepted for compatibility: progress is printed every epoch (--verbose)",
                                compat=True)

    # Accepted for compatibility with the originals' scripts
    temporal_pooling: int = setting(1, "Accepted for compatibility: logits are always averaged over frames",
                                    compat=True)
    num_class: int | None = setting(None, "Accepted for compatibility: classes come from the dataset (10 or 14)",
                                    compat=True)
    save_best_only: bool = setting(True, "Accepted for compatibility: best and last are both kept", compat=True)
    alpha_value: float = setting(0.0, "Accepted for compatibility: (B)'s hallucination loss was unused", compat=True)

    # What a run derives and records (not flags)
    log_dir: str | None = setting(None, "absl's --log_dir, which (B)'s scripts used for TensorBoard", flag=False)
    networks: dict[str, str] | None = setting(None, "role -> registry name, as the run resolved them", flag=False)
    config_changes: list | None = setting(None, "what restarts changed (trainer.restart)", flag=False)

    def __post_init__(self) -> None:
        hints = _hints()
        for field in dataclasses.fields(self):
            value, meta = getattr(self, field.name), field.metadata
            if value is None:
                continue
            _check_type(field.name, value, hints[field.name])
            if meta["least"] is not None and value < meta["least"]:
                raise FlagError(field.name, f"{value}: must be at least {meta['least']}")
            if meta["choices"] is not None and value not in meta["choices"]:
                raise FlagError(field.name, f"{value!r} is not one of {', '.join(meta['choices'])}")
        if self.learning_rate is not None and not self.learning_rate > 0:
            raise FlagError("learning_rate", f"{self.learning_rate}: must be positive")

    def replace(self, **changes) -> RunConfig:
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> dict:
        """Every field under its flag's name, as config.json holds them."""
        return {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=1, default=str)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> RunConfig:
        """From flag names to values (a run's config.json, or a dict written in Python); an
        unknown name is refused."""
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise FlagError(tuple(unknown), "unknown settings")
        return cls(**values)

    @classmethod
    def flag_fields(cls) -> list[dataclasses.Field]:
        return [field for field in dataclasses.fields(cls) if field.metadata["flag"]]


@functools.cache
def _hints() -> dict[str, Any]:
    return typing.get_type_hints(RunConfig)


def field_type(name: str) -> type:
    """The type of a RunConfig field's values: int, float, str, bool, dict or list."""
    return value_type(_hints()[name])


def value_type(annotation) -> type:
    """The type an annotation's values have, None aside."""
    options = [option for option in typing.get_args(annotation) if option is not type(None)] or [annotation]
    kind = typing.get_origin(options[0]) or options[0]
    return kind


def _check_type(name: str, value: Any, annotation) -> None:
    kind = value_type(annotation)
    ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        ok = True
    if not ok:
        raise FlagError(name, f"{value!r} is not a {kind.__name__}")


DEFAULTS = RunConfig()
