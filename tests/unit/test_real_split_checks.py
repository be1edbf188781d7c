"""Tests of the checks on real splits: a split without examples refused in every command, CASI attribute
placement, tokens split at annotation boundaries, `clingen data check` usage errors, ChemProt gold-standard and
DrugProt files, CDR composite mentions and the sentence splitter (fixtures written here from the public format
descriptions)."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

from clingen.cli import main
from clingen.datasets.readers import check_real_files, detect_format, read_task_data, read_task_split
from clingen.datasets.readers.sentences import sentence_spans
from clingen.datasets.records import Span, bio_to_spans, split_at, tokenize
from clingen.errors import DataFormatError
from clingen.tasks.registry import get_task

pytestmark = pytest.mark.unit

# NCBI disease corpus layout: disease mentions only, no Chemical mention and no CID line.
NCBI_PUBTATOR = ("5001|t|Familial adenomatous polyposis in two brothers.\n"
                 "5001|a|Both had colorectal cancer before the age of 30.\n"
                 "5001\t9\t30\tadenomatous polyposis\tSpecificDisease\tD011125\n"
                 "5001\t57\t74\tcolorectal cancer\tSpecificDisease\tD015179\n\n")
NO_ROWS = "no data rows (the file holds no more than a header, blank lines or -DOCSTART- lines)"


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def one_line_error(capsys, argv: list[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("clingen: error: ")
    return err.strip()


# ---- 1. a real split that gives no example -------------------------------------------------------------------

def test_a_pubtator_file_without_chemicals_gives_no_cdr_instance_and_is_refused(tmp_path):
    path = write(tmp_path / "NCBItrainset_corpus.txt", NCBI_PUBTATOR)
    with pytest.raises(DataFormatError) as error:
        read_task_data(get_task("cdr"), path)
    assert str(error.value) == (
        f"{path} gives no relation instance for task cdr: found 1 document(s), 2 mention(s) {{'SpecificDisease': 2}}, "
        f"0 CID relation(s); an instance needs a Chemical and a Disease mention with concept ids in one sentence; "
        f"expected at least one relation instance with a label of the task (PubTator: "
        f"PMID|t|title, PMID|a|abstract, mention and CID lines)")


@pytest.mark.parametrize("task, name, text, found", [
    ("healthver", "healthver.csv", "id,evidence,claim,label\n", NO_ROWS),
    ("pubhealth", "pubhealth.tsv", "claim_id\tclaim\tmain_text\tlabel\n1\tA claim.\t\tfalse\n2\t\tSome text.\ttrue\n",
     "2 row(s) without a claim or an evidence text (main_text) were skipped"),
    ("ncbi-disease", "train.tsv", "-DOCSTART-\tO\n\n", NO_ROWS),
    ("gad", "gad.tsv", "index\tsentence\tlabel\n", NO_ROWS),
])
def test_a_file_that_gives_no_example_names_what_it_held(tmp_path, task, name, text, found):
    path = write(tmp_path / name, text)
    expected = rf"^{re.escape(str(path))} gives no .* for task {task}: found {re.escape(found)}; expected at least"
    with pytest.raises(DataFormatError, match=expected):
        read_task_split(get_task(task), path)


def test_entities_or_labels_all_dropped_or_absent_are_refused(tmp_path):
    # a combined BC5CDR CoNLL file read for the chemical task holds no chemical
    path = write(tmp_path / "train.tsv", "Gout\tB-Disease\nflares\tO\n")
    with pytest.raises(DataFormatError, match=r"gives 1 sentence\(s\), none with an entity of task bc5cdr-chemical: "
                                              r"found 1 'Disease' mention\(s\) dropped"):
        read_task_split(get_task("bc5cdr-chemical"), path)
    root = tmp_path / "hoc"
    (root / "text").mkdir(parents=True)
    (root / "labels").mkdir()
    write(root / "text" / "9000004.txt", "A sentence .\n")  # hoc_split_of("9000004") == "dev"
    write(root / "labels" / "9000004.txt", "< ")
    with pytest.raises(DataFormatError, match=r"hoc \(split dev\) gives 1 document\(s\), none with a label of task "
                                              r"hoc: found 1 document\(s\) in .*, 1 of them in split 'dev'"):
        read_task_split(get_task("hoc"), root, "dev")


def test_every_command_refuses_it_before_starting_naming_the_setting(tmp_path, capsys):
    path = write(tmp_path / "NCBItrainset_corpus.txt", NCBI_PUBTATOR)
    with pytest.raises(DataFormatError, match=r"^prompts\.fewshot_path: .*NCBItrainset_corpus\.txt gives no relation"):
        check_real_files(get_task("cdr"), {"prompts.fewshot_path": (path, "train")})
    err = one_line_error(capsys, ["data", "check", "--task", "cdr", str(path)])
    assert "NCBItrainset_corpus.txt gives no relation instance for task cdr" in err
    err = one_line_error(capsys, ["prompts", "preview", "--task", "cdr", "--n", "1", "--set",
                                  f"prompts.fewshot_path={path}"])
    assert err.startswith(f"clingen: error: prompts.fewshot_path: {path} gives no relation instance")
    assert capsys.readouterr().out == ""  # no prompt printed with "demonstrations: (none)"


def test_prompts_preview_prefixes_any_fewshot_file_error_with_the_setting(tmp_path, capsys):
    path = write(tmp_path / "healthver.csv", "evidence,claim,label\nSome evidence.,A claim.,Maybe\n")
    err = one_line_error(capsys, ["prompts", "preview", "--task", "healthver", "--n", "1", "--set",
                                  f"prompts.fewshot_path={path}"])
    assert err.startswith(f"clingen: error: prompts.fewshot_path: {path}:2: label 'Maybe' is not a label")


# ---- 2. CASI attribute strings -------------------------------------------------------------------------------

def test_casi_strings_are_placed_as_whole_words_and_metadata_keys_are_ignored(tmp_path):
    path = write(tmp_path / "casi.jsonl",
                 '{"note_id": 12, "section": "Plan", "text": "Take potassium chloride 20 mEq po daily.", '
                 '"Route": ["po"], "Medication": ["potassium chloride"], "Dosage": "20 mEq"}\n'
                 '{"text": "Give 2 tabs po q.d. for pain.", "section": "Meds", "Frequency": ["q.d."], '
                 '"reason": "pain", "Dosage": "2"}\n')
    data = read_task_data(get_task("casi"), path)
    first, second = data.records
    assert [(s.type, s.text, s.start) for s in first.spans] == [("Medication", "potassium chloride", 5),
                                                                 ("Dosage", "20 mEq", 24), ("Route", "po", 31)]
    assert first.tags == ["O", "B-Medication", "I-Medication", "B-Dosage", "I-Dosage", "B-Route", "O", "O"]
    # "2" is a whole word at "2 tabs" only; "q.d." ends in a period, so the period after it does not glue
    assert [(s.type, s.text, s.start) for s in second.spans] == [("Dosage", "2", 5), ("Frequency", "q.d.", 15),
                                                                  ("Reason", "pain", 24)]
    assert data.problems == ["ignored keys: ['note_id', 'section'] (not attribute types of the task)"]


def test_casi_string_found_only_inside_words_is_dropped_and_counted(tmp_path):
    path = write(tmp_path / "casi.jsonl", '{"text": "Potassium chloride daily.", "Route": "po", '
                                          '"Medication": "Potassium chloride"}\n')
    data = read_task_data(get_task("casi"), path)
    assert [s.text for s in data.records[0].spans] == ["Potassium chloride"]
    assert data.problems == ["1 attribute string(s) do not occur in their text as whole words and were dropped"]


# ---- 3. tokens split at annotation boundaries -----------------------------------------------------------------

def test_split_at_cuts_tokens_at_offsets_inside_them():
    assert split_at(tokenize("APC2 and APC"), [0, 3, 9]) == [("APC", 0, 3), ("2", 3, 4), ("and", 5, 8),
                                                              ("APC", 9, 12)]


def test_a_pubtator_mention_ending_inside_a_token_tags_exactly_its_characters(tmp_path):
    text = "Mutations in APC2 were absent."
    path = write(tmp_path / "corpus.txt", f"6001|t|{text}\n6001\t13\t16\tAPC\tSpecificDisease\tD011125\n\n")
    record = read_task_split(get_task("ncbi-disease"), path)[0]
    assert list(zip(record.tokens, record.tags))[2:5] == [("APC", "B-Disease"), ("2", "O"), ("were", "O")]
    assert record.spans == [Span(13, 16, "Disease", "APC")]
    assert bio_to_spans(record.tokens, record.tags, record.text) == record.spans  # tags and spans agree


# ---- 4. clingen data check usage -----------------------------------------------------------------------------

def test_data_check_requires_the_task(tmp_path, capsys):
    path = write(tmp_path / "train.tsv", "Gout\tB-Disease\n")
    with pytest.raises(SystemExit) as exit_:
        main(["data", "check", str(path)])
    assert exit_.value.code == 2 and "--task" in capsys.readouterr().err


def test_data_check_refuses_split_for_a_file_that_is_not_hoc(tmp_path, capsys, fixtures_dir):
    path = write(tmp_path / "train.tsv", "Gout\tB-Disease\n")
    err = one_line_error(capsys, ["data", "check", "--task", "ncbi-disease", "--split", "dev", str(path)])
    assert f"--split dev: {path} is in the conll format, which holds one split per file" in err
    assert main(["data", "check", "--task", "hoc", "--split", "test", str(fixtures_dir / "eval" / "hoc")]) == 0


def test_an_empty_file_says_so(tmp_path, capsys):
    path = write(tmp_path / "train.tsv", "\n  \n")
    err = one_line_error(capsys, ["data", "check", "--task", "ncbi-disease", str(path)])
    assert err == (f"clingen: error: {path}: the file is empty; expected a real data split for task ncbi-disease "
                   f"(ner) in one of the formats conll, pubtator, clingen-jsonl, clingen-parquet")


# ---- 5. ChemProt, DrugProt, CDR and the sentence splitter ------------------------------------------------------

CHEMPROT_ABSTRACTS = "7001\tAspirin and COX-1.\tAspirin inhibits COX-1. Caffeine binds ADORA2A.\n"
CHEMPROT_ENTITIES = ("7001\tT1\tCHEMICAL\t19\t26\tAspirin\n7001\tT2\tGENE-Y\t36\t41\tCOX-1\n"
                     "7001\tT3\tCHEMICAL\t43\t51\tCaffeine\n7001\tT4\tGENE-Y\t58\t65\tADORA2A\n")


def test_a_chemprot_gold_standard_file_reads_with_its_sibling_texts(tmp_path):
    write(tmp_path / "chemprot_test_abstracts_gs.tsv", CHEMPROT_ABSTRACTS)
    write(tmp_path / "chemprot_test_entities_gs.tsv", CHEMPROT_ENTITIES)
    gold = write(tmp_path / "chemprot_test_gold_standard.tsv", "7001\tCPR:4\tArg1:T1\tArg2:T2\n")
    assert detect_format(gold) == "chemprot-biocreative"
    records = read_task_split(get_task("chemprot"), gold)
    assert [(r.text, r.label) for r in records] == [("@CHEMICAL$ inhibits @GENE$.", "Downregulator"),
                                                    ("@CHEMICAL$ binds @GENE$.", "NOT")]


def test_a_chemprot_gold_standard_without_its_siblings_names_the_files_needed(tmp_path):
    gold = write(tmp_path / "chemprot_test_gold_standard.tsv", "7001\tCPR:4\tArg1:T1\tArg2:T2\n")
    with pytest.raises(DataFormatError, match=r"chemprot_test_gold_standard\.tsv is a ChemProt gold standard \("
                                              r"relations only\), and .* holds none of the files .*; expected "
                                              r"exactly one of each of \['chemprot_test_abstracts\*\.tsv', "
                                              r"'chemprot_test_entities\*\.tsv'\]"):
        detect_format(gold)


def test_drugprot_files_are_refused_as_another_dataset(tmp_path):
    folder = tmp_path / "training"
    folder.mkdir()
    relations = write(folder / "drugprot_training_relations.tsv", "7001\tINHIBITOR\tArg1:T1\tArg2:T2\n")
    write(folder / "drugprot_training_abstracs.tsv", CHEMPROT_ABSTRACTS)
    for path in (relations, folder):
        with pytest.raises(DataFormatError, match=r"is a DrugProt \(BioCreative VII\) split: DrugProt annotates its "
                                                  r"own relation types"):
            read_task_split(get_task("chemprot"), path)


def test_cdr_composite_mentions_give_one_instance_and_missing_ids_are_counted(tmp_path):
    text = "Cisplatin caused renal and hepatic failure. Drug X was given."
    path = write(tmp_path / "cdr.PubTator.txt", f"8001|t|{text}\n"
                 "8001\t0\t9\tCisplatin\tChemical\tD002945\n"
                 "8001\t17\t42\trenal and hepatic failure\tDisease\tD051437|D017093\n"
                 "8001\t44\t50\tDrug X\tChemical\t-1\n"
                 "8001\tCID\tD002945\tD051437\n\n")
    data = read_task_data(get_task("cdr"), path)
    assert [(r.id, r.text, r.label) for r in data.records] == [
        ("8001-0-D002945-D017093|D051437", "@CHEMICAL$ caused @DISEASE$.", "induce")]
    assert data.problems == [
        "1 concept pair(s) of composite mentions (several ids on one mention) mask the same two mentions as another "
        "pair: merged into its instance, CID if any of them is",
        "1 Chemical/Disease mention(s) have no concept id (-1) and take part in no instance"]


@pytest.mark.parametrize("text, sentences", [
    ("Patients lacked vitamin A. Supplements helped.", ["Patients lacked vitamin A.", "Supplements helped."]),
    ("Cases of hepatitis B. We studied them.", ["Cases of hepatitis B.", "We studied them."]),
    ("Activated protein kinase C. PKC was high.", ["Activated protein kinase C.", "PKC was high."]),
    ("J. R. Smith reported it. Then more.", ["J. R. Smith reported it.", "Then more."]),
    ("Seen by Dr. J. Smith in 1990.", ["Seen by Dr. J. Smith in 1990."]),
    ("Work of (A. Smith) was cited.", ["Work of (A. Smith) was cited."]),
    ("See p. 5 and Fig. 2 for details.", ["See p. 5 and Fig. 2 for details."]),
])
def test_a_single_capital_after_a_word_ends_a_sentence_but_an_initial_does_not(text, sentences):
    assert [text[start:end] for start, end in sentence_spans(text)] == sentences


# ---- 7. module headers ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("module", [
    "clingen.datasets.readers", "clingen.datasets.readers.chemprot", "clingen.datasets.readers.conll",
    "clingen.datasets.readers.corpora", "clingen.datasets.readers.detect", "clingen.datasets.readers.fewshot",
    "clingen.datasets.readers.labels", "clingen.datasets.readers.pubtator", "clingen.datasets.readers.sentences",
    "clingen.datasets.readers.tables", "clingen.datasets.readers.text", "clingen.datasets.summary",
    "clingen.cli.data", "clingen.training.alignment", "clingen.datasets.readers.markers", "clingen.parsing.evidence",
])
def test_a_module_opens_with_one_line_saying_where_it_sits(module):
    first_paragraph = importlib.import_module(module).__doc__.split("\n\n")[0]
    assert "\n" not in first_paragraph and " stage" in first_paragraph and len(first_paragraph) <= 117, module
