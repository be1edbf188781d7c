"""Datasets stage: inline entity markers of public relation copies turned into a task's entity masks.

Some public copies of relation data mark the two entities in the text (SciBERT's ChemProt JSON lines:
`<< aspirin >> inhibits [[ COX-1 ]]`; SemEval-style `<e1>..</e1>` and `<e2>..</e2>`) where the canonical files
mask them (`@CHEMICAL$ inhibits @GENE$`). A marked entity is replaced by its mask when the file says which
marker stands for which role; otherwise the file is refused with the reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from clingen.datasets.records import RelationExample
from clingen.datasets.readers.text import Location, RealData
from clingen.errors import DataFormatError

# A mask as the canonical relation files write it: @GENE$, @CHEMICAL$, @DISEASE$, @DRUG$.
MASK = re.compile(r"@[A-Z][A-Z_]*\$")


@dataclass(frozen=True)
class MarkerStyle:
    """Two pairs of inline markers: the one written first in the style's name marks the first argument."""

    first: tuple[str, str]
    second: tuple[str, str]

    @property
    def name(self) -> str:
        return f"{' '.join(self.first)} and {' '.join(self.second)}"

    def strings(self) -> tuple[str, ...]:
        return (*self.first, *self.second)


STYLES = (MarkerStyle(("<<", ">>"), ("[[", "]]")), MarkerStyle(("<e1>", "</e1>"), ("<e2>", "</e2>")))


def marker_style(text: str) -> MarkerStyle | None:
    """The style whose four markers all occur in text, else None."""
    return next((style for style in STYLES if all(marker in text for marker in style.strings())), None)


def has_masks_or_markers(text: str) -> bool:
    """Whether text marks two entities: two masks (@GENE$ ... @DISEASE$), or a style's four markers."""
    return len(MASK.findall(text)) >= 2 or marker_style(text) is not None


def _region(text: str, markers: tuple[str, str]) -> tuple[int, int] | str:
    """[start, end) of `open entity close` (markers included), or why the markers do not make one region."""
    opening, closing = markers
    if text.count(opening) != 1 or text.count(closing) != 1:
        return f"{opening} occurs {text.count(opening)} time(s) and {closing} {text.count(closing)} time(s)"
    start, close = text.index(opening), text.index(closing)
    if close < start + len(opening) or not text[start + len(opening):close].strip():
        return f"{opening} .. {closing} do not enclose an entity"
    return start, close + len(closing)


def _marked(text: str, style: MarkerStyle) -> tuple[tuple[int, int], tuple[int, int]] | str:
    """The regions of the first and the second entity, or why text does not mark two separate entities."""
    first, second = _region(text, style.first), _region(text, style.second)
    for region in (first, second):
        if isinstance(region, str):
            return region
    if first[0] < second[1] and second[0] < first[1]:
        return f"the entities marked {style.name} overlap"
    return first, second


def _masked(text: str, regions: tuple[tuple[int, int], tuple[int, int]], masks: tuple[str, str]) -> str:
    for (start, end), mask in sorted(zip(regions, masks), reverse=True):
        text = text[:start] + mask + text[end:]
    return text


def _roles_known(orders: set[bool], head_mask: str, tail_mask: str) -> bool:
    """Whether a marker says which of the task's entities it marks. Equal masks need no roles; otherwise the
    markers must not merely mark the first and the second mention of the sentence: when the first marker comes
    first in every instance (SciBERT's ChemProt: `<< Ang II >>` is a protein in one instance, `<< irbesartan >>`
    a chemical in the next), the file cannot say which is the head."""
    return head_mask == tail_mask or orders != {True}


def masks_for_markers(data: RealData, head_mask: str, tail_mask: str) -> RealData:
    """The relation instances with inline-marked entities masked: the first style's marker (<< >>, <e1>) as
    head_mask, the second ([[ ]], <e2>) as tail_mask. Instances holding both masks, or no marker, stay as
    they are. Raises DataFormatError (file:line) for an instance whose markers are malformed, and for a file
    whose markers cannot be mapped to the task's roles (see `_roles_known`)."""
    marked: list[tuple[int, MarkerStyle, tuple]] = []
    for index, (record, where) in enumerate(zip(data.examples, data.locations)):
        style = None if head_mask in record.text and tail_mask in record.text else _style_of(record.text)
        if style is None:
            continue
        regions = _marked(record.text, style)
        if isinstance(regions, str):
            raise DataFormatError(f"{where}: {record.text[:160]!r}: {regions}; expected one entity marked "
                                  f"{' '.join(style.first)} and another marked {' '.join(style.second)}, each marker "
                                  f"once")
        marked.append((index, style, regions))
    if not marked:
        return data
    styles = {style for _, style, _ in marked}
    orders = {regions[0][0] < regions[1][0] for _, _, regions in marked}
    style = marked[0][1]
    if len(styles) > 1 or not _roles_known(orders, head_mask, tail_mask):
        where: Location = data.locations[marked[0][0]]
        raise DataFormatError(_unmappable(where, data.path, styles, head_mask, tail_mask))
    examples = list(data.examples)
    for index, _, regions in marked:
        record: RelationExample = examples[index]
        examples[index] = replace(record, text=_masked(record.text, regions, (head_mask, tail_mask)))
    note = (f"{len(marked)} instance(s) mark their entities inline ({style.name}): read as {head_mask} (the first "
            f"marker) and {tail_mask} (the second)")
    return replace(data, examples=examples, problems=[*data.problems, note])


def _style_of(text: str) -> MarkerStyle | None:
    """The style of the markers in text, also when they are malformed (so that the instance is refused)."""
    return next((style for style in STYLES if any(marker in text for marker in style.strings()[::2])), None)


def _unmappable(where: Location, path, styles: set[MarkerStyle], head_mask: str, tail_mask: str) -> str:
    if len(styles) > 1:
        return (f"{where}: {path} mixes inline entity markers {sorted(s.name for s in styles)}; expected one "
                f"style in a file")
    style = next(iter(styles))
    return (f"{where}: in every instance of {path} the entity marked {' '.join(style.first)} comes before the one "
            f"marked {' '.join(style.second)}: the markers say which mention comes first in the sentence, not "
            f"which is the task's head ({head_mask}) and which its tail ({tail_mask}), so they cannot be mapped "
            f"to its masks; expected a copy that masks the entities ({head_mask}, {tail_mask}; the BLURB/BioBERT "
            f"TSV) or marks them by role")
