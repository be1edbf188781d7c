"""Tests of what the readers make of the cases of ClinGen issue #34: nested mentions of two types in PubTator NER,
mentions after a document's first sentence, CDR instances per sentence, public relation copies that mark their
entities inline, and files that fit none of the formats their task reads."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clingen.datasets.readers import detect_format, read_task_data, read_task_split
from clingen.datasets.records import Span, bio_to_spans
from clingen.errors import DataFormatError
from clingen.tasks.registry import get_task

pytestmark = pytest.mark.unit

# The document: "Nicotine" (Chemical) inside "Nicotine dependence" (Disease) in the title, and
# "opioid" (Chemical) inside "opioid toxicity" (Disease) in the abstract's second sentence.
NICOTINE = """1|t|Nicotine dependence in smokers.
1|a|Patients stopped. Naloxone reversed opioid toxicity quickly.
1\t0\t8\tNicotine\tChemical\tD009538
1\t0\t19\tNicotine dependence\tDisease\tD014029
1\t68\t74\topioid\tChemical\tD000701
1\t68\t83\topioid toxicity\tDisease\tD064420
1\t50\t58\tNaloxone\tChemical\tD009270
"""


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def entities(record) -> list[tuple[str, str]]:
    return [(span.text, span.type) for span in record.spans]


# ---- PubTator NER --------------------------------------------------------------------------------------------

def test_a_chemical_nested_in_a_disease_is_kept_for_bc5cdr_chemical(tmp_path):
    data = read_task_data(get_task("bc5cdr-chemical"), write(tmp_path / "cdr.PubTator.txt", NICOTINE))
    assert [entities(r) for r in data.records] == [
        [("Nicotine", "Chemical")], [], [("Naloxone", "Chemical"), ("opioid", "Chemical")]]
    title = data.records[0]
    assert list(zip(title.tokens, title.tags))[:2] == [("Nicotine", "B-Chemical"), ("dependence", "O")]
    assert data.problems == ["2 'Disease' mention(s) dropped: label_map says 'Disease' is not a class of task "
                             "bc5cdr-chemical"]


def test_after_the_first_sentence_spans_and_tags_agree(tmp_path):
    for task in ("bc5cdr-chemical", "bc5cdr-disease"):
        records = read_task_split(get_task(task), write(tmp_path / "cdr.PubTator.txt", NICOTINE))
        assert all(bio_to_spans(r.tokens, r.tags, r.text) == r.spans for r in records), task
    third = read_task_split(get_task("bc5cdr-chemical"), tmp_path / "cdr.PubTator.txt")[2]
    assert [(t, tag) for t, tag in zip(third.tokens, third.tags) if tag != "O"] == [
        ("Naloxone", "B-Chemical"), ("opioid", "B-Chemical")]
    disease = read_task_split(get_task("bc5cdr-disease"), tmp_path / "cdr.PubTator.txt")
    assert [entities(r) for r in disease] == [[("Nicotine dependence", "Disease")], [],
                                              [("opioid toxicity", "Disease")]]


def test_overlapping_mentions_of_the_tasks_type_keep_the_outer_one_and_are_counted(tmp_path):
    text = "Familial breast cancer genes."
    path = write(tmp_path / "ncbi.txt", f"7|t|{text}\n7\t0\t22\tFamilial breast cancer\tSpecificDisease\tD1\n"
                 f"7\t9\t22\tbreast cancer\tModifier\tD2\n7\t16\t28\tcancer genes\tDiseaseClass\tD3\n\n")
    data = read_task_data(get_task("ncbi-disease"), path)
    assert data.records[0].spans == [Span(0, 22, "Disease", "Familial breast cancer")]
    assert data.problems == ["2 'Disease' mention(s) nest in or overlap an earlier mention of the task's types and "
                             "are left out (BIO cannot nest: the outer, earlier one stays)"]


def test_a_mention_with_white_space_at_an_edge_is_refused_with_its_line(tmp_path):
    path = write(tmp_path / "cdr.txt", "5|t|Aspirin helps.\n5\t0\t8\tAspirin \tChemical\tD1\n\n")
    with pytest.raises(DataFormatError, match=r"cdr\.txt:2: mention 'Aspirin ' at 0-8 is empty or starts or ends "
                                              r"with white space"):
        read_task_split(get_task("bc5cdr-chemical"), path)


def test_a_mention_running_from_the_title_into_the_abstract_is_counted(tmp_path):
    path = write(tmp_path / "cdr.txt", "5|t|Lithium and renal\n5|a|failure followed. Aspirin too.\n"
                 "5\t12\t25\trenal failure\tDisease\tD1\n5\t36\t43\tAspirin\tChemical\tD2\n\n")
    data = read_task_data(get_task("bc5cdr-chemical"), path)
    assert [entities(r) for r in data.records] == [[], [], [("Aspirin", "Chemical")]]
    assert "1 mention(s) run from the title into the abstract (the title is a sentence of its own) and are left " \
           "out" in data.problems


# ---- CDR: one instance per sentence and concept pair -----------------------------------------------------------

def test_a_cid_pair_sharing_two_sentences_gives_two_instances(tmp_path):
    """The README's rule: instances are sentence-level, so 1 CID pair in 2 sentences gives 2 induce instances."""
    text = "Lithium caused tremor. The tremor stopped after lithium ended."
    path = write(tmp_path / "cdr.txt", f"9|t|Case.\n9|a|{text}\n9\t6\t13\tLithium\tChemical\tC1\n"
                 f"9\t21\t27\ttremor\tDisease\tD1\n9\t33\t39\ttremor\tDisease\tD1\n9\t54\t61\tlithium\tChemical\tC1\n"
                 f"9\tCID\tC1\tD1\n\n")
    records = read_task_split(get_task("cdr"), path)
    assert [(r.id, r.text, r.label) for r in records] == [
        ("9-1-C1-D1", "@CHEMICAL$ caused @DISEASE$.", "induce"),
        ("9-2-C1-D1", "The @DISEASE$ stopped after @CHEMICAL$ ended.", "induce")]


# ---- formats the task reads ------------------------------------------------------------------------------------

@pytest.mark.parametrize("task, name, content, closest, reason", [
    ("gad", "gad.jsonl", '{"sentence": "BRCA1 is associated with breast cancer.", "label": "1"}\n', "relation-jsonl",
     r"neither masks two entities"),
    ("chemprot", "chemprot.jsonl", '{"text": "Aspirin inhibits COX-1.", "relation": "CPR:4"}\n', "relation-jsonl",
     r"lacks \['label'\]"),
    ("cdr", "cdr.tsv", "id\tsentence\tlabel\tsource\n", "relation-tsv", r"has 4 tab-separated field\(s\)"),
    ("litcovid", "litcovid.jsonl", '{"text": "Masks and spread.", "label": "Prevention"}\n', "clingen-jsonl",
     r"lacks \['id'\]"),
    ("casi", "casi.jsonl", '{"text": "metoprolol 25 mg", "label": "Medication"}\n', "casi-jsonl",
     r"has the key\(s\) \['label'\]: a CASI line holds attribute strings, not a label"),
    ("mednli", "nli.jsonl", '{"sentence1": "He has a fever.", "sentence2": "He is ill.", "label": "entailment"}\n',
     "nli-jsonl", r"lacks \['gold_label'\]"),
])
def test_a_layout_no_reader_knows_is_refused_with_the_tasks_formats_and_the_closest(tmp_path, task, name, content,
                                                                                   closest, reason):
    """The issue's case: such a file was reported as being in another task's format ("casi-jsonl")."""
    path = write(tmp_path / name, content)
    with pytest.raises(DataFormatError) as caught:
        read_task_split(get_task(task), path)
    message = str(caught.value)
    assert message.startswith(f"{path}: none of the formats task {task} ({get_task(task).family}) reads fits")
    assert f"closest: {closest} (" in message and "casi-jsonl" not in message.split("closest")[0]
    assert __import__("re").search(reason, message), message
    reads = message.rsplit(" reads: ", 1)[1].split(", ")
    from clingen.datasets.readers.detect import formats_of
    assert reads == formats_of(get_task(task).family)


def test_a_file_of_another_tasks_format_is_still_named_as_such(tmp_path):
    path = write(tmp_path / "casi.jsonl", '{"text": "metoprolol 25 mg", "Dosage": ["25 mg"]}\n')
    with pytest.raises(DataFormatError, match=r"is in the casi-jsonl format .* holds attribute data; a relation task "
                                              r"reads \["):
        read_task_split(get_task("gad"), path)


# ---- inline entity markers -------------------------------------------------------------------------------------

def test_markers_that_name_roles_read_as_the_tasks_masks(tmp_path):
    tsv = write(tmp_path / "chemprot.tsv", "<< Aspirin >> inhibits [[ COX-1 ]] in platelets.\tCPR:4\n"
                "[[ ADORA2A ]] is blocked by << caffeine >>.\tCPR:6\n")
    jsonl = write(tmp_path / "chemprot.jsonl", "".join(json.dumps(row) + "\n" for row in [
        {"text": "<e1>Aspirin</e1> inhibits <e2>COX-1</e2> in platelets.", "label": "INHIBITOR", "metadata": []},
        {"text": "<e2>ADORA2A</e2> is blocked by <e1>caffeine</e1>.", "label": "ANTAGONIST", "metadata": []}]))
    expected = [("@CHEMICAL$ inhibits @GENE$ in platelets.", "Downregulator"),
                ("@GENE$ is blocked by @CHEMICAL$.", "Antagonist")]
    for path in (tsv, jsonl):
        data = read_task_data(get_task("chemprot"), path)
        assert [(r.text, r.label) for r in data.records] == expected
        assert data.problems[0].startswith("2 instance(s) mark their entities inline")
    assert detect_format(jsonl) == "relation-jsonl"


def test_markers_that_only_say_which_mention_comes_first_are_refused(tmp_path):
    """SciBERT's ChemProt copy: << >> marks the first mention, a protein in one instance, a chemical in the next."""
    path = write(tmp_path / "train.txt", "".join(json.dumps(row) + "\n" for row in [
        {"text": "Losartan blocked the << Ang II >>-induced rise; [[ valsartan ]] did too.",
         "label": "INDIRECT-DOWNREGULATOR", "metadata": []},
        {"text": "A dose of << irbesartan >> gives a longer [[ Ang II receptor ]] blockade.", "label": "INHIBITOR",
         "metadata": []}]))
    with pytest.raises(DataFormatError, match=r"train\.txt:1: in every instance of .* the entity marked << >> comes "
                                              r"before the one marked \[\[ \]\]: the markers say which mention comes "
                                              r"first in the sentence, not which is the task's head \(@CHEMICAL\$\)"):
        read_task_split(get_task("chemprot"), path)


def test_a_malformed_marker_row_is_refused_with_its_line(tmp_path):
    path = write(tmp_path / "cdr.tsv", "<< lithium >> caused [[ tremor ]].\t1\n[[ tremor ]] after << lithium.\t1\n")
    with pytest.raises(DataFormatError, match=r"cdr\.tsv:2: '\[\[ tremor \]\] after << lithium\.': << occurs 1 "
                                              r"time\(s\) and >> 0 time\(s\); expected one entity marked << >> and "
                                              r"another marked \[\[ \]\], each marker once"):
        read_task_split(get_task("cdr"), path)


SYMMETRIC_TASK = """
- name: ddi
  family: relation
  domain: drug interactions
  head_role: drug
  tail_role: drug
  head_mask: "@DRUG$"
  tail_mask: "@DRUG$"
  negative_label: "false"
  styles: [drug label]
  labels:
    - {name: "false", description: no interaction, topics: {kind: none}}
    - {name: DDI-effect, description: an effect of the interaction, topics: {kind: none}}
"""


@given(words=st.lists(st.text(alphabet="abcdefgαβγ中-", min_size=1, max_size=6), min_size=2, max_size=8),
       picks=st.tuples(st.integers(0, 7), st.integers(0, 7)), swap=st.booleans())
def test_a_task_with_one_mask_for_both_entities_reads_positional_markers(tmp_path_factory, words, picks, swap):
    """Whatever the order, equal masks need no roles: every marked pair reads as the sentence masked there."""
    positions = sorted({min(p, len(words) - 1) for p in picks})
    if len(positions) < 2:
        return
    first, second = positions
    tagged = list(words)
    opening, closing = (("[[ ", " ]]"), ("<< ", " >>")) if swap else (("<< ", " >>"), ("[[ ", " ]]"))
    tagged[first], tagged[second] = f"{opening[0]}{words[first]}{opening[1]}", f"{closing[0]}{words[second]}{closing[1]}"
    folder = tmp_path_factory.mktemp("ddi")
    task_file = write(folder / "tasks.yaml", SYMMETRIC_TASK)
    path = write(folder / "ddi.tsv", f"{' '.join(tagged)}\tfalse\n")
    records = read_task_split(get_task("ddi", task_file), path)
    expected = list(words)
    expected[first] = expected[second] = "@DRUG$"
    assert [r.text for r in records] == [" ".join(expected)]


# ---- the shared real data --------------------------------------------------------------------------------------

@pytest.mark.parametrize("task", ["bc5cdr-disease", "ncbi-disease"])
def test_the_real_conll_splits_give_spans_and_tags_that_agree(shared_dir, task):
    records = read_task_split(get_task(task), shared_dir / "data" / "eval" / task / "devel.tsv")
    assert len(records) > 900 and sum(len(r.spans) for r in records) > 700
    assert all(bio_to_spans(r.tokens, r.tags, r.text) == r.spans for r in records)
    assert Counter(s.type for r in records for s in r.spans).keys() == {"Disease"}
