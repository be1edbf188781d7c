"""Training stage: the label space a model is trained on (ids <-> names) and the relation input encoding."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, Protocol

from clingen.errors import UnknownNameError
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


def _whole_word(term: str) -> str:
    # Lookarounds rather than \b so that terms starting or ending with punctuation ("IL-6", "(+)-x") still
    # match only as whole words.
    return rf"(?<!\w){re.escape(term)}(?!\w)"


def encode_relation_text(text: str, head: str | None, tail: str | None, spec: HasMasks) -> str:
    """The model input of a relation example: every whole-word, case-insensitive occurrence of head and
    tail replaced by the spec's masks (@GENE$ ... as in the GAD/CDR/ChemProt data), or wrapped in
    [E1] ... [/E1] / [E2] ... [/E2] markers when the spec has no mask. Already-masked text (head and
    tail None) is returned unchanged."""
    terms = {key: term for key, term in (("head", head), ("tail", tail)) if term and term.strip()}
    if not terms:
        return text
    # One pass over both terms, longer first, so that a tail inside the head (or inside a mask just
    # written) is never replaced a second time.
    ordered = sorted(terms.items(), key=lambda item: -len(item[1]))
    pattern = re.compile("|".join(f"(?P<{key}>{_whole_word(term)})" for key, term in ordered), re.IGNORECASE)

    def replace(match: re.Match) -> str:
        role = match.lastgroup
        mask = spec.head_mask if role == "head" else spec.tail_mask
        if mask:
            return mask
        opening, closing = HEAD_MARKERS if role == "head" else TAIL_MARKERS
        return f"{opening} {match.group()} {closing}"

    return pattern.sub(replace, text)
