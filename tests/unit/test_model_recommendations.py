"""A generator's recommended settings fill in what a config leaves unset, and nothing else."""

import pytest

from clingen.config import EMBEDDED_GENERATOR, MODEL_RECOMMENDED, config_from_dict, load_config

pytestmark = pytest.mark.unit


def test_the_embedded_generator_without_a_config_gets_its_recommended_settings():
    config = load_config(None, ["task=ncbi-disease"])
    assert config.generator.model.source == EMBEDDED_GENERATOR
    assert config.prompts.n_demos == MODEL_RECOMMENDED[EMBEDDED_GENERATOR]["prompts.n_demos"] == 0
    assert config.generation.ner_label_completion is True


@pytest.mark.parametrize("override, field, value", [
    ("prompts.n_demos=2", ("prompts", "n_demos"), 2),
    ("generation.ner_label_completion=false", ("generation", "ner_label_completion"), False),
])
def test_a_value_the_user_gives_always_wins(override, field, value):
    config = load_config(None, ["task=ncbi-disease", override])
    assert getattr(getattr(config, field[0]), field[1]) == value


def test_another_generator_keeps_the_plain_defaults():
    config = load_config(None, ["task=ncbi-disease", "generator.model.source=Qwen/Qwen2.5-7B-Instruct"])
    assert config.prompts.n_demos == 3 and config.generation.ner_label_completion is False


def test_few_shot_keeps_its_demonstrations():
    config = load_config(None, ["task=ncbi-disease", "prompts.strategy=few-shot"])
    assert config.prompts.n_demos == 3


def test_a_recorded_config_is_read_as_it_was_written():
    recorded = load_config(None, ["task=ncbi-disease", "prompts.n_demos=3"]).model_dump(mode="json")
    recorded["prompts"].pop("n_demos")  # a manifest from before the field existed
    assert config_from_dict(recorded, recorded=True).prompts.n_demos == 3
