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


def reply_schema(spec: TaskSpec, max_words: int, max_tokens: int = 256, min_words: int = 1) -> dict | None:
    """The JSON schema of one reply, or None for families whose reply is plain text (classification). Its
    sentence holds at least min_words x 5 and at most ~max_words x 8 characters (within the token budget)."""
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
        properties = {"sentence": sentence}
    elif spec.family == "ner":
        properties = {"sentence": sentence, "entities": {"type": "array", "items": mention, "maxItems": _MAX_ITEMS}}
    else:  # attribute: the attribute types are the label enum
        item = {"type": "object", "additionalProperties": False, "required": ["type", "text"],
                "properties": {"type": {"type": "string", "enum": spec.label_names}, "text": mention}}
        properties = {"sentence": sentence, "attributes": {"type": "array", "items": item, "maxItems": _MAX_ITEMS}}
    return {"type": "object", "properties": properties, "required": list(properties),
            "additionalProperties": False}
