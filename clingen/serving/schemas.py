"""Serving request/response schemas (serving stage): what each task family's predict endpoint accepts,
validated by pydantic so that bad requests get a 4xx with the reason."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from clingen.errors import DataFormatError
from clingen.parsing.fidelity import bad_characters
from clingen.training.labels import HEAD_MARKERS, TAIL_MARKERS, HasMasks, encode_relation_text


class Item(BaseModel):
    """One input. Classification and NER use `text`; relation extraction uses `text` with the two entities
    already marked (e.g. @GENE$ / @DISEASE$), or `text` plus `head` and `tail` names to mask; sentence pairs
    use `text_a` and `text_b`."""

    model_config = ConfigDict(extra="forbid")
    text: str | None = Field(None, description="The text (classification, relation, NER).")
    text_a: str | None = Field(None, description="First text of a pair.")
    text_b: str | None = Field(None, description="Second text of a pair.")
    head: str | None = Field(None, description="Relation extraction: the head entity's name in the text.")
    tail: str | None = Field(None, description="Relation extraction: the tail entity's name in the text.")


class PredictRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    inputs: list[Item] = Field(min_length=1, description="The inputs to label, in order.")


class ServingLimits(BaseModel):
    """Request bounds enforced before any model runs."""

    max_inputs: int = 64
    max_chars: int = 10_000


def check_item(item: Item, family: str, limits: ServingLimits, index: int) -> str | None:
    """None if the item fits the family and the limits, else the reason (sent back with a 422/413)."""
    needed = ("text_a", "text_b") if family == "pair" else ("text",)
    for name in needed:
        value = getattr(item, name)
        if value is None:
            return f"inputs[{index}].{name} is required for a {family} model"
        if not value.strip():
            return f"inputs[{index}].{name} is empty"
        # Refused here, before batching: a lone surrogate cannot be encoded for the tokenizer or the reply,
        # and inside a batch it would fail the other requests batched with it.
        problem = bad_characters(value)
        if problem:
            return f"inputs[{index}].{name} has a {problem}; send UTF-8 text"
        if len(value) > limits.max_chars:
            return f"inputs[{index}].{name} has {len(value)} characters; the limit is {limits.max_chars}"
    for name in ("head", "tail"):
        value = getattr(item, name)
        problem = bad_characters(value) if value else None
        if problem:
            return f"inputs[{index}].{name} has a {problem}; send UTF-8 text"
    unexpected = [n for n in ("text", "text_a", "text_b", "head", "tail")
                  if getattr(item, n) is not None and n not in needed and not (family == "relation" and n in ("head", "tail"))]
    if unexpected:
        return f"inputs[{index}] has {unexpected}, which a {family} model does not take"
    return None


def relation_item_problem(item: Item, masks: HasMasks, index: int) -> str | None:
    """None if a relation input can be marked for the model as training marked it, else the reason (sent back
    with a 422): a head without a tail or the reverse, a blank name, a name the text holds nowhere as a whole word
    (training.labels.encode_relation_text, the marking the prediction runs), or, without names, a text lacking a
    mask of the model (@GENE$) or, for a model without masks, an entity marker ([E1])."""
    names = {"head": item.head, "tail": item.tail}
    given = [role for role, name in names.items() if name is not None]
    if len(given) == 1:
        other = "tail" if given == ["head"] else "head"
        return (f"inputs[{index}] has a {given[0]} but no {other}; a relation input takes both names, or neither "
                f"when its text carries the entity masks")
    blank = next((role for role, name in names.items() if name is not None and not name.strip()), None)
    if blank:
        return f"inputs[{index}].{blank} is empty"
    if not given:
        marks = [masks.head_mask or HEAD_MARKERS[0], masks.tail_mask or TAIL_MARKERS[0]]
        missing = [mark for mark in marks if mark not in item.text]
        return (f"inputs[{index}].text lacks {' and '.join(missing)}; send the text with the entities marked "
                f"{' and '.join(marks)}, or their names as head and tail") if missing else None
    try:
        encode_relation_text(item.text, item.head, item.tail, masks)
    except DataFormatError as exc:
        return f"inputs[{index}]: {exc}"
    return None
