"""Tests of `clingen data check` (in-process): the format, counts and problems it reports for a fixture of every
format, and its one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clingen.cli import main

pytestmark = pytest.mark.unit

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "eval"


def check(capsys, *args: str) -> dict:
    assert main(["data", "check", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("task, relative, fmt, examples, counts", [
    ("ncbi-disease", "conll/mini.tsv", "conll", 2, {"Disease": 3}),
    ("ncbi-disease", "pubtator/NCBI_mini_corpus.txt", "pubtator", 3, {"Disease": 4}),
    ("bc5cdr-disease", "pubtator/CDR_mini.PubTator.txt", "pubtator", 7, {"Disease": 9}),
    ("gad", "gad/test.tsv", "relation-tsv", 2, {"Has_relation": 1, "No_relation": 1}),
    ("cdr", "cdr/biobert-test.tsv", "relation-tsv", 3, {"not_induce": 1, "induce": 2}),
    ("cdr", "pubtator/CDR_mini.PubTator.txt", "pubtator", 8, {"not_induce": 4, "induce": 4}),
    ("chemprot", "chemprot/chemprot_training", "chemprot-biocreative", 6,
     {"Upregulator": 0, "Downregulator": 2, "Agonist": 1, "Antagonist": 0, "Product_of": 1, "NOT": 2}),
    ("chemprot", "chemprot/blurb-train.tsv", "relation-tsv", 4,
     {"Upregulator": 0, "Downregulator": 1, "Agonist": 1, "Antagonist": 0, "Product_of": 1, "NOT": 1}),
    ("chemprot", "chemprot/fine-names.tsv", "relation-tsv", 5,
     {"Upregulator": 1, "Downregulator": 1, "Agonist": 0, "Antagonist": 1, "Product_of": 1, "NOT": 1}),
    ("litcovid", "litcovid/BC7-LitCovid-mini.csv", "litcovid-csv", 3,
     {"Epidemic Forecasting": 0, "Treatment": 1, "Prevention": 1, "Mechanism": 0, "Case Report": 1,
      "Transmission": 1, "Diagnosis": 1}),
    ("mednli", "nli/mednli-mini.jsonl", "nli-jsonl", 3, {"entailment": 1, "contradiction": 1, "neutral": 1}),
    ("mediqa-nli", "nli/mediqa-nli-mini.jsonl", "nli-jsonl", 2, {"entail": 1, "neutral": 0, "contradict": 1}),
    ("mediqa-rqe", "mediqa-rqe/rqe-mini.xml", "mediqa-rqe-xml", 3, {"Not_entail": 1, "Entail": 2}),
    ("pubhealth", "pubhealth/pubhealth-mini.tsv", "pubhealth-tsv", 4,
     {"Refute": 1, "Unproven": 1, "Support": 1, "Mixture": 1}),
    ("healthver", "healthver/healthver-mini.csv", "healthver-csv", 3, {"Refute": 1, "Unproven": 1, "Support": 1}),
    ("mqp", "mqp/mqp-mini.csv", "mqp-csv", 3, {"not_equivalent": 1, "equivalent": 2}),
    ("casi", "casi/casi-mini.jsonl", "casi-jsonl", 3,
     {"Medication": 3, "Dosage": 3, "Route": 2, "Frequency": 3, "Reason": 2, "Duration": 1}),
    ("gad", "../../../clingen/tasks/demos/gad.jsonl", "clingen-jsonl", 10, {"Has_relation": 5, "No_relation": 5}),
])
def test_data_check_reports_format_examples_and_counts(capsys, task, relative, fmt, examples, counts):
    summary = check(capsys, "--task", task, str(FIXTURES / relative))
    assert (summary["task"], summary["format"], summary["examples"], summary["label_counts"]) == (
        task, fmt, examples, counts)


def test_data_check_reports_problems(capsys):
    cdr = check(capsys, "--task", "cdr", str(FIXTURES / "pubtator" / "CDR_mini.PubTator.txt"))
    assert cdr["problems"] == ["1 of 3 CID pair(s) never share a sentence and give no instance (relations are "
                               "document-level; instances are sentence-level)"]
    chemprot = check(capsys, "--task", "chemprot", str(FIXTURES / "chemprot" / "chemprot_training"))
    assert chemprot["problems"][1] == "label(s) of the task never used in the file: ['Upregulator', 'Antagonist']"
    conll = check(capsys, "--task", "ncbi-disease", str(FIXTURES / "conll" / "mini.tsv"))
    assert (conll["examples_without_labels"], conll["problems"]) == (0, [])
    hoc = check(capsys, "--task", "hoc", "--split", "all", str(FIXTURES / "hoc"))
    assert (hoc["examples"], hoc["examples_without_labels"]) == (3, 1)


def test_data_check_text_output(capsys):
    assert main(["data", "check", "--task", "gad", str(FIXTURES / "gad" / "train.tsv")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "task:     gad (relation)"
    assert out[2].startswith("format:   relation-tsv (BioBERT/BLURB relation TSV")
    assert out[3:] == ["examples: 3", "labels:   Has_relation 2, No_relation 1", "problems: none"]


def test_data_check_errors_are_one_line_and_exit_2(capsys, tmp_path):
    bad = tmp_path / "healthver.csv"
    bad.write_text("evidence,claim,label\nSome evidence.,A claim.,Maybe\n")
    assert main(["data", "check", "--task", "healthver", str(bad), "--json"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"clingen: error: {bad}:2: label 'Maybe' is not a label of task "
                                                   f"healthver; labels in {bad}: 'Maybe' x1; known: ")
    assert main(["data", "check", "--task", "healthver", str(tmp_path / "missing.csv")]) == 2
    assert "missing.csv does not exist" in capsys.readouterr().err


@pytest.mark.parametrize("task, relative, examples, counts", [
    ("ncbi-disease", "ncbi-disease/test.tsv", 940, {"Disease": 960}),
    ("bc5cdr-disease", "bc5cdr-disease/test.tsv", 4797, {"Disease": 4424}),
    ("gad", "gad/train.tsv", 4796, {"Has_relation": 2520, "No_relation": 2276}),
    ("mediqa-rqe", "mediqa-rqe/RQE_Test_302_pairs_AMIA2016.xml", 302, {"Not_entail": 173, "Entail": 129}),
])
def test_data_check_on_the_shared_datasets(capsys, shared_dir, task, relative, examples, counts):
    summary = check(capsys, "--task", task, str(shared_dir / "data" / "eval" / relative))
    assert (summary["examples"], summary["label_counts"], summary["problems"]) == (examples, counts, [])
