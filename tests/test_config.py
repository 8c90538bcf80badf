"""The run configuration, the recipes and the stage specs: one default per setting, a wrong
value named when the configuration is built, recipes that flags override."""
import json

import pytest

from dataloader.datasets import ACIVW, AVIA
from models.registry import resolve
from trainer import stages
from trainer.config import DEFAULTS, STAGE_NAMES, FlagError, RunConfig
from trainer.recipes import RECIPES, recipe_for
from trainer.stage_specs import STAGES


@pytest.mark.parametrize("values, flag, problem", [
    ({"batch_size": 0}, "batch_size", "0: must be at least 1"),
    ({"learning_rate": -1.0}, "learning_rate", "must be positive"),
    ({"margin": "wide"}, "margin", "'wide' is not a float"),
    ({"stage": "pretraining"}, "stage", "is not one of self_supervised"),
    ({"recipe": "c_unknown"}, "recipe", "is not one of a_self_supervised"),
    ({"mirror": 1}, "mirror", "is not a bool"),
    ({"save_every_steps": -1}, "save_every_steps", "must be at least 0"),
])
def test_a_wrong_value_is_refused_naming_its_field(values, flag, problem):
    with pytest.raises(FlagError, match=problem) as refused:
        RunConfig(**values)
    assert refused.value.flags == (flag,)


def test_a_configuration_round_trips_through_config_json():
    config = RunConfig(model="DualCamNet", learning_rate=3e-4, networks={"net": "dualcamnet"}, mirror=True)
    assert RunConfig.from_dict(json.loads(config.to_json())) == config
    with pytest.raises(FlagError, match="unknown settings"):
        RunConfig.from_dict({"modle": "DualCamNet"})


def test_main_defines_every_flag_from_the_configuration_with_its_default():
    import main

    flags = {flag.name: flag for flag in main.FLAGS.get_flags_for_module(main)}
    fields = {field.name: field for field in RunConfig.flag_fields()}
    assert set(flags) == set(fields)
    for name, field in fields.items():
        assert flags[name].default == field.default, name
        assert flags[name].help.endswith(field.metadata["help"]), name


def test_defaults_are_the_configurations():
    # The stages' and losses' own defaults are the flags': the distiller's temperature was 4, the flag's 1.
    assert stages.Distiller.__init__.__defaults__[2:4] == (DEFAULTS.temperature_value, DEFAULTS.lambda_value)
    assert DEFAULTS.temperature_value == 1.0 and DEFAULTS.margin == 0.2


def test_stage_names_and_specs_agree():
    assert tuple(STAGES) == STAGE_NAMES
    for spec in STAGES.values():
        assert RECIPES[spec.recipe].stage == spec.name
        assert spec.monitor.removeprefix("val_") in spec.metrics


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_every_recipe_names_networks_of_its_stage_on_both_datasets(name):
    recipe = RECIPES[name]
    flags = {flag for role in STAGES[recipe.stage].roles for flag in role.flags}
    assert set(recipe.networks) <= flags
    for flavour in (ACIVW, AVIA):
        for model in recipe.networks.values():
            resolve(model, flavour)


def test_runs_take_the_recipes_of_their_stage():
    assert recipe_for("self_supervised", AVIA, False) == "a_self_supervised"
    assert recipe_for("supervised", ACIVW, True) == recipe_for("supervised", AVIA, True) == "b_teacher"
    assert recipe_for("supervised", AVIA, False) == "b_students" and recipe_for("supervised", ACIVW, False) == \
        "a_supervised"
    assert recipe_for("distillation", AVIA, False) == "b_distillation"
    assert RECIPES["b_students"].sampling.sample_length == 5 and RECIPES["a_supervised"].sampling.sample_length == 2
