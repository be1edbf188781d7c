"""The `cluster` section: the Ray settings every stage reads, their old keys (generation.ray_address,
generation.num_cpus, top-level local_paths_are_shared) still read from recorded manifests, YAML files and
overrides, and no fingerprint or key changed by the move."""

import json
import logging

import pytest
from pydantic import ValidationError

from clingen.cluster import ray_target
from clingen.config import ClinGenConfig, GenerationConfig, config_from_dict, load_config
from clingen.errors import ConfigError
from clingen.generation.job import recorded_fingerprint
from clingen.runfolder.manifest import build_manifest
from clingen.runfolder.progress import Progress
from clingen.runfolder.store import OutputStore
from clingen.tasks.registry import get_task
from tests.integration.synthetic_sets import ner_records, write_generation_output

pytestmark = pytest.mark.unit
SETTINGS = ["cluster.address=ray://head:10001", "cluster.num_cpus=6", "cluster.local_paths_are_shared=true"]


def old_spelling(config: ClinGenConfig) -> dict:
    """`config` as a manifest written before the cluster section recorded it."""
    data = config.model_dump(mode="json")
    cluster = data.pop("cluster")
    data["generation"].update(ray_address=cluster["address"], num_cpus=cluster["num_cpus"])
    data["local_paths_are_shared"] = cluster["local_paths_are_shared"]
    return data


def config_warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "clingen.config" and r.levelno == logging.WARNING]


def test_the_old_fields_are_gone_and_the_new_ones_described():
    assert {"ray_address", "num_cpus"}.isdisjoint(GenerationConfig.model_fields)
    assert "local_paths_are_shared" not in ClinGenConfig.model_fields
    config = load_config(overrides=SETTINGS)
    assert (config.cluster.address, config.cluster.num_cpus, config.cluster.local_paths_are_shared) == \
        ("ray://head:10001", 6, True)
    assert load_config().cluster.model_dump() == {"address": None, "num_cpus": None, "local_paths_are_shared": False}


def test_a_recorded_config_with_the_old_keys_loads_silently_with_its_fingerprint(caplog):
    config = load_config(overrides=["task=gad", *SETTINGS])
    with caplog.at_level(logging.WARNING, logger="clingen.config"):
        recorded = config_from_dict(old_spelling(config), recorded=True)
        manifest = build_manifest(config, get_task("gad"), Progress(), None, "m", 0.0, None)
        again, fingerprint = recorded_fingerprint(manifest.model_copy(update={"config": old_spelling(config),
                                                                              "fingerprint": "stale"}))
    assert recorded == again == config and fingerprint == config.dataset_fingerprint()
    assert config_warnings(caplog) == []
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):  # why every reader must migrate
        ClinGenConfig.model_validate(old_spelling(config))


def test_old_manifests_are_read_by_export_and_audit(tmp_path):
    from clingen.quality.audit import audit_run
    from clingen.runfolder.export import export_run
    run = str(tmp_path / "ncbi")
    write_generation_output(run, "ncbi-disease", ner_records(4))
    store = OutputStore(run)
    manifest = store.read_manifest()
    old = old_spelling(config_from_dict(manifest.config, ["cluster.num_cpus=2"]))
    store.write_manifest(manifest.model_copy(update={"config": old}))
    assert "num_cpus" in store.read_manifest().config["generation"]
    assert export_run(run, "jsonl", tmp_path / "x.jsonl").rows == 4
    assert audit_run(run)["examples"] == 4


def test_old_keys_in_a_yaml_file_move_with_one_warning_each(tmp_path, caplog):
    path = tmp_path / "old.yaml"
    path.write_text("local_paths_are_shared: true\ngeneration:\n  n: 9\n  ray_address: auto\n  num_cpus: 3\n")
    with caplog.at_level(logging.WARNING, logger="clingen.config"):
        config = load_config(path)
    assert (config.cluster.address, config.cluster.num_cpus, config.cluster.local_paths_are_shared) == ("auto", 3, True)
    assert config.generation.n == 9
    assert config_warnings(caplog) == [
        f"config key generation.ray_address in {path} is deprecated: write cluster.address instead",
        f"config key generation.num_cpus in {path} is deprecated: write cluster.num_cpus instead",
        f"config key local_paths_are_shared in {path} is deprecated: write cluster.local_paths_are_shared instead"]


def test_old_override_keys_write_the_new_ones(tmp_path, caplog):
    path = tmp_path / "new.yaml"
    path.write_text("cluster:\n  address: auto\n")
    with caplog.at_level(logging.WARNING, logger="clingen.config"):
        config = load_config(path, ["generation.ray_address=10.0.0.1:6379", "local_paths_are_shared=true",
                                    "generation={num_cpus: 4, n: 7}"])
    # An override overrides the file, whichever spelling it uses; a later override wins as for any key.
    assert (config.cluster.address, config.cluster.num_cpus, config.cluster.local_paths_are_shared) == \
        ("10.0.0.1:6379", 4, True)
    assert config.generation.n == 7
    warnings = config_warnings(caplog)
    assert len(warnings) == 3 and all("is deprecated: write cluster." in w for w in warnings)
    assert "override 'generation.ray_address=10.0.0.1:6379'" in warnings[0]


def test_old_and_new_keys_with_different_values_are_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"generation.ray_address='auto' and cluster.address='h:1' are both "
                                          r"given; generation.ray_address is the old name of cluster.address"):
        config_from_dict({"generation": {"ray_address": "auto"}, "cluster": {"address": "h:1"}}, recorded=True)
    path = tmp_path / "both.yaml"
    path.write_text("local_paths_are_shared: false\ncluster:\n  local_paths_are_shared: true\n")
    with pytest.raises(ConfigError, match=rf"local_paths_are_shared=False and cluster.local_paths_are_shared=True "
                                          rf"are both given in {path}"):
        load_config(path)
    # The same value under both names is no conflict.
    same = config_from_dict({"generation": {"num_cpus": 2}, "cluster": {"num_cpus": 2}}, recorded=True)
    assert same.cluster.num_cpus == 2


def test_ray_is_joined_or_started_as_the_cluster_section_says():
    default = load_config()
    assert ray_target(default, {}, 2) == (None, 8)  # Ray Data's LLM stages need CPU slots even on 2 cores
    assert ray_target(default, {}, 32) == (None, 32)
    assert ray_target(default, {}, None) == (None, 8)
    assert ray_target(default, {"RAY_ADDRESS": "auto"}, 2) == ("auto", 8)  # a submitted job joins its cluster
    given = load_config(overrides=["cluster.address=ray://head:10001", "cluster.num_cpus=3"])
    assert ray_target(given, {"RAY_ADDRESS": "auto"}, 16) == ("ray://head:10001", 3)
    assert ray_target(load_config(overrides=["cluster.num_cpus=3"]), {}, 16) == (None, 3)


def test_a_fresh_instance_is_big_enough_for_its_stream_and_a_small_cluster_is_refused_at_once():
    from clingen.generation.stream import check_cpu_capacity, stream_cpu_demand
    one, four = load_config().generator, load_config(overrides=["generator.replicas=4"]).generator
    # 2-CPU head, NER, one replica: engine 1 + read, compose, parse at 0.25 each. The chat template and the
    # tokenizing run in the preprocess task now (no Ray chat-template stage holding another 0.25).
    assert stream_cpu_demand(one) == 1.75
    assert stream_cpu_demand(one, steps=2) == 2 * 1.0 + 5 * 0.25  # a pair task runs both steps at once
    assert stream_cpu_demand(four, steps=2) == 8 + 1.25
    assert ray_target(load_config(), {}, 2, min_cpus=9.75) == (None, 10)  # rounded up, never below 8
    assert ray_target(load_config(), {}, 2, min_cpus=2.0) == (None, 8)
    assert ray_target(load_config(overrides=["cluster.num_cpus=3"]), {}, 2, min_cpus=9.75) == (None, 3)
    serve = load_config(overrides=["generator.backend=serve"]).generator
    http = load_config(overrides=["generator.backend=http", "generator.url=http://127.0.0.1:1/v1"]).generator
    assert stream_cpu_demand(serve) == 1.0 + 3 * 0.25  # one handle worker of 1 CPU, compose, parse, preprocess
    assert stream_cpu_demand(http) == 0.25 + 3 * 0.25
    check_cpu_capacity(2.0, 2.0)  # fits exactly
    with pytest.raises(ConfigError, match=r"has 2 logical CPUs but the generation stream holds 3.25.*"
                                          r"ray start --head --num-cpus=8"):
        check_cpu_capacity(stream_cpu_demand(one, steps=2), 2.0)
    # serve_config.yaml's generator and classifier replica hold both CPUs of a 2-CPU `serve run`
    with pytest.raises(ConfigError, match=r"has 0 of its 2 logical CPUs free \(Serve's replicas hold the others\) "
                                          r"but the generation stream holds 1.75.*before `serve run serve_config"):
        check_cpu_capacity(stream_cpu_demand(serve), 0.0, free_of=2.0)


def test_ray_logs_are_copied_only_to_a_local_run_folder(tmp_path):
    from clingen.cluster import save_ray_logs
    assert save_ray_logs("s3://bucket/run") is None  # the logs stay on the head; nothing is written
    assert save_ray_logs(tmp_path / "run") is None  # Ray is not running in this process
    assert not (tmp_path / "run").exists()


def test_the_cluster_section_changes_no_fingerprint_or_key():
    # Figures of the default config before the section existed (commit b127db6): an all-RunField section must
    # not appear in hashed_dump (not even as "cluster": {}), or every recorded result key would be stale. The
    # embedded generator's recommended settings (config.MODEL_RECOMMENDED) are spelt out as they were then.
    then = ["prompts.n_demos=3", "generation.ner_label_completion=false"]
    for config in (load_config(overrides=then), load_config(overrides=[*then, *SETTINGS])):
        assert "cluster" not in config.hashed_dump()
        assert (config.dataset_fingerprint(), config.config_hash()) == ("0c0cb082e39203d7", "0535b021868df568")
        assert config.config_hash(("task", "seed", "training")) == "9ea02c7407c1c22d"  # the training run name
        assert json.dumps(config.hashed_dump(), sort_keys=True) == json.dumps(
            load_config(overrides=then).hashed_dump(), sort_keys=True)
