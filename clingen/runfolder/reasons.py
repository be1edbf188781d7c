"""Rejection reasons (the run folder's failure vocabulary, which progress markers and the manifest count by): the
one enumeration of why a reply or a mention was not kept.

Parsers, filters, the manifest, `clingen reparse` and the README all use these names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Level = Literal["row", "mention", "retry"]


@dataclass(frozen=True)
class Reason:
    """A rejection reason: `row` rejects the whole prompt row (no example), `mention` drops one listed
    entity/attribute of a kept or rejected example, `retry` marks a row the next run generates again."""

    name: str
    level: Level
    means: str
    example: str


REASONS: tuple[Reason, ...] = (
    Reason("generation_error", "retry", "the generator returned an error for this row (retried by the next run)",
           'HTTP 400 {"error": {"message": "prompt is too long"}}'),
    Reason("empty_reply", "row", "the reply (or its text field) is empty", '""'),
    Reason("reasoning_only", "row", "the reply is only a reasoning model's thinking (<think> blocks or the "
           "response's reasoning field), with no answer after it, or it stopped inside its reasoning (cut at the "
           "token limit); the thinking never feeds extraction", '<think>Draft {"sentence": "..."} ... (cut)'),
    Reason("truncated", "row", "the reply stopped at the token limit (finish_reason 'length', or as many "
           "generated tokens as max_tokens), with or without text, or its text fills the schema's maximum length",
           '{"sentence": "Mutations in this gene are associated with the'),
    Reason("no_json", "row", "no JSON object that can be read in a reply that must be JSON (nested too deep, "
           "or a number too long for Python, counts as none)", "Sure, here is a sentence."),
    Reason("missing_field", "row", "no JSON object in the reply has the family's required fields",
           '{"text": "..."} where "sentence" is required'),
    Reason("wrong_type", "row", "a required field has the wrong JSON type", '{"sentence": 3}'),
    Reason("bad_characters", "row", "the text holds characters that cannot be stored: lone surrogates or "
           "control characters", '{"sentence": "Asthma attacks ... \\ud83d."}'),
    Reason("too_short", "row", "fewer words than generation.min_words", '{"sentence": "Asthma."}'),
    Reason("too_long", "row", "more words than generation.max_words", "a 300-word paragraph"),
    Reason("unknown_label", "row", "the prompt row's label is not one of the task's labels",
           'label "Maybe" for GAD'),
    Reason("parser_error", "row", "ClinGen's parser failed on this reply (a bug: please report it with the raw "
           "reply); recorded so that one reply cannot stop a run", "RecursionError in a library"),
    Reason("placeholder_text", "row", "the text holds a template placeholder ([...], {...}, <...>)",
           "The [Disease_Name] is a [Disease_Class] that causes ..."),
    Reason("assistant_text", "row", "the text talks as a chat assistant instead of being domain text (opens "
           "with 'Here is a ...' or 'Sure!', offers help, names itself an AI)",
           "I'm ready to help. What is your task?"),
    Reason("label_in_text", "row", "the text names its own label as the task writes it: an identifier "
           "(no_ADE, Has_relation), or a label in parentheses, quotes or after 'label'",
           "The patient had a rash after amoxicillin (ADE)."),
    Reason("meta_text", "row", "the text talks about the task instead of the domain (question A, this "
           "sentence, the JSON, the prompt's own instruction words) or wraps the text as a list or field "
           "(Sentence 1:, The sentence is:, ['...', '...'])",
           "The answer to question B is not an answer to question A."),
    Reason("repetitive_text", "row", "the text is a repetitive list, not prose: under half of its words (8 or "
           "more) are distinct", "Cancer, Cancer, Liver Cancer, Cancer, Lymphoma, Cancer, Cancer, Cancer"),
    Reason("table_text", "row", "the text is a table row or table (two or more '|' cell separators), not prose",
           "X-Linked Genetic Diseases (XDGDs) | EHR | XDGDs"),
    Reason("no_entities", "row", "NER/attributes: none of the listed mentions is a usable entity in the text",
           '{"sentence": "Patients with the disease improved.", "entities": ["the disease"]}'),
    Reason("no_context", "row", "NER/attributes: the text is nothing but its entity mentions, so it teaches no "
           "context", '{"sentence": "Childhood central nervous system germinoma", ...}'),
    Reason("topic_missing", "row", "NER/attributes, knowledge-graph strategies: the sampled topic does not "
           "occur in the text (generation.require_topic)", 'topic "gout", sentence about asthma'),
    Reason("mention_unverified", "row", "NER (disease types): a labelled mention has no evidence of being a name "
           "of the type: it is not a knowledge-graph name of it, not headed by one or by a noun or word form of "
           "the type, nor an abbreviation the text defines (generation.ner_name_evidence; the row goes, since "
           "dropping only the mention would leave a real name untagged)",
           '"EINOCENTER ENSEMBLY", "new treatment for elephantiasis", "Emerging Disease", "teeth"'),
    Reason("relation_entity_missing", "row", "relations: a sampled entity appears neither by name nor by the "
           "real data's mask (exactly, once)", 'head "BRCA1" absent and no "@GENE$" in the sentence'),
    Reason("relation_roles_swapped", "row", "relations: one entity is called by the other role's type word, so "
           "the label is about another pair than the masks say", '"the gene @DISEASE$", "the disease BRCA1"'),
    Reason("pair_copy", "row", "pairs: the second text is a near-copy of the first "
           "(generation.pair_copy_threshold)", "sentence B repeats sentence A word for word"),
    Reason("copies_demonstration", "row", "the example mostly repeats one of its prompt's demonstrations "
           "(generation.demo_copy_threshold)", "a demonstration sentence returned verbatim"),
    Reason("no_example", "row", "the row gave no example, and none of its failures rejects a whole row (every "
           "one was of a mention): counted once per row under this name", "every listed mention was dropped"),
    Reason("contradicts_fewshot_model", "row", "consistency filtering (pipeline step filter): a model trained "
           "on the few real examples gives another label with high confidence (pipeline.filter_confidence); "
           "the example is set aside, never deleted", "label Has_relation, few-shot model No_relation p=0.97"),
    Reason("exact_duplicate", "row", "the text repeats an earlier example (after NFKC, case and space "
           "normalisation)", "the same sentence twice"),
    Reason("near_duplicate", "row", "the text nearly repeats an earlier example (MinHash Jaccard >= "
           "generation.dedup_threshold)", "the same sentence with one word changed"),
    Reason("entity_not_in_text", "mention", "a listed mention does not occur in the text",
           '"eczema" listed, the sentence is about asthma'),
    Reason("entity_overlaps", "mention", "a listed mention occurs only inside or across a longer labelled "
           "span (the topic, or a longer listed mention)",
           '"Malignant Testicular Leydig" inside the topic "malignant testicular Leydig cell tumor"'),
    Reason("entity_malformed", "mention", "a list entry is not a non-empty string (NER) or a type/text object "
           "(attributes)", '{"entities": [{"text": "asthma"}]}'),
    Reason("entity_truncated", "mention", "a listed mention fills the schema's maximum length, so it was cut "
           "there", '"acute myeloid leukemia with " at a 28-character limit'),
    Reason("attribute_type_unknown", "mention", "attributes: the entry's type is not one of the task's labels",
           '{"type": "Strength", "text": "20 mEq"} in CASI'),
    Reason("mention_is_label_word", "mention", "the mention is only the label's own name or type word",
           '"disease", "the disease", "Chemical"'),
    Reason("mention_is_placeholder", "mention", "the mention is a template placeholder", '"[Disease_Name]"'),
    Reason("mention_is_identifier", "mention", "the mention is an identifier-like token or a camel-case "
           "compound of placeholder words", '"Disease_Class", "tags_category_2", "DiseaseClass"'),
    Reason("mention_is_pronoun", "mention", "the mention is a pronoun", '"it", "this", "they"'),
    Reason("mention_is_other_type", "mention", "the mention names another type: a knowledge-graph name of it "
           "(anatomy listed as a disease, a disease listed as a chemical), a head noun of it (receptor, gene, "
           "genotype, drug) or only a body part", '"spinal cord", "GABAA receptor", "bone" as Disease'),
    Reason("mention_is_fragment", "mention", "NER: the mention is a piece of a sentence, not a name: no "
           "letters (2020), a lone modifier (acute, anterior), a sentence end inside it, ': ', a copula (is, "
           "was) or a relative pronoun (that, which), a preposition or conjunction first, or a function word last",
           '"A: Schizoid personality disorder (SPD) is a", "mental health condition that"'),
    Reason("mention_is_function_word", "mention", "the mention is a single letter or only function words, so "
           "as a whole word it would tag every article in the text", '"a", "A", "of the"'),
)

BY_NAME: dict[str, Reason] = {reason.name: reason for reason in REASONS}
NO_EXAMPLE = "no_example"
ROW_REASONS = tuple(r.name for r in REASONS if r.level == "row")
MENTION_REASONS = tuple(r.name for r in REASONS if r.level == "mention")
DUPLICATE_REASONS = ("exact_duplicate", "near_duplicate")


def level_of(reason: str) -> Level:
    """The level of a recorded reason name; names from older ClinGen versions (in markers and failure files they
    wrote) count as row-level. A failure made now is checked by `known_reason` instead."""
    known = BY_NAME.get(reason)
    return known.level if known is not None else "row"


def known_reason(reason: str) -> str:
    """`reason` when it is one of REASONS; else ValueError naming it and the closest names (a misspelt reason
    would otherwise be counted as a row reason of its own, silently)."""
    if reason in BY_NAME:
        return reason
    import difflib
    close = difflib.get_close_matches(reason, BY_NAME, n=3)
    raise ValueError(f"unknown failure reason {reason!r}" + (f"; closest: {', '.join(close)}" if close else "")
                     + " (reasons are defined in clingen/runfolder/reasons.py)")


def failure_record(row_id: int, reason: str, detail: str, raw: str, step: int = 1,
                   reply_record: str | None = None) -> dict:
    """One row of a failures/ shard (store.FAILURE_SCHEMA), the one place such a row is built; the reason is
    checked (known_reason)."""
    return {"row_id": int(row_id), "reason": known_reason(reason), "detail": detail, "raw": raw, "step": int(step),
            "reply_record": reply_record}
