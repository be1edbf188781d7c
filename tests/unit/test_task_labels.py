"""Tests of the task specs' label contract with real data (label_map, negative_label, topic phrases) and of what
it changes downstream: demonstrations from real files, positive-class F1, health-claim prompts, and real files
refused before Ray or any step starts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from pydantic import ValidationError

from clingen.config import load_config
from clingen.errors import DataFormatError
from clingen.evaluation.metrics import evaluate_predictions, negative_labels_for
from clingen.prompts.compose import PromptComposer, second_step_messages
from clingen.prompts.demos import load_demo_pool
from clingen.tasks.registry import builtin_tasks, get_task
from clingen.tasks.spec import TaskSpec, label_key
from tests.unit.helpers import tiny_graph

pytestmark = pytest.mark.unit

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "eval"
CID_TASK = {"name": "cid", "family": "relation", "domain": "drug safety", "head_role": "chemical",
            "tail_role": "disease", "head_mask": "@CHEMICAL$", "tail_mask": "@DISEASE$", "negative_label": "no_CID",
            "styles": ["case report"],
            "labels": [{"name": "CID", "description": "induces", "topics": {"kind": "relation", "relation": "causes"}},
                       {"name": "no_CID", "description": "does not", "topics": {"kind": "negative",
                                                                                "relation": "causes"}}]}


def spec_with(**changes) -> TaskSpec:
    return TaskSpec.model_validate({**CID_TASK, **changes})


# ---- the spec ---------------------------------------------------------------------------------------------------

def test_label_key_ignores_case_and_separators():
    assert label_key(" PRODUCT-OF ") == label_key("Product_of") == label_key("product of") == "product_of"


def test_every_builtin_relation_task_declares_its_negative_label():
    assert {name: spec.negative_label for name, spec in builtin_tasks().items() if spec.family == "relation"} == {
        "gad": "No_relation", "cdr": "not_induce", "chemprot": "NOT"}


@pytest.mark.parametrize("changes, message", [
    ({"negative_label": None}, r"relation task cid needs negative_label, .* one of \['CID', 'no_CID'\]"),
    ({"negative_label": "none"}, r"needs negative_label.*\(got 'none'\)"),
    ({"label_map": {"1": "yes"}}, r"label_map '1' -> 'yes': not a label of the task"),
    ({"label_map": {"1": None}}, r"label_map '1': null \(drop\) is for NER, attribute and multi-label tasks"),
    ({"label_map": {"cid": "no_CID"}}, r"label_map 'cid' -> 'no_CID' contradicts the task's own label 'CID'"),
    ({"label_map": {"True": "CID", "true": "no_CID"}}, r"label_map names 'True' and 'true' alike"),
])
def test_label_contract_errors_name_the_bad_value(changes, message):
    with pytest.raises(ValidationError, match=message):
        spec_with(**changes)


def test_negative_label_is_for_relation_tasks_only():
    pair = {**CID_TASK, "family": "pair", "negative_label": "no_CID"}
    with pytest.raises(ValidationError, match="negative_label is for relation tasks; this is a pair task"):
        TaskSpec.model_validate(pair)


def test_topic_phrases_must_use_their_kinds_names():
    labels = [{"name": "a", "description": "d", "topics": {"kind": "entity", "entity_types": ["chemical"],
                                                           "phrase": "{head} in COVID-19"}}]
    with pytest.raises(ValidationError, match=r"topic phrase '\{head\} in COVID-19' uses \['head'\]; a 'entity' "
                                              r"topic's phrase must use some of \['topic'\]"):
        TaskSpec.model_validate({"name": "t", "family": "pair", "domain": "x", "styles": ["s"], "labels": labels})
    ner = {"name": "t", "family": "ner", "domain": "x", "styles": ["s"], "labels": [
        {"name": "a", "description": "d", "topics": {"kind": "entity", "entity_types": ["chemical"],
                                                     "phrase": "{topic} in COVID-19"}}]}
    with pytest.raises(ValidationError, match="topic phrases are for classification and pair tasks"):
        TaskSpec.model_validate(ner)


# ---- evaluation -------------------------------------------------------------------------------------------------

def test_positive_f1_uses_the_declared_negative_label():
    """The issue's silent failure: labels CID/no_CID matched no fixed negative name, so always answering
    no_CID scored positive-class F1 0.9."""
    spec = spec_with()
    assert negative_labels_for(spec) == ["no_CID"]
    gold = ["no_CID"] * 9 + ["CID"]
    result = evaluate_predictions(spec, gold, ["no_CID"] * 10)
    assert (result["primary"]["name"], result["primary"]["value"]) == ("positive_f1", 0.0)
    assert result["positive_labels"] == ["CID"] and result["negative_labels"] == ["no_CID"]


# ---- demonstrations from real files (the silent failures) -------------------------------------------------

@pytest.mark.parametrize("task, relative", [
    ("cdr", "cdr/biobert-test.tsv"),                 # 0/1 read with CDR's names, not GAD's
    ("healthver", "healthver/healthver-mini.csv"),   # Supports / Refutes / Neutral
    ("mqp", "mqp/mqp-mini.csv"),                     # 0 / 1
    ("chemprot", "chemprot/fine-names.tsv"),          # INHIBITOR, SUBSTRATE, ...
])
def test_real_files_in_their_own_label_names_give_demonstrations(task, relative):
    spec = get_task(task)
    pool = load_demo_pool(spec, FIXTURES / relative, per_class=5, seed=0)
    assert pool and {d.label for d in pool} <= set(spec.label_names)
    config = load_config(overrides=["prompts.strategy=few-shot", f"prompts.fewshot_path={FIXTURES / relative}"])
    rows = PromptComposer.from_config(config, spec).compose(np.arange(2 * len(spec.labels)))
    labelled = {d.label for d in pool}
    assert all(row.demo_ids for row in rows if row.label in labelled)


def test_a_demonstration_file_with_an_unknown_label_is_refused(tmp_path):
    path = tmp_path / "mqp.csv"
    path.write_text("1,Question one?,Question two?,yes\n")
    config = load_config(overrides=["prompts.strategy=few-shot", f"prompts.fewshot_path={path}"])
    with pytest.raises(DataFormatError, match=r"mqp\.csv:1: label 'yes' is not a label of task mqp; labels in "
                                              r".*: 'yes' x1; known: \['0', '1', 'equivalent', 'not_equivalent'\]"):
        PromptComposer.from_config(config, get_task("mqp"))


# ---- prompts -----------------------------------------------------------------------------------------------------

def health_rows(task: str):
    config = load_config(overrides=["seed=3", "prompts.n_demos=0"])
    return PromptComposer.from_config(config, get_task(task), tiny_graph()).compose(np.arange(3))


def test_healthver_prompts_are_about_a_drug_in_covid19_with_the_right_article():
    rows = health_rows("healthver")
    assert {row.topic for row in rows} <= {"dexamethasone in COVID-19", "allopurinol in COVID-19"}
    first = rows[0].messages[0]["content"]
    assert first.startswith("Suppose you need to create a dataset for COVID-19 health claims. Write an evidence "
                            f"passage about {rows[0].topic} in the style of ")
    second = second_step_messages(rows[0].to_dict(), "Dexamethasone lowered mortality.")[0]["content"]
    assert 'Given the evidence passage: "Dexamethasone lowered mortality."\nWrite a claim so that' in second


def test_pubhealth_claims_are_about_a_drug_and_the_condition_it_treats():
    rows = health_rows("pubhealth")
    assert {row.topic for row in rows} <= {"dexamethasone and asthma", "allopurinol and gout"}
    assert f"Write a claim about {rows[0].topic} in the style of" in rows[0].messages[0]["content"]
    second = second_step_messages(rows[0].to_dict(), "Allopurinol cures gout.")[0]["content"]
    assert "\nWrite an evidence passage so that the evidence contradicts the claim." in second


# ---- refused up front --------------------------------------------------------------------------------------------

@pytest.fixture
def bad_split(tmp_path) -> Path:
    path = tmp_path / "bad.tsv"
    path.write_text("@GENE$ and @DISEASE$ .\tmaybe\n")
    return path


def no_ray(*_, **__):
    raise AssertionError("Ray was started before the real data was read")


def test_generate_refuses_a_bad_demonstration_file_before_ray(monkeypatch, tmp_path, bad_split):
    import clingen.generation.job as generation
    monkeypatch.setattr(generation, "ensure_ray", no_ray)
    config = load_config(overrides=["task=gad", f"prompts.fewshot_path={bad_split}", f"generation.out={tmp_path / 'o'}"])
    with pytest.raises(DataFormatError, match=r"prompts\.fewshot_path: .*bad\.tsv:1: label 'maybe' is not a label"):
        generation.run_generation(config)
    assert not (tmp_path / "o").exists()


def test_train_refuses_a_bad_fewshot_split_before_ray(monkeypatch, tmp_path, bad_split):
    import clingen.cluster as cluster
    import clingen.training.run as training
    monkeypatch.setattr(cluster, "ensure_ray", no_ray)
    monkeypatch.setattr(training, "require", lambda name: None)  # no Ray Train import: nothing of it may run
    config = load_config(overrides=["task=gad"])
    with pytest.raises(DataFormatError, match=r"bad\.tsv:1: label 'maybe' is not a label of task gad"):
        training.run_training(config, None, bad_split, tmp_path / "model")


def test_pipeline_and_experiment_refuse_a_bad_split_before_any_step(tmp_path, bad_split):
    from clingen.experiment.grid import build_cells, load_experiment
    from clingen.experiment.run import check_cells_data
    from clingen.pipeline.run import run_pipeline
    calls = []
    steps = {name: (lambda ctx, name=name: calls.append(name) or {}) for name in
             ("styles", "topics", "generate", "quality", "train", "evaluate", "deploy")}
    config = load_config(overrides=["task=gad", f"pipeline.out={tmp_path / 'p'}", f"pipeline.test_path={bad_split}"])
    with pytest.raises(DataFormatError, match=r"the test split: .*bad\.tsv:1: label 'maybe'"):
        run_pipeline(config, log=lambda _: None, step_functions=steps)
    assert calls == []
    experiment = tmp_path / "experiment.yaml"
    root = Path(__file__).resolve().parents[2]
    experiment.write_text(yaml.safe_dump({
        "out": str(tmp_path / "e"), "methods": ["zero-shot", "few-shot-only"], "seeds": [1],
        "datasets": {"gad": {"config": str(root / "configs" / "gad.cpu.yaml"), "test_path": str(bad_split)}}}))
    with pytest.raises(DataFormatError, match=r"gad: the test split: .*bad\.tsv:1"):
        check_cells_data(build_cells(load_experiment(experiment)))
