"""`clingen reparse` and `clingen audit` on run folders built in the test: new-style runs (reply records stored),
runs made before reply records existed, the counts adding up, and a swap killed midway."""

import json
from pathlib import Path

import pyarrow as pa
import pytest

from clingen.cli import main
from clingen.config import load_config
from clingen.datasets.records import schema_for
from clingen.generation.commits import ShardBuffer
from clingen.generation.job import RunCounters, _absorb
from clingen.generation.reparse import reparse_run
from clingen.generation.rows import ParsedRow
from clingen.parsing.checker import ReplyRecord
from clingen.parsing.dedup import Deduplicator, MinHasher, normalise, text_digest
from clingen.parsing.parsers import ParseOptions, ReplyEnd, parse_reply
from clingen.quality.audit import audit_ner, audit_run
from clingen.runfolder.manifest import build_manifest
from clingen.runfolder.store import OutputStore
from clingen.tasks.registry import get_task

pytestmark = pytest.mark.unit
NCBI = get_task("ncbi-disease")
CONFIG = load_config(overrides=["prompts.strategy=few-shot", "prompts.n_demos=0", "generation.min_words=3"])
META = json.dumps({"sentence": "This is a sentence about a disease named", "entities": ["disease"]})
FIRST_OBJECT = ('Schema: {"type": "object"}\nAnswer: {"sentence": "The patient was diagnosed with cystic fibrosis '
                'at age two.", "entities": ["cystic fibrosis"]}')
GOOD = json.dumps({"sentence": "Gout flares were frequent in older men.", "entities": ["Gout"]})


def context(row_id: int) -> dict:
    return {"row_id": row_id, "task": "ncbi-disease", "strategy": "few-shot", "label": "Disease", "topic": None,
            "style": None, "demo_ids": [], "related": [], "head": None, "tail": None, "json_schema": None}


def old_parse(row_id: int, reply: str) -> tuple[dict | None, list[dict]]:
    """What the previous ClinGen kept: the first JSON object, no fidelity rules (simulated by a bare parse
    of the text the old parser accepted)."""
    if reply == META:  # kept before: the span 'disease'
        text = "This is a sentence about a disease named"
        return {"id": f"ncbi-disease-{row_id:08d}", "text": text, "tokens": text.split(),
                "tags": ["O"] * 6 + ["B-Disease", "O"], "spans": [{"start": 25, "end": 32, "type": "Disease",
                                                                  "text": "disease"}],
                "task": "ncbi-disease", "row_id": row_id, "strategy": "few-shot", "demo_ids": []}, []
    if reply == FIRST_OBJECT:  # rejected before: the first {...} had no "sentence"
        return None, [{"row_id": row_id, "reason": "missing_field", "detail": "JSON reply lacks 'sentence'",
                       "raw": reply, "step": 1}]
    result = parse_reply(NCBI, context(row_id), reply, ParseOptions(3, 120))
    return result.example.to_row(), []


def make_run(tmp_path: Path, with_records: bool) -> str:
    """A finished 3-row run (+ one row that failed in the generator), committed the way generation does."""
    out = str(tmp_path / "run")
    store = OutputStore(out)
    examples, failures = [], []
    for row_id, reply in enumerate([META, FIRST_OBJECT, GOOD]):
        example, rejected = old_parse(row_id, reply)
        record = ReplyRecord.start(context(row_id))
        record.add(reply, ReplyEnd("stop", 30))
        if with_records:
            (example if example else rejected[0])["reply_record"] = record.to_json()
        examples += [example] if example else []
        failures += rejected
    failures.append({"row_id": 3, "reason": "generation_error", "detail": "boom", "raw": "", "step": 1})
    table = pa.Table.from_pylist(examples, schema=schema_for("ner"))
    store.commit(0, table, failures, [0, 1, 2], 300, 90, {"missing_field": 1}, {})
    manifest = build_manifest(CONFIG.model_copy(update={"generation": CONFIG.generation.model_copy(
        update={"n": 4, "out": out})}), NCBI, store.scan(), RunCounters(rows=3, examples=2), "m", 1.0, None)
    store.write_manifest(manifest)
    return out


@pytest.mark.parametrize("with_records", [True, False])
def test_reparse_recovers_and_rejects_by_todays_rules_and_the_counts_add_up(tmp_path, with_records):
    out = make_run(tmp_path, with_records)
    report = reparse_run(out)
    assert report.before["examples"] == 2 and report.after["examples"] == 2
    assert report.changes == {"newly_rejected": 1, "recovered": 1, "kept": 1}
    after = json.loads((Path(out) / "manifest.json").read_text())
    counts = after["counts"]
    assert counts["rows_done"] == 3 and counts["examples"] + counts["rejected_rows"] == 3
    assert counts["rejected_rows_by_reason"] == {"meta_text": 1}
    assert counts["generation_errors"] == 1  # the row that failed in the generator is kept for the next run
    assert after["tokens"] == {"prompt": 300, "completion": 90}
    assert after["reparses"][-1]["changes"] == report.changes and len(after["runs"]) == 1
    store = OutputStore(out)
    texts = sorted(store.read_examples(["text"]).column("text").to_pylist())
    assert texts == ["Gout flares were frequent in older men.",
                     "The patient was diagnosed with cystic fibrosis at age two."]
    assert (Path(out) / "versions" / "1" / "data" / "part-000000.parquet").is_file()
    # Every new outcome carries its reply record, so the next reparse re-checks from it.
    stored = store.read_failures().to_pylist()
    meta = next(f for f in stored if f["reason"] == "meta_text")
    assert json.loads(meta["reply_record"])["replies"] == [META]


def test_a_second_reparse_changes_nothing_and_keeps_both_versions(tmp_path):
    out = make_run(tmp_path, True)
    reparse_run(out)
    second = reparse_run(out)
    assert second.changes == {"kept": 2, "still_rejected": 1}
    assert sorted(p.name for p in (Path(out) / "versions").iterdir()) == ["1", "2"]


def test_reparse_cli_with_changed_settings(tmp_path, capsys):
    out = make_run(tmp_path, True)
    assert main(["reparse", out, "--set", "generation.min_words=11", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["after"]["examples"] == 0  # every sentence has fewer than 11 words
    assert summary["after"]["rejected_rows_by_reason"] == {"too_short": 3}
    manifest = json.loads((Path(out) / "manifest.json").read_text())
    assert manifest["config"]["generation"]["min_words"] == 11  # the manifest records the settings used
    # Only the parse settings may change: anything else would make it another run.
    assert main(["reparse", out, "--set", "seed=5", "--set", "task=bc5cdr-disease"]) == 2
    error = capsys.readouterr().err
    assert "may change only the parse settings" in error and "['seed', 'task']" in error
    assert json.loads((Path(out) / "manifest.json").read_text())["config"]["seed"] == 0


@pytest.mark.parametrize("command", ["reparse", "audit"])
def test_bad_run_paths_are_one_line_errors_and_create_nothing(tmp_path, capsys, command):
    missing, a_file, empty = tmp_path / "nothing", tmp_path / "file.txt", tmp_path / "empty"
    a_file.write_text("x")
    empty.mkdir()
    for path, message in ((missing, "does not exist"), (a_file, "is a file"), (empty, "has no manifest.json")):
        assert main([command, str(path)]) == 2
        assert message in capsys.readouterr().err
    assert not missing.exists() and list(empty.iterdir()) == []


def test_a_swap_killed_midway_finishes_when_the_folder_is_next_opened(tmp_path):
    out = make_run(tmp_path, True)
    store = OutputStore(out)
    staged = store.staging()
    staged.commit(0, schema_for("ner").empty_table(), [], [0, 1, 2], 0, 0, {"too_short": 3}, {})
    # Killed after the journal and the first moves: the old data file is out, nothing new is in yet.
    store.write_bytes(store.path(".staged", "SWAP.json"), json.dumps({"version": 1, "phase": "out"}).encode())
    (Path(out) / "versions" / "1" / "data").mkdir(parents=True)
    (Path(out) / "data" / "part-000000.parquet").rename(Path(out) / "versions/1/data/part-000000.parquet")
    reopened = OutputStore(out)
    assert reopened.scan().rejected_rows == {"too_short": 3}
    assert not (Path(out) / ".staged").exists()
    assert sorted(p.name for p in (Path(out) / "versions/1").iterdir()) == ["data", "failures", "manifest.json",
                                                                           "progress"]


def test_a_reparse_killed_before_its_manifest_is_in_place_still_ends_with_the_new_manifest(tmp_path):
    out = make_run(tmp_path, True)
    store = OutputStore(out)
    staged = store.staging()
    staged.commit(0, schema_for("ner").empty_table(), [], [0, 1, 2], 0, 0, {"too_short": 3}, {})
    staged.write_manifest(store.read_manifest().model_copy(update={"model": "new"}))
    # Killed in the second phase: shards moved in, the new manifest not yet.
    store.write_bytes(store.path(".staged", "SWAP.json"), json.dumps({"version": "versions/1", "phase": "in"}).encode())
    for folder in ("data", "failures", "progress"):
        (Path(out) / "versions/1" / folder).mkdir(parents=True)
        for item in (Path(out) / folder).iterdir():
            item.rename(Path(out) / "versions/1" / folder / item.name)
    (Path(out) / "manifest.json").rename(Path(out) / "versions/1/manifest.json")
    OutputStore(out)
    assert json.loads((Path(out) / "manifest.json").read_text())["model"] == "new"


def test_the_stream_counts_each_row_once_by_its_first_row_reason():
    dedup, buffer, run = Deduplicator(), ShardBuffer(), RunCounters()
    kept = {"id": "ncbi-disease-00000000", "text": "Gout flares were frequent in older men."}
    norm = normalise(kept["text"])
    signed = {"dedup_digest": text_digest(norm), "dedup_signature": MinHasher().signature(norm)}
    rows = [ParsedRow(0, 1, 1, example=kept, failures=[{"reason": "entity_not_in_text", "row_id": 0}], **signed),
            ParsedRow(1, 1, 1, example={**kept, "id": "ncbi-disease-00000001"}, **signed),
            ParsedRow(2, 1, 1, failures=[{"reason": "mention_is_pronoun", "row_id": 2},
                                         {"reason": "no_entities", "row_id": 2}]),
            ParsedRow(3, 0, 0, failures=[{"reason": "generation_error", "row_id": 3}], generation_error="boom")]
    rows = [row.to_columns() for row in rows]
    for row in rows:
        _absorb(row, dedup, buffer, run)
    assert buffer.rows == [0, 1, 2] and len(buffer.examples) == 1
    assert buffer.rejected_rows == {"exact_duplicate": 1, "no_entities": 1}
    assert buffer.rejected_mentions == {"entity_not_in_text": 1, "mention_is_pronoun": 1}
    assert len(buffer.examples) + sum(buffer.rejected_rows.values()) == len(buffer.rows)
    # Every failure is recorded, the generator's too (its row is retried, not done); the repeat names the first.
    reasons = [failure["reason"] for failure in buffer.decoded_failures()]
    assert sorted(reasons) == ["entity_not_in_text", "exact_duplicate", "generation_error", "mention_is_pronoun",
                               "no_entities"]
    assert run.failures == {reason: 1 for reason in reasons} and run.generation_errors == 1
    repeat = next(f for f in buffer.decoded_failures() if f["reason"] == "exact_duplicate")
    assert repeat["detail"] == "repeats ncbi-disease-00000000" and json.loads(repeat["raw"])["id"].endswith("01")


def test_audit_of_ner_spans_and_topics():
    examples = [
        {"id": "a", "text": "Gout and asthma.", "strategy": "clingen-kg", "topic": "gout",
         "spans": [{"start": 0, "end": 4, "text": "Gout"}, {"start": 9, "end": 15, "text": "asthma"}]},
        {"id": "b", "text": "Leydig cell tumor of the testis.", "strategy": "clingen-kg",
         "topic": "Leydig cell tumor", "spans": [{"start": 0, "end": 6, "text": "Leydig"}]},
        {"id": "c", "text": "The disease was [Disease_Name].", "strategy": "few-shot", "topic": None,
         "spans": [{"start": 4, "end": 11, "text": "disease"}, {"start": 16, "end": 30, "text": "[Disease_Name]"}]},
    ]
    result = audit_ner(NCBI, examples, {"gout", "asthma", "leydig cell tumor"})
    assert (result["topic_occurs"], result["topic_labelled"], result["topic_labelled_share"]) == (2, 1, 0.5)
    assert result["spans_by_kind"] == {"kg_name": 2, "generic": 1, "placeholder": 1, "other": 1}
    assert result["flagged_spans"] == ["c: 'disease'", "c: '[Disease_Name]'"]


def test_audit_run_reads_a_run_folder(tmp_path, capsys):
    out = make_run(tmp_path, True)
    result = audit_run(out)
    assert (result["examples"], result["meta_texts"], result["spans_by_kind"]["generic"]) == (2, 1, 1)
    assert main(["audit", out]) == 0
    assert "kept spans: 2" in capsys.readouterr().out


def test_a_pair_row_keeps_both_replies_through_the_two_stream_stages():
    from clingen.generation.stages import ParseReplies, SecondStepPrompts, StageInputs
    from clingen.prompts.compose import PromptComposer
    import numpy as np
    config = load_config(overrides=["task=mediqa-rqe", "prompts.strategy=zero-shot", "generation.min_words=3"])
    row = PromptComposer.from_config(config, get_task("mediqa-rqe")).compose(np.arange(1))[0].to_dict()
    first_reply = json.dumps({"sentence": "Can I take ibuprofen while pregnant?"})
    first = ParseReplies(inputs=StageInputs.for_config(config, "m"), step=1, keep_prompt=True)(
        {name: [value] for name, value in {**row, "generated_text": first_reply, "num_input_tokens": 50,
                                           "num_generated_tokens": 12}.items()})
    second_prompts = SecondStepPrompts()(first)
    assert second_prompts["sentence_a"] == ["Can I take ibuprofen while pregnant?"]
    assert "Can I take ibuprofen while pregnant?" in second_prompts["messages"][0][0]["content"]
    second_reply = json.dumps({"sentence": "Is ibuprofen safe during pregnancy?"})
    batch = {**second_prompts, "generated_text": [second_reply], "num_input_tokens": [60],
             "num_generated_tokens": [10], "finish_reason": ["stop"]}
    out = ParseReplies(inputs=StageInputs.for_config(config, "m"), step=2)(batch)
    example = json.loads(out["example"][0])
    assert (example["text_a"], example["text_b"]) == ("Can I take ibuprofen while pregnant?",
                                                      "Is ibuprofen safe during pregnancy?")
    assert out["prompt_tokens"] == [110] and out["completion_tokens"] == [22]
    record = json.loads(example["reply_record"])
    assert record["replies"] == [first_reply, second_reply]
    assert record["ends"] == [{"finish_reason": None, "generated_tokens": 12},
                              {"finish_reason": "stop", "generated_tokens": 10}]
    # The same reply cut at the token limit in the second step is a truncated row, with both replies on record.
    cut = ParseReplies(inputs=StageInputs.for_config(config, "m"), step=2)({**batch, "finish_reason": ["length"]})
    failures = json.loads(cut["failures"][0])
    assert [f["reason"] for f in failures] == ["truncated"] and failures[0]["step"] == 2
    assert json.loads(failures[0]["reply_record"])["replies"] == [first_reply, second_reply]


def test_a_rows_hard_negatives_travel_with_it_and_a_reparse_still_rejects_one(tmp_path):
    from dataclasses import fields

    from clingen.generation.reparse import recheck_row
    from clingen.generation.stages import PROMPT_COLUMNS
    from clingen.parsing.checker import CONTEXT_FIELDS, RowChecker
    from clingen.prompts.compose import PromptRow
    assert PROMPT_COLUMNS == tuple(f.name for f in fields(PromptRow))  # the stream drops no prompt field
    assert "hard_negatives" in CONTEXT_FIELDS and set(CONTEXT_FIELDS) <= set(PROMPT_COLUMNS)
    record = ReplyRecord.start({**context(0), "strategy": "clingen-kg", "hard_negatives": ["BRCA1"]})
    record.add(json.dumps({"sentence": "Germline BRCA1 mutations raise the risk of gout in carriers.",
                           "entities": ["BRCA1", "gout"]}), ReplyEnd("stop", 30))
    stored = ReplyRecord.from_json(record.to_json())
    outcome = recheck_row(RowChecker(NCBI, ParseOptions(3, 120), {}, 1.0), NCBI,
                          {"row_id": 0, "reply_record": stored.to_json()}, [], None)
    assert [s["text"] for s in outcome.example["spans"]] == ["gout"]
    assert [f["reason"] for f in outcome.failures] == ["mention_is_other_type"]
