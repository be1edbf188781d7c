"""Tests of reading every published format of the built-in tasks' data (fixtures written for ClinGen from the
formats' public descriptions), the variants public copies have, and the label maps of the task specs."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from clingen.datasets.readers import detect_format, read_conll, read_task_data, read_task_split
from clingen.datasets.records import Span, to_iob2
from clingen.errors import DataFormatError
from clingen.evaluation.metrics import evaluate_predictions
from clingen.tasks.registry import get_task

pytestmark = pytest.mark.unit

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "eval"


def labels(task: str, path: Path, split: str = "all") -> Counter:
    return Counter(getattr(r, "label", None) for r in read_task_split(get_task(task), path, split))


@pytest.mark.parametrize("relative, expected", [
    ("conll/mini.tsv", "conll"), ("gad/train.tsv", "relation-tsv"), ("gad/test.tsv", "relation-tsv"),
    ("cdr/biobert-test.tsv", "relation-tsv"), ("chemprot/blurb-train.tsv", "relation-tsv"),
    ("chemprot/fine-names.tsv", "relation-tsv"), ("chemprot/chemprot_training", "chemprot-biocreative"),
    ("chemprot/chemprot_training/chemprot_training_entities.tsv", "chemprot-biocreative"),
    ("pubtator/CDR_mini.PubTator.txt", "pubtator"), ("pubtator/NCBI_mini_corpus.txt", "pubtator"),
    ("hoc", "hoc"), ("litcovid/BC7-LitCovid-mini.csv", "litcovid-csv"), ("mediqa-rqe/rqe-mini.xml", "mediqa-rqe-xml"),
    ("nli/mednli-mini.jsonl", "nli-jsonl"), ("pubhealth/pubhealth-mini.tsv", "pubhealth-tsv"),
    ("healthver/healthver-mini.csv", "healthver-csv"), ("mqp/mqp-mini.csv", "mqp-csv"),
    ("casi/casi-mini.jsonl", "casi-jsonl"),
])
def test_the_format_is_told_by_the_file(relative, expected):
    assert detect_format(FIXTURES / relative) == expected


def test_an_unknown_format_is_named_with_the_formats_read(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("Some free text without structure\n")
    with pytest.raises(DataFormatError, match=r"notes\.txt: cannot tell its format from its first line 'Some free "
                                              r"text.*'; expected one of: conll \(.*mqp-csv"):
        detect_format(path)


def test_a_file_of_another_family_is_refused_with_the_formats_that_fit():
    with pytest.raises(DataFormatError, match=r"mini\.tsv is in the conll format .* holds ner or attribute data; a "
                                              r"relation task reads \['pubtator', 'chemprot-biocreative', "
                                              r"'relation-tsv', 'relation-jsonl', 'clingen-jsonl', "
                                              r"'clingen-parquet'\]"):
        read_task_split(get_task("gad"), FIXTURES / "conll" / "mini.tsv")


# ---- relations -------------------------------------------------------------------------------------------

def test_cdr_biobert_tsv_reads_with_cdr_names_not_gads():
    records = read_task_split(get_task("cdr"), FIXTURES / "cdr" / "biobert-test.tsv")
    assert [(r.id, r.label) for r in records] == [("biobert-test-0", "induce"), ("biobert-test-1", "not_induce"),
                                                 ("biobert-test-2", "induce")]


def test_cdr_pubtator_gives_sentence_instances_and_counts_lost_cid_pairs():
    data = read_task_data(get_task("cdr"), FIXTURES / "pubtator" / "CDR_mini.PubTator.txt")
    texts = {r.id: (r.text, r.label) for r in data.records}
    assert len(texts) == 8 and Counter(label for _, label in texts.values()) == {"induce": 4, "not_induce": 4}
    assert texts["1001-0-D008094-D014202"] == ("@CHEMICAL$-induced @DISEASE$ in a bipolar patient.", "induce")
    assert texts["1001-0-D008094-D001714"] == ("@CHEMICAL$-induced tremor in a @DISEASE$ patient.", "not_induce")
    assert texts["1001-2-D008094-D014202"] == ("@DISEASE$ resolved after @CHEMICAL$ was stopped.", "induce")
    assert texts["1002-2-D002945-D012516"] == ("All of them had received @CHEMICAL$ for @DISEASE$.", "not_induce")
    # cisplatin / renal failure (D051437) is a CID pair of document 1002 but never shares a sentence
    assert data.problems == ["1 of 3 CID pair(s) never share a sentence and give no instance (relations are "
                             "document-level; instances are sentence-level)"]
    assert str(data.locations[0]).endswith("CDR_mini.PubTator.txt:1 (PMID 1001, sentence 1)")


def test_a_user_task_with_cid_labels_reads_pubtator_as_is(tmp_path):
    task_file = tmp_path / "tasks.yaml"
    task_file.write_text(USER_CID_TASK)
    records = read_task_split(get_task("cid", task_file), FIXTURES / "pubtator" / "CDR_mini.PubTator.txt")
    assert Counter(r.label for r in records) == {"CID": 4, "no_CID": 4}


USER_CID_TASK = """
- name: cid
  family: relation
  domain: drug safety
  head_role: chemical
  tail_role: disease
  head_mask: "@CHEMICAL$"
  tail_mask: "@DISEASE$"
  negative_label: no_CID
  styles: [case report]
  labels:
    - {name: CID, description: the chemical induces the disease, topics: {kind: relation, relation: causes}}
    - {name: no_CID, description: no induction stated, topics: {kind: negative, relation: causes}}
"""


def test_chemprot_biocreative_files_give_masked_instances_of_the_evaluated_groups():
    data = read_task_data(get_task("chemprot"), FIXTURES / "chemprot" / "chemprot_training")
    got = {r.id: (r.text, r.label) for r in data.records}
    assert got == {
        "3001.T1.T2": ("@CHEMICAL$ inhibits @GENE$ in platelets.", "Downregulator"),
        "3001.T3.T4": ("@CHEMICAL$ irreversibly acetylates @GENE$.", "NOT"),  # CPR:2 is not evaluated
        "3001.T5.T6": ("@CHEMICAL$ is a selective inhibitor of @GENE$.", "Downregulator"),
        "3001.T7.T8": ("@CHEMICAL$ binds the @GENE$ and activates it.", "Agonist"),
        "3002.T2.T3": ("@CHEMICAL$ is a substrate of @GENE$.", "Product_of"),
        "3002.T4.T5": ("@CHEMICAL$ did not change @GENE$ levels.", "NOT"),  # no relation annotated
    }
    assert data.problems[0] == "1 of 5 evaluated relation(s) join mentions of different sentences and give no instance"
    # any one of the split's three files names the split
    one_file = FIXTURES / "chemprot" / "chemprot_training" / "chemprot_training_abstracts.tsv"
    assert len(read_task_split(get_task("chemprot"), one_file)) == 6


def test_chemprot_cpr_group_row_is_accepted():
    """The issue's silent failure: a BioBERT-format ChemProt row labelled CPR:4 was refused as 'not 0 or 1'."""
    assert labels("chemprot", FIXTURES / "chemprot" / "blurb-train.tsv") == {
        "Downregulator": 1, "Agonist": 1, "NOT": 1, "Product_of": 1}


def test_chemprot_fine_grained_names_map_to_their_groups():
    records = read_task_split(get_task("chemprot"), FIXTURES / "chemprot" / "fine-names.tsv")
    assert [r.label for r in records] == ["Downregulator", "Product_of", "Upregulator", "NOT", "Antagonist"]


def test_relation_instances_without_the_tasks_masks_are_refused():
    with pytest.raises(DataFormatError, match=r"train\.tsv:1: no instance of .* holds both masks of task cdr "
                                              r"\(@CHEMICAL\$, @DISEASE\$\)"):
        read_task_split(get_task("cdr"), FIXTURES / "gad" / "train.tsv")


# ---- NER, attributes ----------------------------------------------------------------------------------------

def test_ncbi_pubtator_mention_classes_map_to_disease():
    records = read_task_split(get_task("ncbi-disease"), FIXTURES / "pubtator" / "NCBI_mini_corpus.txt")
    assert [r.text for r in records][0] == "Germline mutations of BRCA1 in familial breast and ovarian cancer."
    assert [[(s.text, s.type) for s in r.spans] for r in records] == [
        [("familial breast and ovarian cancer", "Disease")], [("breast cancer", "Disease")],
        [("Ataxia-telangiectasia", "Disease"), ("recessive disorder", "Disease")]]
    assert records[1].tags[-3:] == ["B-Disease", "I-Disease", "O"]


def test_combined_bc5cdr_pubtator_keeps_only_the_tasks_type():
    data = read_task_data(get_task("bc5cdr-chemical"), FIXTURES / "pubtator" / "CDR_mini.PubTator.txt")
    assert Counter(s.type for r in data.records for s in r.spans) == {"Chemical": 6}
    assert all(tag in ("O", "B-Chemical", "I-Chemical") for r in data.records for tag in r.tags)
    assert "9 'Disease' mention(s) dropped" in data.problems[0]


def test_casi_jsonl_locates_attribute_strings():
    data = read_task_data(get_task("casi"), FIXTURES / "casi" / "casi-mini.jsonl")
    first, second, third = data.records
    assert [(s.type, s.text) for s in first.spans] == [("Medication", "metoprolol"), ("Dosage", "25 mg"),
                                                        ("Route", "by mouth"), ("Frequency", "twice daily"),
                                                        ("Reason", "hypertension")]
    assert second.spans[0] == Span(0, 11, "Medication", "Amoxicillin")  # lower-case keys map by label_key
    assert [s.type for s in third.spans] == ["Medication", "Dosage", "Frequency"]
    assert data.problems == ["1 attribute string(s) do not occur in their text as whole words and were dropped"]


# ---- pairs, documents ---------------------------------------------------------------------------------------

def test_pair_formats_map_their_own_label_names():
    assert labels("mednli", FIXTURES / "nli" / "mednli-mini.jsonl") == {"entailment": 1, "contradiction": 1,
                                                                       "neutral": 1}
    assert labels("mediqa-nli", FIXTURES / "nli" / "mediqa-nli-mini.jsonl") == {"entail": 1, "contradict": 1}
    assert labels("healthver", FIXTURES / "healthver" / "healthver-mini.csv") == {"Refute": 1, "Support": 1,
                                                                                 "Unproven": 1}
    assert labels("mqp", FIXTURES / "mqp" / "mqp-mini.csv") == {"equivalent": 2, "not_equivalent": 1}
    assert labels("mediqa-rqe", FIXTURES / "mediqa-rqe" / "rqe-mini.xml") == {"Entail": 2, "Not_entail": 1}


def test_healthver_and_pubhealth_put_the_texts_in_the_tasks_roles():
    first = read_task_split(get_task("healthver"), FIXTURES / "healthver" / "healthver-mini.csv")[0]
    assert (first.id, first.text_b) == ("healthver-mini-1", "Hydroxychloroquine cures COVID-19.")
    assert first.text_a.startswith("In a randomized trial")  # evidence first: roles (evidence passage, claim)
    data = read_task_data(get_task("pubhealth"), FIXTURES / "pubhealth" / "pubhealth-mini.tsv")
    claim = data.records[0]
    assert (claim.id, claim.text_a, claim.label) == ("pubhealth-mini-101", "Vitamin C cures the common cold.", "Refute")
    # the evidence is main_text (a quoted field over two lines), not the fact-checker's explanation
    assert claim.text_b == ("Several randomized trials gave vitamin C to healthy adults.\n"
                            "Colds were not shorter in the treated groups.")
    assert [r.label for r in data.records] == ["Refute", "Support", "Unproven", "Mixture"]
    assert str(data.locations[1]).endswith("pubhealth-mini.tsv:4")  # the row after the two-line field
    assert data.problems == ["1 row(s) without a claim or an evidence text (main_text) were skipped"]


def test_litcovid_csv_splits_labels_on_semicolons():
    records = read_task_split(get_task("litcovid"), FIXTURES / "litcovid" / "BC7-LitCovid-mini.csv")
    assert [(r.id, r.labels) for r in records] == [("90001", ["Treatment"]),
                                                   ("90002", ["Prevention", "Transmission"]),
                                                   ("90003", ["Case Report", "Diagnosis"])]
    assert records[1].text == ("Masks, distancing and spread of SARS-CoV-2 in schools Transmission fell after mask "
                               "mandates; household spread remained.")


# ---- variants of public copies --------------------------------------------------------------------------------

def test_a_byte_order_mark_and_windows_line_ends_read_like_the_clean_file(tmp_path):
    clean = (FIXTURES / "gad" / "test.tsv").read_bytes()
    variant = tmp_path / "test.tsv"
    variant.write_bytes(b"\xef\xbb\xbf" + clean.replace(b"\n", b"\r\n"))
    assert read_task_split(get_task("gad"), variant) == read_task_split(get_task("gad"), FIXTURES / "gad" / "test.tsv")
    conll = tmp_path / "mini.tsv"
    conll.write_bytes(b"\xef\xbb\xbf" + (FIXTURES / "conll" / "mini.tsv").read_bytes().replace(b"\n", b"\r\n"))
    assert read_conll(conll)[0].tokens[0] == "Identification"  # not "\ufeffIdentification"
    assert read_conll(conll) == read_conll(FIXTURES / "conll" / "mini.tsv")


def test_a_bom_csv_header_is_still_a_header(tmp_path):
    path = tmp_path / "healthver.csv"
    path.write_bytes(b"\xef\xbb\xbf" + (FIXTURES / "healthver" / "healthver-mini.csv").read_bytes())
    assert len(read_task_split(get_task("healthver"), path)) == 3


def test_iob1_chunks_are_stored_as_iob2_and_score_perfectly_against_themselves(tmp_path):
    path = tmp_path / "iob1.tsv"
    path.write_text("Cystic\tI-Disease\nfibrosis\tI-Disease\nand\tO\nasthma\tI-Disease\n\nNone\tO\n")
    spec = get_task("ncbi-disease")
    records = read_task_split(spec, path)
    assert records[0].tags == ["B-Disease", "I-Disease", "O", "B-Disease"] == to_iob2(records[0].tags)
    assert [s.text for s in records[0].spans] == ["Cystic fibrosis", "asthma"]
    gold = [r.tags for r in records]
    assert evaluate_predictions(spec, gold, gold)["f1"] == 1.0


def test_iobes_bare_and_whitespace_separated_tags(tmp_path):
    path = tmp_path / "variants.txt"
    path.write_text("-DOCSTART- -X- O O\n\nLung NN B-NP S\nand CC O O\nbreast NN B-NP B\ncancer NN I-NP E\n")
    record = read_task_split(get_task("ncbi-disease"), path)[0]  # bare B/I: the task's one type
    assert record.tags == ["B-Disease", "O", "B-Disease", "I-Disease"]
    with pytest.raises(DataFormatError, match=r"variants\.txt:3: entity type '\(untyped\)' is not a label of task "
                                              r"casi \(tags without a type, bare B/I, fit only a task with one"):
        read_task_split(get_task("casi"), path)


def test_a_label_outside_the_map_names_file_line_found_and_known(tmp_path):
    path = tmp_path / "cdr.tsv"
    path.write_text("@CHEMICAL$ causes @DISEASE$ .\t1\n@CHEMICAL$ and @DISEASE$ .\t2\n@CHEMICAL$ with @DISEASE$ .\t2\n")
    with pytest.raises(DataFormatError) as caught:
        read_task_split(get_task("cdr"), path)
    assert str(caught.value) == (
        f"{path}:2: label '2' is not a label of task cdr; labels in {path}: '1' x1, '2' x2; known: ['0', '1', "
        f"'CID', 'induce', 'no_CID', 'not_induce'] (the task's labels and its label_map)")


def test_a_file_that_is_not_utf8_names_the_line(tmp_path):
    path = tmp_path / "latin1.tsv"
    path.write_bytes("Ok\tO\n\nCaf\xe9\tO\n".encode("latin-1"))
    with pytest.raises(DataFormatError, match=r"latin1\.tsv:3: byte 9 \(b'\\xe9'\) is not UTF-8"):
        read_conll(path)


def test_clingen_record_files_with_a_bom_and_crlf_read_like_the_clean_file(tmp_path):
    shipped = Path(__file__).resolve().parents[2] / "clingen" / "tasks" / "demos" / "gad.jsonl"
    variant = tmp_path / "gad.jsonl"
    variant.write_bytes(b"\xef\xbb\xbf" + shipped.read_bytes().replace(b"\n", b"\r\n"))
    assert read_task_split(get_task("gad"), variant) == read_task_split(get_task("gad"), shipped)
