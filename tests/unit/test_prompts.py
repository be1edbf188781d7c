import numpy as np
import pytest

from clingen.config import load_config
from clingen.errors import ConfigError
from clingen.prompts.compose import PromptComposer, second_step_messages
from clingen.tasks.registry import builtin_tasks, get_task
from tests.unit.helpers import tiny_graph

pytestmark = pytest.mark.unit


def composer(task: str, *overrides: str, kg=None) -> PromptComposer:
    config = load_config(overrides=["seed=3", "prompts.n_demos=2", *overrides])
    return PromptComposer.from_config(config, get_task(task), kg or tiny_graph())


def test_ner_prompt_exact_text_and_provenance():
    row = composer("ncbi-disease").compose(np.arange(3))[1]
    assert (row.label, row.topic, row.style) == ("Disease", "breast cancer", "journal article abstract")
    assert row.demo_ids == ["train-324", "train-3817"]
    assert row.messages == [{"role": "user", "content": (
        "Suppose you need to generate a sentence about disease. Your task is to:\n"
        "1. generate a sentence about disease that mentions the disease named 'breast cancer',\n"
        "2. the sentence should mimic the style of journal article abstract,\n"
        "3. list every disease entity (names of diseases and disease classes) in the sentence, exactly as written.\n"
        'Reply with JSON only: {"sentence": "...", "entities": ["...", "..."]}\n\nHere are some examples:\n\n'
        '{"sentence": "Clinically , affected hemizygous males have angiokeratoma , severe acroparesthesia , renal '
        'failure , and vasculopathy of the heart and brain .", "entities": ["angiokeratoma", "severe '
        'acroparesthesia", "renal failure", "vasculopathy of the heart and brain"]}\n\n'
        '{"sentence": "Lip pits also are equally distributed between the sexes .", "entities": ["Lip pits"]}')}]
    assert '"entities"' in row.json_schema


def test_relation_prompt_uses_kg_pairs_in_task_roles():
    rows = composer("gad").compose(np.arange(4))
    assert [r.label for r in rows] == ["Has_relation", "No_relation", "Has_relation", "No_relation"]
    positive, negative = rows[0], rows[1]
    graph = tiny_graph()
    edges = {(graph.labels[t], graph.labels[h]) for h, t in zip(*graph.relation_edges("associates"))}
    assert (positive.head, positive.tail) in edges  # (gene, disease): Hetionet's disease->gene, swapped
    assert (negative.head, negative.tail) not in edges
    assert (negative.head, negative.tail) == ("BRCA1", "asthma")
    assert negative.messages[0]["content"].startswith(
        "Suppose you need to generate a sentence about gene-disease association. Give a sentence about the "
        "'No_relation' relation between the gene 'BRCA1' and the disease 'asthma', where the sentence does not "
        "indicate any relation between the disease and gene. Write @GENE$ in place of the gene's name and "
        "@DISEASE$ in place of the disease's name, each exactly once, as the examples do. "
        "The sentence should mimic the style of journal article abstract.\n"
        'Reply with JSON only: {"sentence": "..."}\n\nHere are some examples:\n\nLabel: No_relation\n')
    assert negative.messages[0]["content"].endswith("\n\nLabel: No_relation")


def test_demonstrations_come_from_the_target_class():
    pool = {d.id: d.label for d in composer("gad").demos["No_relation"]}
    rows = composer("gad").compose(np.arange(40))
    for row in rows:
        assert len(row.demo_ids) == 2
        for demo_id in row.demo_ids:
            assert (demo_id in pool) == (row.label == "No_relation")


def test_classification_prompt_exact_text():
    row = composer("hoc").compose(np.arange(3))[1]
    assert row.messages[0]["content"] == (
        "Suppose you need to create a dataset for cancer biology. Your task is to:\n"
        "1. generate a sentence about cancer biology,\n"
        "2. the sentence should mimic the style of journal article abstract,\n"
        "3. the sentence should be relevant to the subtopic of IL13 for tumor promoting inflammation "
        "(inflammation that supports tumour development).\n\nLabel: tumor promoting inflammation\nText:")
    assert row.json_schema is None  # classification replies are plain text


def test_pair_prompts_run_in_two_steps():
    row = composer("mediqa-rqe").compose(np.arange(3))[1]
    assert row.messages[0]["content"] == (
        "Suppose you need to create a dataset for consumer health questions. Write a question A about "
        "allopurinol in the style of patient forum post.\nReply with JSON only: {\"sentence\": \"...\"}")
    second = second_step_messages(row.to_dict(), "Can I take allopurinol with food?")[0]["content"]
    assert second.endswith(
        'Given the question A: "Can I take allopurinol with food?"\nWrite a question B so that every answer to '
        "question B is also a complete or partial answer to question A.\nReply with JSON only: "
        '{"sentence": "..."}\nLabel: Entail')
    assert second.count("\nLabel: Entail") == 3  # two demonstrations of the target class, then the ask


def test_attribute_prompt_lists_every_attribute_type():
    row = composer("casi").compose(np.arange(2))[1]
    assert row.label is None and row.topic == "allopurinol"
    text = row.messages[0]["content"]
    for name in ("Medication", "Dosage", "Route", "Frequency", "Reason", "Duration"):
        assert f"{name}: " in text
    assert '"enum": ["Medication", "Dosage", "Route", "Frequency", "Reason", "Duration"]' in row.json_schema


def test_composition_is_a_function_of_seed_and_row_only():
    whole = composer("gad").compose(np.arange(30))
    pieces = composer("gad").compose(np.arange(20, 30)) + composer("gad").compose(np.arange(0, 20))
    assert [r.to_dict() for r in whole] == [r.to_dict() for r in pieces[10:] + pieces[:10]]
    other_seed = composer("gad", "seed=4").compose(np.arange(30))
    assert [r.messages for r in whole] != [r.messages for r in other_seed]


def test_zero_shot_and_few_shot_baselines():
    zero = composer("hoc", "prompts.strategy=zero-shot").compose(np.arange(1))[0]
    assert (zero.topic, zero.style, zero.demo_ids) == (None, None, [])
    assert zero.messages[0]["content"] == (
        "Suppose you need to create a dataset for cancer biology. Generate a sentence about evading growth "
        "suppressors (cancer cells evade the programs that negatively regulate cell proliferation).\n\n"
        "Label: evading growth suppressors\nText:")
    few = composer("gad", "prompts.strategy=few-shot").compose(np.arange(1))[0]
    assert (few.topic, few.style, few.head) == (None, None, None) and len(few.demo_ids) == 2
    assert "between a gene and a disease" in few.messages[0]["content"]


def test_llm_topics_strategy(tmp_path):
    topics = tmp_path / "topics.txt"
    topics.write_text("# proposed by the generator\nasthma\ngout\npsoriasis\n")
    rows = composer("ncbi-disease", "prompts.strategy=clingen-llm", f"prompts.topics_file={topics}").compose(np.arange(6))
    assert sorted(r.topic for r in rows[:3]) == ["asthma", "gout", "psoriasis"]  # coverage before repeats
    with pytest.raises(ConfigError, match="strategy clingen-llm needs LLM-proposed topics"):
        composer("ncbi-disease", "prompts.strategy=clingen-llm")


def test_neighbourhood_expansion_names_related_entities():
    rows = composer("ncbi-disease", "prompts.neighbours=2").compose(np.arange(3))
    assert [(r.topic, r.related) for r in rows] == [("asthma", ["dexamethasone", "dyspnea"]),
                                                    ("breast cancer", ["BRCA1"]), ("gout", ["allopurinol", "joint pain"])]
    assert "4. where it is natural, also mention these related entities: dexamethasone, dyspnea." in rows[0].messages[0]["content"]


def test_ner_hard_negatives_are_named_in_the_prompt_and_recorded_on_the_row():
    rows = composer("ncbi-disease", "prompts.hard_negatives=1").compose(np.arange(3))
    assert [(r.topic, r.hard_negatives) for r in rows] == [("asthma", ["IL13"]), ("breast cancer", ["BRCA1"]),
                                                           ("gout", ["SLC2A9"])]
    assert rows[1].messages[0]["content"].split("\n")[4] == (
        "4. also mention the gene BRCA1; it is not a disease entity, so do not list it.")
    assert composer("ncbi-disease").compose(np.arange(1))[0].hard_negatives == []
    assert composer("hoc", "prompts.hard_negatives=1").compose(np.arange(1))[0].hard_negatives == []  # NER only


def test_llm_topics_get_drawn_hard_negatives_too(tmp_path):
    # clingen_overrides reach clingen-llm as well: its topics are no graph vertex, so the names are drawn only.
    topics = tmp_path / "topics.txt"
    topics.write_text("asthma\ngout\n")
    config = load_config(overrides=["seed=3", "prompts.n_demos=0", "prompts.strategy=clingen-llm",
                                    f"prompts.topics_file={topics}", "prompts.hard_negatives=1"])
    spec = get_task("ncbi-disease")
    rows = PromptComposer.from_config(config, spec, tiny_graph()).compose(np.arange(4))
    assert all(len(r.hard_negatives) == 1 and r.hard_negatives[0] in {"IL13", "BRCA1", "SLC2A9"} for r in rows)
    assert f"4. also mention the gene {rows[0].hard_negatives[0]};" in rows[0].messages[0]["content"]
    assert PromptComposer.from_config(config, spec).compose(np.arange(1))[0].hard_negatives  # loads the graph


@pytest.mark.parametrize("task", sorted(builtin_tasks()))
def test_every_builtin_task_composes_on_the_default_graph(task, default_graph):
    config = load_config(overrides=[f"task={task}"])
    rows = PromptComposer.from_config(config, get_task(task), default_graph).compose(np.arange(12))
    assert len(rows) == 12 and all(r.messages[0]["content"] for r in rows)
    assert all(r.topic for r in rows)


@pytest.fixture(scope="module")
def default_graph():
    from clingen.config import KGConfig
    from clingen.kg.source import load_graph
    return load_graph(KGConfig())


@pytest.mark.parametrize("task, listed", [("ncbi-disease", "entities"), ("casi", "attributes"),
                                          ("mediqa-rqe", None)])
def test_the_reply_schema_bounds_the_sentence_from_both_sides(task, listed):
    import json as _json
    import xgrammar
    from clingen.prompts.schemas import reply_schema
    schema = reply_schema(get_task(task), max_words=120, max_tokens=256, min_words=5)
    sentence = schema["properties"]["sentence"]
    # A bare topic ("Cartilage Diseases", 18 characters) cannot be the whole sentence.
    assert sentence["minLength"] == 25 and sentence["minLength"] < sentence["maxLength"] <= 120 * 8
    assert (listed in schema["properties"]) if listed else list(schema["properties"]) == ["sentence"]
    grammar = str(xgrammar.Grammar.from_json_schema(_json.dumps(schema)))  # the constraint vLLM compiles
    assert "{25, " in grammar


def _accepts(schema: dict, sentence: str) -> bool:
    """Whether xgrammar, as vLLM compiles the schema, lets the model write this reply."""
    import json as _json
    import xgrammar
    from transformers import AutoTokenizer
    from clingen.generation.models import resolve_model_source
    tokenizer = AutoTokenizer.from_pretrained(resolve_model_source("embedded:smollm2-135m-instruct"))
    compiler = xgrammar.GrammarCompiler(xgrammar.TokenizerInfo.from_huggingface(tokenizer))
    matcher = xgrammar.GrammarMatcher(compiler.compile_json_schema(_json.dumps(schema)))
    return matcher.accept_string(_json.dumps({"sentence": sentence}))


def test_a_masked_relation_reply_must_carry_both_entities_by_mask_or_by_the_rows_names():
    import re
    from clingen.parsing.fidelity import relation_problem
    from clingen.prompts.schemas import reply_schema
    gad = get_task("gad")
    schema = reply_schema(gad, max_words=120, max_tokens=256, min_words=5, head="ANKK1", tail="type 2 diabetes (T2D)")
    pattern = schema["properties"]["sentence"]["pattern"]
    # xgrammar drops minLength/maxLength beside a pattern and vLLM then switches backend: no length keys.
    assert set(schema["properties"]["sentence"]) == {"type", "pattern"}
    cases = {"ANKK1 variants raise the risk of Type 2 Diabetes (T2D) in adults.": True,
             "Type 2 diabetes (T2D) was not linked to @GENE$ in this cohort.": True,
             "The @GENE$ polymorphism was associated with @DISEASE$ risk.": True,
             "XRCC1 was associated with prostate cancer in Polish men.": False,  # neither entity
             "@GENE$ and @GENE$ were associated with @DISEASE$.": False,  # a mask twice
             'The "@GENE$" allele and @DISEASE$.': False}  # a character JSON must escape
    for sentence, allowed in cases.items():
        assert bool(re.fullmatch(pattern, sentence)) is allowed, sentence
        assert _accepts(schema, sentence) is allowed, sentence
        if allowed:  # what the grammar lets through, the parser's entity check keeps
            assert relation_problem(gad, sentence, "ANKK1", "type 2 diabetes (T2D)") is None
    masked_only = reply_schema(gad, max_words=120, max_tokens=256, min_words=5)["properties"]["sentence"]["pattern"]
    assert re.fullmatch(masked_only, "The @GENE$ polymorphism was associated with @DISEASE$ risk.")
    assert not re.fullmatch(masked_only, "ANKK1 raises the risk of type 2 diabetes (T2D).")


def test_each_relation_row_carries_the_schema_of_its_own_entities():
    import json as _json

    from clingen.prompts.schemas import name_regex
    rows = composer("gad").compose(np.arange(4))
    for row in rows:
        pattern = _json.loads(row.json_schema)["properties"]["sentence"]["pattern"]
        # The head as the parser finds it: a gene symbol such as BRCA1 in its own case (test_schema_names.py).
        assert name_regex(row.head) in pattern and "@GENE" in pattern and "@DISEASE" in pattern
    assert len({row.json_schema for row in rows}) == len({(row.head, row.tail) for row in rows})
