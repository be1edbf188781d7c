"""The "can I train on this?" checks of the quality report (clingen.quality.trainability) and their HTML."""

import json

import pyarrow as pa
import pytest

from clingen.cli.quality import print_flags
from clingen.datasets.records import (ClassificationExample, Provenance, RelationExample, Span, ner_example_from_spans,
                                      schema_for)
from clingen.parsing.dedup import shingles
from clingen.quality.html import render_html
from clingen.quality.settings import QualitySettings
from clingen.quality.trainability import (RAW_CHARS, RealIndex, asked_labels, assess, failure_reasons, leakage,
                                          length_stats, lengths, load_failures, row_table)
from clingen.runfolder.manifest import ManifestCounts
from clingen.runfolder.store import OutputStore

pytestmark = pytest.mark.unit
GAD_LABELS = ["Has_relation", "No_relation"]


def relation(i: int, label: str, prompt_label: str | None = None, text: str | None = None) -> RelationExample:
    return RelationExample(f"gad-{i}", text or f"Variant {i} of BRCA{i} is linked to disease number {i} here.", label,
                           f"BRCA{i}", f"disease {i}", "gene", "disease",
                           Provenance(task="gad", row_id=i, topic=f"BRCA{i} / disease {i}", style="abstract",
                                      prompt_label=prompt_label or label))


def reply_record(label) -> str:
    return json.dumps({"prompt": {"row_id": 0, "label": label}, "replies": ["..."], "ends": []})


def failure(row, reason="no_json", raw="Sure, here is a sentence.", record: str | None = None, detail="d") -> dict:
    return {"row_id": row, "reason": reason, "detail": detail, "raw": raw, "step": 1, "reply_record": record}


def flag(checks: dict, name: str) -> dict | None:
    return next((f for f in checks["flags"] if f["name"] == name), None)


def test_a_set_holding_one_label_only_is_flagged_by_max_label_share():
    records = [relation(i, "Has_relation") for i in range(10)]
    checks = assess(records, [], QualitySettings(), task_labels=GAD_LABELS)
    share = flag(checks, "max_label_share")
    assert share["passed"] is False and share["value"] == 1.0 and share["threshold"] == 0.8
    assert "'Has_relation' holds 100% of 10 examples" in share["message"]
    assert checks["labels"]["rows"] == [{"label": "Has_relation", "asked": 10, "kept": 10, "share": 1.0},
                                        {"label": "No_relation", "asked": 0, "kept": 0, "share": 0.0}]
    assert checks["passed"] is False
    balanced = [relation(i, GAD_LABELS[i % 2]) for i in range(10)]
    assert flag(assess(balanced, [], QualitySettings(), task_labels=GAD_LABELS), "max_label_share")["passed"]


def test_a_single_type_ner_set_is_not_flagged_for_its_one_label():
    text = "Patients with cystic fibrosis often cough."
    record = ner_example_from_spans("n-0", text, [Span(14, 29, "Disease", "cystic fibrosis")],
                                    Provenance(row_id=0, topic="cystic fibrosis", style="case", prompt_label="Disease"))
    checks = assess([record], [], QualitySettings(), task_labels=["Disease"])
    assert flag(checks, "max_label_share") is None
    assert checks["labels"]["mentions"] == {"Disease": 1}
    assert checks["examples_per_label"]["Disease"][0]["mentions"] == ["cystic fibrosis"]


def test_the_row_table_adds_up_with_the_manifest_reasons():
    records = [relation(i, GAD_LABELS[i % 2]) for i in range(6)]
    counts = ManifestCounts(prompts=10, rows_done=10, examples=6,
                            rejected_rows_by_reason={"too_short": 3, "exact_duplicate": 1},
                            rejected_mentions_by_reason={"entity_not_in_text": 2})
    rows = row_table(records, [], counts)
    assert rows["source"] == "manifest" and rows["kept"] == 6 and rows["rows_done"] == 10
    assert rows["rejected"] == [{"reason": "too_short", "rows": 3, "share": 0.3},
                                {"reason": "exact_duplicate", "rows": 1, "share": 0.1}]
    assert rows["total"] == 10 and rows["adds_up"] is True
    assert rows["mention_failures"] == [{"reason": "entity_not_in_text", "count": 2}]
    short = ManifestCounts(prompts=10, rows_done=10, examples=6, rejected_rows_by_reason={"too_short": 3})
    assert row_table(records, [], short)["adds_up"] is False
    checks = assess(records, [], QualitySettings(), counts, GAD_LABELS)
    assert flag(checks, "min_kept_share") == {"name": "min_kept_share", "value": 0.6, "threshold": 0.3,
                                              "passed": True, "message": "kept 6 of 10 rows (60%; at least 30% wanted)"}
    assert flag(checks, "max_reason_share")["passed"] is True  # 30% is not more than 30%


def test_without_a_manifest_rows_come_from_the_failures_table():
    records = [relation(i, "Has_relation") for i in range(2)]
    failures = [failure(1, "entity_not_in_text"),  # a mention of a kept row: not a rejected row
                failure(5, "entity_not_in_text"), failure(5, "no_entities"), failure(6, "too_short"),
                failure(7, "mention_is_pronoun")]  # only mentions, no example: rejected as no_example
    rows = row_table(records, failures)
    assert rows["source"] == "failures" and rows["rows_done"] == 5 and rows["adds_up"]
    assert {r["reason"]: r["rows"] for r in rows["rejected"]} == {"no_entities": 1, "too_short": 1, "no_example": 1}
    assert rows["mention_failures"] == [{"reason": "entity_not_in_text", "count": 2},
                                        {"reason": "mention_is_pronoun", "count": 1}]
    checks = assess(records, failures, QualitySettings(max_reason_share=0.1), task_labels=GAD_LABELS)
    assert flag(checks, "max_reason_share")["passed"] is False
    assert flag(checks, "min_kept_share")["value"] == pytest.approx(0.4)


def test_failure_samples_are_capped_at_three_and_cut():
    failures = [failure(i, "no_json", raw="x" * 1000 if i == 0 else f"reply {i}") for i in range(5)]
    failures.append(failure(9, "truncated"))
    reasons = failure_reasons(failures, rows_done=10)
    assert [r["reason"] for r in reasons] == ["no_json", "truncated"]
    top = reasons[0]
    assert (top["count"], top["rows"], top["share"], top["level"]) == (5, 5, 0.5, "row")
    assert len(top["samples"]) == 3 and [s["row_id"] for s in top["samples"]] == [0, 1, 2]
    assert len(top["samples"][0]["raw"]) == RAW_CHARS and top["samples"][0]["raw"].endswith("\u2026")
    assert top["samples"][1] == {"row_id": 1, "detail": "d", "raw": "reply 1"}
    assert failure_reasons(failures, rows_done=0)[0]["share"] is None


REAL = ["Germline mutations in the BRCA1 gene confer a high risk of hereditary breast and ovarian cancer in women.",
        "We report a family with an autosomal dominant form of myotonic dystrophy and early cataracts.",
        "In a cohort of 412 patients, the C677T variant of MTHFR was associated with raised homocysteine levels, "
        "independent of folate intake and renal function, and with a modest increase in venous thrombosis."]


def test_leakage_finds_exact_near_and_contained_copies_but_not_synthetic_repeats():
    near = REAL[1].replace("early", "eary")
    contained = "the C677T variant of MTHFR was associated with raised homocysteine levels, independent of folate"
    a, b = shingles(near), shingles(REAL[1])
    assert len(a & b) / len(a | b) >= 0.85  # the near copy is one of Jaccard >= 0.85
    repeated = "Aspirin reduced the risk of colorectal adenoma in this randomised trial."
    texts = ["  GERMLINE mutations in the BRCA1 gene confer a high risk of hereditary breast and ovarian cancer "
             "in women. ", near, contained, repeated, repeated, "Gout flares after diuretics."]
    result = leakage(texts, RealIndex(REAL, 0.85))
    assert result["count"] == 3 and result["checked"] == 6 and result["share"] == pytest.approx(0.5)
    assert result["by_kind"] == {"exact": 1, "near_duplicate": 1, "contained": 1}
    assert [(s["kind"], s["real"]) for s in result["samples"]] == [("exact", REAL[0]), ("near_duplicate", REAL[1]),
                                                                     ("contained", REAL[2])]
    assert result["samples"][2]["similarity"] == 1.0
    assert leakage(texts, None) is None
    assert leakage(texts, RealIndex(REAL, 1.0))["by_kind"] == {"exact": 1, "contained": 1}
    with pytest.raises(ValueError, match=r"expected a similarity in \(0, 1\]"):
        RealIndex(REAL, 0.0)


def test_length_stats_on_known_texts():
    texts = [" ".join(["w"] * n) for n in range(1, 11)]  # 1 .. 10 words
    stats = length_stats(texts)
    assert stats == pytest.approx({"texts": 10, "mean": 5.5, "median": 5.5, "p10": 1.9, "p90": 9.1})
    assert length_stats([]) is None
    both = lengths(texts, ["a b c d e f g h i j k", "one two three"])  # real median 7
    assert both["real"]["median"] == 7.0 and both["median_ratio"] == pytest.approx(5.5 / 7)
    assert lengths(texts, None) == {"synthetic": stats, "real": None, "median_ratio": None}


def test_length_and_leak_flags_need_a_real_split():
    records = [relation(i, GAD_LABELS[i % 2]) for i in range(4)]
    names = [f["name"] for f in assess(records, [], QualitySettings(), task_labels=GAD_LABELS)["flags"]]
    assert "length_ratio_range" not in names and "max_leak_share" not in names
    leaked = [*records, relation(9, "No_relation", text=REAL[1])]
    checks = assess(leaked, [], QualitySettings(length_ratio_range=(0.1, 0.2)), task_labels=GAD_LABELS,
                    real=RealIndex(REAL, 0.85))
    assert flag(checks, "max_leak_share")["passed"] is False and flag(checks, "max_leak_share")["value"] == 0.2
    assert flag(checks, "length_ratio_range")["passed"] is False
    assert flag(checks, "length_ratio_range")["threshold"] == [0.1, 0.2]


def test_asked_counts_come_from_prompt_labels_and_the_failures_reply_records():
    records = [relation(0, "Has_relation"), relation(1, "No_relation", prompt_label="Has_relation"),
               RelationExample("gad-2", "Old rows carry no provenance at all here.", "No_relation")]
    failures = [failure(0, "entity_not_in_text"),  # a kept row's mention failure: not asked twice
                failure(3, "no_json", record=reply_record("No_relation")),
                failure(4, "truncated", record=reply_record("Has_relation")),
                failure(4, "entity_not_in_text"),  # the same row's later failure carries no record
                failure(5, "no_json", record="{not json"), failure(6, "no_json", record=json.dumps([1])),
                failure(7, "no_json", record=json.dumps({"prompt": {"label": None}})), failure(8, "no_json")]
    assert asked_labels(records, failures) == {"Has_relation": 3, "No_relation": 1, "unknown": 5}
    table = assess(records, failures, QualitySettings(), task_labels=GAD_LABELS)["labels"]
    assert [(r["label"], r["asked"], r["kept"]) for r in table["rows"]] == [
        ("Has_relation", 3, 1), ("No_relation", 1, 2), ("unknown", 5, 0)]


def test_multi_label_examples_count_under_each_label():
    records = [ClassificationExample("h-0", "Tumour cells evade apoptosis and grow.", ["evading", "growth"]),
               ClassificationExample("h-1", "Angiogenesis sustains the growth.", ["growth"])]
    table = assess(records, [], QualitySettings(examples_per_label=1))
    assert {r["label"]: r["kept"] for r in table["labels"]["rows"]} == {"evading": 1, "growth": 2, "unknown": 0}
    assert [card["id"] for card in table["examples_per_label"]["growth"]] == ["h-0"]


def test_failures_are_read_from_a_generation_folder(tmp_path):
    store = OutputStore(str(tmp_path / "run"))
    examples = pa.Table.from_pylist([relation(0, "Has_relation").to_row()], schema=schema_for("relation"))
    store.commit(0, examples, [failure(1, record=reply_record("No_relation"))], [0, 1], 0, 0)
    assert load_failures(str(tmp_path / "run")) == [failure(1, record=reply_record("No_relation"))]
    assert load_failures(str(tmp_path / "absent")) == []
    assert not (tmp_path / "absent").exists()


def test_length_ratio_range_must_be_ordered():
    with pytest.raises(ValueError, match="0 < low <= high"):
        QualitySettings(length_ratio_range=(2.0, 1.0))


def _report(checks: dict) -> dict:
    metrics = {"cmd_vs_real": None, "mean_pairwise_cosine": 0.5, "distinct_1": 0.5, "distinct_2": 0.7,
               "vocabulary_size": 40, "topic_coverage": 1.0, "real_entity_coverage": None}
    return {"task": "gad", "family": "relation",
            "embedding": {"encoder": "embedded:minilm-l6", "resolved": "x", "pooling": "mean", "max_length": 128},
            "cmd": {"order_k": 5, "bounds": [-1.0, 1.0], "bounds_reason": "unit"},
            "settings": QualitySettings().model_dump(mode="json"), "real": None, "figures": {},
            "sets": {"kg<1>": {"path": "runs/kg", "examples": 4, "measured": 4, "metrics": metrics,
                               "entities": None, "generation": None, "trainability": checks}}}


def test_html_puts_the_section_first_and_escapes_raw_replies(tmp_path):
    records = [relation(i, "Has_relation") for i in range(4)]
    failures = [failure(7, "no_json", raw='<script>alert("x")</script> & more', detail="<b>no JSON</b>")]
    html = render_html(_report(assess(records, failures, QualitySettings(), task_labels=GAD_LABELS)), tmp_path)
    title_end = html.index("</h1>")
    assert html[title_end:].startswith('</h1><h2 id="can-i-train">Can I train on this?</h2>')
    assert html.index("Can I train on this?") < html.index("<h2>Metrics</h2>")
    assert "<script" not in html and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; more" in html
    assert '<pre class="raw">&lt;script&gt;' in html and "&lt;b&gt;no JSON&lt;/b&gt;" in html
    assert "kg&lt;1&gt;" in html and '<td class="result fail">FAIL</td>' in html
    assert "'Has_relation' holds 100% of 4 examples" in html.replace("&#x27;", "'")


def test_cli_prints_each_failed_flag_or_that_all_passed(capsys):
    records = [relation(i, "Has_relation") for i in range(4)]
    print_flags(assess(records, [], QualitySettings(), task_labels=GAD_LABELS))
    print_flags(assess(records, [], QualitySettings(), task_labels=["Has_relation"]))
    print_flags(None)
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("  FLAG max_label_share: label 'Has_relation' holds 100%")
    assert out[1:] == ["  all 2 checks passed"]


def test_failure_samples_show_distinct_rows_before_repeating_one():
    # row 4 dropped three mentions from one reply: it is shown once, after the other rows
    failures = [failure(4, "entity_not_in_text", raw="one reply") for _ in range(3)]
    failures += [failure(6, "entity_not_in_text"), failure(8, "entity_not_in_text")]
    (reason,) = failure_reasons(failures, rows_done=10)
    assert [s["row_id"] for s in reason["samples"]] == [4, 6, 8]
    assert (reason["count"], reason["rows"]) == (5, 3)
    (few,) = failure_reasons(failures[:3], rows_done=10)
    assert [s["row_id"] for s in few["samples"]] == [4, 4, 4]  # only one row failed so: its failures, each once


def test_thresholds_from_the_command_line_are_validated_by_the_settings():
    from clingen.cli.quality import parse_thresholds
    from clingen.errors import ConfigError
    given = parse_thresholds(["max_label_share=0.7", "length_ratio_range=[0.4, 3]"])
    settings = QualitySettings(**given)
    assert (settings.max_label_share, settings.length_ratio_range) == (0.7, (0.4, 3.0))
    with pytest.raises(ConfigError, match=r"--threshold 'encoder=x'.*max_label_share"):
        parse_thresholds(["encoder=x"])
    with pytest.raises(ConfigError, match="expected NAME=VALUE"):
        parse_thresholds(["max_label_share"])
    with pytest.raises(ValueError, match="length_ratio_range"):
        QualitySettings(**parse_thresholds(["length_ratio_range=[2, 1]"]))
