"""Tests of the datasets stage's real-data readers, on small fixtures and (when present) the shared datasets."""

from __future__ import annotations

from pathlib import Path

import pytest

from clingen.datasets.readers import (GAD_LABEL_NAMES, HOC_HALLMARK_TO_LABEL, HOC_LABELS, MEDIQA_RQE_LABEL_NAMES,
                                      fewshot_classes, fewshot_sample, hoc_split_of, read_biobert_re, read_conll,
                                      read_hoc, read_mediqa_rqe, read_real_split)
from clingen.datasets.records import ClassificationExample, NERExample, RelationExample, Span
from clingen.errors import ConfigError, DataFormatError, UnknownNameError

pytestmark = pytest.mark.unit

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "eval"
SHARED_EVAL = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "eval"
needs_shared = pytest.mark.skipif(
    not SHARED_EVAL.is_dir(), reason=f"shared evaluation data not found at {SHARED_EVAL} (only in dev/CI checkouts)")


def test_read_conll_builds_sentences_with_spans():
    first, second = read_conll(FIXTURES / "conll" / "mini.tsv")
    assert first.id == "mini-0"
    assert first.text == "Identification of APC2 adenomatous polyposis coli ."
    assert first.tokens == ["Identification", "of", "APC2", "adenomatous", "polyposis", "coli", "."]
    assert first.tags == ["O", "O", "O", "B-Disease", "I-Disease", "I-Disease", "O"]
    assert first.spans == [Span(23, 49, "Disease", "adenomatous polyposis coli")]
    assert second.id == "mini-1"  # the last sentence has no blank line after it
    assert second.spans == [Span(0, 13, "Disease", "Breast cancer"), Span(18, 32, "Disease", "ovarian cancer")]


@pytest.mark.parametrize("bad_line, message", [
    ("cancer", r"bad\.tsv:3: 'cancer' has 1 field\(s\); expected 'token<TAB>tag'"),
    ("cancer\tB-Disease\textra", r"bad\.tsv:3: tag 'extra' is not a BIO tag"),  # the tag is the last column
    ("cancer\tDisease", r"bad\.tsv:3: tag 'Disease' is not a BIO tag"),
    ("cancer\tB-", r"bad\.tsv:3: tag 'B-' is not a BIO tag"),
])
def test_read_conll_names_file_and_line_of_a_malformed_line(tmp_path, bad_line, message):
    path = tmp_path / "bad.tsv"
    path.write_text(f"Breast\tO\n\n{bad_line}\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match=message):
        read_conll(path)


def test_read_biobert_re_train_without_header():
    examples = read_biobert_re(FIXTURES / "gad" / "train.tsv")
    assert [(e.id, e.label) for e in examples] == [("train-0", "Has_relation"), ("train-1", "No_relation"),
                                                  ("train-2", "Has_relation")]
    assert examples[0] == RelationExample("train-0", "Variants in @GENE$ raise @DISEASE$ risk.", "Has_relation")


def test_read_biobert_re_test_with_header_and_custom_names():
    examples = read_biobert_re(FIXTURES / "gad" / "test.tsv", label_names=("no", "yes"))
    assert [(e.id, e.text, e.label) for e in examples] == [
        ("test-0", "@GENE$ polymorphism is not associated with @DISEASE$.", "no"),
        ("test-1", "Carriers of @GENE$ alleles develop @DISEASE$.", "yes")]
    assert examples[1].head is None and examples[1].tail is None


@pytest.mark.parametrize("content, message", [
    ("a sentence\t2\n", r"bad\.tsv:1: label '2' is not 0 or 1"),
    ("a sentence\n", r"bad\.tsv:1: 'a sentence' has 1 tab-separated field\(s\); expected sentence<TAB>label"),
    ("index\tsentence\tlabel\n0\tok\t1\nx\t0\n", r"bad\.tsv:3: .* expected index<TAB>sentence<TAB>label"),
])
def test_read_biobert_re_names_file_and_line_of_a_malformed_row(tmp_path, content, message):
    path = tmp_path / "bad.tsv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataFormatError, match=message):
        read_biobert_re(path)


def test_read_hoc_unites_sentence_hallmarks():
    examples = read_hoc(FIXTURES / "hoc")
    assert examples == [
        ClassificationExample("11724768", "Ghrelin binds GHS-R . Cells proliferate . Nothing else .",
                              ["resisting cell death", "sustaining proliferative signaling"]),
        ClassificationExample("9000004", "A plain sentence .", []),
        ClassificationExample("9000005", "DNA damage occurs . Tumours invade .",
                              ["activating invasion and metastasis", "genomic instability and mutation"]),
    ]


def test_read_hoc_splits_by_pmid_hash():
    assert [hoc_split_of(pmid) for pmid in ("11724768", "9000004", "9000005")] == ["train", "dev", "test"]
    assert [[e.id for e in read_hoc(FIXTURES / "hoc", split)] for split in ("train", "dev", "test")] == [
        ["11724768"], ["9000004"], ["9000005"]]
    with pytest.raises(UnknownNameError, match="unknown HoC split 'validation'; known: all, dev, test, train"):
        read_hoc(FIXTURES / "hoc", "validation")


def test_hoc_mapping_covers_the_ten_label_names():
    assert sorted(HOC_HALLMARK_TO_LABEL.values()) == sorted(HOC_LABELS) and len(HOC_LABELS) == 10


def write_hoc(root: Path, sentences: str, labels: str) -> None:
    (root / "text").mkdir(parents=True)
    (root / "labels").mkdir()
    (root / "text" / "123.txt").write_text(sentences, encoding="utf-8")
    (root / "labels" / "123.txt").write_text(labels, encoding="utf-8")


def test_read_hoc_refuses_an_unmappable_hallmark(tmp_path):
    write_hoc(tmp_path, "One .\nTwo .\n", "< <Being cancer--Sub")
    with pytest.raises(DataFormatError, match=r"labels/123\.txt: hallmark 'Being cancer' is unknown"):
        read_hoc(tmp_path)
    with pytest.raises(DataFormatError, match=r"labels/123\.txt: label 'Being cancer' is not a label of task hoc"):
        read_real_split("hoc", tmp_path)


def test_read_hoc_refuses_a_label_count_unlike_the_sentence_count(tmp_path):
    write_hoc(tmp_path, "One .\nTwo .\n", "< ")
    with pytest.raises(DataFormatError, match=r"123\.txt: has 1 '<'-prefixed label field\(s\).* 2, "):
        read_hoc(tmp_path)


def test_read_mediqa_rqe_strips_texts_and_maps_values():
    examples = read_mediqa_rqe(FIXTURES / "mediqa-rqe" / "rqe-mini.xml")
    assert [(e.id, e.text_a, e.text_b, e.label) for e in examples] == [
        ("rqe-mini-1", "How should I treat polymenorrhea in a 14-year-old girl?", "How should I treat polymenorrhea?",
         "Entail"),
        ("rqe-mini-2", "Can I use heparin in pregnancy?", "What are the side effects of Florinef?", "Not_entail"),
        ("rqe-mini-7", "Is there any help for fibromyalgia?", "", "Entail"),
    ]
    assert MEDIQA_RQE_LABEL_NAMES == ("Not_entail", "Entail")


@pytest.mark.parametrize("body, message", [
    ('<pair pid="1" value="maybe"><chq>a</chq><faq>b</faq></pair>', r"bad\.xml:1 \(pair pid=1\): label 'maybe' is not "
                                                                     r"false or true"),
    ('<pair pid="1" value="true"><chq>a</chq></pair>', r"bad\.xml: pair pid='1' has no <faq>"),
    ('<pair pid="1" value="true"><chq>a</chq>\n<faq>b</pair>', r"bad\.xml:2: not well-formed XML"),
])
def test_read_mediqa_rqe_names_file_and_bad_pair(tmp_path, body, message):
    path = tmp_path / "bad.xml"
    path.write_text(f"<RQE>{body}</RQE>", encoding="utf-8")
    with pytest.raises(DataFormatError, match=message):
        read_mediqa_rqe(path)


def test_read_real_split_dispatches_and_lists_known_tasks():
    assert len(read_real_split("ncbi-disease", FIXTURES / "conll" / "mini.tsv")) == 2
    assert len(read_real_split("gad", FIXTURES / "gad" / "test.tsv")) == 2
    assert [e.id for e in read_real_split("hoc", FIXTURES / "hoc", split="test")] == ["9000005"]
    assert len(read_real_split("mediqa-rqe", FIXTURES / "mediqa-rqe" / "rqe-mini.xml")) == 3
    # bc5cdr-chemical's label_map drops Disease (combined BC5CDR files), which leaves this file no entity;
    # chemdner does not know it
    with pytest.raises(DataFormatError, match=r"mini\.tsv gives 2 sentence\(s\), none with an entity of task "
                                              r"bc5cdr-chemical: found 3 'Disease' mention\(s\) dropped"):
        read_real_split("bc5cdr-chemical", FIXTURES / "conll" / "mini.tsv")
    with pytest.raises(DataFormatError, match=r"conll/mini\.tsv:4: entity type 'Disease' is not a label of task "
                                              r"chemdner; entity types in .*mini\.tsv: 'Disease' x3; known: "):
        read_real_split("chemdner", FIXTURES / "conll" / "mini.tsv")
    with pytest.raises(DataFormatError, match=r"eval is a folder but neither a HoC corpus .* nor a ChemProt split"):
        read_real_split("chemprot", FIXTURES)


def labelled(n_per_class: dict[str, int]) -> list[RelationExample]:
    return [RelationExample(f"{label}-{i:02d}", "t", label) for label, n in n_per_class.items() for i in range(n)]


def test_fewshot_sample_takes_k_per_class_deterministically():
    examples = labelled({"yes": 10, "no": 6})
    sample = fewshot_sample(examples, k=3, seed=13)
    assert [e.label for e in sample] == ["no"] * 3 + ["yes"] * 3
    assert [e.id for e in sample] == [e.id for e in fewshot_sample(list(reversed(examples)), k=3, seed=13)]
    assert len({tuple(e.id for e in fewshot_sample(examples, 3, seed)) for seed in range(10)}) > 1


def test_fewshot_sample_gives_a_small_class_whole_and_skips_repeats():
    examples = [ClassificationExample("a", "t", ["x", "y"]), ClassificationExample("b", "t", ["y"]),
                ClassificationExample("c", "t", [])]
    assert sorted(e.id for e in fewshot_sample(examples, k=5, seed=0)) == ["a", "b"]


def test_fewshot_sample_treats_ner_as_one_class():
    examples = [NERExample(f"s-{i}", "a", ["a"], ["O"]) for i in range(8)]
    assert fewshot_classes(examples[0]) == ["all"]
    assert len(fewshot_sample(examples, k=3, seed=1)) == 3
    with pytest.raises(ConfigError, match="k is -1"):
        fewshot_sample(examples, k=-1, seed=1)


@needs_shared
@pytest.mark.parametrize("task, split, count", [
    ("ncbi-disease", "train", 5424), ("ncbi-disease", "devel", 923), ("ncbi-disease", "test", 940),
    ("bc5cdr-disease", "train", 4560), ("bc5cdr-disease", "devel", 4581), ("bc5cdr-disease", "test", 4797),
    ("gad", "train", 4796), ("gad", "test", 534),
])
def test_shared_tsv_counts(task, split, count):
    assert len(read_real_split(task, SHARED_EVAL / task / f"{split}.tsv")) == count


@needs_shared
def test_shared_hoc_counts_and_split():
    sizes = {split: len(read_hoc(SHARED_EVAL / "hoc", split)) for split in ("train", "dev", "test", "all")}
    assert sizes == {"train": 1294, "dev": 170, "test": 388, "all": 1852}


@needs_shared
@pytest.mark.parametrize("file_name, count", [("RQE_Train_8588_AMIA2016.xml", 8588),
                                              ("RQE_Test_302_pairs_AMIA2016.xml", 302)])
def test_shared_mediqa_rqe_counts(file_name, count):
    assert len(read_mediqa_rqe(SHARED_EVAL / "mediqa-rqe" / file_name)) == count


@needs_shared
@pytest.mark.parametrize("task, file_name, names", [
    ("gad", "gad.label.txt", GAD_LABEL_NAMES), ("mediqa-rqe", "mediqa-rqe.label.txt", MEDIQA_RQE_LABEL_NAMES),
    ("hoc", "hoc.label.txt", HOC_LABELS),
])
def test_label_names_are_those_of_the_reference_label_files(task, file_name, names):
    listed = (SHARED_EVAL / "clingen-labels" / file_name).read_text(encoding="utf-8").splitlines()
    assert sorted(listed) == sorted(names)
