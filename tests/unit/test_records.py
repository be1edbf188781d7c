"""Tests of the datasets stage's records: tokenizer, BIO conversion, row round-trips, JSONL and Parquet I/O."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from clingen.datasets.records import (PROVENANCE_COLUMNS, SCHEMAS, ClassificationExample, NERExample,
                                      PairExample, Provenance, RelationExample, Span, bio_to_spans,
                                      ner_example_from_spans, read_jsonl, read_parquet, schema_for,
                                      spans_to_bio, tokenize, write_jsonl, write_parquet)
from clingen.errors import DataFormatError, UnknownNameError

pytestmark = pytest.mark.unit

PROVENANCE = Provenance(task="ncbi-disease", row_id=7, topic="asthma", style="clinical note",
                        prompt_label="Disease", strategy="kg", demo_ids=["train-1", "train-9"], model="smollm2")


def ner_records() -> list[NERExample]:
    text = "Mild asthma and type 2 diabetes."
    spans = [Span(5, 11, "Disease", "asthma"), Span(16, 31, "Disease", "type 2 diabetes")]
    return [ner_example_from_spans("s-0", text, spans, PROVENANCE),
            ner_example_from_spans("s-1", "No findings.", [])]


def records_by_family() -> dict[str, list]:
    return {
        "classification": [ClassificationExample("c-0", "Tumour cells invade.", ["invasion", "metastasis"], PROVENANCE),
                           ClassificationExample("c-1", "Nothing here.", [])],
        "relation": [RelationExample("r-0", "BRCA1 causes breast cancer.", "Has_relation", "BRCA1", "breast cancer",
                                     "gene", "disease", PROVENANCE),
                     RelationExample("r-1", "@GENE$ and @DISEASE$.", "No_relation")],
        "pair": [PairExample("p-0", "Can I take ibuprofen?", "Is ibuprofen safe?", "Entail", PROVENANCE),
                 PairExample("p-1", "What is gout?", "", "Not_entail")],
        "ner": ner_records(),
        "attribute": ner_records(),
    }


def test_tokenize_splits_words_and_punctuation_with_offsets():
    assert tokenize("IL-6 levels (n=12), ok_x") == [
        ("IL", 0, 2), ("-", 2, 3), ("6", 3, 4), ("levels", 5, 11), ("(", 12, 13), ("n", 13, 14), ("=", 14, 15),
        ("12", 15, 17), (")", 17, 18), (",", 18, 19), ("ok", 20, 22), ("_", 22, 23), ("x", 23, 24)]
    assert tokenize("  ") == []
    assert tokenize("Ménière's") == [("Ménière", 0, 7), ("'", 7, 8), ("s", 8, 9)]


def test_spans_to_bio_tags_overlapped_tokens():
    tokens, tags = spans_to_bio("Mild asthma and type 2 diabetes.",
                                [Span(16, 31, "Disease", "type 2 diabetes"), Span(5, 11, "Disease", "asthma")])
    assert tokens == ["Mild", "asthma", "and", "type", "2", "diabetes", "."]
    assert tags == ["O", "B-Disease", "O", "B-Disease", "I-Disease", "I-Disease", "O"]


def test_spans_to_bio_tags_tokens_cut_by_an_unaligned_span():
    # "sthma and ty" cuts "asthma" and "type": both are still tagged, as is "and" inside it.
    _, tags = spans_to_bio("Mild asthma and type 2", [Span(6, 18, "X", "sthma and ty")])
    assert tags == ["O", "B-X", "I-X", "I-X", "O"]


def test_spans_to_bio_drops_a_span_nested_in_an_earlier_one():
    text = "lung cancer cells"
    _, tags = spans_to_bio(text, [Span(5, 11, "Disease", "cancer"), Span(0, 11, "Disease", "lung cancer")])
    assert tags == ["B-Disease", "I-Disease", "O"]


def test_bio_to_spans_recovers_spans_from_spans_to_bio():
    text = "Mild asthma and type 2 diabetes."
    spans = [Span(5, 11, "Disease", "asthma"), Span(16, 31, "Disease", "type 2 diabetes")]
    tokens, tags = spans_to_bio(text, spans)
    assert bio_to_spans(tokens, tags, text) == spans


def test_bio_to_spans_without_text_joins_tokens_with_spaces():
    spans = bio_to_spans(["Breast", "cancer", "and", "ovarian", "cancer"],
                         ["B-Disease", "I-Disease", "O", "B-Disease", "I-Disease"])
    assert spans == [Span(0, 13, "Disease", "Breast cancer"), Span(18, 32, "Disease", "ovarian cancer")]


def test_bio_to_spans_starts_an_entity_at_an_orphan_or_mistyped_i_tag():
    spans = bio_to_spans(["a", "b", "c", "d", "e"], ["I-Gene", "I-Gene", "O", "I-Disease", "I-Gene"])
    assert spans == [Span(0, 3, "Gene", "a b"), Span(6, 7, "Disease", "d"), Span(8, 9, "Gene", "e")]


def test_bio_to_spans_rejects_bad_tags_and_lengths():
    with pytest.raises(DataFormatError, match=r"tag 1 'X-Gene' is not a BIO tag"):
        bio_to_spans(["a", "b"], ["O", "X-Gene"])
    with pytest.raises(DataFormatError, match="2 tokens but 1 tags"):
        bio_to_spans(["a", "b"], ["O"])
    with pytest.raises(DataFormatError, match=r"token 1 'zz' is not found"):
        bio_to_spans(["a", "zz"], ["O", "O"], "a b")


def test_ner_example_from_spans_builds_tokens_tags_and_sorted_spans():
    example = ner_records()[0]
    assert example.tokens == ["Mild", "asthma", "and", "type", "2", "diabetes", "."]
    assert example.tags == ["O", "B-Disease", "O", "B-Disease", "I-Disease", "I-Disease", "O"]
    assert [span.start for span in example.spans] == [5, 16]
    assert example.provenance == PROVENANCE


def test_ner_example_rejects_mismatched_tags_and_spans():
    with pytest.raises(DataFormatError, match="'bad' has 2 tokens but 1 tags"):
        NERExample("bad", "a b", ["a", "b"], ["O"])
    with pytest.raises(DataFormatError, match="does not match its text"):
        NERExample("bad", "a b", ["a", "b"], ["O", "O"], [Span(0, 1, "X", "b")])


def test_to_row_flattens_provenance_into_columns():
    row = records_by_family()["classification"][0].to_row()
    assert row == {"id": "c-0", "text": "Tumour cells invade.", "labels": ["invasion", "metastasis"],
                   "task": "ncbi-disease", "row_id": 7, "topic": "asthma", "style": "clinical note",
                   "prompt_label": "Disease", "strategy": "kg", "demo_ids": ["train-1", "train-9"],
                   "model": "smollm2", "reply_record": None}
    real = records_by_family()["relation"][1].to_row()
    assert all(real[name] is None for name in PROVENANCE_COLUMNS)
    assert RelationExample.from_row(real).provenance is None


@pytest.mark.parametrize("family", sorted(SCHEMAS))
def test_rows_match_schema_columns(family):
    for record in records_by_family()[family]:
        assert list(record.to_row()) == schema_for(family).names
        assert type(record).from_row(record.to_row()) == record


@pytest.mark.parametrize("family", sorted(SCHEMAS))
def test_jsonl_round_trip(tmp_path, family):
    records = records_by_family()[family]
    path = tmp_path / f"{family}.jsonl"
    write_jsonl(path, records)
    assert read_jsonl(path, family) == records
    first_line = json.loads(path.read_text(encoding="utf-8").splitlines()[0])
    assert list(first_line) == schema_for(family).names


@pytest.mark.parametrize("family", sorted(SCHEMAS))
def test_parquet_round_trip(tmp_path, family):
    records = records_by_family()[family]
    path = tmp_path / f"{family}.parquet"
    write_parquet(path, records, family)
    assert pq.read_schema(path).remove_metadata() == schema_for(family)
    assert read_parquet(path, family) == records


def test_read_jsonl_names_file_and_line_of_a_bad_row(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "a", "text_a": "x", "text_b": "y", "label": "Entail"}\n{"id": "b", "text_a": "x"}\n',
                    encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"bad\.jsonl:2: .*lacks column\(s\) \['text_b', 'label'\]"):
        read_jsonl(path, "pair")
    path.write_text("not json\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"bad\.jsonl:1: bad pair record 'not json'"):
        read_jsonl(path, "pair")


def test_read_parquet_names_missing_columns(tmp_path):
    path = tmp_path / "pairs.parquet"
    write_parquet(path, records_by_family()["pair"], "pair")
    pq.write_table(pq.read_table(path).drop_columns(["label", "model"]), path)
    with pytest.raises(DataFormatError, match=r"pairs\.parquet lacks column\(s\) \['label'\]"):
        read_parquet(path, "pair")


def test_read_parquet_accepts_absent_provenance_columns(tmp_path):
    path = tmp_path / "pairs.parquet"
    write_parquet(path, records_by_family()["pair"], "pair")
    pq.write_table(pq.read_table(path).select(["id", "text_a", "text_b", "label"]), path)
    assert [record.provenance for record in read_parquet(path, "pair")] == [None, None]


def test_write_parquet_refuses_records_of_another_family(tmp_path):
    with pytest.raises(DataFormatError, match=r"PairExample 'p-0' .*expected NERExample records for family 'ner'"):
        write_parquet(tmp_path / "x.parquet", records_by_family()["pair"], "ner")


def test_unknown_family_lists_known_ones():
    with pytest.raises(UnknownNameError, match="unknown task family 'qa'; known: attribute, classification"):
        schema_for("qa")


def test_files_load_with_hugging_face_datasets(tmp_path):
    """The canonical files are what `datasets.load_dataset` reads, for every family."""
    datasets = pytest.importorskip("datasets")
    from clingen.datasets.records import (ClassificationExample, PairExample, Provenance, RelationExample,
                                          ner_example_from_spans, write_jsonl, write_parquet)
    provenance = Provenance(task="t", row_id=3, topic="asthma", demo_ids=["a"])
    records = {
        "classification": [ClassificationExample("c1", "Asthma text.", ["x", "y"], provenance)],
        "relation": [RelationExample("r1", "@GENE$ and @DISEASE$.", "Has_relation")],
        "pair": [PairExample("p1", "Question A?", "Question B?", "Entail", provenance)],
        "ner": [ner_example_from_spans("n1", "Gout flares.", [Span(0, 4, "Disease", "Gout")], provenance)],
    }
    for family, rows in records.items():
        write_jsonl(tmp_path / f"{family}.jsonl", rows)
        write_parquet(tmp_path / f"{family}.parquet", rows, family)
        for kind in ("json", "parquet"):
            suffix = "jsonl" if kind == "json" else "parquet"
            loaded = datasets.load_dataset(kind, data_files=str(tmp_path / f"{family}.{suffix}"), split="train",
                                           cache_dir=str(tmp_path / "hf-cache"))
            assert loaded[0]["id"] == rows[0].id, (family, kind)
    ner = datasets.load_dataset("parquet", data_files=str(tmp_path / "ner.parquet"), split="train",
                                cache_dir=str(tmp_path / "hf-cache"))[0]
    assert ner["tags"] == ["B-Disease", "O", "O"] and ner["spans"][0]["text"] == "Gout"
