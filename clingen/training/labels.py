"""Training stage: the label space a model is trained on (ids <-> names) and the relation input encoding."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from clingen.errors import DataFormatError, UnknownNameError
from clingen.parsing.mentions import find_mentions
from clingen.tasks.spec import TaskSpec

HEAD_MARKERS = ("[E1]", "[/E1]")
TAIL_MARKERS = ("[E2]", "[/E2]")


class HasMasks(Protocol):
    """Anything carrying a relation task's mask tokens: a TaskSpec or a model card view."""

    head_mask: str | None
    tail_mask: str | None


@dataclass(frozen=True)
class LabelSpace:
    """The model's output classes in id order: label names for sequence tasks, BIO tags for token tasks."""

    names: tuple[str, ...]
    multi_label: bool
    kind: Literal["sequence", "token"]
    family: str

    @property
    def num_labels(self) -> int:
        return len(self.names)

    def to_id(self, name: str) -> int:
        """The id of a label name; an unknown name lists the known ones."""
        try:
            return self.names.index(name)
        except ValueError:
            raise UnknownNameError("label", name, self.names) from None

    def to_name(self, index: int) -> str:
        if not 0 <= index < len(self.names):
            raise IndexError(f"label id {index} is out of range; expected 0..{len(self.names) - 1}")
        return self.names[index]

    def id2label(self) -> dict[int, str]:
        return dict(enumerate(self.names))

    def label2id(self) -> dict[str, int]:
        return {name: index for index, name in enumerate(self.names)}


def label_space(spec: TaskSpec) -> LabelSpace:
    """The label space of a task: NER/attribute tasks tag tokens with O and B-/I-<label>, the other
    families classify the whole input into the spec's label names (in spec order)."""
    if spec.family in ("ner", "attribute"):
        names = ["O"] + [tag for name in spec.label_names for tag in (f"B-{name}", f"I-{name}")]
        return LabelSpace(tuple(names), False, "token", spec.family)
    return LabelSpace(tuple(spec.label_names), bool(spec.multi_label), "sequence", spec.family)


@dataclass(frozen=True)
class RelationMention:
    """One occurrence of a relation's head or tail in a text: characters [start, end) and the role."""

    start: int
    end: int
    role: Literal["head", "tail"]


def relation_mentions(text: str, head: str | None, tail: str | None) -> list[RelationMention]:
    """The occurrences of head and tail in `text` that the model input marks, left to right, never overlapping.
    Found by the parser's own matcher (parsing.mentions.find_mentions: whole words, acronyms with their case,
    so the gene MET is not the verb "met"), so training and serving mark exactly what the parse stage accepted
    as the entity. Where occurrences overlap (a name inside the other name), the leftmost wins, then the
    longer, then the head."""
    found = [RelationMention(start, end, role) for role, name in (("head", head), ("tail", tail))
             if name and name.strip() for start, end in find_mentions(text, name)]
    found.sort(key=lambda m: (m.start, -(m.end - m.start), m.role != "head"))
    kept: list[RelationMention] = []
    for mention in found:
        if not kept or mention.start >= kept[-1].end:
            kept.append(mention)
    return kept


def encode_relation_text(text: str, head: str | None, tail: str | None, spec: HasMasks) -> str:
    """The model input of a relation example: every occurrence of head and tail (relation_mentions) replaced
    by the spec's masks (@GENE$ ... as in the GAD/CDR/ChemProt data), or wrapped in [E1] ... [/E1] /
    [E2] ... [/E2] markers when the spec has no mask. Already-masked text (head and tail None) is returned
    unchanged. Raises DataFormatError when a given name is found nowhere and its mask is not in the text
    either: the model would be fed a text without that entity marked."""
    mentions = relation_mentions(text, head, tail)
    for role, name in (("head", head), ("tail", tail)):
        mask = spec.head_mask if role == "head" else spec.tail_mask
        if name and name.strip() and not any(m.role == role for m in mentions) and not (mask and mask in text):
            where = "occurs only inside the other entity's name" if find_mentions(text, name) else "does not occur"
            raise DataFormatError(f"relation {role} {name!r} {where} in the text {text[:200]!r}; expected it as a "
                                  f"whole word (acronyms in their case)" + (f" or the mask {mask}" if mask else ""))
    pieces, at = [], 0
    for mention in mentions:
        pieces += [text[at:mention.start], _marked(text[mention.start:mention.end], mention.role, spec)]
        at = mention.end
    return "".join(pieces) + text[at:]


def _marked(surface: str, role: str, spec: HasMasks) -> str:
    mask = spec.head_mask if role == "head" else spec.tail_mask
    if mask:
        return mask
    opening, closing = HEAD_MARKERS if role == "head" else TAIL_MARKERS
    return f"{opening} {surface} {closing}"
