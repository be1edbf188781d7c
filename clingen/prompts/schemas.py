"""Reply schemas (prompts -> generation): the JSON schema each family's reply must follow, derived from the
task spec, for schema-constrained decoding. The parsers check the same shape as a second line of defence."""

from __future__ import annotations

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


def _literal(term: str, any_case: bool) -> str:
    """`term` as a regex literal, with `any_case` each letter in either case ('[Aa][Ss][Tt][Hh][Mm][Aa]'): the
    model capitalises names at the start of a sentence and writes some in capitals, and the parser matches
    names case-insensitively (masks are matched exactly). Spelled out rather than re.escape, whose escaped
    spaces ('\\ ') are not in the regex dialect xgrammar compiles."""
    def one(c: str) -> str:
        if any_case and c.lower() != c.upper():
            return f"[{c.upper()}{c.lower()}]"
        return f"\\{c}" if c in _REGEX_SPECIAL else c
    return "".join(one(c) for c in term)


def has_entity_pattern(spec: TaskSpec) -> bool:
    """Whether the task's replies carry `entity_pattern`: a relation task whose real data masks its entities."""
    return spec.family == "relation" and bool(spec.head_mask and spec.tail_mask)


def entity_pattern(head_mask: str, tail_mask: str, head: str | None = None, tail: str | None = None) -> str:
    """A JSON-schema `pattern` (anchored regex) that holds the head and then the tail, or the tail and then the
    head, each as its mask (@GENE$) or, where the row sampled one, by name ('ANKK1'), with text between them.
    The parser still requires each mask exactly once and a name as a whole word (fidelity.relation_problem).

    Why: unconstrained, SmolLM2-135M left an entity out of 376 of 500 GAD ClinGen-KG replies
    (relation_entity_missing, evidence-cpu run). Names are allowed because the model writes them far more
    readily than masks, and training masks them anyway (training.labels.encode_relation_text). The text runs
    are unbounded because xgrammar 0.1 fails to compile bounded repeats this long ({0,225}) and ignores
    minLength/maxLength beside a pattern; the parser still checks the word bounds, and a reply cut at
    max_tokens is an unparseable one."""
    def either(mask: str, name: str | None) -> str:
        forms = [_literal(mask, any_case=False)] + ([_literal(name, any_case=True)] if name and name.strip() else [])
        return "(" + "|".join(forms) + ")"
    first, second, text = either(head_mask, head), either(tail_mask, tail), _TEXT
    return f"^{text}*({first}{text}+{second}|{second}{text}+{first}){text}*$"


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
