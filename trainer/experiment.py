"""A planned run's stage: its networks built for the loader's samples, started from the
weights the configuration names, the stage made and compiled; and what leaves a run, the
networks' weights."""
from __future__ import annotations

import keras
import tensorflow as tf

from dataloader.config import ACOUSTIC_IMAGE
from models.layers import CLASSIFIER, EMBEDDING
from models.registry import MODELS, build_for_loader
from trainer import stages
from trainer.config import RunConfig
from trainer.plan import Plan
from trainer.rundir import RunDir


def build_networks(plan: Plan, config: RunConfig) -> dict[str, keras.Model]:
    """The stage's networks by role, initialised from the weights files the configuration
    names for them, with its batch-norm momentum."""
    nets = {}
    for role in plan.spec.roles:
        name = plan.networks[role.name]
        weights_flag = MODELS[name].weights_flag
        net = build_for_loader(name, plan.loader, mode=EMBEDDING if role.embedding else CLASSIFIER,
                               num_classes=plan.dataset.num_classes,
                               weights=getattr(config, weights_flag) if weights_flag else None)
        if role.init_flag and getattr(config, role.init_flag):
            net.load_weights(getattr(config, role.init_flag))
        if config.batch_norm_decay is not None:
            set_batch_norm_momentum(net, config.batch_norm_decay)
        nets[role.name] = net
    return nets


def build_stage(plan: Plan, config: RunConfig) -> stages._Stage:
    keys = {role: plan.input_keys(role) for role in plan.networks}
    return plan.spec.make(build_networks(plan, config), keys, config, plan.dataset)


def build(config: RunConfig, plan: Plan, strategy: tf.distribute.Strategy) -> stages._Stage:
    """The stage, seeded and compiled under `strategy`."""
    if config.mixed_precision:
        keras.mixed_precision.set_global_policy("mixed_float16")
    keras.utils.set_random_seed(config.seed)
    if config.deterministic:
        tf.config.experimental.enable_op_determinism()
    with strategy.scope():
        stage = build_stage(plan, config)
        # TF1's AdamOptimizer's epsilon, which both originals trained with (Keras' default is 1e-7).
        stage.compile(optimizer=keras.optimizers.Adam(config.learning_rate, epsilon=1e-8),
                      jit_compile=config.jit_compile)
    return stage


def orients_audio_map(config: RunConfig, plan: Plan, stage) -> bool:
    """Whether a run starting from its initialisers draws its audio map's orientation
    (`SelfSupervised.orient_audio_map`): a self-supervised DualCamNet not started from
    weights files or checkpoints."""
    started_from_weights = any(getattr(config, flag) for flag in ("acoustic_init_checkpoint", "init_checkpoint",
                                                                   "restore_checkpoint"))
    return (config.orient_audio_map and not started_from_weights and plan.stage == "self_supervised"
            and stage.audio_key == ACOUSTIC_IMAGE)


def set_batch_norm_momentum(net: keras.Layer, momentum: float) -> None:
    """Every batch norm of `net` (nested models too) keeps moving averages with `momentum`."""
    for layer in getattr(net, "layers", ()):
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = momentum
        set_batch_norm_momentum(layer, momentum)


def network_roles(stage: stages._Stage) -> dict[str, keras.Model]:
    """The stage's networks by role."""
    roles = ("audio_net", "video_net", "visual_net", "teacher", "student", "net", "text_net")
    return {role: getattr(stage, role) for role in roles if isinstance(getattr(stage, role, None), keras.Model)}


def export_networks(stage: stages._Stage, run_dir: RunDir) -> dict[str, str]:
    """Each network's weights into the run's networks/, what the init flags of another run take."""
    paths = {}
    for role, net in network_roles(stage).items():
        path = run_dir.network(role)
        path.parent.mkdir(parents=True, exist_ok=True)
        net.save_weights(path)
        paths[role] = str(path)
    return paths
