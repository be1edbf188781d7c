"""Text-level label-fidelity rules (parsing/filtering stage): storable text, no talk about the task, relation
entities present, pair texts that are not copies.

Pure functions; the parsers turn what they find into rejection reasons (clingen/parsing/reasons.py)."""

from __future__ import annotations

import functools
import re
import unicodedata

from clingen.parsing.dedup import shingles
from clingen.parsing.mentions import TYPE_WORDS, find_mentions
from clingen.prompts.templates import INSTRUCTION_PHRASES
from clingen.tasks.spec import TaskSpec

# Talk about the task rather than the domain, in any family. ("the prompt", "this dataset" are left out: "the
# prompt diagnosis", "this dataset of 500 patients" are real text.)
META_PHRASES = ("this sentence", "the following sentence", "the above sentence", "the sentence above",
                "the sentence below", "this is a sentence", "here is a sentence", "here is the sentence",
                "a sentence about", "a sentence that", "generated sentence", "sentence about", "sentence for",
                "the json", "json object", "as an ai", "example of a sentence", "example sentence",
                "based on the provided")
# A field of the reply format or the prompt echoed as text ("sentence: ...", "Disease class: gastric"), and
# a name quoted the way the prompt quotes it ("the disease named 'typhus'").
_META_PATTERNS = (re.compile(r"(?i)(?<!\w)(?:sentence|entities|entity|topic|style)\s*:"),
                  re.compile(r"(?i)(?<!\w)\w+ (?:class|entity)\s*:"),  # ("Blood type:", "Drug name:" are real)
                  re.compile(r"(?i)(?<!\w)named\s+['\"\u2018\u201c]"))
_WORDS = re.compile(r"[^\W_]+")
# Names the prompts give the two texts of a pair; a text that uses them is about the prompt.
_LETTERED_ROLES = ("sentence A", "sentence B", "question A", "question B", "text A", "text B")
# Six words in a row from a label's definition: the prompt's instruction echoed. Shorter runs ("the evidence
# supports the claim") are ordinary wording in fact-check and scientific text.
_ECHO_WORDS = 6


def bad_characters(text: str) -> str | None:
    """A description of the first character Parquet/UTF-8 cannot store or a reader would choke on (a lone
    surrogate from a JSON escape such as \\ud83d, a control character other than tab/newline), else None."""
    for index, char in enumerate(text):
        category = unicodedata.category(char)
        if category == "Cs" or (category == "Cc" and char not in "\t\n\r"):
            kind = "lone surrogate" if category == "Cs" else "control character"
            return f"{kind} U+{ord(char):04X} at character {index}"
    return None


def storable(text: str) -> str:
    """`text` with lone surrogates written as \\uXXXX escapes, so a failure record that quotes a bad reply can
    itself always be written as UTF-8."""
    return "".join(f"\\u{ord(c):04x}" if 0xD800 <= ord(c) <= 0xDFFF else c for c in text)


def relation_problem(spec: TaskSpec, text: str, head: str | None, tail: str | None) -> str | None:
    """Why a relation sentence does not carry its two entities, else None. Each role must appear by name
    (whole word) or by the real data's mask written exactly and once (@GENE$); rows without sampled entities
    (zero-shot, few-shot) must carry both masks when the task has them, or training could not tell which
    entities the label is about."""
    problems = []
    for role, name, mask in ((spec.head_role, head, spec.head_mask), (spec.tail_role, tail, spec.tail_mask)):
        count = text.count(mask) if mask else 0
        if mask and count > 1:
            problems.append(f"the {role} mask {mask} appears {count} times (the real data has it once)")
        elif count == 1 or (name and find_mentions(text, name)):
            continue
        elif name or mask:
            near = _near_mask(text, mask) if mask else None
            wanted = " or ".join(repr(x) for x in (name, mask) if x)
            problems.append(f"the {role} ({wanted}) is missing" + (f"; {near!r} is not the mask" if near else ""))
    return "; ".join(problems) or None


def swapped_roles(spec: TaskSpec, text: str, head: str | None, tail: str | None) -> str | None:
    """Where a relation sentence calls one entity by the other role's type word ("the gene @DISEASE$", "the
    disease @GENE$" or the same before a sampled name), else None. The model then wrote the sentence about the
    wrong entity, so its label is about another pair than the masks say. Measured on GAD: 10 of the 37 examples
    SmolLM2-135M kept with clingen-kg, against 9 of the 4,796 real training sentences (0.19%, where GAD's own
    masking cut a name such as "@GENE$ gene @DISEASE$")."""
    roles = ((spec.head_role, head, spec.head_mask, spec.tail_role), (spec.tail_role, tail, spec.tail_mask,
                                                                    spec.head_role))
    for role, name, mask, other in roles:
        if not other or other.lower() == (role or "").lower():
            continue
        for token in (mask, name):
            if not token:
                continue
            match = re.search(rf"(?<![\w-]){re.escape(other)}s?\s+{re.escape(token)}(?![\w])", text, re.IGNORECASE)
            if match:
                return f"{match.group()!r} calls the {role} ({token}) a {other}"
    return None


def _near_mask(text: str, mask: str) -> str | None:
    core = re.escape(mask.strip("@$"))
    match = re.search(rf"@\s*{core}\s*\$?|{core}\s*\$", text, flags=re.IGNORECASE)
    return match.group() if match and match.group() != mask else None


def pair_copy_share(text_a: str, text_b: str) -> float:
    """Jaccard similarity of the two texts' character 5-grams (after NFKC, case and space normalisation): 1.0 when
    the second text repeats the first word for word. Symmetric, so that a shorter restatement (an entailed
    hypothesis, an equivalent question) is not taken for a copy of the longer text it draws on."""
    first, second = shingles(text_a), shingles(text_b)
    return len(first & second) / len(first | second) if first or second else 1.0


def meta_phrase(spec: TaskSpec, text: str, style: str | None = None) -> str | None:
    """The phrase by which `text` talks about the task instead of the domain, else None: generic phrases
    ("this sentence", "the JSON"), echoed fields ("sentence:"), a name quoted as the prompt quotes it, the prompt's
    own instruction words, the prompt's `style` named as the text itself ("the genetics research summary is
    about..."), six words in a row of a label's definition, and for pairs the texts' names ("question A", "the
    premise")."""
    folded = _fold(text)
    styled = (f"the {style}", f"this {style}") if style else ()
    phrases = META_PHRASES + INSTRUCTION_PHRASES + styled
    if _phrases_pattern(phrases).search(folded):  # one search for the common case, a text with none of them
        for phrase in phrases:
            if _phrases_pattern((phrase,)).search(folded):
                return phrase
    for pattern in (*_META_PATTERNS, *_type_word_patterns(spec)):
        match = pattern.search(text)
        if match:
            return match.group()
    echo = _definition_echo(spec, folded)
    if echo or spec.family != "pair":
        return echo
    for role in dict.fromkeys((*spec.pair_roles, *_LETTERED_ROLES)):
        # "question A": the letter must match as written, or "a question a doctor..." would count.
        if re.fullmatch(r"\w+ [A-Z]", role) and \
                re.search(rf"(?<!\w)(?i:{re.escape(role[:-2])}) {role[-1]}(?!\w)", text):
            return role
    # ("the hypothesis" is left out: "the hypothesis of sepsis was ruled out" is a clinical note.)
    return "the premise" if "premise" in spec.pair_roles and re.search(r"(?<!\w)the premise(?!\w)", folded) else None


@functools.lru_cache(maxsize=256)
def _phrases_pattern(phrases: tuple[str, ...]) -> re.Pattern:
    """Any of the phrases as whole words, in case-folded text. Compiled once: the parse stage checks every reply,
    and re's own cache (512 patterns) is soon flushed by the per-name patterns of mentions.name_pattern."""
    return re.compile(r"(?<!\w)(?:" + "|".join(re.escape(phrase.casefold()) for phrase in phrases) + r")(?!\w)")


def _type_word_patterns(spec: TaskSpec) -> tuple[re.Pattern, ...]:
    return _type_word_patterns_of(frozenset(_type_words(spec)))


@functools.lru_cache(maxsize=64)
def _type_word_patterns_of(type_words: frozenset[str]) -> tuple[re.Pattern, ...]:
    """The prompt's way of naming a topic, echoed: a type word as a field ("Disease:", "Disease C#:"), quoting a
    name ("the disease 'gout'") or introducing it as the template does ("the disease named gout"; "named after"
    is real text)."""
    words = "|".join(sorted({re.escape(w) for w in type_words}, key=len, reverse=True))
    return (re.compile(rf"(?i)(?<!\w)(?:{words})s?(?:\s+\S{{1,3}})?\s*:"),
            re.compile(rf"(?i)(?<!\w)(?:{words})\s+(?:named\s+|called\s+)?['\"\u2018\u201c]"),
            re.compile(rf"(?i)(?<!\w)the\s+(?:{words})\s+named\s+(?!after\b)"))


def _type_words(spec: TaskSpec) -> set[str]:
    words = {label.name.casefold() for label in spec.labels} | {spec.domain.casefold()}
    if spec.kg_entity_type:
        words.add(spec.kg_entity_type.replace("_", " "))
    return {word for key in list(words) for word in (key, *TYPE_WORDS.get(key, ()))}


def repetition(text: str, min_words: int = 8, min_distinct: float = 0.5) -> str | None:
    """Why a text is a repetitive list rather than prose ("Cancer, Cancer, Liver Cancer, Cancer, ..."): fewer
    than `min_distinct` of its words (of at least `min_words`) distinct; else None."""
    words = _WORDS.findall(text.casefold())
    if len(words) >= min_words and len(set(words)) < min_distinct * len(words):
        return f"{len(set(words))} distinct words of {len(words)}"
    return None


# A cell separator: a bar with space or a line edge on both sides ("X | EHR | XDGDs", "| a | b |").
_CELL_BAR = re.compile(r"(?:^|\s)\|(?=\s|$)", re.MULTILINE)


def table_row(text: str, min_bars: int = 2) -> str | None:
    """Why a text is a table row or table rather than prose ("X-Linked Genetic Diseases (XDGDs) | EHR | XDGDs",
    from a README run of SmolLM2-135M): at least `min_bars` cell-separating bars; else None. None of the real
    NCBI-disease, BC5CDR, GAD, HoC or MEDIQA-RQE texts under ../shared holds one."""
    bars = len(_CELL_BAR.findall(text))
    return f"{bars} cell separators ('|')" if bars >= min_bars else None


def _definition_echo(spec: TaskSpec, folded: str) -> str | None:
    words = " " + " ".join(_WORDS.findall(folded)) + " "
    for label in spec.labels:
        described = _WORDS.findall(label.description.casefold())
        for i in range(len(described) - _ECHO_WORDS + 1):
            run = " ".join(described[i:i + _ECHO_WORDS])
            if f" {run} " in words:
                return run
    return None


def _fold(text: str) -> str:
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text).casefold())
