import json

import numpy as np
import pytest

from clingen.config import load_config
from clingen.datasets.records import Span
from clingen.parsing.dedup import Deduplicator
from clingen.parsing import mentions
from clingen.parsing.gazetteer import Gazetteer
from clingen.parsing.parsers import ParseOptions, extract_json_object, parse_reply
from clingen.prompts.compose import PromptComposer
from clingen.tasks.registry import get_task
from tests.unit.helpers import tiny_graph

pytestmark = pytest.mark.unit
OPTIONS = ParseOptions(min_words=3, max_words=40, model="test-model")


def prompt_row(task: str, row: int = 1, strategy: str = "clingen-kg") -> dict:
    config = load_config(overrides=["seed=3", "prompts.n_demos=2", f"prompts.strategy={strategy}"])
    return PromptComposer.from_config(config, get_task(task), tiny_graph()).compose(np.arange(row + 1))[row].to_dict()


def reasons(result) -> list[str]:
    return [f.reason for f in result.failures]


def test_ner_reply_becomes_tokens_tags_and_spans():
    row = prompt_row("ncbi-disease")
    reply = 'Sure! {"sentence": "Germline BRCA1 mutations cause hereditary breast cancer and ovarian cancer.", ' \
            '"entities": ["breast cancer", "ovarian cancer"]} Hope this helps.'
    result = parse_reply(get_task("ncbi-disease"), row, reply, OPTIONS)
    example = result.example
    assert result.failures == []
    assert example.id == "ncbi-disease-00000001"
    assert example.text == "Germline BRCA1 mutations cause hereditary breast cancer and ovarian cancer."
    assert [(s.start, s.end, s.type, s.text) for s in example.spans] == [
        (42, 55, "Disease", "breast cancer"), (60, 74, "Disease", "ovarian cancer")]
    assert example.tokens == ["Germline", "BRCA1", "mutations", "cause", "hereditary", "breast", "cancer", "and",
                              "ovarian", "cancer", "."]
    assert example.tags == ["O", "O", "O", "O", "O", "B-Disease", "I-Disease", "O", "B-Disease", "I-Disease", "O"]
    assert (example.provenance.topic, example.provenance.style, example.provenance.model) == (
        "breast cancer", "journal article abstract", "test-model")
    assert example.provenance.demo_ids == ["train-324", "train-3817"]


def test_ner_keeps_found_entities_and_records_the_rest():
    reply = json.dumps({"sentence": "Asthma often begins in childhood.", "entities": ["asthma", "eczema"]})
    result = parse_reply(get_task("ncbi-disease"), prompt_row("ncbi-disease", strategy="few-shot"), reply, OPTIONS)
    assert [s.text for s in result.example.spans] == ["Asthma"]
    assert reasons(result) == ["entity_not_in_text"]
    assert result.failures[0].detail == "Disease 'eczema' does not occur in the sentence"
    assert result.failures[0].raw == reply


def test_ner_label_completion_from_the_graph_is_optional():
    reply = json.dumps({"sentence": "Patients with gout and bronchial asthma were enrolled.", "entities": ["gout"]})
    row, spec = prompt_row("ncbi-disease", strategy="few-shot"), get_task("ncbi-disease")
    model_only = parse_reply(spec, row, reply, OPTIONS).example
    assert [s.text for s in model_only.spans] == ["gout"]
    gazetteer = Gazetteer(tiny_graph().names_of_type("disease"), "Disease")
    completed = parse_reply(spec, row, reply, ParseOptions(3, 40, gazetteer=gazetteer)).example
    assert [s.text for s in completed.spans] == ["gout", "bronchial asthma"]


@pytest.mark.parametrize("reply, reason", [
    ("", "empty_reply"),
    ("I cannot help with that.", "no_json"),
    ('{"sentence": "Asthma is common', "no_json"),
    ('{"text": "Asthma is common."}', "missing_field"),
    ('{"sentence": 42, "entities": []}', "wrong_type"),
    ('{"sentence": "Asthma.", "entities": ["Asthma"]}', "too_short"),
    ('{"sentence": "Asthma is a common disease.", "entities": "asthma"}', "wrong_type"),
    ('{"sentence": "Asthma is a common disease."}', "missing_field"),
    ('{"sentence": "Asthma is a common disease.", "entities": ["gout"]}', "no_entities"),
])
def test_malformed_ner_replies_are_recorded_failures(reply, reason):
    result = parse_reply(get_task("ncbi-disease"), prompt_row("ncbi-disease", strategy="few-shot"), reply, OPTIONS)
    assert result.example is None
    assert reasons(result)[-1] == reason
    assert result.failures[-1].raw == reply and result.failures[-1].row_id == 1


def test_too_long_text():
    reply = json.dumps({"sentence": "asthma " * 41, "entities": ["asthma"]})
    result = parse_reply(get_task("ncbi-disease"), prompt_row("ncbi-disease", strategy="few-shot"), reply, OPTIONS)
    assert reasons(result) == ["too_long"] and result.failures[0].detail == "41 words, more than the maximum 40"


def test_relation_reply_must_name_both_entities():
    row, spec = prompt_row("gad"), get_task("gad")  # No_relation between BRCA1 and asthma
    good = parse_reply(spec, row, '{"sentence": "BRCA1 variants were not associated with asthma risk."}', OPTIONS)
    assert (good.example.text, good.example.label, good.example.head, good.example.tail) == (
        "BRCA1 variants were not associated with asthma risk.", "No_relation", "BRCA1", "asthma")
    assert (good.example.head_type, good.example.tail_type) == ("gene", "disease")
    masked = parse_reply(spec, row, '{"sentence": "The @GENE$ variant was not associated with asthma."}', OPTIONS)
    assert masked.example.text == "The @GENE$ variant was not associated with asthma."  # GAD's own convention
    bad = parse_reply(spec, row, '{"sentence": "The variant was not associated with asthma."}', OPTIONS)
    assert reasons(bad) == ["relation_entity_missing"]
    assert bad.failures[0].detail == "the gene ('BRCA1' or '@GENE$') is missing"
    swapped = parse_reply(spec, row, '{"sentence": "The gene asthma was not associated with BRCA1 levels."}', OPTIONS)
    assert reasons(swapped) == ["relation_roles_swapped"] and swapped.example is None
    assert swapped.failures[0].detail == "'gene asthma' calls the disease (asthma) a gene"


def test_classification_reply_is_cleaned_plain_text():
    row, spec = prompt_row("hoc"), get_task("hoc")
    reply = ' "IL13 signalling recruits macrophages that sustain tumour inflammation."\nLabel: resisting cell death\nText: more'
    result = parse_reply(spec, row, reply, OPTIONS)
    assert result.example.text == "IL13 signalling recruits macrophages that sustain tumour inflammation."
    assert result.example.labels == ["tumor promoting inflammation"]


def test_pair_reply_in_two_steps():
    row, spec = prompt_row("mediqa-rqe"), get_task("mediqa-rqe")
    first = parse_reply(spec, row, '{"sentence": "Can I take allopurinol with food?"}', OPTIONS)
    assert first.example is None and first.value == "Can I take allopurinol with food?"
    second_row = {**row, "sentence_a": first.value}
    second = parse_reply(spec, second_row, '{"sentence": "Should allopurinol be taken with meals?"}', OPTIONS)
    assert (second.example.text_a, second.example.text_b, second.example.label) == (
        "Can I take allopurinol with food?", "Should allopurinol be taken with meals?", "Entail")
    failed = parse_reply(spec, second_row, "no", OPTIONS)
    assert reasons(failed) == ["no_json"] and failed.failures[0].step == 2


def test_attribute_reply_types_must_be_known():
    row, spec = prompt_row("casi", strategy="few-shot"), get_task("casi")
    reply = json.dumps({"sentence": "Start allopurinol 100 mg orally daily for gout.", "attributes": [
        {"type": "Medication", "text": "allopurinol"}, {"type": "Dosage", "text": "100 mg"},
        {"type": "Route", "text": "orally"}, {"type": "Colour", "text": "white"}]})
    result = parse_reply(spec, row, reply, OPTIONS)
    assert [(s.type, s.text) for s in result.example.spans] == [
        ("Medication", "allopurinol"), ("Dosage", "100 mg"), ("Route", "orally")]
    assert reasons(result) == ["attribute_type_unknown"]


def test_label_outside_the_label_set_is_rejected():
    row = {**prompt_row("gad"), "label": "Maybe"}
    result = parse_reply(get_task("gad"), row, '{"sentence": "BRCA1 and asthma."}', OPTIONS)
    assert reasons(result) == ["unknown_label"]
    assert result.failures[0].detail == "label 'Maybe' is not one of ['Has_relation', 'No_relation']"


def test_json_extraction_tolerates_fences_and_prose():
    assert extract_json_object('```json\n{"a": {"b": 1}}\n```') == {"a": {"b": 1}}
    assert extract_json_object('x {bad} y {"ok": true}') == {"ok": True}


def test_gazetteer_never_completes_a_label_word_or_a_heading():
    # The Disease Ontology's root is named 'disease', and some graph names are headings with ': ' in them.
    names = ["disease", "Syndrome", "Cataract: [hypermature] or [Morgagni]", "bronchial asthma"]
    gazetteer = Gazetteer(names, "Disease", generic=mentions.label_words(get_task("ncbi-disease")))
    spans = gazetteer.find("Bronchial asthma is a disease; the syndrome includes Cataract: [hypermature] or [Morgagni].", [])
    assert [s.text for s in spans] == ["Bronchial asthma"]


def test_gazetteer_case_rules():
    gazetteer = Gazetteer(["ALL", "breast cancer", "cancer"], "Disease")
    spans = gazetteer.find("All patients with ALL or Breast Cancer.", [Span(0, 3, "Disease", "All")])
    assert [(s.start, s.text) for s in spans] == [(18, "ALL"), (25, "Breast Cancer")]


def test_dedup_exact_and_near():
    dedup = Deduplicator(threshold=0.8)
    assert dedup.check("r1", "Metformin lowers blood glucose in patients with type 2 diabetes.") is None
    assert dedup.check("r2", "metformin lowers blood  glucose in patients with type 2 diabetes.") == ("exact_duplicate", "r1")
    assert dedup.check("r3", "Metformin lowers blood glucose in patients with type 2 diabetes!") == ("near_duplicate", "r1")
    assert dedup.check("r4", "Allopurinol prevents gout flares by lowering uric acid.") is None
    assert len(dedup) == 2


def test_copies_of_a_demonstration_are_rejected_with_the_demo_named():
    from clingen.generation.stages import ParseReplies, StageInputs
    from clingen.parsing.dedup import containment
    # 'Lip pits', the demonstration's gold mention, is one of the 6.7% with no name evidence: judged by the copy
    # filter alone here.
    config = load_config(overrides=["seed=3", "prompts.n_demos=2", "generation.min_words=3",
                                    "prompts.strategy=few-shot", "generation.ner_name_evidence=false"])
    stage = ParseReplies(inputs=StageInputs.for_config(config, "test-model"))
    row = prompt_row("ncbi-disease", strategy="few-shot")  # shows demonstrations train-324 and train-3817
    demo_texts = stage.checker.demo_texts
    copied = demo_texts["train-3817"].replace(" .", ".")  # "Lip pits also are equally distributed ..."
    assert containment(copied, demo_texts["train-3817"]) > 0.9
    result = stage._outcome({**row, "generated_text": json.dumps({"sentence": copied, "entities": ["Lip pits"]})})
    assert result.example is None
    failure = result.failures[-1]
    assert failure["reason"] == "copies_demonstration" and "train-3817" in failure["detail"]
    # The row's reply record rides on its first failure, so `clingen reparse` can re-check it.
    record = json.loads(result.failures[0]["reply_record"])
    assert record["replies"] == [json.dumps({"sentence": copied, "entities": ["Lip pits"]})]
    assert record["prompt"]["demo_ids"] == ["train-324", "train-3817"] and record["prompt"]["row_id"] == 1
    fresh = json.dumps({"sentence": "Gout flares were frequent in older men.", "entities": ["Gout"]})
    kept = stage._outcome({**row, "generated_text": fresh}).example
    assert kept["text"].startswith("Gout") and json.loads(kept["reply_record"])["replies"] == [fresh]
