"""From a run's configuration to its plan: the stage, the dataset flavour, the networks and
the loader, with every setting left unset filled from the recipe. A flag a user got wrong
(a missing file, an unknown model, a bad combination) raises FlagError here, before
anything is read or written.

The stage follows the originals' switches: `embedding` 1 trains a video network
(`model_1`) against an audio one (`model_2`) self-supervised, or with `transfer` 1 a
HearNet against video and a frozen DualCamNet, or with `distillation` 1 a HearNet from a
frozen DualCamNet; `embedding` 0 trains `model` on labels; B's `student_model` and
`teacher_model` select distillation. `stage` or `recipe` names it directly. Networks are
named as in the originals (DualCamHybridNet, HearNet, ...), resolved per dataset (A's
HearNet is hearnet_a), or by their registry names (`models.registry`).
"""
from __future__ import annotations

import dataclasses

from dataloader.camera import FRAMES_PER_SECOND
from dataloader.config import ACOUSTIC_IMAGE, SPECTROGRAM, LoaderConfig
from dataloader.datasets import DatasetSpec, dataset_spec, flavour_of_record
from dataloader.schema import record_contents
from models.registry import MODELS, resolve
from trainer import flag_checks
from trainer.config import FlagError, RunConfig
from trainer.recipes import RECIPES, recipe_for
from trainer.stage_specs import STAGES, StageSpec
from trainer.statistics import statistics_files


@dataclasses.dataclass(frozen=True)
class Plan:
    stage: str
    flavour: str
    networks: dict[str, str]  # role -> registry name
    loader: LoaderConfig

    @property
    def spec(self) -> StageSpec:
        return STAGES[self.stage]

    @property
    def dataset(self) -> DatasetSpec:
        return dataset_spec(self.flavour)

    @property
    def monitor(self) -> str:
        return self.spec.monitor

    def input_keys(self, role: str) -> tuple[str, ...]:
        """The loader inputs the network of `role` takes, in its order."""
        return MODELS[self.networks[role]].inputs


def stage_of(config: RunConfig) -> str:
    if config.stage:
        return config.stage
    if config.student_model or config.teacher_model or config.distillation:
        return "distillation"
    if config.embedding:
        return "transfer" if config.transfer else "self_supervised"
    return "supervised"


def networks_of(stage: StageSpec, config: RunConfig, flavour: str) -> dict[str, str]:
    """role -> registry name: the network the first of the role's flags given names, else
    the one of the stage's recipe."""
    defaults = RECIPES[stage.recipe].networks
    networks = {}
    for role in stage.roles:
        flag = next((flag for flag in role.flags if getattr(config, flag)), None)
        name = getattr(config, flag) if flag else defaults[role.flags[0]]
        try:
            networks[role.name] = resolve(name, flavour)
        except ValueError as err:
            raise FlagError(flag or role.flags[0], str(err)) from None
    return networks


def network_inputs(networks: dict[str, str]) -> tuple[str, ...]:
    """The loader inputs the networks take, each once, in their order."""
    return tuple(dict.fromkeys(key for name in networks.values() for key in MODELS[name].inputs))


def make_loader(config: RunConfig, flavour: str, networks: dict[str, str]) -> LoaderConfig:
    """The training loader of a configuration whose sample settings are filled."""
    dataset = dataset_spec(flavour)
    inputs = network_inputs(networks)
    video = next((MODELS[name].video for name in networks.values() if MODELS[name].video is not None),
                 (dataset.video_short_side, dataset.video_size))
    sample_length = config.sample_length
    return LoaderConfig(
        flavour, inputs, sample_length=sample_length, total_length=config.total_length,
        number_of_crops=config.number_of_crops, training=True, seed=config.seed, mirror=config.mirror,
        flip_acoustic_images=config.flip_acoustic_images,
        nr_frames=config.nr_frames or min(config.block_size, FRAMES_PER_SECOND) * sample_length,
        video_short_side=video[0], video_size=video[1], frame_step=dataset.spectrogram_step,
        normalisation=dataset.spectrogram_normalisation if SPECTROGRAM in inputs and config.stats_file else None,
        stats_path=config.stats_file if SPECTROGRAM in inputs else None,
        acoustic_image_stats_path=config.acoustic_image_stats if ACOUSTIC_IMAGE in inputs else None,
    )


def _unset(config: RunConfig, settings: dict) -> dict:
    return {key: value for key, value in settings.items() if getattr(config, key) is None}


def complete(config: RunConfig) -> tuple[RunConfig, Plan]:
    """The configuration with every setting a run needs filled (from the recipe, the
    stage's networks, the run's own statistics files), and its plan."""
    list_flag = "train_file" if config.mode == "train" else "test_file"
    if not getattr(config, list_flag):
        raise FlagError(list_flag, f"--mode {config.mode} needs a list of records")
    clips = {flag: flag_checks.listed_clips(config, flag) for flag in flag_checks.LISTS if getattr(config, flag)}
    blocks_given = config.total_length is not None
    if config.recipe:
        config = config.replace(**_unset(config, RECIPES[config.recipe].settings()))
    if config.embedding is None:
        config = config.replace(embedding=int(bool(config.model_1 or config.model_2)))
    config = config.replace(tensorboard=config.tensorboard or config.log_dir)
    flavour = config.flavour or flavour_of_record(clips[list_flag][0].paths[0])
    stage = STAGES[stage_of(config)]
    networks = networks_of(stage, config, flavour)
    inputs = network_inputs(networks)
    recipe = RECIPES[config.recipe or recipe_for(stage.name, flavour, inputs == (ACOUSTIC_IMAGE,))]
    filled = _unset(config, recipe.settings())
    config = config.replace(**{key: value for key, value in filled.items() if key not in ("stage", *stage_flags())})
    if not blocks_given:  # a longer sample than the recipe's makes its blocks as long
        config = config.replace(total_length=max(config.total_length, config.sample_length))
    flag_checks.check_lengths(config, clips)
    config = config.replace(**statistics_files(config, inputs))
    if stage.settings is not None:
        config = config.replace(**stage.settings(config))
    flag_checks.check_files(config)
    flag_checks.check_input_services(config)
    config = config.replace(stage=stage.name, flavour=flavour, networks=networks)
    loader = make_loader(config, flavour, networks)
    if stage.loader is not None:
        loader = stage.loader(loader, record_contents(clips[list_flag][0].paths[0]).offset is not None)
    return config, Plan(stage.name, flavour, networks, loader)


def stage_flags() -> tuple[str, ...]:
    """The fields that name networks: a recipe's networks fill the roles, not these flags,
    once the stage is known (a transfer's model_2 is not a supervised run's model)."""
    return tuple(dict.fromkeys(flag for spec in STAGES.values() for role in spec.roles for flag in role.flags))
