"""Tests of the experiment grid (cells per method, dataset and seed) and its results table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from clingen.errors import ConfigError, DataFormatError
from clingen.experiment.grid import build_cells, load_experiment
from clingen.experiment.results import markdown_table, summarise, write_results

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]


def experiment_file(tmp_path: Path, **changes) -> Path:
    data = {"out": str(tmp_path / "exp"), "seeds": [0, 1], "n_synthetic": 32, "n_demos": 2,
            "methods": ["clingen-kg", "clingen-llm", "zero-shot", "few-shot", "few-shot-only", "supervised",
                        "clingen-kg-completion"],
            "overrides": ["training.max_steps=5"],
            "datasets": {"ncbi-disease": {"config": str(ROOT / "configs/ncbi-disease.cpu.yaml"),
                                          "train_path": str(tmp_path / "train.tsv")},
                         "gad": {"config": str(ROOT / "configs/gad.cpu.yaml")}}}
    data.update(changes)
    path = tmp_path / "experiment.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_cells_share_generator_budget_and_examples_and_differ_only_by_method_and_seed(tmp_path):
    cells = build_cells(load_experiment(experiment_file(tmp_path)))
    assert len(cells) == 2 * 7 * 2
    by = {(c.dataset, c.method, c.seed): c for c in cells}
    kg, llm = by["ncbi-disease", "clingen-kg", 0].config, by["ncbi-disease", "clingen-llm", 1].config
    assert (kg.prompts.strategy, kg.prompts.n_demos, kg.generation.n) == ("clingen-kg", 2, 32)
    assert (llm.prompts.strategy, llm.training.seed, llm.pipeline.steps[:2]) == ("clingen-llm", 1, ["styles", "topics"])
    assert by["ncbi-disease", "zero-shot", 0].config.prompts.n_demos == 0
    assert by["ncbi-disease", "few-shot", 0].config.prompts.strategy == "few-shot"
    for cell in cells:
        if cell.config is not None:
            same_task = by[cell.dataset, "clingen-kg", 0].config
            assert cell.config.generator == same_task.generator
            assert cell.config.training == same_task.training.model_copy(
                update={"seed": cell.seed, **({"fewshot_per_class": cell.config.training.fewshot_per_class,
                                               "fewshot_epochs": cell.config.training.fewshot_epochs}
                                              if cell.method == "supervised" else {})})
            assert cell.config.generator.model.source == kg.generator.model.source
            assert cell.config.training.max_steps == 5
            assert cell.config.seed == 0 and cell.config.training.seed == cell.seed  # one generated set per method
            assert cell.config.pipeline.out == str(tmp_path / "exp" / cell.dataset)  # shared, keyed step folders
    only = by["ncbi-disease", "few-shot-only", 0].config
    assert only.pipeline.steps == ["train", "evaluate"] and only.pipeline.fewshot_path is None
    supervised = by["ncbi-disease", "supervised", 0].config
    assert supervised.pipeline.fewshot_path == tmp_path / "train.tsv"
    assert supervised.training.fewshot_per_class >= 10**6 and supervised.training.fewshot_epochs == kg.training.epochs
    assert by["ncbi-disease", "clingen-kg-completion", 0].config.generation.ner_label_completion
    assert by["gad", "clingen-kg", 0].config.prompts.n_demos == 2
    assert by["gad", "clingen-kg-completion", 0].reason == "label completion applies to NER only"
    assert by["gad", "supervised", 1].reason == "no train_path given"


def test_a_dataset_can_set_the_clingen_methods_demonstrations_apart_from_few_shot_prompting(tmp_path):
    path = experiment_file(tmp_path)
    data = yaml.safe_load(path.read_text())
    data["datasets"]["ncbi-disease"]["clingen_n_demos"] = 0
    path.write_text(yaml.safe_dump(data))
    by = {(c.dataset, c.method, c.seed): c for c in build_cells(load_experiment(path))}
    assert by["ncbi-disease", "clingen-kg", 0].config.prompts.n_demos == 0
    assert by["ncbi-disease", "clingen-llm", 1].config.prompts.n_demos == 0
    assert by["ncbi-disease", "few-shot", 0].config.prompts.n_demos == 2
    assert by["gad", "clingen-kg", 0].config.prompts.n_demos == 2


def test_clingen_overrides_reach_the_clingen_methods_and_leave_the_baselines_keys(tmp_path):
    path = experiment_file(tmp_path)
    plain = {(c.dataset, c.method, c.seed): c for c in build_cells(load_experiment(path))}
    data = yaml.safe_load(path.read_text())
    data["datasets"]["ncbi-disease"]["clingen_overrides"] = ["prompts.hard_negatives=1"]
    path.write_text(yaml.safe_dump(data))
    by = {(c.dataset, c.method, c.seed): c for c in build_cells(load_experiment(path))}
    for method in ("clingen-kg", "clingen-kg-completion", "clingen-llm"):
        assert by["ncbi-disease", method, 0].config.prompts.hard_negatives == 1
    for method in ("zero-shot", "few-shot"):
        cell = by["ncbi-disease", method, 0].config
        assert cell.prompts.hard_negatives == 0
        assert cell.config_hash() == plain["ncbi-disease", method, 0].config.config_hash()
    assert by["gad", "clingen-kg", 0].config.prompts.hard_negatives == 0


def test_experiment_config_errors_name_the_bad_value(tmp_path):
    with pytest.raises(ConfigError, match="methods.0"):
        load_experiment(experiment_file(tmp_path, methods=["clingen-kgg"]))
    with pytest.raises(ConfigError, match="does not exist"):
        load_experiment(tmp_path / "missing.yaml")


def test_results_table_means_spread_and_missing_cells(tmp_path):
    f1 = lambda v: {"name": "f1", "value": v}  # noqa: E731
    cells = [{"dataset": "a", "method": "kg", "seed": 0, "primary": f1(0.5), "examples": 40},
             {"dataset": "a", "method": "kg", "seed": 1, "primary": f1(0.7), "examples": 40},
             {"dataset": "b", "method": "kg", "seed": 0, "primary": f1(0.2)},
             {"dataset": "a", "method": "supervised", "seed": 0, "primary": f1(0.9)},
             {"dataset": "b", "method": "supervised", "seed": 0, "status": "not applicable", "reason": "no train_path"}]
    table = summarise(cells, ["kg", "supervised"], ["a", "b"])
    assert table["kg"]["a"]["mean"] == pytest.approx(0.6) and table["kg"]["a"]["std"] == pytest.approx(0.1414, abs=1e-4)
    assert table["kg"]["average"]["mean"] == pytest.approx(0.4)
    assert table["supervised"]["b"]["missing"] == "no train_path"
    assert "missing" in table["supervised"]["average"]
    text = markdown_table(table, ["a", "b"])
    assert "| kg | 60.0 ± 14.1 | 20.0 ± 0.0 | 40.0 |" in text
    assert "n/a (no train_path)" in text
    written = write_results(tmp_path / "out", cells, ["kg", "supervised"], ["a", "b"], {"wall_s": 1})
    assert json.loads((tmp_path / "out/results.json").read_text())["table"]["kg"]["a"]["n"] == 2
    assert (tmp_path / "out/results.png").read_bytes()[:4] == b"\x89PNG" and written["markdown"] == text


def test_results_flag_unfinished_seeds_and_show_the_majority_baseline():
    f1 = lambda v: {"name": "positive_f1", "value": v}  # noqa: E731
    majority = {"name": "positive_f1", "value": 0.69}
    cells = [{"dataset": "gad", "method": "kg", "seed": 0, "primary": f1(0.6), "baseline": majority},
             {"dataset": "gad", "method": "kg", "seed": 1, "status": "not run", "reason": "not run: train"},
             {"dataset": "ner", "method": "kg", "seed": 0, "primary": {"name": "f1", "value": 0.3}},
             {"dataset": "ner", "method": "kg", "seed": 1, "primary": {"name": "f1", "value": 0.5}}]
    table = summarise(cells, ["kg"], ["gad", "ner"])
    assert (table["kg"]["gad"]["n"], table["kg"]["gad"]["expected"]) == (1, 2)
    assert table["majority baseline"]["gad"]["mean"] == pytest.approx(0.69)
    assert table["majority baseline"]["ner"]["missing"] == "no majority baseline for this metric"
    text = markdown_table(table, ["gad", "ner"])
    assert "| kg | 60.0 ± 0.0 (1 of 2 seeds) | 40.0 ± 14.1 | 50.0 |" in text
    assert "| majority baseline | 69.0 | n/a (no majority baseline for this metric) | n/a |" in text


def test_shipped_experiment_and_pipeline_configs_validate():
    experiment = load_experiment(ROOT / "configs/experiments/shared-cpu.yaml")
    assert set(experiment.datasets) == {"ncbi-disease", "gad", "hoc", "mediqa-rqe"}
    assert len(build_cells(experiment)) == 4 * len(experiment.methods) * len(experiment.seeds)


def test_ray_starts_once_after_the_data_check_and_only_when_a_cell_runs(tmp_path):
    from clingen.experiment.run import run_experiment
    experiment = load_experiment(experiment_file(tmp_path))
    started = []

    class Started(Exception):
        pass

    def start_ray(cells):
        started.append([(cell.dataset, cell.method, cell.seed) for cell in cells])
        raise Started  # the cells themselves are not run here

    with pytest.raises(Started):
        run_experiment(experiment, log=lambda _: None, only={"dataset": ["gad"], "method": ["zero-shot"]},
                       start_ray=start_ray)
    assert started == [[("gad", "zero-shot", 0), ("gad", "zero-shot", 1)]]
    with pytest.raises(DataFormatError, match="train.tsv does not exist"):  # a missing file: before Ray starts
        run_experiment(experiment, log=lambda _: None, only={"dataset": ["ncbi-disease"]}, start_ray=start_ray)
    run_experiment(experiment, log=lambda _: None, report_only=True, start_ray=start_ray)  # runs no cell
    assert len(started) == 1
