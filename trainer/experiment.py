"""From the original scripts' flags to a stage, its networks and its loader settings.

The stage follows the originals' switches: `embedding` 1 trains a video network
(`model_1`) against an audio one (`model_2`) self-supervised, or with `transfer` 1 a
HearNet against video and a frozen DualCamNet, or with `distillation` 1 a HearNet from a
frozen DualCamNet; `embedding` 0 trains `model` on labels; B's `student_model` and
`teacher_model` select distillation. `stage` names it directly.

Networks are named as in the originals (DualCamHybridNet, HearNet, ...), resolved per
dataset (A's HearNet is hearnet_a), or by their registry names.
"""
from __future__ import annotations

import dataclasses

import keras

from dataloader import presets
from dataloader.config import ACOUSTIC_IMAGE, SPECTROGRAM, VIDEO_FRAMES, WAVEFORM, LoaderConfig
from dataloader.schema import ACIVW, AVIA
from dataloader.windows import detect_flavour
from models.layers import CLASSIFIER, EMBEDDING
from models.registry import MODELS, build_model
from trainer import stages

STAGES = ("self_supervised", "transfer", "supervised", "distillation")
ORIGINAL_NAMES = {
    "DualCamHybridNet": {ACIVW: "dualcamnet", AVIA: "dualcamnet_v2_teacher"},
    "DualCamNet": {ACIVW: "dualcamnet", AVIA: "dualcamnet_v2"},
    "HearNet": {ACIVW: "hearnet_a", AVIA: "hearnet_b"},
    "SoundNet5": "soundnet5",
    "ResNet18_v1": "resnet18_v1",
    "ResNet50": "resnet50",
    "TemporalResNet50": "temporal_resnet50",
    "AVModel": "avmodel",
}
INPUTS = {
    "dualcamnet": (ACOUSTIC_IMAGE,), "dualcamnet_v2": (ACOUSTIC_IMAGE,), "dualcamnet_v2_teacher": (ACOUSTIC_IMAGE,),
    "hearnet_a": (SPECTROGRAM,), "hearnet_b": (SPECTROGRAM,), "soundnet5": (WAVEFORM,),
    "resnet18_v1": (VIDEO_FRAMES,), "resnet50": (VIDEO_FRAMES,), "temporal_resnet50": (VIDEO_FRAMES,),
    "avmodel": (VIDEO_FRAMES, ACOUSTIC_IMAGE),
}
NUM_CLASSES = {ACIVW: 10, AVIA: 14}
LABEL = {ACIVW: "classes", AVIA: "action"}
IDENTITY = {ACIVW: ("classes", "video_index"), AVIA: ("action", "location", "subject")}


class FlagError(ValueError):
    """A mistake in the flags a user gave: which flags, and what is wrong with them, in one
    line (`--train_file: no such file: x.txt`). main.py and evaluate.py print it and exit 2."""

    def __init__(self, flags: str | tuple[str, ...], problem: str):
        self.flags = (flags,) if isinstance(flags, str) else tuple(flags)
        self.problem = problem
        super().__init__(f"{', '.join(f'--{flag}' for flag in self.flags)}: {problem}")


def user_error(err: Exception) -> tuple[int, str] | None:
    """(exit status, one line) for what a user can fix: a flag (2), data that are not finite
    or a bad record (1; the loader's errors name the file). None for anything else, a bug,
    which keeps its traceback."""
    import tensorflow as tf

    from dataloader.pipeline import describe_read_error

    if isinstance(err, FlagError):
        return 2, str(err)
    if isinstance(err, FloatingPointError):  # a NaN loss, NaN in the data: their messages are one line
        return 1, str(err)
    if isinstance(err, tf.errors.OpError):
        return 1, describe_read_error(err)
    return None


def resolve_model(name: str, flavour: str, flag: str = "model") -> str:
    """The registry name of a network named as in the originals or in the registry;
    `flag` is the flag that named it."""
    if name in MODELS:
        return name
    if name not in ORIGINAL_NAMES:
        known = sorted(set(MODELS) | set(ORIGINAL_NAMES))
        raise FlagError(flag, f"unknown model {name!r}; known models: {', '.join(known)}")
    resolved = ORIGINAL_NAMES[name]
    return resolved[flavour] if isinstance(resolved, dict) else resolved


@dataclasses.dataclass(frozen=True)
class Plan:
    stage: str
    flavour: str
    networks: dict[str, str]  # role -> registry name
    loader: LoaderConfig
    monitor: str
    monitor_mode: str


def stage_of(flags: dict) -> str:
    if flags.get("stage"):
        if flags["stage"] not in STAGES:
            raise FlagError("stage", f"unknown stage {flags['stage']!r}; stages: {', '.join(STAGES)}")
        return flags["stage"]
    if flags.get("student_model") or flags.get("teacher_model") or flags.get("distillation"):
        return "distillation"
    if flags.get("embedding"):
        return "transfer" if flags.get("transfer") else "self_supervised"
    return "supervised"


def _roles(stage: str, flags: dict, flavour: str) -> dict[str, str]:
    def pick(*names, default):
        given = next((n for n in names if flags.get(n)), None)
        return resolve_model(flags[given] if given else default, flavour, given or names[0])

    if stage == "self_supervised":
        return {"video_net": pick("model_1", default="ResNet18_v1"),
                "audio_net": pick("model_2", default="DualCamHybridNet")}
    if stage == "transfer":
        return {"video_net": pick("model_1", default="ResNet18_v1"), "audio_net": pick("model_2", default="HearNet"),
                "teacher": pick("teacher_model", default="DualCamHybridNet")}
    if stage == "distillation":
        return {"student": pick("student_model", "model_2", "model", default="HearNet"),
                "teacher": pick("teacher_model", "model_1", default="DualCamHybridNet")}
    return {"net": pick("model", default="DualCamHybridNet")}


def plan(flags: dict, list_file: str) -> Plan:
    flavour = flags.get("flavour") or detect_flavour(list_file, flags.get("data_root"))
    stage = stage_of(flags)
    networks = _roles(stage, flags, flavour)
    inputs = tuple(dict.fromkeys(i for name in networks.values() for i in INPUTS[name]))
    base = presets.HEARNET_B if flavour == AVIA else presets.HEARNET_A
    video = {"resnet18_v1": dict(video_short_side=224, video_size=(224, 298))}.get(
        networks.get("video_net") or networks.get("net") or networks.get("student"),
        dict(video_short_side=256, video_size=(224, 224)) if flavour == AVIA else dict(video_short_side=224,
                                                                                       video_size=(224, 298)))
    sample_length = flags["sample_length"]
    block_size = flags.get("block_size") or 1
    loader = dataclasses.replace(
        base, inputs=inputs, training=True, sample_length=sample_length, total_length=flags.get("total_length"),
        number_of_crops=flags["number_of_crops"], seed=flags.get("seed", 0), mirror=bool(flags.get("mirror")),
        flip_acoustic_images=bool(flags.get("flip_acoustic_images")),
        nr_frames=flags.get("nr_frames") or min(block_size * sample_length, 12 * sample_length),
        normalisation=base.normalisation if SPECTROGRAM in inputs and flags.get("stats_file") else None,
        stats_path=flags.get("stats_file") if SPECTROGRAM in inputs else None,
        acoustic_image_stats_path=flags.get("acoustic_image_stats") if ACOUSTIC_IMAGE in inputs else None, **video,
    )
    if stage in ("self_supervised", "transfer"):
        monitor, mode = "val_triplet_accuracy", "max"
    else:
        monitor, mode = "val_accuracy", "max"
    return Plan(stage, flavour, networks, loader, monitor, mode)


def _build(name: str, role: str, plan: Plan, flags: dict) -> keras.Model:
    loader = plan.loader
    mode = EMBEDDING if plan.stage in ("self_supervised", "transfer") and role != "net" else CLASSIFIER
    kwargs: dict = {"mode": mode, "num_classes": NUM_CLASSES[plan.flavour]}
    if name in ("dualcamnet", "dualcamnet_v2", "dualcamnet_v2_teacher"):
        kwargs["num_frames"] = loader.frames_per_sample
    elif name in ("hearnet_a", "hearnet_b"):
        kwargs["num_frames"] = loader.spectrogram_frames
    elif name == "soundnet5":
        kwargs.update(num_samples=loader.waveform_length, weights=flags.get("soundnet_weights"))
    elif name == "avmodel":
        kwargs.update(video_frames=loader.num_video_frames, acoustic_frames=loader.frames_per_sample,
                      frame_shape=(*loader.video_size, 3), weights=flags.get("resnet50_weights"))
    else:
        kwargs.update(num_frames=loader.num_video_frames, frame_shape=(*loader.video_size, 3))
        if name in ("resnet50", "temporal_resnet50"):
            kwargs["weights"] = flags.get("resnet50_weights")
    return build_model(name, **kwargs)


# Which flag initialises which network. In (A)'s transfer the acoustic checkpoint is the
# self-supervised DualCamNet, which becomes the frozen teacher.
BRANCH_FLAGS = {"video_net": "visual_init_checkpoint", "audio_net": "acoustic_init_checkpoint",
                "teacher": "teacher_restore_checkpoint", "student": "student_init_checkpoint"}
TRANSFER_BRANCH_FLAGS = {**BRANCH_FLAGS, "audio_net": "student_init_checkpoint", "teacher": "acoustic_init_checkpoint"}


def build_stage(plan: Plan, flags: dict) -> stages._Stage:
    nets = {role: _build(name, role, plan, flags) for role, name in plan.networks.items()}
    branch_flags = TRANSFER_BRANCH_FLAGS if plan.stage == "transfer" else BRANCH_FLAGS
    for role, net in nets.items():
        flag = branch_flags.get(role)
        if flag and flags.get(flag):
            net.load_weights(flags[flag])
    if flags.get("batch_norm_decay") is not None:
        for net in nets.values():
            set_batch_norm_momentum(net, flags["batch_norm_decay"])
    keys = {role: INPUTS[name] for role, name in plan.networks.items()}
    if plan.stage == "self_supervised":
        return stages.SelfSupervised(nets["audio_net"], nets["video_net"], audio_key=keys["audio_net"][0],
                                     video_key=VIDEO_FRAMES, identity_keys=IDENTITY[plan.flavour],
                                     margin=flags.get("margin", 0.2), hard_from_epoch=flags.get("hard_from_epoch", 4),
                                     cross_modal_weight=flags.get("cross_modal_weight", 0.0),
                                     cross_modal_scale=flags.get("cross_modal_scale", 10.0),
                                     map_agreement_weight=flags.get("map_agreement_weight", 0.0))
    if plan.stage == "transfer":
        return stages.Transfer(nets["audio_net"], nets["video_net"], nets["teacher"], teacher_key=ACOUSTIC_IMAGE,
                               audio_key=keys["audio_net"][0], alpha=flags.get("alpha", 0.5),
                               identity_keys=IDENTITY[plan.flavour], margin=flags.get("margin", 0.2),
                               hard_from_epoch=flags.get("hard_from_epoch", 4))
    if plan.stage == "distillation":
        return stages.Distiller(nets["student"], nets["teacher"], keys["student"], keys["teacher"],
                                label_key=LABEL[plan.flavour], temperature=flags.get("temperature_value", 1.0),
                                weight=flags.get("lambda_value", 0.5),
                                original=flags.get("distillation_form") == "original")
    return stages.Supervised(nets["net"], keys["net"], label_key=LABEL[plan.flavour])


def set_batch_norm_momentum(net: keras.Layer, momentum: float) -> None:
    """Every batch norm of `net` (nested models too) keeps moving averages with `momentum`."""
    for layer in getattr(net, "layers", ()):
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = momentum
        set_batch_norm_momentum(layer, momentum)


def network_roles(stage: stages._Stage) -> dict[str, keras.Model]:
    """The stage's networks by role, for exporting their weights."""
    roles = ("audio_net", "video_net", "teacher", "student", "net")
    return {role: getattr(stage, role) for role in roles if isinstance(getattr(stage, role, None), keras.Model)}
