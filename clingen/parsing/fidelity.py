"""Text-level label-fidelity rules (parsing/filtering stage): storable text, no talk about the task (as an
assistant, naming its own label, about the prompt), relation entities present, pair texts that are not copies.

Pure functions; the parsers turn what they find into rejection reasons (clingen/runfolder/reasons.py)."""

from __future__ import annotations

import functools
import re
import unicodedata

from clingen.parsing.dedup import shingles
from clingen.parsing.mentions import TYPE_WORDS, find_mentions, name_pattern, placeholder_in
from clingen.prompts.templates import INSTRUCTION_PHRASES
from clingen.tasks.spec import TaskSpec

# Talk about the task rather than the domain, in any family. ("the prompt", "this dataset" are left out: "the
# prompt diagnosis", "this dataset of 500 patients" are real text.)
META_PHRASES = ("this sentence", "the following sentence", "the above sentence", "the sentence above",
                "the sentence below", "this is a sentence", "here is a sentence", "here is the sentence",
                "a sentence about", "a sentence that", "generated sentence", "sentence about", "sentence for",
                "the json", "json object", "example of a sentence", "example sentence",
                "based on the provided",
                # README runs of SmolLM2-135M, 2026-12-07: "Example of disease sentences that include the disease
                # name 'gingival disease' in the text.", "The sentence you requested is indeed ..."
                "disease sentences", "the disease name", "you requested", "in the text",
                # a held-out run (seed 1): "The sentence is about the disease ...", "The word 'tularemia' has been
                # replaced with the original sentence", "Disease of the category: Toxoplasmosis"
                "the sentence is about", "the original sentence", "has been rewritten",
                # a second held-out sample of that run: "The disease class is Caliciviridae.", "The disease is named
                # Peroxisomal Disease.", "contains the disease named", "An example of a disease in medical text."
                "the disease class", "disease is named", "a disease with the name",
                "example of a disease", "the sentence is based", "in medical text")
# A field of the reply format or the prompt echoed as text ("sentence: ...", "Disease class: gastric"), and
# a name quoted the way the prompt quotes it ("the disease named 'typhus'").
_META_PATTERNS = (re.compile(r"(?i)(?<!\w)(?:sentence|entities|entity|topic|style|category)\s*:"),
                  re.compile(r"(?i)(?<!\w)\w+ (?:class|entity)\s*:"),  # ("Blood type:", "Drug name:" are real)
                  re.compile(r"(?i)(?<!\w)named\s+['\"\u2018\u201c]"),
                  # "contains the disease named" at the end of a reply; "a disease named after Robert Graves" is real
                  re.compile(r"(?i)(?<!\w)disease\s+named(?!\s+after\b)(?:\s*[.:,]|\s*$)"),
                  # a reply that stops where the prompt's name would go: "... is named", "The name of this disease is"
                  re.compile(r"(?i)(?<!\w)(?:named(?:\s+as)?|name\s+of\s+this\s+\w+\s+is)\s*[.:]?\s*$"),
                  # "Here is the complete list of diseases" after the first sentence, too
                  re.compile(r"(?i)(?:^|[.!?]\s+)here\s+(?:is|are)\s+(?:the|a)\s+(?:\w+\s+)?list\b"))
# The text wrapped as an item or an answer ("Sentence 1:", "Label: ADE", "The sentence is: '...'", "Output:") or
# as a list of quoted strings ("['...', 'DNA']"). ("open-label:" is trial wording; "Here's a question:" opens
# real MEDIQA-RQE questions, so "question" is not a wrapper.)
_WRAPPED = r"(?:generated\s+|new\s+|final\s+|revised\s+)?(?:sentence|text|example|output|answer|response|passage)"
_WRAPPER_PATTERNS = (
    re.compile(r"(?i)(?<![\w-])(?:sentence|text|example|item)s?\s*#?\s*\d+\s*:"),
    re.compile(r"(?i)(?<![\w-])labels?\s*:"),
    re.compile(rf"(?i)^\W*(?:the\s+)?{_WRAPPED}\s*(?:is|reads|would be)?\s*:"),
    re.compile(rf"(?i)(?<!\w)the\s+{_WRAPPED}\s+(?:is|reads|would be)\s*[:\"'\u201c\u2018]"),
    re.compile(r"\[\s*(['\"])[^'\"\]\n]*\1\s*(?:,\s*(['\"])[^'\"\]\n]*\2\s*)+\]"))
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
    roles = ((spec.head_role, head, spec.head_mask, tail), (spec.tail_role, tail, spec.tail_mask, head))
    for role, name, mask, other in roles:
        count = text.count(mask) if mask else 0
        if mask and count > 1:
            problems.append(f"the {role} mask {mask} appears {count} times (the real data has it once)")
        elif count == 1:
            continue
        elif name and find_mentions(text, name):
            if not found_on_its_own(text, name, other):
                problems.append(f"the {role} {name!r} occurs only inside the other entity's name {other!r}")
            continue
        elif name or mask:
            near = _near_mask(text, mask) if mask else None
            wanted = " or ".join(repr(x) for x in (name, mask) if x)
            problems.append(f"the {role} ({wanted}) is missing" + (f"; {near!r} is not the mask" if near else ""))
    return "; ".join(problems) or None


def found_on_its_own(text: str, name: str, other: str | None) -> bool:
    """Whether `name` occurs in `text` outside every occurrence of a longer `other` name: 'BRCA1' only inside
    'BRCA1-associated cancer' is not there on its own, since training could not mask it apart from the other
    (training.labels refuses such a row)."""
    found = find_mentions(text, name)
    inside = find_mentions(text, other) if other else []
    return bool(found) and not all(any(a <= s and e <= b and (a, b) != (s, e) for a, b in inside)
                                   for s, e in found)


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
            # The type word in any case; the name as the parser finds it (the gene MET, not the verb 'met').
            written = re.escape(token) + r"(?![\w])" if token == mask else name_pattern(token).pattern
            match = re.search(rf"(?<![\w-])(?i:{re.escape(other)})s?\s+{written}", text)
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
    ("this sentence", "the JSON"), echoed fields ("sentence:"), the text wrapped as an item or an answer
    (wrapper_phrase: "Sentence 1:", "The sentence is:"), a name quoted as the prompt quotes it, the prompt's
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
    for pattern in (*_META_PATTERNS, *_WRAPPER_PATTERNS, *_type_word_patterns(spec)):
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


def wrapper_phrase(text: str) -> str | None:
    """The words by which `text` wraps itself as an item or an answer ("Sentence 1:", "The sentence is:", "Label:",
    a list of quoted strings), else None; part of meta_phrase."""
    return next((match.group() for pattern in _WRAPPER_PATTERNS if (match := pattern.search(text))), None)


# ----- talk as a chat assistant -------------------------------------------------------------------------------
# What an assistant offers ("Here is a short clinical note:"). Not "question" or "one": "Here's a question:",
# "OK, here's one." and "Here is a nursing home patient" open real MEDIQA-RQE questions (written by doctors).
_ARTEFACT = (r"(?:sentences?|texts?|examples?|notes?|reports?|paragraphs?|passages?|summary|summaries|"
             r"descriptions?|responses?|versions?|samples?|excerpts?|snippets?|statements?|outputs?|records?)")
_ASSISTANT_PATTERNS = (
    # "Here is a brief discharge note for no_ADE:", "Below are three sentences", "Here you go:"
    re.compile(rf"(?i)^\W*(?:here(?:'s|\u2019s|\s+is|\s+are)|below\s+(?:is|are))\s+(?:[^\s:.]+\s+){{0,5}}?"
               rf"{_ARTEFACT}(?!\w)"),
    re.compile(r"(?i)^\W*here\s+you\s+(?:go|are)(?!\w)"),
    # "Sure!", "Certainly! Here ...", "Of course, here is ..." ("Certainly, further studies..." is real prose)
    re.compile(r"(?i)^\W*(?:sure|certainly|of course|absolutely|gladly)\s*(?:!|[,.:]\s*(?:here|i\b|i'|let me|below))"),
    re.compile(r"(?i)^\W*sure\s*[,.:]"),
    # "I'll generate a sentence ...", "Let me create an example"
    re.compile(rf"(?i)(?<!\w)(?:i|i'll|i\u2019ll|i will|let me)\s+(?:\w+\s+)?(?:generate|create|compose)\s+"
               rf"(?:[^\s:.]+\s+){{0,3}}?{_ARTEFACT}(?!\w)"),
)
# Anywhere in the text (whole words, case-folded). ("I'd be happy with that", "How can I help my child" are in
# real MEDIQA-RQE questions; "let me know if you" is a patient's wording too.)
ASSISTANT_PHRASES = ("as an ai", "as a language model", "an ai language model", "i am an ai", "i'm an ai",
                     "ready to help", "ready to assist", "what is your task", "what's your task",
                     "how can i help you", "how can i assist", "happy to help", "glad to help", "happy to assist",
                     "hope this helps", "feel free to ask", "i cannot generate", "i can't generate",
                     # "..., please specify the disease you're referring to, as it appears to be a medical text"
                     # (a README run of SmolLM2-135M, 2026-12-07)
                     "you're referring to", "you are referring to", "please specify the")


def assistant_phrase(text: str) -> str | None:
    """The words by which `text` talks as a chat assistant to the user instead of being domain text ("Here is a
    clinical note:", "Sure!", "I'm ready to help. What is your task?", "As an AI"), else None."""
    folded = _fold(text).replace("\u2019", "'")
    if _phrases_pattern(ASSISTANT_PHRASES).search(folded):  # one search for the common case, a text with none
        return next(phrase for phrase in ASSISTANT_PHRASES if _phrases_pattern((phrase,)).search(folded))
    for pattern in _ASSISTANT_PATTERNS:
        match = pattern.search(text)
        if match:
            return match.group().strip()
    return None


# ----- the text names its own label --------------------------------------------------------------------------
def label_named(spec: TaskSpec, text: str) -> str | None:
    """Where `text` names one of the task's labels as the task writes it, else None: an identifier label
    (no_ADE, Has_relation: an underscore) anywhere, ignoring case; any label as written in parentheses or
    brackets ("(ADE)", "[Disease]"), in quotes ("'neutral'") or after 'label'/'class'/'category' ("labelled as
    Entail"). A label that is an ordinary word counts only there: "cancer" in a cancer text is domain text, and
    "adverse drug event (ADE)" defines an abbreviation, as real text does."""
    for pattern in _label_patterns(tuple(spec.label_names)):
        for match in pattern.finditer(text):
            if not _defines_abbreviation(text, match):
                return match.group()
    return None


_QUOTES = "'\"\u2018\u2019\u201c\u201d"


@functools.lru_cache(maxsize=64)
def _label_patterns(labels: tuple[str, ...]) -> tuple[re.Pattern, ...]:
    patterns = []
    for label in labels:
        name = re.escape(label)
        if "_" in label:
            patterns.append(re.compile(rf"(?i)(?<![\w-]){name}(?![\w-])"))
        patterns.append(re.compile(rf"[(\[]\s*(?P<abbr>{name})\s*[)\]]|[{_QUOTES}]{name}[{_QUOTES}]"
                                   rf"|(?i:(?<!\w)(?:label(?:l?ed)?|labels|class(?:ified)?|categor(?:y|i[sz]ed))\s*"
                                   rf"(?:as\s+|:\s*|=\s*|is\s+))[(\[{_QUOTES}]?{name}(?!\w)"))
    return tuple(patterns)


def _defines_abbreviation(text: str, match: re.Match) -> bool:
    """Whether a parenthesised acronym follows the words it abbreviates ("adverse drug event (ADE)")."""
    abbreviation = match.groupdict().get("abbr")
    if not abbreviation or not abbreviation.isalpha() or not abbreviation.isupper():
        return False
    words = re.findall(r"[^\W\d_]+", text[:match.start()])[-len(abbreviation):]
    return "".join(word[0] for word in words).casefold() == abbreviation.casefold()


# ----- every rule on a text's content, in the order the parsers apply them --------------------------------------
TASK_TALK_REASONS = ("assistant_text", "label_in_text", "meta_text")


def text_problem(spec: TaskSpec, text: str, style: str | None = None) -> tuple[str, str] | None:
    """(reason, detail) for the first content rule `text` breaks, else None: a template placeholder, talk as an
    assistant, its own label named, talk about the task, a repetitive list, a table. The parsers reject a row by
    it and `clingen audit` counts kept texts by it, so both judge a text alike."""
    checks = (("placeholder_text", lambda: placeholder_in(text), "the text holds the template placeholder {!r}"),
              ("assistant_text", lambda: assistant_phrase(text), "the text talks as an assistant ({!r})"),
              ("label_in_text", lambda: label_named(spec, text), "the text names its label ({!r})"),
              ("meta_text", lambda: meta_phrase(spec, text, style), "the text talks about the task ({!r})"),
              ("repetitive_text", lambda: repetition(text), "the text repeats itself: {}"),
              ("table_text", lambda: table_row(text), "the text is a table, not prose: {}"))
    for reason, check, detail in checks:  # in this order: the first rule broken names the reason
        found = check()
        if found:
            return reason, detail.format(found)
    return None


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
    return (re.compile(rf"(?i)(?<!\w)(?:{words})s?(?:\s+\S{{1,3}}|\s+name)?\s*:"),
            re.compile(rf"(?i)(?<!\w)(?:{words})\s+(?:named\s+|called\s+)?['\"\u2018\u201c]"),
            re.compile(rf"(?i)(?<!\w)the\s+(?:{words})\s+named\s+(?!after\b)"))


def _type_words(spec: TaskSpec) -> set[str]:
    words = {label.name.casefold() for label in spec.labels} | {spec.domain.casefold()}
    if spec.kg_entity_type:
        words.add(spec.kg_entity_type.replace("_", " "))
    return {word for key in list(words) for word in (key, *TYPE_WORDS.get(key, ()))}


# Sentences for the repetition rule: a stop and a space, or the end ("Snake Bites Disease. Snakes Bites Diseases.").
# Only after a word of three letters: "Punica granatum L. var. spinosa" and "1." are not sentence ends.
_SENTENCE_BREAK = re.compile(r"(?<=[^\W\d_]{3}[.!?])\s+")
# A sentence of at most this many words is a fragment; the sentence rules judge texts of at most _SHORT_TEXT words
# (a long real abstract may repeat a phrase; 1 of HoC's 1,294 training abstracts did).
_FRAGMENT_WORDS, _SHORT_TEXT = 4, 40


def repetition(text: str, min_words: int = 8, min_distinct: float = 0.5) -> str | None:
    """Why a text is a repetitive list rather than prose: fewer than `min_distinct` of its words (of at least
    `min_words`) distinct ("Cancer, Cancer, Liver Cancer, Cancer, ..."); a sentence said twice; or two or more
    sentences of at most four words each, a list of names rather than prose ("1. disease. medical. chronic
    granulomatous disease.", "Disease. Small Cell Carcinoma. Small Cell Carcinoma.", README runs); else None."""
    words = _WORDS.findall(text.casefold())
    if len(words) >= min_words and len(set(words)) < min_distinct * len(words):
        return f"{len(set(words))} distinct words of {len(words)}"
    if len(words) > _SHORT_TEXT or "?" in text:  # short questions are prose: "Creatine. What is it?" (MEDIQA-RQE)
        return None
    sentences = [_WORDS.findall(s.casefold()) for s in _SENTENCE_BREAK.split(text.strip()) if _WORDS.search(s)]
    said = [" ".join(s) for s in sentences]
    twice = next((s for i, s in enumerate(said) if s in said[:i] and len(sentences[i]) > 1), None)
    if twice:
        return f"the sentence {twice!r} twice"
    if len(sentences) > 1 and all(len(s) <= _FRAGMENT_WORDS for s in sentences):
        return f"{len(sentences)} sentences of at most {_FRAGMENT_WORDS} words: a list, not prose"
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
