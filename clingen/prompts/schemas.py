"""Reply schemas (prompts -> generation): the JSON schema each family's reply must follow, derived from the
task spec, for schema-constrained decoding. The parsers check the same shape as a second line of defence."""

from __future__ import annotations

import functools
import re
import sys
import unicodedata

from clingen.kg.names import is_acronym, is_shouted
from clingen.tasks.spec import TaskSpec

_CHARS_PER_WORD = 8  # generous: clinical words are long; the word bound itself is checked after parsing
# Conservative: English runs ~4 characters a token, odd text fewer. The bounds below keep a whole reply
# inside the token budget, so a constrained reply is never cut off mid-string (and unparseable).
_CHARS_PER_TOKEN = 3
# The shortest sentence the schema lets through: min_words words of ~5 characters with their spaces. Without it
# SmolLM2 wrote the bare topic as the "sentence" ("Cartilage Diseases") in 52% of NCBI rows (too_short).
_MIN_CHARS_PER_WORD = 5
# Six mentions of up to ~44 characters fit beside a sentence in 256 tokens; eight of 28 cut real names
# ("acute myeloid leukemia with ...").
_MAX_ITEMS = 6


# Text around the entities: any character but '@' (so no second or misspelt mask), and none that JSON must
# escape, so the pattern reads the same on the decoded string and on the raw reply the grammar constrains.
_TEXT = r'[^@"\\\n]'
_REGEX_SPECIAL = frozenset("\\.^$*+?()[]{}|/-")
_CLASS_SPECIAL = frozenset("\\]^-[")
_WORD = re.compile(r"\w")
_SPLIT = re.compile(r"[\s\-]+")  # parsing.mentions.name_pattern's word separators


def _escaped(char: str) -> str:
    """One character as a regex literal. Spelled out rather than re.escape, whose escaped spaces ('\\ ') are not
    in the regex dialect xgrammar compiles."""
    return f"\\{char}" if char in _REGEX_SPECIAL else char


def _class_member(point: int) -> str:
    return f"\\{chr(point)}" if chr(point) in _CLASS_SPECIAL else chr(point)


def _char_class(chars) -> str:
    """A regex character class of `chars`, runs of consecutive code points written as ranges."""
    runs: list[list[int]] = []
    for point in sorted({ord(char) for char in chars}):
        if runs and point == runs[-1][1] + 1:
            runs[-1][1] = point
        else:
            runs.append([point, point])
    one = _class_member
    return "[" + "".join(one(a) if a == b else f"{one(a)}{one(b)}" if b == a + 1 else f"{one(a)}-{one(b)}"
                         for a, b in runs) + "]"


def _raw(char: str) -> bool:
    """Whether a reply can hold the character as it is: JSON escapes '"', '\\' and control characters, and the
    parser refuses controls and lone surrogates (parsing.fidelity.bad_characters)."""
    return char not in '"\\' and unicodedata.category(char) not in ("Cc", "Cs")


# What name_pattern's separators ([\s\-]+) match in a reply: the Unicode spaces (all below U+3001) and '-'.
_SPACES = [char for char in map(chr, range(0x3001)) if char.isspace() and _raw(char)]
_SEPARATOR = _char_class([*_SPACES, "-"]) + "+"
# A character that may stand beside a name, for name_pattern's whole-word test ((?<!\w), (?!\w)): the spaces and
# the visible ASCII, Latin-1 and General Punctuation characters that are not word characters. xgrammar's \W is
# ASCII-only and the whole complement of Python's \w runs to 700 ranges, so this is a subset: a rarer neighbour (a
# CJK bracket) fails the grammar, never the parser.
_NEAR_NAME = [*_SPACES, *map(chr, [*range(0x20, 0xC0), 0xD7, 0xF7, *range(0x2000, 0x2070)])]
_BOUNDARY = _char_class(char for char in _NEAR_NAME if not _WORD.match(char) and _raw(char) and char != "@"
                        and unicodedata.category(char) not in ("Cf", "Cn"))


@functools.cache
def _cased_characters() -> str:
    """Every character with a case mapping (about 2,900): the only ones Python's case-insensitive matching pairs
    with another character (tests/unit/test_schema_names.py checks this over all of Unicode). Built once, ~0.25 s."""
    return "".join(char for char in map(chr, range(sys.maxunicode + 1)) if char.lower() != char or char.upper() != char)


@functools.lru_cache(maxsize=4096)
def _any_case(char: str) -> str:
    """`char` as name_pattern's case-insensitive words match it: every character re.IGNORECASE pairs with it
    ('s' -> '[Ssſ]', 'k' -> '[KkK]'), or the literal for a character without case."""
    same = set(re.findall(f"(?i:{re.escape(char)})", _cased_characters())) | {char}
    return _char_class(same) if len(same) > 1 else _escaped(char)


def name_regex(name: str) -> str | None:
    """parsing.mentions.name_pattern in the JSON-schema regex dialect xgrammar compiles, without its whole-word
    test (entity_pattern adds it): acronym words in their own case, the other words in any case Python's
    re.IGNORECASE accepts, any run of spaces or hyphens between words, and the optional plural -s/-es. None for a
    blank name or one that holds a character a reply cannot carry raw ('"', '\\', a control character).

    Why: the schema used to let the model write any name in any case ('[Mm][Ee][Tt]' for the gene MET), which
    the parser then refused ("met" is the verb) and the row was wasted."""
    words = [word for word in _SPLIT.split(name.strip()) if word]
    if not words or not all(_raw(char) for word in words for char in word):
        return None
    shouted = is_shouted(name)
    exact = [is_acronym(word) and not shouted for word in words]
    parts = ["".join(_escaped(c) if keep else _any_case(c) for c in word) for word, keep in zip(words, exact)]
    plural = f"({_any_case('e')}?{_any_case('s')})?" if words[-1][-1].isalpha() and not exact[-1] else ""
    return _SEPARATOR.join(parts) + plural


def has_entity_pattern(spec: TaskSpec) -> bool:
    """Whether the task's replies carry `entity_pattern`: a relation task whose real data masks its entities."""
    return spec.family == "relation" and bool(spec.head_mask and spec.tail_mask)


def entity_pattern(head_mask: str, tail_mask: str, head: str | None = None, tail: str | None = None) -> str:
    """A JSON-schema `pattern` (anchored regex) that holds the head and then the tail, or the tail and then the
    head, each as its mask (@GENE$) or, where the row sampled one, by name as the parser finds it (`name_regex`:
    'ANKK1' exactly, 'lung cancer' in any case) with a space or punctuation or the text's end on either side,
    with text between them. The parser still requires each mask exactly once (fidelity.relation_problem).

    Why: unconstrained, SmolLM2-135M left an entity out of 376 of 500 GAD ClinGen-KG replies
    (relation_entity_missing, evidence-cpu run). Names are allowed because the model writes them far more
    readily than masks, and training masks them anyway (training.labels.encode_relation_text). The text runs
    are unbounded because xgrammar 0.1 fails to compile bounded repeats this long ({0,225}) and ignores
    minLength/maxLength beside a pattern; the parser still checks the word bounds, and a reply cut at
    max_tokens is an unparseable one."""
    first = ("".join(map(_escaped, head_mask)), name_regex(head) if head else None)
    second = ("".join(map(_escaped, tail_mask)), name_regex(tail) if tail else None)
    return f"^({_in_order(first, second)}|{_in_order(second, first)})$"


def _in_order(before: tuple[str, str | None], after: tuple[str, str | None]) -> str:
    """The alternatives with the entity `before` ahead of `after`, each a (mask, name regex or None) pair. A name
    takes a boundary character on each side it has text; one between two names serves both ('MET-lung cancer')."""
    text, edge = _TEXT, _BOUNDARY
    (mask, name), (later_mask, later_name) = before, after
    then = [f"{text}+{later_mask}{text}*"] + ([f"{text}*{edge}{later_name}({edge}{text}*)?"] if later_name else [])
    options = [f"{text}*{mask}({'|'.join(then)})"]
    if name:
        then = [f"{text}*{later_mask}{text}*"] + ([f"({text}*{edge})?{later_name}({edge}{text}*)?"]
                                                   if later_name else [])
        options.append(f"({text}*{edge})?{name}{edge}({'|'.join(then)})")
    return "|".join(options)


def reply_schema(spec: TaskSpec, max_words: int, max_tokens: int = 256, min_words: int = 1,
                 head: str | None = None, tail: str | None = None) -> dict | None:
    """The JSON schema of one reply, or None for families whose reply is plain text (classification). Its
    sentence holds at least min_words x 5 and at most ~max_words x 8 characters (within the token budget); a
    relation task whose real data masks its entities requires instead both entities, by mask or by the row's
    head and tail names (`entity_pattern`)."""
    if spec.family == "classification":
        return None
    budget = max_tokens * _CHARS_PER_TOKEN
    listed = spec.family in ("ner", "attribute")
    sentence_chars = min(max_words * _CHARS_PER_WORD, int(budget * (0.6 if listed else 0.9)))
    item_chars = max(8, min(60, int(budget * 0.35) // _MAX_ITEMS))
    sentence = {"type": "string", "minLength": min(min_words * _MIN_CHARS_PER_WORD, sentence_chars // 2),
                "maxLength": sentence_chars}
    mention = {"type": "string", "minLength": 1, "maxLength": item_chars}
    if spec.family in ("relation", "pair"):
        if has_entity_pattern(spec):
            # Without the length keys, so that vLLM keeps the schema on xgrammar (beside a pattern it would
            # move it to its guidance backend, which did not hold the lengths either).
            sentence = {"type": "string", "pattern": entity_pattern(spec.head_mask, spec.tail_mask, head, tail)}
        properties = {"sentence": sentence}
    elif spec.family == "ner":
        properties = {"sentence": sentence, "entities": {"type": "array", "items": mention, "maxItems": _MAX_ITEMS}}
    else:  # attribute: the attribute types are the label enum
        item = {"type": "object", "additionalProperties": False, "required": ["type", "text"],
                "properties": {"type": {"type": "string", "enum": spec.label_names}, "text": mention}}
        properties = {"sentence": sentence, "attributes": {"type": "array", "items": item, "maxItems": _MAX_ITEMS}}
    return {"type": "object", "properties": properties, "required": list(properties),
            "additionalProperties": False}
