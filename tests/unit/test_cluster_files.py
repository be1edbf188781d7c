"""cluster.yaml and serve_config.yaml checked against the schemas Ray ships, so a typo fails CI."""

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]


def autoscaler_schema() -> dict:
    import ray.autoscaler
    return json.loads((Path(ray.autoscaler.__file__).parent / "ray-schema.json").read_text())


def test_cluster_yaml_matches_the_autoscaler_schema():
    config = yaml.safe_load((ROOT / "cluster.yaml").read_text())
    jsonschema.validate(config, autoscaler_schema())
    types = config["available_node_types"]
    assert types[config["head_node_type"]]["resources"] == {"CPU": 0}  # no work lands on the head
    for name in ("gpu-generate-1x", "gpu-generate-4x", "gpu-train"):
        assert types[name]["min_workers"] == 0 and types[name]["max_workers"] >= 1
    assert any("clingen[gpu]" in command for command in config["setup_commands"])


def test_a_typo_in_cluster_yaml_is_caught():
    config = yaml.safe_load((ROOT / "cluster.yaml").read_text())
    config["idle_timout_minutes"] = 5
    with pytest.raises(jsonschema.ValidationError, match="idle_timout_minutes"):
        jsonschema.validate(config, autoscaler_schema())


def test_serve_config_matches_serves_schema_and_imports():
    from ray.serve.schema import ServeDeploySchema
    schema = ServeDeploySchema.model_validate(yaml.safe_load((ROOT / "serve_config.yaml").read_text()))
    assert schema.http_options.host == "127.0.0.1"
    import importlib
    for app in schema.applications:
        module, _, attribute = app.import_path.partition(":")
        assert callable(getattr(importlib.import_module(module), attribute)), app.import_path
    apps = {app.name: app for app in schema.applications}
    from clingen.serving.classifier_app import ClassifierAppArgs
    from clingen.serving.generator_app import GeneratorAppArgs
    GeneratorAppArgs.model_validate(apps["generator"].args)
    ClassifierAppArgs.model_validate(apps["classifiers"].args)


def test_runtime_env_file_is_valid():
    from ray.runtime_env import RuntimeEnv
    RuntimeEnv(**yaml.safe_load((ROOT / "ray_jobs/runtime_env.yaml").read_text()))
