"""Label fidelity: each rule of the row/example contract, and every input the label-fidelity issue quotes."""

import json
import io

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from clingen.parsing import fidelity, mentions
from clingen.parsing.parsers import ParseOptions, ReplyEnd, extract_json_object, parse_reply
from clingen.runfolder.reasons import BY_NAME, REASONS
from clingen.runfolder.store import FAILURE_SCHEMA
from clingen.tasks.registry import get_task
from clingen.tasks.spec import TaskSpec

pytestmark = pytest.mark.unit
OPTIONS = ParseOptions(min_words=3, max_words=60, model="m", max_tokens=256)
NCBI = get_task("ncbi-disease")


def ner_row(topic: str | None = None, strategy: str = "clingen-kg", **extra) -> dict:
    return {"row_id": 4, "task": "ncbi-disease", "strategy": strategy, "label": "Disease", "topic": topic,
            "style": "clinical note", "demo_ids": [], **extra}


def pair_row(task: str, label: str, sentence_a: str | None = None) -> dict:
    return {"row_id": 2, "task": task, "strategy": "clingen-kg", "label": label, "topic": "asthma",
            "demo_ids": [], "sentence_a": sentence_a}


def reasons(result) -> list[str]:
    return [f.reason for f in result.failures]


# ----- the inputs quoted in the issue ----------------------------------------------------------------------
def test_a_sentence_about_the_task_with_the_type_word_as_entity_is_rejected():
    reply = json.dumps({"sentence": "This is a sentence about a disease named", "entities": ["disease"]})
    result = parse_reply(NCBI, ner_row(strategy="few-shot"), reply, OPTIONS)
    assert result.example is None and reasons(result) == ["meta_text"]
    assert result.failures[0].detail == "the text talks about the task ('this is a sentence')"


def test_the_type_word_alone_is_never_an_entity():
    reply = json.dumps({"sentence": "Patients with the disease were treated early.", "entities": ["the disease"]})
    result = parse_reply(NCBI, ner_row(strategy="few-shot"), reply, OPTIONS)
    assert result.example is None and reasons(result) == ["mention_is_label_word", "no_entities"]
    assert result.failures[0].detail == "Disease 'the disease' only names the type, not an entity"


def test_template_placeholders_reject_the_text():
    reply = json.dumps({"sentence": "The [Disease_Name] is a [Disease_Class] that causes chronic pain in adults.",
                        "entities": ["Disease_Class"]})
    result = parse_reply(NCBI, ner_row(strategy="few-shot"), reply, OPTIONS)
    assert result.example is None and reasons(result) == ["placeholder_text"]
    assert "'[Disease_Name]'" in result.failures[0].detail


@pytest.mark.parametrize("mention, reason", [
    ("Disease_Class", "mention_is_identifier"), ("tags_category_2", "mention_is_identifier"),
    ("[Disease_Name]", "mention_is_placeholder"), ("{disease}", "mention_is_placeholder"),
    ("<drug name>", "mention_is_placeholder"), ("it", "mention_is_pronoun"), ("They", "mention_is_pronoun"),
    ("a", "mention_is_function_word"), ("A", "mention_is_function_word"), ("of the", "mention_is_function_word"),
    ("As", "mention_is_function_word"),
    ("Disease", "mention_is_label_word"), ("diseases", "mention_is_label_word"),
    ("disorder", "mention_is_label_word"), ("this condition", "mention_is_label_word"),
    ("disease entity", "mention_is_label_word"),
])
def test_bad_mentions_get_their_own_reason(mention, reason):
    text = "Doctors saw more gout in the clinic last week."  # judged as a mention before it is looked up
    result = parse_reply(NCBI, ner_row(strategy="few-shot"), json.dumps({"sentence": text, "entities": [mention, "gout"]}),
                         OPTIONS)
    assert [s.text for s in result.example.spans] == ["gout"]
    assert reasons(result) == [reason]


@pytest.mark.parametrize("mention", ["mTOR", "BRCA1", "IL-6", "type 2 diabetes", "ALS", "[11C]raclopride"])
def test_real_names_are_not_mistaken_for_bad_mentions(mention):
    assert mentions.mention_problem(mention, mentions.label_words(NCBI)) is None


def test_the_sampled_topic_is_labelled_whole_and_wins_over_partial_spans():
    topic = "malignant testicular Leydig cell tumor"
    text = "A Malignant testicular Leydig cell tumor was found in a 40-year-old man with gynecomastia."
    reply = json.dumps({"sentence": text, "entities": ["Malignant Testicular Leydig", "Leydig cell tumor"]})
    result = parse_reply(NCBI, ner_row(topic), reply, OPTIONS)
    assert [(s.start, s.text) for s in result.example.spans] == [(2, "Malignant testicular Leydig cell tumor")]
    assert result.example.tags[:7] == ["O", "B-Disease", "I-Disease", "I-Disease", "I-Disease", "I-Disease", "O"]
    # Both listed mentions do occur: they overlap the topic, and the failures say so (not "does not occur").
    assert reasons(result) == ["entity_overlaps", "entity_overlaps"]
    assert result.failures[0].detail == ("Disease 'Malignant Testicular Leydig' occurs only inside or across the "
                                         "labelled span(s) ['Malignant testicular Leydig cell tumor']")


def test_the_topic_is_labelled_at_every_occurrence_even_when_not_listed():
    text = "Gout is common; gout flares often follow alcohol and asthma is unrelated."
    result = parse_reply(NCBI, ner_row("gout"), json.dumps({"sentence": text, "entities": ["asthma"]}), OPTIONS)
    assert [s.text for s in result.example.spans] == ["Gout", "gout", "asthma"]
    assert result.failures == []


def test_a_kg_row_without_its_topic_is_topic_missing_unless_switched_off():
    reply = json.dumps({"sentence": "Asthma often begins in early childhood.", "entities": ["Asthma"]})
    result = parse_reply(NCBI, ner_row("gout"), reply, OPTIONS)
    assert reasons(result) == ["topic_missing"]
    assert result.failures[0].detail == "the sampled topic 'gout' does not occur in the text"
    relaxed = parse_reply(NCBI, ner_row("gout"), reply, ParseOptions(3, 60, require_topic=False))
    assert [s.text for s in relaxed.example.spans] == ["Asthma"]
    # LLM-proposed topics are not known names: no requirement, no forced label.
    llm = parse_reply(NCBI, ner_row("gout", strategy="clingen-llm"), reply, OPTIONS)
    assert [s.text for s in llm.example.spans] == ["Asthma"]


def test_absent_and_overlapping_mentions_are_told_apart():
    spans, issues = mentions.label_spans("Hereditary breast cancer runs in families.",
                                         [("Disease", "breast cancer"), ("Disease", "cancer"), ("Disease", "eczema")])
    assert [s.text for s in spans] == ["breast cancer"]
    assert [(i.reason, i.detail) for i in issues] == [
        ("entity_overlaps", "Disease 'cancer' occurs only inside or across the labelled span(s) ['breast cancer']"),
        ("entity_not_in_text", "Disease 'eczema' does not occur in the sentence")]


@pytest.mark.parametrize("task, label", [("mqp", "not_equivalent"), ("healthver", "Refute")])
def test_a_second_text_that_repeats_the_first_is_pair_copy(task, label):
    first = "Can a child with asthma take ibuprofen for a fever?"
    result = parse_reply(get_task(task), pair_row(task, label, first), json.dumps({"sentence": first}), OPTIONS)
    assert result.example is None and reasons(result) == ["pair_copy"]
    changed = "Is it safe to give ibuprofen to an asthmatic child?"
    assert parse_reply(get_task(task), pair_row(task, label, first), json.dumps({"sentence": changed}),
                       OPTIONS).example.text_b == changed


@pytest.mark.parametrize("text, phrase", [
    ("The answer to question B is not an answer to question A.", "the answer to question b is"),
    ("Is this the same thing as question A about inhalers?", "question A"),
    ("This question is the same as sentence A about asthma.", "sentence A"),
    ("Reply with JSON only about the asthma inhaler dose.", "reply with json"),
    ("Every answer to the other is also a complete or partial answer here.",
     "is also a complete or partial"),
])
def test_pair_texts_about_the_task_are_meta_text(text, phrase):
    result = parse_reply(get_task("mediqa-rqe"), pair_row("mediqa-rqe", "Not_entail", "Can asthma be cured?"),
                         json.dumps({"sentence": text}), OPTIONS)
    assert reasons(result) == ["meta_text"] and f"'{phrase}'" in result.failures[0].detail


def test_meta_text_leaves_domain_text_alone():
    rqe = get_task("mediqa-rqe")
    hv = get_task("pubhealth")
    assert fidelity.meta_phrase(hv, "So far the evidence does not support the use of zinc for colds.") is None
    # Five words of a definition are ordinary fact-check wording; six in a row are the prompt echoed.
    assert fidelity.meta_phrase(hv, "Here the evidence contradicts the claim about zinc.") is None
    for text in ("I have a question a doctor could answer about asthma inhalers.",
                 "There is no evidence that vitamin C prevents the common cold.",
                 "Which sentence of the guideline covers inhaled steroids in children?"):
        assert fidelity.meta_phrase(rqe, text) is None, text
    for text in ("The prompt diagnosis of sepsis saved the patient.", "In this dataset of 500 patients, gout was rare.",
                 "Take allopurinol exactly as written, once daily.", "List every medication you take."):
        assert fidelity.meta_phrase(NCBI, text) is None, text


@pytest.mark.parametrize("end, detail", [
    (ReplyEnd(finish_reason="length"), "the generator stopped at the token limit (finish_reason 'length')"),
    (ReplyEnd(generated_tokens=256), "the reply used all 256 tokens of its budget (generator.model.sampling.max_tokens)"),
])
def test_a_reply_cut_at_the_token_limit_is_truncated(end, detail):
    reply = json.dumps({"sentence": "Mutations in the SLC2A9 gene are strongly associated with the",
                        "entities": ["SLC2A9"]})
    result = parse_reply(NCBI, ner_row(strategy="few-shot"), reply, OPTIONS, end)
    assert result.example is None and reasons(result) == ["truncated"] and result.failures[0].detail == detail
    assert parse_reply(NCBI, ner_row(strategy="few-shot"), reply, OPTIONS, ReplyEnd("stop", 40)).example is not None


def test_a_text_that_fills_the_schema_max_length_was_cut_there():
    text = "Gout is associated with the SLC2A9 gene"
    schema = json.dumps({"properties": {"sentence": {"maxLength": len(text)}}})
    result = parse_reply(NCBI, ner_row(strategy="few-shot", json_schema=schema),
                         json.dumps({"sentence": text, "entities": ["Gout"]}), OPTIONS)
    assert reasons(result) == ["truncated"]


def test_json_extraction_takes_the_first_object_with_the_required_fields():
    reply = ('Schema: {"type": "object"}\nAnswer: {"sentence": "The patient was diagnosed with cystic fibrosis at '
             'age two.", "entities": ["cystic fibrosis"]}')
    result = parse_reply(NCBI, ner_row(strategy="few-shot"), reply, OPTIONS)
    assert [s.text for s in result.example.spans] == ["cystic fibrosis"]
    assert extract_json_object(reply) == {"type": "object"}  # without required fields: the first object
    assert extract_json_object('{"a": 1} {"b": 2}', ("b",)) == {"b": 2}
    assert extract_json_object('{"a": 1}', ("b",)) == {"a": 1}  # so the caller can name the missing field


def test_a_lone_surrogate_is_a_failure_that_can_itself_be_stored():
    reply = '{"sentence": "Asthma attacks were frequent in the winter for this boy \\ud83d.", "entities": ["Asthma"]}'
    result = parse_reply(NCBI, ner_row(strategy="few-shot"), reply, OPTIONS)
    assert result.example is None and reasons(result) == ["bad_characters"]
    assert result.failures[0].detail == "the text holds a lone surrogate U+D83D at character 56, which cannot be stored"
    raw_with_surrogate = parse_reply(NCBI, ner_row(strategy="few-shot"), "\ud83d oops", OPTIONS)
    table = pa.Table.from_pylist([f.to_dict() for f in result.failures + raw_with_surrogate.failures],
                                 schema=FAILURE_SCHEMA)
    sink = io.BytesIO()
    pq.write_table(table, sink)  # raised UnicodeEncodeError before: one bad reply stopped the whole job
    assert pq.read_table(io.BytesIO(sink.getvalue())).column("raw")[1].as_py() == "\\ud83d oops"


def test_control_characters_are_rejected():
    reply = json.dumps({"sentence": "Gout\x00 flares were frequent in older men.", "entities": ["Gout"]})
    assert reasons(parse_reply(NCBI, ner_row(strategy="few-shot"), reply, OPTIONS)) == ["bad_characters"]


# ----- relations ---------------------------------------------------------------------------------------------
GAD = get_task("gad")


@pytest.mark.parametrize("text, problem", [
    ("BRCA1 variants were not associated with asthma.", None),
    ("@GENE$ variants were not associated with @DISEASE$.", None),
    ("@GENE$ variants were not associated with asthma.", None),
    ("@gene$ variants were not associated with asthma.",
     "the gene ('BRCA1' or '@GENE$') is missing; '@gene$' is not the mask"),
    ("@GENE$ and @GENE$ were not associated with asthma.", "the gene mask @GENE$ appears 2 times (the real data has it once)"),
    ("The variant was not associated with any disease.",
     "the gene ('BRCA1' or '@GENE$') is missing; the disease ('asthma' or '@DISEASE$') is missing"),
])
def test_relation_entities_appear_by_name_or_exact_mask(text, problem):
    assert fidelity.relation_problem(GAD, text, "BRCA1", "asthma") == problem


def test_zero_shot_relation_rows_need_the_masks():
    assert fidelity.relation_problem(GAD, "A gene variant raises asthma risk.", None, None) == (
        "the gene ('@GENE$') is missing; the disease ('@DISEASE$') is missing")
    assert fidelity.relation_problem(GAD, "@GENE$ variants raise @DISEASE$ risk.", None, None) is None
    unmasked = TaskSpec(name="cid", family="relation", domain="chemical-disease", head_role="chemical",
                        tail_role="disease", styles=["abstract"], negative_label="no_CID", labels=[
                            {"name": "CID", "description": "x", "topics": {"kind": "none"}},
                            {"name": "no_CID", "description": "y", "topics": {"kind": "none"}}])
    assert fidelity.relation_problem(unmasked, "Any text at all.", None, None) is None


@pytest.mark.parametrize("text, swap", [
    # SmolLM2's GAD sentences (clingen-kg), each kept before the rule: the masks trade roles.
    ("The lack of link between gene @DISEASE$ and the disease @GENE$ polymorphism.",
     "'disease @GENE$' calls the gene (@GENE$) a disease"),  # the head's role is checked first
    ("A large allele of the gene @DISEASE$ confers an increased risk of prostate cancer.",
     "'gene @DISEASE$' calls the disease (@DISEASE$) a gene"),
    ("The diseases @GENE$ and asthma were studied.", "'diseases @GENE$' calls the gene (@GENE$) a disease"),
    ("The disease BRCA1 was linked to @DISEASE$.", "'disease BRCA1' calls the gene (BRCA1) a disease"),
    # Real GAD phrasing: the type word after the mask, or as part of a compound.
    ("Variants of the @GENE$ gene raise @DISEASE$ risk.", None),
    ("A gene-disease @DISEASE$ link to BRCA1.", None),
    ("BRCA1 variants were not associated with asthma.", None),
])
def test_a_relation_sentence_that_swaps_the_roles_is_named(text, swap):
    assert fidelity.swapped_roles(GAD, text, "BRCA1", "asthma") == swap


# ----- the enumeration --------------------------------------------------------------------------------------
def test_every_reason_is_documented_once_with_an_example():
    names = [reason.name for reason in REASONS]
    assert len(names) == len(set(names))
    assert all(reason.means and reason.example for reason in REASONS)
    assert {r.level for r in REASONS} == {"row", "mention", "retry"}
    assert BY_NAME["entity_overlaps"].level == "mention" and BY_NAME["pair_copy"].level == "row"


def test_an_entity_type_with_whitespace_is_refused_at_the_spec():
    with pytest.raises(ValueError, match=r"entity types \['Adverse event'\] hold whitespace"):
        TaskSpec(name="ade", family="ner", domain="adverse event", styles=["note"], labels=[
            {"name": "Adverse event", "description": "x", "topics": {"kind": "none"}}])


# ----- found in review: matching names -----------------------------------------------------------------------
@pytest.mark.parametrize("topic, text, labelled", [
    ("AS", "Patients with AS were treated as outpatients, as described.", ["AS"]),
    ("ALL", "All children with ALL received all doses.", ["ALL"]),
    ("AIDS", "Hearing aids helped a man with AIDS.", ["AIDS"]),
    ("DON", "Don was diagnosed with DON last year.", ["DON"]),
])
def test_acronym_topics_match_with_their_case(topic, text, labelled):
    result = parse_reply(NCBI, ner_row(topic), json.dumps({"sentence": text, "entities": []}), OPTIONS)
    assert [s.text for s in result.example.spans] == labelled


@pytest.mark.parametrize("topic, text, span", [
    ("diabetic cataract", "Diabetic Cataracts progressed in both eyes.", "Diabetic Cataracts"),
    ("Guillain-Barre syndrome", "Guillain Barre syndrome followed the infection.", "Guillain Barre syndrome"),
    ("breast cancer", "Hereditary breast\u00a0cancer runs in families.", "breast\u00a0cancer"),
])
def test_topics_are_found_in_plural_and_with_other_separators(topic, text, span):
    result = parse_reply(NCBI, ner_row(topic), json.dumps({"sentence": text, "entities": []}), OPTIONS)
    assert [s.text for s in result.example.spans] == [span]


def test_a_listed_name_that_contains_the_topic_wins_over_it():
    reply = json.dumps({"sentence": "Patients with type 2 diabetes mellitus had neuropathy.",
                        "entities": ["type 2 diabetes mellitus", "mellitus had"]})
    result = parse_reply(NCBI, ner_row("diabetes mellitus"), reply, OPTIONS)
    assert [s.text for s in result.example.spans] == ["type 2 diabetes mellitus"]
    assert reasons(result) == ["entity_overlaps"]  # the topic wins over a partial span that crosses it


@pytest.mark.parametrize("topic", ["Syndrome", "disease", "Diseases"])
def test_a_generic_topic_is_neither_labelled_nor_required(topic):
    reply = json.dumps({"sentence": "The syndrome and the disease were linked to gout.", "entities": ["gout"]})
    result = parse_reply(NCBI, ner_row(topic), reply, OPTIONS)
    assert [s.text for s in result.example.spans] == ["gout"]


@pytest.mark.parametrize("mention, reason", [
    ("Disease 1", "mention_is_label_word"), ("disease 1324335432", "mention_is_label_word"),
    ("Disease C#", "mention_is_label_word"), ("The patient", "mention_is_label_word"),
    ("Premise", "mention_is_label_word"), ("The genetics research summary", "mention_is_label_word"),
])
def test_numbered_type_words_people_and_prompt_words_are_not_entities(mention, reason):
    assert mentions.mention_problem(mention, mentions.label_words(NCBI))[0] == reason


@pytest.mark.parametrize("text", [
    "Disease C#: Intracranial Primitive Neuroectodermal Tumor",
    "The sentence for the disease 'cervical polyp' is",
    "The disease named beta-ketothiolase deficiency is a rare and debilitating condition.",
    "Proceed with caution, as the disease 'progressive myoclonus epilepsy' is rare.",
    "1. Generated sentence about disease that mentions the disease named 'typhus'.",
    "Disease: gary, disease class: gastric, disease entity: gastric ulcer, sentence:",
    "The disease named 'Obstetric Labor Complications' is common in clinics.",
])
def test_prompt_echoes_are_meta_text(text):
    assert fidelity.meta_phrase(NCBI, text) is not None


def test_a_relation_sentence_that_recites_the_label_definition_is_meta_text():
    text = "The sentence indicates that the disease has interaction with gene @GENE$ in @DISEASE$."
    assert fidelity.meta_phrase(GAD, text) == "the sentence indicates that the disease"


# ----- found in review: never raise, mention-level reasons ---------------------------------------------------
@pytest.mark.parametrize("reply", ['{"a": ' + "[" * 100000, '{"sentence": "x", "n": ' + "9" * 5000 + "}"])
def test_pathological_json_is_no_json_not_an_exception(reply):
    assert reasons(parse_reply(NCBI, ner_row(strategy="few-shot"), reply, OPTIONS)) == ["no_json"]


def test_a_parser_bug_is_a_recorded_failure_not_an_exception():
    row = {key: value for key, value in ner_row(strategy="few-shot").items() if key != "task"}
    result = parse_reply(NCBI, row, json.dumps({"sentence": "Gout flares were frequent in men.",
                                                "entities": ["Gout"]}), OPTIONS)
    assert reasons(result) == ["parser_error"] and result.failures[0].detail.startswith("KeyError")


def test_a_malformed_entity_list_counts_its_row_as_no_entities():
    reply = json.dumps({"sentence": "Asthma often begins in early childhood.", "entities": [{"text": "Asthma"}, ""]})
    result = parse_reply(NCBI, ner_row(strategy="few-shot"), reply, OPTIONS)
    assert reasons(result) == ["entity_malformed", "entity_malformed", "no_entities"]
    from clingen.runfolder.reasons import level_of
    assert [level_of(r) for r in reasons(result)] == ["mention", "mention", "row"]


def test_a_mention_cut_at_the_schema_item_limit_is_entity_truncated():
    schema = json.dumps({"properties": {"sentence": {"maxLength": 400},
                                        "entities": {"items": {"maxLength": 28}}}})
    text = "Acute myeloid leukemia with NPM1 mutation responds to induction."
    reply = json.dumps({"sentence": text, "entities": ["acute myeloid leukemia with ", "NPM1 mutation"]})
    result = parse_reply(NCBI, ner_row(strategy="few-shot", json_schema=schema), reply, OPTIONS)
    assert [s.text for s in result.example.spans] == ["NPM1 mutation"]
    assert reasons(result) == ["entity_truncated"]


@pytest.mark.parametrize("text, found", [
    ("The dose was 20 mg [sic] per day.", None), ("Serum [Ca] and [K] were normal [see below].", None),
    ("The <i>in vitro</i> assay failed.", None), ("The [Disease] spread quickly.", "[Disease]"),
    ("Give {drug} twice daily.", "{drug}"), ("Start <drug name> at 5 mg.", "<drug name>"),
    ("The [...] was cured.", "[...]"), ("Uptake of [11C]raclopride fell.", None),
])
def test_placeholders_are_template_slots_not_brackets(text, found):
    assert mentions.placeholder_in(text) == found


def test_casi_route_it_and_dosage_one_are_not_pronouns_and_types_ignore_case():
    casi = get_task("casi")
    row = {"row_id": 1, "task": "casi", "strategy": "few-shot", "label": None, "topic": None, "demo_ids": []}
    reply = json.dumps({"sentence": "Give methotrexate 12 mg IT once, then one tablet daily.", "attributes": [
        {"type": "Medication", "text": "methotrexate"}, {"type": "route", "text": "IT"},
        {"type": "Dosage", "text": "one tablet"}]})
    result = parse_reply(casi, row, reply, OPTIONS)
    assert [(s.type, s.text) for s in result.example.spans] == [
        ("Medication", "methotrexate"), ("Route", "IT"), ("Dosage", "one tablet")]
    assert result.failures == []


def test_a_finish_reason_is_trusted_over_a_token_count():
    reply = json.dumps({"sentence": "Gout flares were frequent in older men.", "entities": ["Gout"]})
    row = ner_row(strategy="few-shot")
    assert parse_reply(NCBI, row, reply, OPTIONS, ReplyEnd("stop", 256)).example is not None
    assert reasons(parse_reply(NCBI, row, reply, OPTIONS, ReplyEnd(None, 256))) == ["truncated"]


def test_a_classification_reply_that_echoes_the_label_line_keeps_its_text():
    hoc = get_task("hoc")
    row = {"row_id": 1, "task": "hoc", "strategy": "zero-shot", "label": "cellular energetics", "demo_ids": []}
    reply = "Label: cellular energetics\nText: Tumour cells shift to aerobic glycolysis to fuel growth."
    assert parse_reply(hoc, row, reply, OPTIONS).example.text == "Tumour cells shift to aerobic glycolysis to fuel growth."


@pytest.mark.parametrize("a, b, copy", [
    ("Can a child with asthma take ibuprofen for a fever?", "Can a child with asthma take ibuprofen for a fever?", True),
    ("The patient, a 64-year-old man with long-standing type 2 diabetes and hypertension, was admitted with "
     "chest pain radiating to the left arm.", "The patient has diabetes.", False),  # an entailed restatement
    ("Remdesivir shortened the time to recovery in hospitalised adults with COVID-19 in a large randomised "
     "trial of 1,062 patients.", "Remdesivir shortened the time to recovery in hospitalised adults.", False),
])
def test_pair_copy_is_symmetric(a, b, copy):
    assert (fidelity.pair_copy_share(a, b) >= 0.8) is copy


@pytest.mark.parametrize("name, natural", [
    ("Nystagmus, Congenital", "Congenital Nystagmus"), ("Leukemia, Myeloid, Acute", "Acute Myeloid Leukemia"),
    ("Diabetes Mellitus, Type 2", "Type 2 Diabetes Mellitus"),
    ("AMYLOIDOSIS, FAMILIAL RENAL", "familial renal amyloidosis"), ("AIDS", "AIDS"), ("asthma", "asthma"),
    ("Adrenal Hyperplasia, Congenital, Due To 21-Hydroxylase Deficiency",
     "Adrenal Hyperplasia, Congenital, Due To 21-Hydroxylase Deficiency"),
])
def test_graph_names_are_asked_for_in_running_text_order(name, natural):
    from clingen.kg.names import natural_name
    assert natural_name(name) == natural



def test_named_after_and_a_disease_called_are_real_text():
    for text in ("Graves disease is a disease named after Robert Graves.",
                 "She had a rare disease called Fabry disease.", "Diagnosis: gout of the left toe."):
        assert fidelity.meta_phrase(NCBI, text) is None, text


def test_a_repetitive_list_is_not_prose():
    text = ("Skin Diseases, Metabolic, Diabetes, Lymphoma, Cancer, Brain Cancer, Cancer, Lymphoma, Cancer, Cancer, "
            "Liver Cancer, Liver Cancer, Cancer")
    result = parse_reply(NCBI, ner_row(strategy="few-shot"), json.dumps({"sentence": text, "entities": ["Diabetes"]}),
                         OPTIONS)
    assert reasons(result) == ["repetitive_text"] and result.failures[0].detail == (
        "the text repeats itself: 8 distinct words of 17")


def test_a_name_with_its_abbreviation_is_two_mentions():
    reply = json.dumps({"sentence": "Acute dacryoadenitis (ADE) is an inflammation of the lacrimal gland.",
                        "entities": ["Acute dacryoadenitis (ADE)"]})
    result = parse_reply(NCBI, ner_row(strategy="few-shot"), reply, OPTIONS)
    assert [s.text for s in result.example.spans] == ["Acute dacryoadenitis", "ADE"]


def test_each_part_of_an_abbreviated_mention_is_judged_on_its_own():
    # Seen in a README run: "Disease (LMD)" tagged the bare words "diseases" and "disease" across the text.
    text = ("Lymphatic Diseases (LMD) have been a focus of genetic research, with the treatment of Lymantian "
            "diseases, including the identification of the disease.")
    reply = json.dumps({"sentence": text, "entities": ["Lymphatic Diseases (LMD)", "Disease (LMD)"]})
    result = parse_reply(NCBI, ner_row(strategy="few-shot"), reply, OPTIONS)
    assert [s.text for s in result.example.spans] == ["Lymphatic Diseases", "LMD"]
    assert reasons(result) == ["mention_is_label_word"] and "in 'Disease (LMD)'" in result.failures[0].detail


def test_a_text_that_is_only_its_entity_teaches_no_context():
    reply = json.dumps({"sentence": "Childhood central nervous system germinoma.",
                        "entities": ["Childhood central nervous system germinoma"]})
    assert reasons(parse_reply(NCBI, ner_row(strategy="few-shot"), reply, OPTIONS)) == ["no_context"]


def test_a_text_that_names_its_own_style_is_meta_text():
    row = ner_row("chylocele of tunica vaginalis", style="genetic research summary")
    reply = json.dumps({"sentence": "The genetic research summary is about the chylocele of tunica vaginalis.",
                        "entities": []})
    assert reasons(parse_reply(NCBI, row, reply, OPTIONS)) == ["meta_text"]


def test_a_leading_article_is_left_out_of_a_mention():
    spans, issues = mentions.label_spans("The bird fancier's lung is a hypersensitivity pneumonitis.",
                                         [("Disease", "The bird fancier's lung")], ("Disease", "bird fancier's lung"))
    assert [(s.text, s.start) for s in spans] == [("bird fancier's lung", 4)] and issues == []
    assert mentions.without_determiner("an Addison disease") == "Addison disease"
    assert mentions.without_determiner("Hepatitis A") == "Hepatitis A"
    assert mentions.without_determiner("The") == "The"


@pytest.mark.parametrize("text", [
    "Example of a sentence based on the provided review article on neurogenic bladder.",
    "An example sentence: gout affects the big toe.",
])
def test_text_that_presents_itself_as_an_example_is_meta(text):
    assert fidelity.meta_phrase(NCBI, text) is not None


def test_a_knowledge_graph_name_of_another_type_is_not_labelled():
    names = mentions.other_type_names({"disease": ["Spina Bifida", "Skin Diseases"], "anatomy": ["spinal cord",
                                       "Skin", "Spina Bifida"], "chemical": ["CAD"]}, "disease")
    assert names == {"spinal cord": "anatomy", "skin": "anatomy", "cad": "chemical"}  # spina bifida is both
    options = ParseOptions(min_words=5, other_type_names=names)
    text = "Spina bifida damages the spinal cord and the skin over it; CAD was ruled out."
    result = parse_reply(NCBI, ner_row(strategy="few-shot"),
                         json.dumps({"sentence": text, "entities": ["Spina bifida", "spinal cord", "The skin", "CAD"]}),
                         options)
    assert [s.text for s in result.example.spans] == ["Spina bifida", "CAD"]  # acronyms are not judged
    assert reasons(result) == ["mention_is_other_type", "mention_is_other_type"]
    assert "'spinal cord' is a knowledge-graph anatomy name, not a Disease" in result.failures[0].detail


def test_the_ner_checker_knows_the_graphs_anatomy_names():
    from clingen.config import load_config
    from clingen.parsing.checker import RowChecker
    checker = RowChecker.from_config(load_config(overrides=["task=ncbi-disease"]), NCBI, None)
    other = checker.options.other_type_names
    assert other["spinal cord"] == "anatomy" and other["skin"] == "anatomy" and "asthma" not in other


# ----- label fidelity read by hand in a README run of SmolLM2-135M (2026-12-07) -----------------------------
def test_sentence_fragments_listed_as_mentions_are_not_labelled():
    text = "A: Schizoid personality disorder (SPD) is a mental health condition that limits social contact."
    listed = ["A: Schizoid personality disorder (SPD) is a", "mental health condition that",
              "Schizoid personality disorder", "SPD", "and asthma"]
    result = parse_reply(NCBI, ner_row(strategy="few-shot"), json.dumps({"sentence": text, "entities": listed}),
                         ParseOptions(min_words=5))
    assert [s.text for s in result.example.spans] == ["Schizoid personality disorder", "SPD"]
    assert reasons(result) == ["mention_is_fragment", "mention_is_fragment", "mention_is_fragment"]
    assert "ends with 'that', so it is a piece of a sentence" in result.failures[1].detail
    assert "starts with 'and'" in result.failures[2].detail


@pytest.mark.parametrize("mention, problem", [
    ("Crohn disease of the", "ends with 'the'"), ("asthma is worse", "holds the verb 'is'"),
    ("Disease: gout", "holds ': '"), ("with diabetes", "starts with 'with'"), ("anterior", "only a modifier"),
    ("Acute", "only a modifier"), ("acute porphyria", None),
    ("hepatitis A", None), ("vitamin A deficiency", None), ("carcinoma in situ", None), ("in situ carcinoma", None),
    ("Lou Gehrig's disease", None), ("deficiency of factor VIII", None)])
def test_fragment_rule_on_names_and_pieces(mention, problem):
    found = mentions.fragment_problem(mention)
    assert (found is None) if problem is None else (problem in found)


def test_the_fragment_rule_spares_attribute_phrases():
    # CASI values are phrases that start with prepositions ("by mouth", "as needed"); the rule is NER-only.
    casi = get_task("casi")
    row = {"row_id": 4, "task": "casi", "strategy": "few-shot", "label": "Medication", "topic": None,
           "style": "clinical note", "demo_ids": []}
    reply = json.dumps({"sentence": "Take aspirin by mouth as needed for pain.",
                        "attributes": [{"type": "Route", "text": "by mouth"}]})
    result = parse_reply(casi, row, reply, ParseOptions(min_words=5))
    assert [s.text for s in result.example.spans] == ["by mouth"] and result.failures == []


@pytest.mark.parametrize("mention, prompted, kind", [
    ("GABAA receptor", "disease", "gene"), ("Genotype", "disease", "gene"), ("BRCA1 genes", "disease", "gene"),
    ("bone", "disease", "anatomy"), ("the Liver", "disease", "anatomy"), ("insulin medication", "disease", "chemical"),
    ("Marfan syndrome", "chemical", "disease"), ("bone cancer", "disease", None), ("athlete's foot", "disease", None),
    ("receptor deficiency", "disease", None), ("bone", "symptom", None), ("Neospora bacteria", "disease", "organism"),
    ("human immunodeficiency virus", "disease", None),
    ("deficiency of the normal VLCAD protein", "disease", None), ("defects in the PROS1 gene", "disease", None)])
def test_head_nouns_and_body_parts_of_another_type(mention, prompted, kind):
    assert mentions.other_type_word(mention, prompted) == kind


def test_a_receptor_or_a_body_part_is_not_a_disease():
    text = "Loss of the GABAA receptor in bone marks Paget disease of bone; the Genotype was APOE4."
    result = parse_reply(NCBI, ner_row(strategy="few-shot"), json.dumps(
        {"sentence": text, "entities": ["GABAA receptor", "bone", "Paget disease of bone", "Genotype"]}),
        ParseOptions(min_words=5))
    assert [s.text for s in result.example.spans] == ["Paget disease of bone"]
    assert reasons(result) == ["mention_is_other_type"] * 3
    assert "'GABAA receptor' names another type (gene), not a Disease" in result.failures[0].detail


def test_the_rules_spare_nearly_all_gold_mentions_of_the_real_corpora():
    # Measured on ../shared (not in CI): of NCBI-disease's 5,134 training gold mentions none hits either rule;
    # of BC5CDR-disease's 4,182 one hits the fragment rule ("Delayed free recall was also impaired"). Here: the
    # shipped demonstration pool's gold mentions, which CI has.
    pool = mentions_of_demos(NCBI)
    assert pool and [m for m in pool if mentions.fragment_problem(m) or mentions.other_type_word(m, "disease")] == []


def mentions_of_demos(spec) -> list[str]:
    from clingen.prompts.demos import load_demo_pool
    return [span.text for demo in load_demo_pool(spec, None, 1000, 0) for span in demo.spans]


@pytest.mark.parametrize("text, table", [
    ("X-Linked Genetic Diseases (XDGDs) | EHR | XDGDs", True), ("| gout | joint pain |\n| lupus | rash |", True),
    ("Asthma | wheeze and cough were reported in the clinic.", False), ("The p|q arm of chromosome 5 is lost.", False)])
def test_a_table_is_not_prose(text, table):
    assert (fidelity.table_row(text) is not None) == table
    if table:
        result = parse_reply(NCBI, ner_row(strategy="few-shot"), json.dumps({"sentence": text, "entities": ["gout"]}),
                             ParseOptions(min_words=3))
        assert reasons(result) == ["table_text"]


def test_zero_shot_artifacts_are_not_labelled():
    # Read in a zero-shot NCBI run (evidence-cpu, 2026-12-07): a year, a camel-case type name and a mention that
    # runs across sentences were kept as Disease mentions.
    text = "Disease. Diseases. Diseases, such as HIV-1, rose in 2020; the DiseaseClass of gout is arthritis."
    listed = ["Disease. Diseases. Diseases, such as HIV-1", "2020", "DiseaseClass", "HIV-1", "gout"]
    result = parse_reply(NCBI, ner_row(strategy="zero-shot"), json.dumps({"sentence": text, "entities": listed}),
                         ParseOptions(min_words=5))
    assert [s.text for s in result.example.spans] == ["HIV-1", "gout"]
    assert reasons(result) == ["mention_is_fragment", "mention_is_fragment", "mention_is_identifier"]
    assert mentions.placeholder_in("Disease [DiseaseClass] is a global issue.") == "[DiseaseClass]"
    assert mentions.placeholder_in("the [McArdle] case") is None
    assert mentions.fragment_problem("St. Louis encephalitis") is None and mentions.fragment_problem("E. coli") is None


def test_a_listed_hard_negative_is_rejected_and_stays_untagged_even_as_an_acronym():
    row = ner_row("breast cancer", hard_negatives=["BRCA1"])
    text = "Germline BRCA1 mutations raise the risk of breast cancer in carriers."
    result = parse_reply(NCBI, row, json.dumps({"sentence": text, "entities": ["BRCA1", "breast cancer"]}),
                         ParseOptions(min_words=5))
    assert [s.text for s in result.example.spans] == ["breast cancer"]
    assert reasons(result) == ["mention_is_other_type"]
    assert result.failures[0].detail == "Disease 'BRCA1' is a name the prompt gave as another type, not a Disease"
    kept = parse_reply(NCBI, ner_row(strategy="few-shot"), json.dumps({"sentence": text, "entities": ["BRCA1"]}),
                       ParseOptions(min_words=5))
    assert [s.text for s in kept.example.spans] == ["BRCA1"]  # without the row's hard negative, no rule knows
    # Read in a hard-negative run: the model made the prompt's gene the disease's abbreviation.
    text = "The Hypoglossal Nerve Injuries (SNRK) are a neurological disorder of the tongue."
    result = parse_reply(NCBI, ner_row("Hypoglossal Nerve Injuries", hard_negatives=["SNRK"]),
                         json.dumps({"sentence": text, "entities": ["Hypoglossal Nerve Injuries (SNRK)"]}),
                         ParseOptions(min_words=5))
    assert [s.text for s in result.example.spans] == ["Hypoglossal Nerve Injuries"]
    assert reasons(result) == ["mention_is_other_type"]


def test_a_mention_holding_a_relative_pronoun_is_a_clause():
    # Read in a label-completion NCBI run (evidence-cpu, 2026-12-07).
    assert mentions.fragment_problem("first disease that has been identified") == (
        "'first disease that has been identified' holds the relative pronoun 'that', so it is a clause")
    assert mentions.fragment_problem("disease which affects the brain") is not None
    assert mentions.fragment_problem("Whipple disease") is None


def test_an_entry_that_is_only_punctuation_is_a_recorded_fragment():
    text = "Patients with gout were seen in the clinic today."
    result = parse_reply(NCBI, ner_row(strategy="few-shot"), json.dumps({"sentence": text, "entities": ["gout", ","]}),
                         ParseOptions(min_words=3))
    assert [s.text for s in result.example.spans] == ["gout"]
    assert [(f.reason, f.detail) for f in result.failures] == [
        ("mention_is_fragment", "Disease '' has no letters, so it names nothing")]


def test_a_gene_symbol_is_not_a_verb_when_roles_are_judged():
    """'whose disease met the criteria' does not call the gene MET a disease (the name as the parser finds it)."""
    from clingen.parsing.fidelity import swapped_roles
    spec = get_task("gad")
    text = "Patients whose disease met the criteria carried MET amplification and lung cancer."
    assert swapped_roles(spec, text, "MET", "lung cancer") is None
    assert swapped_roles(spec, "The disease MET was seen in lung cancer.", "MET", "lung cancer") is not None


def test_a_head_found_only_inside_the_tails_name_is_missing_on_its_own():
    from clingen.parsing.fidelity import relation_problem
    spec = get_task("gad")
    inside = "Carriers of BRCA1-associated breast cancer were studied."
    assert "only inside" in relation_problem(spec, inside, "BRCA1", "BRCA1-associated breast cancer")
    apart = "BRCA1 variants raise the risk of BRCA1-associated breast cancer."
    assert relation_problem(spec, apart, "BRCA1", "BRCA1-associated breast cancer") is None


def test_a_head_equal_to_the_tail_is_not_inside_it():
    from clingen.parsing.fidelity import relation_problem
    assert relation_problem(get_task("gad"), " MET  MET ", "MET", "MET") is None  # found by Hypothesis in CI mode
