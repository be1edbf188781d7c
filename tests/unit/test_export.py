"""`clingen export`: a generation run's examples as JSONL, Parquet and a `datasets` folder with ClassLabel labels,
values unchanged; nothing is overwritten."""

import json

import pyarrow.parquet as pq
import pytest

from clingen.cli import main
from clingen.datasets.records import ClassificationExample, Provenance
from clingen.runfolder.store import OutputStore
from clingen.tasks.registry import get_task
from tests.integration.synthetic_sets import ner_records, write_generation_output

pytestmark = pytest.mark.unit


@pytest.fixture
def ner_run(tmp_path):
    run = tmp_path / "ncbi"
    write_generation_output(str(run), "ncbi-disease", ner_records(6), rejected_rows=2)
    return run


def test_jsonl_and_parquet_hold_the_examples_as_stored(ner_run, tmp_path, capsys):
    stored = OutputStore(str(ner_run)).read_examples().to_pylist()
    assert main(["export", str(ner_run), "--format", "jsonl", "--out", str(tmp_path / "x.jsonl")]) == 0
    assert capsys.readouterr().out.strip() == f"wrote 6 examples of {ner_run} to {tmp_path / 'x.jsonl'} (jsonl)"
    lines = (tmp_path / "x.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines] == stored
    assert main(["export", str(ner_run), "--format", "parquet", "--out", str(tmp_path / "x.parquet")]) == 0
    assert pq.read_table(tmp_path / "x.parquet").to_pylist() == stored


def test_hf_export_carries_bio_tags_as_class_labels(ner_run, tmp_path):
    datasets = pytest.importorskip("datasets")
    assert main(["export", str(ner_run), "--format", "hf", "--out", str(tmp_path / "hf")]) == 0
    exported = datasets.load_from_disk(str(tmp_path / "hf"))
    tags = exported.features["tags"].feature
    assert tags.names == ["O", "B-Disease", "I-Disease"]
    stored = OutputStore(str(ner_run)).read_examples().to_pylist()
    assert [[tags.int2str(t) for t in row["tags"]] for row in exported] == [row["tags"] for row in stored]


def test_hf_export_of_a_classification_run_has_a_list_of_class_labels(tmp_path):
    datasets = pytest.importorskip("datasets")
    run = tmp_path / "hoc"
    names = get_task("hoc").label_names
    records = [ClassificationExample(f"hoc-{i:08d}", f"cancer text {i}", names[i % 3: i % 3 + i % 2 + 1],
                                     Provenance(task="hoc", row_id=i)) for i in range(5)]
    write_generation_output(str(run), "hoc", records)
    assert main(["export", str(run), "--format", "hf", "--out", str(tmp_path / "hf")]) == 0
    exported = datasets.load_from_disk(str(tmp_path / "hf"))
    labels = exported.features["labels"].feature
    stored = OutputStore(str(run)).read_examples().to_pylist()
    assert [[labels.int2str(i) for i in row["labels"]] for row in exported] == [row["labels"] for row in stored]


def test_an_existing_out_and_a_folder_that_is_no_run_are_refused(ner_run, tmp_path, capsys):
    (tmp_path / "taken.jsonl").write_text("keep me\n")
    assert main(["export", str(ner_run), "--format", "jsonl", "--out", str(tmp_path / "taken.jsonl")]) == 2
    assert "taken.jsonl exists; `clingen export` writes a new file or folder and replaces nothing" in capsys.readouterr().err
    assert (tmp_path / "taken.jsonl").read_text() == "keep me\n"
    assert main(["export", str(tmp_path), "--format", "jsonl", "--out", str(tmp_path / "y.jsonl")]) == 2
    assert "has no manifest.json" in capsys.readouterr().err
