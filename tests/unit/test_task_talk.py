"""Text about the task (issues #34 and #36): a text that talks as a chat assistant, names its own label as the task
writes it, or wraps itself as a list item or an answer is a counted row failure, in every family, and `clingen
audit` counts kept texts by the same rules. None of the real training texts under ../shared is rejected by them."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clingen.parsing import fidelity
from clingen.parsing.parsers import ParseOptions, parse_reply
from clingen.quality.audit import audit_texts, format_audit
from clingen.tasks.registry import builtin_tasks, get_task
from clingen.tasks.spec import TaskSpec

pytestmark = pytest.mark.unit
OPTIONS = ParseOptions(min_words=3, max_words=80, model="m")


def user_task(*labels: str, family: str = "classification") -> TaskSpec:
    return TaskSpec(name="user-task", family=family, domain="clinical notes", styles=["note"], labels=[
        {"name": name, "description": f"the note {'reports' if i else 'does not report'} it", "topics":
            {"kind": "none"}} for i, name in enumerate(labels)])


ADE = user_task("no_ADE", "ADE")


def classify(spec: TaskSpec, text: str, label: str | None = None):
    row = {"row_id": 1, "task": spec.name, "strategy": "zero-shot", "label": label or spec.labels[0].name,
           "style": "note", "demo_ids": []}
    return parse_reply(spec, row, f"Text: {text}", OPTIONS)


def reasons(result) -> list[str]:
    return [failure.reason for failure in result.failures]


# ----- the issue's cases --------------------------------------------------------------------------------------
@pytest.mark.parametrize("text, reason, found", [
    ("I'm ready to help. What is your task?", "assistant_text", "ready to help"),
    ("Here is a short clinical note for no_ADE: the patient tolerated amoxicillin well.", "assistant_text",
     "Here is a short clinical note"),
    ("Here's an example text: The rash appeared two days after the first dose.", "assistant_text",
     "Here's an example"),
    ("Sure! The patient developed hives after the first dose of penicillin.", "assistant_text", "Sure!"),
    ("As an AI, I can describe a patient who tolerated amoxicillin.", "assistant_text", "as an ai"),
    ("The patient finished a full course of amoxicillin without complaint, for no_ADE.", "label_in_text", "no_ADE"),
    ("A generalized rash appeared two days after the first dose of amoxicillin (ADE).", "label_in_text", "(ADE)"),
    ('The note, labelled as "ADE", reports hives after penicillin.', "label_in_text", 'labelled as "ADE'),
])
def test_the_issues_user_classification_texts_are_rejected(text, reason, found):
    result = classify(ADE, text, "ADE")
    assert result.example is None and reasons(result) == [reason]
    assert f"({found!r})" in result.failures[0].detail


@pytest.mark.parametrize("text", [
    "An adverse drug event (ADE) was suspected when the rash appeared after amoxicillin.",  # defines the acronym
    "No ADE was recorded during the three-day stay on the ward.",
    "Here we report hives in a child two days after the first dose of penicillin.",
    "Certainly, further monitoring of renal function is needed in older patients.",
])
def test_real_clinical_wording_of_the_same_task_is_kept(text):
    result = classify(ADE, text)
    assert result.failures == [] and result.example.text == text


@pytest.mark.parametrize("sentence", [
    "Sentence 1: ['Pentoxyl', 'caffeine', 'DNA']",
    "The sentence is: 'Pentoxyl is a chemical named after its five oxygen atoms.'",
])
def test_the_issues_chemical_ner_wrappers_are_meta_text(sentence):
    spec = get_task("bc5cdr-chemical")
    row = {"row_id": 2, "task": spec.name, "strategy": "few-shot", "label": spec.labels[0].name, "topic": None,
           "style": None, "demo_ids": []}
    result = parse_reply(spec, row, json.dumps({"sentence": sentence, "entities": ["Pentoxyl"]}), OPTIONS)
    assert result.example is None and reasons(result)[-1] == "meta_text"


def test_a_label_that_is_an_ordinary_word_counts_only_as_a_label():
    cancer = user_task("benign", "cancer")
    assert classify(cancer, "The biopsy confirmed cancer in the left breast of the patient.").failures == []
    for text in ("Label: cancer. The biopsy confirmed a tumour in the left breast.",
                 "The biopsy of the left breast, labelled as cancer, was reviewed.",
                 "The biopsy confirmed a tumour in the left breast (cancer)."):
        assert reasons(classify(cancer, text)) == ["label_in_text"], text
    chemprot = get_task("chemprot")  # a label NOT: the word in capitals is prose, in parentheses it is the label
    assert fidelity.label_named(chemprot, "Aspirin did NOT inhibit COX-2 in these cells.") is None
    assert fidelity.label_named(chemprot, "Aspirin binds the receptor of COX-2 (NOT).") == "(NOT)"


# ----- audit: one source of truth -------------------------------------------------------------------------------
ISSUE_TEXTS = ["I'm ready to help. What is your task?",
               "Here is a short clinical note for no_ADE: the patient tolerated amoxicillin well.",
               "The patient finished a full course of amoxicillin without complaint, for no_ADE.",
               "A generalized rash appeared two days after the first dose of amoxicillin (ADE).",
               "Sentence 1: ['amoxicillin', 'rash', 'hives'] were noted in the chart.",
               "The [Drug_Name] caused a rash on the second day of treatment.",
               "An adverse drug event (ADE) was suspected when the rash appeared after amoxicillin.",
               "The patient tolerated amoxicillin without any rash or itching."]


def test_audit_counts_the_kept_texts_the_parsers_reject():
    examples = [{"id": f"u-{i}", "text": text, "labels": ["ADE"], "style": "note"} for i, text in enumerate(ISSUE_TEXTS)]
    result = audit_texts(ADE, examples)
    rejected = Counter(reason for text in ISSUE_TEXTS for reason in reasons(classify(ADE, text)))
    assert result["texts_by_reason"] == dict(rejected) == {"assistant_text": 2, "label_in_text": 2, "meta_text": 1,
                                                           "placeholder_text": 1}
    assert (result["meta_texts"], result["placeholder_texts"]) == (5, 1)
    lines = format_audit({"task": "user-task", "family": "classification", "strategy": "zero-shot", "examples": 8,
                          "rows_done": 8, **result})
    assert "texts about the task: 5" in lines and "assistant_text 2, label_in_text 2" in lines
    pair = [{"id": "p", "text_a": "Can asthma be cured in adults?", "text_b": "Sure! Is asthma curable at all?"}]
    assert audit_texts(get_task("mediqa-rqe"), pair)["texts_by_reason"] == {"assistant_text": 1}


# ----- properties ---------------------------------------------------------------------------------------------
PROSE = ["the", "patient", "developed", "a", "rash", "after", "amoxicillin", "and", "was", "treated", "with",
         "antihistamines", "für", "zwei", "Tage", "no", "ade", "cancer", "benign", "label", "here", "sure", "sentence",
         "éruption", "cutanée", "in", "older", "adults", "患者", "tolerated", "dose"]
prose = st.lists(st.sampled_from(PROSE), min_size=6, max_size=20).map(" ".join)
OPENERS = ["Here is a clinical note:", "Here's an example sentence:", "Sure!", "Certainly! Here is",
           "Of course, here is the text:", "I'm ready to help.", "As an AI language model,",
           "Below is a short summary:", "Here you go:"]
WRAPPERS = ["Sentence 1:", "Sentence #3:", "The sentence is: '", "Output:", "Example 2:", "Label:"]
PARSED = {"classification": (get_task("hoc"), "cellular energetics"), "relation": (get_task("gad"), "Has_relation"),
          "pair": (get_task("mediqa-rqe"), "Entail"), "ner": (get_task("ncbi-disease"), "Disease")}


def reply_of(family: str, text: str) -> tuple[TaskSpec, dict, str]:
    spec, label = PARSED[family]
    row = {"row_id": 4, "task": spec.name, "strategy": "few-shot", "label": label, "topic": None, "style": None,
           "demo_ids": [], "head": None, "tail": None, "sentence_a": None}
    if family == "classification":
        return spec, row, f"Text: {text}"
    if family == "relation":
        return spec, row, json.dumps({"sentence": f"{text} @GENE$ in @DISEASE$."})
    if family == "ner":
        return spec, row, json.dumps({"sentence": f"{text} gout.", "entities": ["gout"]})
    return spec, row, json.dumps({"sentence": text})


@given(st.sampled_from(sorted(PARSED)), st.sampled_from(OPENERS), prose)
def test_an_assistant_opener_rejects_the_text_in_every_family(family, opener, text):
    spec, row, reply = reply_of(family, f"{opener} {text}")
    assert reasons(parse_reply(spec, row, reply, OPTIONS)) == ["assistant_text"]


@given(st.sampled_from(sorted(PARSED)), st.sampled_from(WRAPPERS), prose)
def test_a_wrapped_text_is_meta_text_in_every_family(family, wrapper, text):
    spec, row, reply = reply_of(family, f"{wrapper} {text}")
    assert reasons(parse_reply(spec, row, reply, OPTIONS))[-1] in ("meta_text", "label_in_text")


@given(prose, prose, st.sampled_from(["no_ADE", "NO_ADE", "No_Ade"]), st.sampled_from(["", "(", "'", " for "]))
def test_an_identifier_label_anywhere_is_named_and_plain_prose_is_not(before, after, written, around):
    assert fidelity.label_named(ADE, f"{before} {after}") is None  # 'no', 'ade', 'label' as words are prose
    closing = {"(": ")", "'": "'"}.get(around, "")
    text = f"{before}{around or ' '}{written}{closing} {after}"
    assert written in fidelity.label_named(ADE, text)
    assert reasons(classify(ADE, text)) == ["label_in_text"]


@given(st.lists(st.one_of(st.sampled_from(ISSUE_TEXTS), prose), min_size=1, max_size=8))
def test_audit_and_parsers_agree_on_any_texts(texts):
    examples = [{"id": str(i), "text": text, "labels": ["ADE"], "style": "note"} for i, text in enumerate(texts)]
    content = set(fidelity.TASK_TALK_REASONS) | {"placeholder_text", "repetitive_text", "table_text"}
    rejected = Counter(r for text in texts for r in reasons(classify(ADE, text)) if r in content)
    assert audit_texts(ADE, examples)["texts_by_reason"] == dict(rejected)


# ----- the real data ------------------------------------------------------------------------------------------
REAL_TRAIN = [("ncbi-disease", "ncbi-disease/train.tsv", "all"), ("bc5cdr-disease", "bc5cdr-disease/train.tsv", "all"),
              ("gad", "gad/train.tsv", "all"), ("hoc", "hoc", "train"),
              ("mediqa-rqe", "mediqa-rqe/RQE_Train_8588_AMIA2016.xml", "all")]


def real_texts(root: Path, task: str, relative: str, split: str) -> list[str]:
    from clingen.datasets.readers import read_task_split
    rows = [record.to_row() for record in read_task_split(get_task(task), root / relative, split)]
    return [text for row in rows for text in ((row["text_a"], row["text_b"]) if "text_a" in row else (row["text"],))]


def talk_in(texts: list[str]) -> list[tuple[str, str]]:
    """(text, what) for each text an assistant-talk, wrapper or label rule (any built-in task's labels) flags."""
    flagged = [(text, found) for text in texts for found in (fidelity.assistant_phrase(text),
                                                             fidelity.wrapper_phrase(text)) if found]
    return flagged + [(text, spec.name) for spec in builtin_tasks().values() for text in texts
                      if fidelity.label_named(spec, text)]


@pytest.mark.parametrize("task, file, count", [("gad", "gad.test.tsv", 534), ("mediqa-rqe", "mediqa-rqe.test.xml", 604),
                                               ("ncbi-disease", "ncbi-disease.test.tsv", 940)])
def test_no_shipped_real_test_text_is_taken_for_talk_about_the_task(task, file, count):
    """The real test splits shipped with the package (so this runs in CI too)."""
    import clingen.tasks
    texts = real_texts(Path(clingen.tasks.__file__).parent / "testsets", task, file, "all")
    assert len(texts) == count and talk_in(texts) == []


@pytest.mark.parametrize("task, relative, split", REAL_TRAIN)
def test_no_real_training_text_is_taken_for_talk_about_the_task(shared_dir, task, relative, split):
    """Measured: 5,424 NCBI-disease, 4,560 BC5CDR-disease, 4,796 GAD, 1,294 HoC (train) and 17,176 MEDIQA-RQE
    texts; none talks as an assistant, names a label of any built-in task, or is wrapped. (MEDIQA-RQE's real
    questions open "Here's a question:", "OK, here's one." and hold "How can I help my child", which is why
    those are not rules.)"""
    texts = real_texts(shared_dir / "data" / "eval", task, relative, split)
    assert len(texts) > 1000 and talk_in(texts) == []


@pytest.mark.parametrize("text, flagged", [
    ("Snake Bites Disease. Snakes Bites Diseases. Snakes Bites Diseases.", True),   # README runs, 2026-12-07
    ("Disease. Small Cell Neuroendocrine Carcinoma. Small Cell Neuroendocrine Carcinoma.", True),
    ("1. disease. medical. chronic granulomatous disease.", True),
    ("Asthma is common in children. Asthma is common in children.", True),
    ("Familial Mediterranean fever. A study of 30 patients with recurrent attacks.", False),
    ("Punica granatum L. var. spinosa extract suppressed PC3 cell growth in vitro.", False),
])
def test_short_texts_made_of_fragments_or_a_repeated_sentence_are_lists_not_prose(text, flagged):
    assert (fidelity.repetition(text) is not None) is flagged


@pytest.mark.parametrize("task, relative, split", [
    ("ncbi-disease", "ncbi-disease/train.tsv", "all"), ("bc5cdr-disease", "bc5cdr-disease/train.tsv", "all"),
    ("gad", "gad/train.tsv", "all"), ("mediqa-rqe", "mediqa-rqe/RQE_Train_8588_AMIA2016.xml", "all"),
    ("hoc", "hoc", "train")])
def test_no_real_training_text_is_a_list_of_fragments(shared_dir, task, relative, split):
    """Measured 2026-12-07: 0 of 33,250 training texts (MEDIQA-RQE's short questions are why texts with '?' are
    prose); the rule flags 2 of MEDIQA-RQE's 604 test texts ('How to Stop Snoring. How to Stop Snoring')."""
    texts = real_texts(shared_dir / "data" / "eval", task, relative, split)
    flagged = [text for text in texts if (why := fidelity.repetition(text)) and ("twice" in why or "at most" in why)]
    assert len(texts) > 1000 and flagged == []


@pytest.mark.parametrize("text", [
    "Example of disease sentences that include the disease name 'gingival disease' in the text.",
    "The sentence you requested is indeed a medical textbook passage. Here is the complete list of diseases that "
    "are included: 1. hereditary spastic paraplegia; 2. hereditary spastic paraplegia.",
])
def test_the_readme_runs_texts_about_the_task_are_meta_text(text):
    assert fidelity.meta_phrase(get_task("ncbi-disease"), text) is not None


@pytest.mark.parametrize("text", ["Disease Name: Silo filler's disease",
                                  "The sentence is about the disease Chronic Hepatitis.",
                                  "The word 'tularemia' has been replaced with the original sentence.",
                                  "Disease of the category: Toxoplasmosis",
                                  "The disease class is Caliciviridae.",
                                  "The disease is named Peroxisomal Disease.",
                                  "Ankle Fractures. An example of a disease in medical text.",
                                  "The clinical disease of Blue Color blindness is named",
                                  "Parasitic Skin Diseases is a parasitic disease. The name of this disease is"])
def test_fields_and_edits_of_the_prompt_are_meta_text(text):
    assert fidelity.meta_phrase(get_task("ncbi-disease"), text) is not None
