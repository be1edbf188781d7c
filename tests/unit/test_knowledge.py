import pytest

from clingen.prompts.knowledge import JSON_ONLY, clean_proposed_list, split_list_reply, style_prompt, topic_prompt
from clingen.tasks.registry import get_task

pytestmark = pytest.mark.unit


def test_list_replies_are_cleaned_and_deduplicated():
    reply = ('Here are some diseases:\n1. Asthma\n2) "Type 2 Diabetes Mellitus"\n- HIV infection\n* asthma\n'
             '\u2022 COVID-19 pneumonia.\n3. A very long item that goes on and on about many different things at once')
    assert clean_proposed_list(split_list_reply(reply)) == [
        "asthma", "type 2 diabetes mellitus", "HIV infection", "COVID-19 pneumonia"]


def test_json_and_comma_replies():
    assert split_list_reply('{"items": ["Gout", "Lupus"]}') == ["Gout", "Lupus"]
    assert split_list_reply('["Gout", "Lupus"]') == ["Gout", "Lupus"]
    assert clean_proposed_list(split_list_reply("gout, lupus,  'Gout' ")) == ["gout", "lupus"]


def test_reference_questions():
    assert topic_prompt("disease", 50)[0]["content"].startswith(
        "Suppose you are a clinician and want to collect a set of diseases. Could you list 50 entities about disease?")
    text = style_prompt(get_task("gad"), [], 10)[0]["content"]
    assert "List 10 different writing styles" in text and "medical literature, clinical notes" in text


def test_small_model_list_noise_is_dropped():
    """What SmolLM2-135M actually proposed: numbered "disease 7:" items, timestamps, one word repeated."""
    proposed = ["disease 1: malaria", "disease 2: malaria", "Disease 12: rabies", "03-02T15:22:22.79.26.14",
                "genetics, genetics, genetics", "type 2 diabetes", "IL-6", "p53", "1234"]
    assert clean_proposed_list(proposed) == ["malaria", "rabies", "type 2 diabetes", "IL-6", "p53"]


def test_styles_copied_from_the_prompt_are_dropped():
    """What SmolLM2-135M proposed as styles for NCBI, GAD, HoC and MEDIQA-RQE: the demonstration sentence (once
    with a typo), the instruction, demonstration fields and identifiers. Real styles, including the prompt's own
    examples, are kept."""
    demo = "text: Lip pits are equally distributed between the sexes .\nentities: []"
    proposed = ["lips pits are equally distributed between the sexes", "Reply with JSON only", "label:has_relation",
                "text: the role of inflammatory cytokine interleukin-6", "tags_category_2", "clinical notes",
                "case report", "review of genetic association studies"]
    assert clean_proposed_list(proposed, echoes=[demo, JSON_ONLY]) == [
        "clinical notes", "case report", "review of genetic association studies"]


def test_proposed_topics_that_only_name_the_type_are_dropped():
    # SmolLM2's 50 NCBI topics in a README run: 30 were "Disease1" ... "DiseaseU" or "disease".
    from clingen.generation.proposals import usable_topics
    items = ["disease", "Disease1", "Disease19", "DiseaseA", "Diseases", "the disease", "Disease 3", "asthma",
             "Hepatitis A", "HIV1", "COVID19", "Type 2 diabetes"]
    assert usable_topics(items, get_task("ncbi-disease"), "disease") == [
        "asthma", "Hepatitis A", "HIV1", "COVID19", "Type 2 diabetes"]
    assert usable_topics(["Chemical2", "aspirin"], get_task("ncbi-disease"), "chemical") == ["aspirin"]
