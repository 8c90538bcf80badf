"""One spec per stage: the networks it holds (their roles, the flags naming each, the flag
that initialises each), the recipe its networks default to, what it logs, the metric that
picks the best checkpoint, and how it is made from built networks and the dataset's labels.

A new stage is a `keras.Model` in `trainer.stages` and one row here.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable

import keras

from dataloader.camera import FRAMES_PER_SECOND
from dataloader.config import ACOUSTIC_IMAGE, AUDIO, CAPTION, OFFSET, PHRASE_ACTIVITY, VIDEO_FRAMES, LoaderConfig
from dataloader.datasets import DatasetSpec
from trainer import caption_alignment, content_identity, stages, sync, vocabulary
from trainer.config import FlagError, RunConfig


@dataclasses.dataclass(frozen=True)
class Role:
    name: str  # the stage's attribute holding the network
    flags: tuple[str, ...]  # the RunConfig fields that name its network; the first one given wins
    init_flag: str | None  # the field naming a weights file to start it from
    embedding: bool  # built to give embeddings or maps (models.layers.EMBEDDING), else logits


@dataclasses.dataclass(frozen=True)
class StageSpec:
    name: str
    roles: tuple[Role, ...]
    recipe: str  # the recipe (trainer.recipes) whose networks fill the roles no flag names
    metrics: tuple[str, ...]  # what it logs, besides the loss (some only with their weight set)
    monitor: str  # the validation metric that picks the best checkpoint ...
    make: Callable[[dict[str, keras.Model], dict[str, tuple[str, ...]], RunConfig, DatasetSpec], stages._Stage]
    # The training loader as the stage needs it, given whether the records carry ground truth.
    loader: Callable[[LoaderConfig, bool], LoaderConfig] | None = None
    monitor_mode: str = "max"  # ... by its highest value, or its lowest ("min")
    # The settings a run of it derives from the others (RunConfig fields -> values), when planned.
    settings: Callable[[RunConfig], dict] | None = None


def _self_supervised(nets, keys, config: RunConfig, dataset: DatasetSpec) -> stages.SelfSupervised:
    return stages.SelfSupervised(
        nets["audio_net"], nets["video_net"], audio_key=keys["audio_net"][0], video_key=VIDEO_FRAMES,
        identity_keys=dataset.identity, margin=config.margin, hard_from_epoch=config.hard_from_epoch,
        cross_modal_weight=config.cross_modal_weight, cross_modal_scale=config.cross_modal_scale,
        map_agreement_weight=config.map_agreement_weight)


def _transfer(nets, keys, config: RunConfig, dataset: DatasetSpec) -> stages.Transfer:
    return stages.Transfer(nets["audio_net"], nets["video_net"], nets["teacher"], teacher_key=ACOUSTIC_IMAGE,
                           audio_key=keys["audio_net"][0], alpha=config.alpha, identity_keys=dataset.identity,
                           margin=config.margin, hard_from_epoch=config.hard_from_epoch)


def _supervised(nets, keys, config: RunConfig, dataset: DatasetSpec) -> stages.Supervised:
    return stages.Supervised(nets["net"], keys["net"], label_key=dataset.class_label)


def _distillation(nets, keys, config: RunConfig, dataset: DatasetSpec) -> stages.Distiller:
    return stages.Distiller(nets["student"], nets["teacher"], keys["student"], keys["teacher"],
                            label_key=dataset.class_label, temperature=config.temperature_value,
                            weight=config.lambda_value, original=config.distillation_form == "original")


def _sync(nets, keys, config: RunConfig, dataset: DatasetSpec) -> sync.Sync:
    frames = config.sample_length * FRAMES_PER_SECOND
    return sync.Sync(nets["visual_net"], nets["audio_net"], keys["visual_net"], audio_key=AUDIO,
                     windows=sync.windows_per_sample(frames, config.max_offset), margin=config.contrastive_margin,
                     seed=config.seed)


def _every_frame(loader: LoaderConfig, with_truth: bool) -> LoaderConfig:
    """Every frame of a sample: the stage cuts its windows or crops from them."""
    return dataclasses.replace(loader, nr_frames=loader.frames_per_sample)


def _sync_loader(loader: LoaderConfig, with_truth: bool) -> LoaderConfig:
    """Every frame of a sample (the stage cuts its windows), and the offset of records that state it."""
    return dataclasses.replace(_every_frame(loader, with_truth), truth=(OFFSET,) if with_truth else ())


def _content_identity(nets, keys, config: RunConfig, dataset: DatasetSpec) -> content_identity.ContentIdentity:
    if dataset.subject is None:
        raise FlagError("flavour", f"the content_identity stage learns who a subject is, and {dataset.flavour} "
                                   "records name no subject (AVIA's do)")
    if config.sample_length * FRAMES_PER_SECOND < content_identity.SAMPLE_FRAMES:
        raise FlagError("sample_length", f"{config.sample_length}: the content_identity stage crops 2 s out of "
                                         "each sample")
    return content_identity.ContentIdentity(nets["video_net"], nets["audio_net"], dataset.subject,
                                            video_key=keys["video_net"][0], audio_key=keys["audio_net"][0],
                                            subject_targets=config.identity_targets == "subject",
                                            seed=config.seed)


def _caption_loader(loader: LoaderConfig, with_truth: bool) -> LoaderConfig:
    """Samples with their recording's caption, and its phrases' activity for evaluation."""
    if not with_truth:
        raise FlagError(("train_file", "test_file"), "the caption_alignment stage learns from captions, and these "
                        "records carry none (convert simulated recordings, whose ground truth holds them)")
    return dataclasses.replace(loader, truth=(CAPTION, PHRASE_ACTIVITY))


def _caption_alignment(nets, keys, config: RunConfig, dataset: DatasetSpec) -> caption_alignment.CaptionAlignment:
    from models.caption_alignment import EMBEDDING_SIZE, caption_vectorizer, word_embedding
    from models.word_vectors import embedding_rows

    words = vocabulary.ensure_vocabulary(config, dataset.flavour)
    initial = None
    if config.word_vectors:
        try:
            initial, _ = embedding_rows(config.word_vectors, words, EMBEDDING_SIZE, config.seed)
        except ValueError as err:
            raise FlagError("word_vectors", str(err)) from None
    text_net = word_embedding(len(words) + 2, EMBEDDING_SIZE, initial, trainable=not config.freeze_word_vectors)
    return caption_alignment.CaptionAlignment(nets["audio_net"], text_net, caption_vectorizer(words),
                                              audio_key=keys["audio_net"][0], identity_keys=dataset.identity,
                                              pooling=config.caption_pooling,
                                              margin=config.caption_margin, seed=config.seed)


_VIDEO = Role("video_net", ("model_1",), "visual_init_checkpoint", embedding=True)
STAGES = {spec.name: spec for spec in (
    StageSpec("self_supervised",
              (_VIDEO, Role("audio_net", ("model_2",), "acoustic_init_checkpoint", embedding=True)),
              recipe="a_self_supervised",
              metrics=("triplet_accuracy", "cross_modal_loss", "map_agreement_loss"), monitor="val_triplet_accuracy",
              make=_self_supervised),
    # In (A)'s transfer the acoustic checkpoint is the self-supervised DualCamNet, the frozen teacher.
    StageSpec("transfer",
              (_VIDEO, Role("audio_net", ("model_2",), "student_init_checkpoint", embedding=True),
               Role("teacher", ("teacher_model",), "acoustic_init_checkpoint", embedding=True)),
              recipe="a_transfer",
              metrics=("triplet_accuracy", "audio_video_loss", "teacher_loss"), monitor="val_triplet_accuracy",
              make=_transfer),
    StageSpec("supervised", (Role("net", ("model",), None, embedding=False),),
              recipe="b_teacher", metrics=("accuracy",), monitor="val_accuracy", make=_supervised),
    StageSpec("distillation",
              (Role("student", ("student_model", "model_2", "model"), "student_init_checkpoint", embedding=False),
               Role("teacher", ("teacher_model", "model_1"), "teacher_restore_checkpoint", embedding=False)),
              recipe="b_distillation", metrics=("accuracy", "teacher_accuracy"),
              monitor="val_accuracy", make=_distillation),
    StageSpec("sync",
              (Role("visual_net", ("model_1",), "visual_init_checkpoint", embedding=True),
               Role("audio_net", ("model_2",), "acoustic_init_checkpoint", embedding=True)),
              recipe="u_sync", metrics=("accuracy", "positive_distance", "negative_distance"),
              monitor="val_accuracy", make=_sync, loader=_sync_loader),
    StageSpec("content_identity",
              (_VIDEO, Role("audio_net", ("model_2",), "acoustic_init_checkpoint", embedding=True)),
              recipe="s_content_identity",
              metrics=("content_loss", "identity_loss", "content_accuracy", "identity_accuracy"),
              # A validation batch's top-1 identity reaches 1 early, and stays: its loss goes on falling.
              monitor="val_identity_loss", monitor_mode="min", make=_content_identity, loader=_every_frame),
    StageSpec("caption_alignment", (Role("audio_net", ("model_2",), "acoustic_init_checkpoint", embedding=True),),
              recipe="c_caption_alignment",
              metrics=("positive_score", "recall_at_1", "audio_to_caption_r1", "caption_to_audio_r1"),
              monitor="val_recall_at_1", make=_caption_alignment, loader=_caption_loader,
              settings=vocabulary.vocabulary_settings),
)}
