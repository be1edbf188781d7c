"""Entity mentions (parsing/filtering stage): finding names and labelling them as spans.

Finding a name in a text, telling real names from generic words and placeholders, and labelling the sampled
topic and the listed mentions as non-overlapping spans.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from clingen.datasets.records import Span
from clingen.kg.names import is_acronym, is_shouted
from clingen.tasks.spec import TaskSpec

_SEPARATORS = re.compile(r"[\s\-]+")
# Snake-case identifiers (Disease_Class, tags_category_2): the schema or template leaking into the reply.
# Gene symbols such as mTOR or BRCA1 have no underscore, so they are never caught.
_IDENTIFIER = re.compile(r"^\w*[A-Za-z0-9]_\w+$")
# "one" is left out: "one tablet" is a CASI dosage. Matched as written in lower or title case, so "IT"
# (intrathecal) is not the pronoun "it".
PRONOUNS = frozenset("it its itself they them their theirs themselves this that these those he him his she her "
                     "hers we us our you your i me my which who whom whose something".split())
_DETERMINERS = frozenset("the a an this that these those such some any its their his her our every each".split())
# Words that cannot make a name on their own ("a", "of the", "and"): a mention of only these is an artifact of
# the model's listing, and as a whole word it would tag every article in the text.
_FUNCTION_WORDS = _DETERMINERS | frozenset("of in on at to for with without by from as and or nor but is are "
                                           "was were be been not no".split())
# Words that name an entity type, not an entity: a mention that is only one of these labels nothing.
TYPE_WORDS: dict[str, tuple[str, ...]] = {
    "disease": ("disease", "disorder", "condition", "illness", "syndrome", "sickness", "ailment"),
    "chemical": ("chemical", "drug", "compound", "medication", "medicine", "substance", "agent"),
    "gene": ("gene", "protein", "enzyme", "receptor"),
    "symptom": ("symptom", "sign"),
    "anatomy": ("organ", "tissue", "body part"),
}
# Never an entity of any task: words about the text, the prompt or the people in it.
_GENERIC = ("entity", "entities", "mention", "name", "named entity", "type", "label", "term", "word", "example",
            "sentence", "text", "premise", "hypothesis", "patient", "person", "individual", "subject", "case")
# A type word followed only by numbers, single letters and symbols: "Disease 1", "disease 1324335432", "Disease C#".
_NUMBERED = re.compile(r"^(?:[\W\d_]*[^\W\d_]?[\W\d_]*)$")
# Bracketed words ([...], {...}, <...>) of letters, spaces, hyphens and underscores, or an ellipsis. Only those
# that hold an identifier or a placeholder word are placeholders: "[sic]", "[see below]", "[Ca]", "<i>" and, having
# digits, "[11C]" or "[3]" are real text.
_BRACKETED = re.compile(r"\[\s*([A-Za-z][A-Za-z_ \-]*|\.\.\.|\u2026)\s*\]|\{\s*([A-Za-z][A-Za-z_ \-]*|\.\.\.)\s*\}"
                        r"|<\s*([A-Za-z][A-Za-z_ \-]*|\.\.\.)\s*>")
PLACEHOLDER_WORDS = frozenset({word for words in TYPE_WORDS.values() for word in words} | set(TYPE_WORDS)
                              | {"name", "insert", "entity", "placeholder", "type", "class", "value", "topic",
                                 "label", "your", "here", "x", "y", "sentence", "text", "dose", "dosage", "route",
                                 "frequency", "duration", "reason", "medication", "question", "claim", "evidence"})


# Where a placeholder's words break: spaces, underscores, hyphens and camel case ("[DiseaseClass]", a zero-shot run).
_PLACEHOLDER_WORD_BREAK = re.compile(r"[\s_\-]+|(?<=[a-z])(?=[A-Z])")


def placeholder_in(text: str) -> str | None:
    """The first template placeholder in `text` ("[Disease_Name]", "{drug}", "<drug name>", "[...]"), else None."""
    for match in _BRACKETED.finditer(text):
        content = next(group for group in match.groups() if group is not None)
        words = {word.casefold() for word in _PLACEHOLDER_WORD_BREAK.split(content) if word}
        if "_" in content or content in ("...", "\u2026") or words & PLACEHOLDER_WORDS:
            return match.group()
    return None


@functools.lru_cache(maxsize=16384)  # a run checks the same topic names again and again; compiling costs ~0.3 ms
def name_pattern(name: str) -> re.Pattern | None:
    """A whole-word pattern for a name: case-insensitive except its acronyms, any run of spaces or hyphens
    between its words ("Guillain-Barre" = "Guillain Barre", a non-breaking space or line break included), and
    an optional plural -s/-es ("diabetic cataract" finds "Diabetic Cataracts"). None for an empty name."""
    words = [word for word in _SEPARATORS.split(name.strip()) if word]
    if not words:
        return None
    shouted = is_shouted(name)
    exact = [is_acronym(word) and not shouted for word in words]
    parts = [re.escape(word) if keep else f"(?i:{re.escape(word)})" for word, keep in zip(words, exact)]
    plural = r"(?:(?i:e?s))?" if words[-1][-1].isalpha() and not exact[-1] else ""
    return re.compile(r"(?<!\w)" + r"[\s\-]+".join(parts) + plural + r"(?!\w)")


def find_mentions(text: str, name: str) -> list[tuple[int, int]]:
    """(start, end) of every occurrence of `name` in `text` (see name_pattern), left to right, non-overlapping."""
    pattern = name_pattern(name)
    return [(m.start(), m.end()) for m in pattern.finditer(text)] if pattern else []


def label_words(spec: TaskSpec) -> frozenset[str]:
    """Words that only name the task's entity type, its labels or its prompt (case-folded): 'disease',
    'Chemical', 'patient', a style such as 'genetics research summary'."""
    return _label_words(frozenset({label.name for label in spec.labels} | {spec.domain} | set(spec.styles)
                                  | set(spec.pair_roles)), spec.kg_entity_type)


@functools.lru_cache(maxsize=64)  # the parse stage asks once per reply, with the same task every time
def _label_words(names: frozenset[str], kg_entity_type: str | None) -> frozenset[str]:
    words = set(names)
    if kg_entity_type:
        words.add(kg_entity_type.replace("_", " "))
    for key in list(words):
        words |= set(TYPE_WORDS.get(key.casefold(), ()))
    words |= {f"{word} {suffix}" for word in list(words) for suffix in ("name", "entity", "type", "class")}
    return frozenset(word.casefold() for word in words | set(_GENERIC))


def _forms(phrase: str) -> set[str]:
    """The phrase and its singular candidates (last word without -s or -es): 'diseases' -> 'disease',
    'syndromes' -> 'syndrome', 'viruses' -> 'virus'."""
    words = phrase.split()
    forms = {phrase}
    if words and len(words[-1]) > 3 and words[-1].endswith("s") and not words[-1].endswith("ss"):
        forms |= {" ".join(words[:-1] + [words[-1][:-cut]]) for cut in (1, 2)}
    return forms


def mention_problem(mention: str, generic: frozenset[str]) -> tuple[str, str] | None:
    """(reason, detail) when a listed mention (or a sampled topic) cannot be an entity: a template placeholder,
    an identifier, a pronoun, a single letter or only function words ("a", "of the"), or only a label/type/prompt word (after dropping determiners and a plural s, and
    with a trailing number or letter: 'Disease 1'); else None."""
    stripped = mention.strip()
    if placeholder_in(stripped) or stripped in ("...", "\u2026"):
        return "mention_is_placeholder", f"{stripped!r} is a template placeholder"
    if _IDENTIFIER.match(stripped) or _camel_placeholder(stripped):
        return "mention_is_identifier", f"{stripped!r} is an identifier, not a name"
    if stripped in PRONOUNS or (stripped.istitle() and stripped.casefold() in PRONOUNS):
        return "mention_is_pronoun", f"{stripped!r} is a pronoun"
    words = stripped.casefold().split()
    # Acronyms keep their case and are names ("AS", "NO" for nitric oxide), never function words.
    if len(stripped) == 1 or (not is_acronym(stripped) and words and all(w in _FUNCTION_WORDS for w in words)):
        return "mention_is_function_word", f"{stripped!r} is only a letter or function words, not a name"
    while len(words) > 1 and words[0] in _DETERMINERS:
        words = words[1:]
    for cut in range(len(words), 0, -1):  # the type word, then whatever numbering follows it
        if _forms(" ".join(words[:cut])) & generic and _NUMBERED.match(" ".join(words[cut:])):
            return "mention_is_label_word", f"{stripped!r} only names the type, not an entity"
    return None


def _camel_placeholder(word: str) -> bool:
    """A camel-case compound of placeholder words ("DiseaseClass", "DrugName"): the schema leaking into a reply."""
    parts = _PLACEHOLDER_WORD_BREAK.split(word)
    return " " not in word and len(parts) > 1 and all(part.casefold() in PLACEHOLDER_WORDS for part in parts)


@dataclass(frozen=True)
class MentionIssue:
    """Why one listed mention is not labelled: a mention-level reason and its detail."""

    reason: str
    detail: str


def _overlaps(start: int, end: int, taken: list[tuple[int, int]]) -> bool:
    return any(start < b and end > a for a, b in taken)


# Annotation guidelines (NCBI-disease, BC5CDR) leave a leading article or demonstrative out of the mention.
_DETERMINER = re.compile(r"(?i)^(?:the|a|an|this|that|these|those)\s+(?=\S)")


def without_determiner(mention: str) -> str:
    """`mention` without a leading article or demonstrative ("The bird fancier's lung" -> "bird fancier's lung")."""
    return _DETERMINER.sub("", mention.strip(), count=1)


# Knowledge-graph types whose names are never an entity of the prompted type, per prompted type. Symptoms and
# side effects are left out: corpora annotate many of them as diseases ("obesity", "seizures"); genes too: their
# symbols collide with disease abbreviations ("CAD", "DMD").
OTHER_TYPES: dict[str, tuple[str, ...]] = {
    "disease": ("anatomy", "cellular_component", "chemical", "biologic", "pharmacologic_class"),
    "chemical": ("anatomy", "cellular_component", "disease", "biologic"),
}


# Head nouns that make a mention a name of another type whatever precedes them ("GABAA receptor", "BRCA1 gene",
# "APOE genotype" listed as a Disease), per prompted type. The graph's exact names (other_type_names) miss these
# phrases. Read 2026-12-07 in a README run of SmolLM2-135M: 'GABAA receptor' and 'Genotype' kept as Diseases.
_GENE_HEADS = ("gene", "protein", "enzyme", "receptor", "genotype", "allele", "polymorphism", "locus", "chromosome",
               "antibody", "hormone")
OTHER_TYPE_HEADS: dict[str, dict[str, tuple[str, ...]]] = {
    # Organisms: viruses are left out, since both corpora tag some ("human immunodeficiency virus": 4 gold
    # mentions of NCBI-disease's and BC5CDR-disease's training splits).
    "disease": {"gene": _GENE_HEADS, "chemical": ("drug", "medication", "medicine", "compound"),
                "organism": ("bacterium", "bacteria", "fungus", "fungi", "parasite")},
    "chemical": {"disease": TYPE_WORDS["disease"], "gene": _GENE_HEADS},
}
# Body parts that are another type only as the whole mention: disease names end in body parts too ("athlete's
# foot", "tennis elbow"). The same README run kept 'bone' as a Disease; Uberon's names are 'bone element'.
ANATOMY_WORDS = frozenset("bone skin liver heart brain kidney lung blood muscle nerve eye ear joint spine stomach "
                          "colon breast prostate pancreas thyroid tissue organ cell bladder ovary uterus cortex "
                          "retina cartilage tendon artery vein marrow".split())


_HEAD_ENDS = frozenset("of in for with to on from by".split())


def other_type_word(mention: str, prompted: str) -> str | None:
    """The other type a mention of the `prompted` type names by its head noun ('GABAA receptor' -> 'gene',
    'BRCA1 genes' -> 'gene') or by being only a body part ('bone', 'the liver' -> 'anatomy'), else None. Only
    the types in OTHER_TYPE_HEADS are judged (disease, chemical). The head is the last word before a
    preposition. Measured on the real training splits: it rejects 0 of NCBI-disease's 5,134 gold mentions and
    0 of BC5CDR-disease's 4,182."""
    heads = OTHER_TYPE_HEADS.get(prompted)
    whole = without_determiner(mention).casefold().split()
    # The head of "deficiency of the VLCAD protein" comes before its preposition: 6 of NCBI-disease's 5,134
    # training mentions end in a gene noun that way.
    words = whole[:next((i for i, word in enumerate(whole) if i and word in _HEAD_ENDS), len(whole))]
    if not heads or not words:
        return None
    last = _forms(words[-1])
    for kind, nouns in heads.items():
        if last & set(nouns):
            return kind
    return "anatomy" if len(whole) == 1 and last & ANATOMY_WORDS else None


# Words a name does not start with, and words it does not end with, written in lower case ("hepatitis A" and
# "vitamin A" end in a capital). "in" may start one ("in situ carcinoma").
_FRAGMENT_STARTS = frozenset("of to for with without by from as and or nor but is are was were be been which who "
                             "whom whose than".split())
_FRAGMENT_ENDS = _FUNCTION_WORDS | frozenset("which who whom whose than that".split())
_COPULAS = frozenset("is are was were".split())
# Inside a mention, a relative pronoun opens a clause: "first disease that has been identified" (a completion
# run). None is inside a gold mention of NCBI-disease's or BC5CDR-disease's training split.
_RELATIVES = frozenset("that which who whom whose".split())
# A full stop after a word of three or more letters, then a capital: "Disease. Diseases, such as HIV-1" (a
# zero-shot run). Abbreviations keep theirs: "St. Louis encephalitis", "E. coli".
_SENTENCE_END = re.compile(r"[A-Za-z]{3,}\.\s+[A-Z]")
# Modifiers that name no entity on their own ('anterior' from "localized anterior staphyloma", an evidence-cpu
# run); none is a whole gold mention of NCBI-disease's or BC5CDR-disease's training split.
_MODIFIERS = frozenset("anterior posterior lateral medial left right upper lower acute chronic severe mild rare "
                       "common congenital hereditary inherited genetic familial primary secondary malignant "
                       "benign".split())


def fragment_problem(mention: str) -> str | None:
    """Why a listed NER mention is a piece of a sentence rather than a name ('A: Schizoid personality disorder
    (SPD) is a', 'mental health condition that', 'and asthma', 'anterior', '2020'), else None: it has no
    letters, is a lone modifier ('acute', 'anterior'), runs across a sentence end, holds a colon and a space, a
    copula ('is', 'was') or a relative pronoun ('that', 'which'), starts with a preposition or conjunction, or
    ends with a function word. For NER only: attribute values are phrases ('by mouth', 'as needed')."""
    stripped = mention.strip()
    words = stripped.split()
    if not any(char.isalpha() for char in stripped):
        return f"{stripped!r} has no letters, so it names nothing"
    if len(words) == 1 and stripped.casefold() in _MODIFIERS:
        return f"{stripped!r} is only a modifier, not a name"
    if _SENTENCE_END.search(stripped):
        return f"{stripped!r} runs across a sentence end"
    if ": " in stripped:
        return f"{stripped!r} holds ': ', so it is more than a name"
    if len(words) > 1 and words[0] in _FRAGMENT_STARTS:
        return f"{stripped!r} starts with {words[0]!r}, so it is a piece of a sentence"
    if len(words) > 1 and words[-1] in _FRAGMENT_ENDS:
        return f"{stripped!r} ends with {words[-1]!r}, so it is a piece of a sentence"
    clause_word = next((word for word in words[1:-1] if word in _COPULAS | _RELATIVES), None)
    if clause_word in _RELATIVES:
        return f"{stripped!r} holds the relative pronoun {clause_word!r}, so it is a clause"
    return f"{stripped!r} holds the verb {clause_word!r}, so it is a clause" if clause_word else None


def other_type_names(names_by_type: dict[str, list[str]], prompted: str) -> dict[str, str]:
    """casefolded name -> its type, for the names of OTHER_TYPES[prompted] that are not also names of the
    prompted type ("skin" is anatomy; a name that is both anatomy and disease is left out). Empty for a type
    without an entry."""
    own = {name.casefold() for name in names_by_type.get(prompted, [])}
    return {name.casefold(): kind for kind in OTHER_TYPES.get(prompted, ()) for name in names_by_type.get(kind, [])
            if name.casefold() not in own}


def label_spans(text: str, items: list[tuple[str, str]], topic: tuple[str, str] | None = None
                ) -> tuple[list[Span], list[MentionIssue]]:
    """Non-overlapping spans of the (type, mention) `items` and the (type, name) `topic` in `text`.

    The topic is a sampled knowledge-graph name of the prompted type, so it is labelled wherever it occurs and
    wins over the listed mentions that overlap it, except those that contain it whole ('type 2 diabetes
    mellitus' around the topic 'diabetes mellitus'), which are the longer name of the same entity. Then the
    other mentions, longest first. A mention found nowhere is `entity_not_in_text`; one found only inside or
    across spans already labelled is `entity_overlaps` (one that coincides with a labelled span is simply
    already labelled)."""
    items = list(dict.fromkeys((t, without_determiner(m)) for t, m in items if m.strip()))
    found = {item: find_mentions(text, item[1]) for item in items}
    topic_at = find_mentions(text, topic[1]) if topic else []
    taken: list[tuple[int, int]] = []
    spans: list[Span] = []

    def add(entity_type: str, start: int, end: int) -> None:
        taken.append((start, end))
        spans.append(Span(start, end, entity_type, text[start:end]))

    around = sorted(((e - s, s, e, item[0]) for item in items for s, e in found[item]
                     if any(s <= a and b <= e and (s, e) != (a, b) for a, b in topic_at)), reverse=True)
    for _, start, end, entity_type in around:
        if not _overlaps(start, end, taken):
            add(entity_type, start, end)
    for start, end in topic_at:
        if not _overlaps(start, end, taken):
            add(topic[0], start, end)
    issues: list[MentionIssue] = []
    for item in sorted(items, key=lambda item: (-len(item[1]), item)):
        entity_type, mention = item
        if not found[item]:
            issues.append(MentionIssue("entity_not_in_text", f"{entity_type} {mention!r} does not occur in the "
                                       f"sentence"))
            continue
        free = [(s, e) for s, e in found[item] if not _overlaps(s, e, taken)]
        if not free and not any(occurrence in taken for occurrence in found[item]):
            inside = sorted({text[a:b] for s, e in found[item] for a, b in taken if s < b and e > a})
            issues.append(MentionIssue("entity_overlaps", f"{entity_type} {mention!r} occurs only inside or "
                                       f"across the labelled span(s) {inside}"))
        for start, end in free:
            add(entity_type, start, end)
    return sorted(spans, key=lambda s: s.start), issues
