"""Reply schemas (prompts -> generation): the JSON schema each family's reply must follow, derived from the
task spec, for schema-constrained decoding. The parsers check the same shape as a second line of defence."""

from __future__ import annotations

from clingen.tasks.spec import TaskSpec

_CHARS_PER_WORD = 8  # generous: clinical words are long, and the word bound is enforced after parsing


def reply_schema(spec: TaskSpec, max_words: int) -> dict | None:
    """The JSON schema of one reply, or None for families whose reply is plain text (classification)."""
    sentence = {"type": "string", "minLength": 1, "maxLength": max_words * _CHARS_PER_WORD}
    if spec.family == "classification":
        return None
    if spec.family in ("relation", "pair"):
        properties = {"sentence": sentence}
    elif spec.family == "ner":
        entity = {"type": "string", "minLength": 1, "maxLength": 100}
        properties = {"sentence": sentence, "entities": {"type": "array", "items": entity, "maxItems": 16}}
    else:  # attribute: the attribute types are the label enum
        item = {"type": "object", "additionalProperties": False, "required": ["type", "text"],
                "properties": {"type": {"type": "string", "enum": spec.label_names},
                               "text": {"type": "string", "minLength": 1, "maxLength": 100}}}
        properties = {"sentence": sentence, "attributes": {"type": "array", "items": item, "maxItems": 12}}
    return {"type": "object", "properties": properties, "required": list(properties),
            "additionalProperties": False}
