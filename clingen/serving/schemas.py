"""Serving request/response schemas (serving stage): what each task family's predict endpoint accepts,
validated by pydantic so that bad requests get a 4xx with the reason."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from clingen.parsing.fidelity import bad_characters


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
