"""Datasets stage: the PubTator reader (BioCreative V CDR, the NCBI disease corpus).

Annotated abstracts become sentence-level NER examples, or the chemical-disease relation instances of the
BioBERT CDR TSV.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from clingen.datasets.records import RelationExample, Span, ner_example_from_spans
from clingen.datasets.readers.sentences import closest_pair, mask_pair, sentence_spans
from clingen.datasets.readers.text import Location, RealData, read_lines
from clingen.errors import DataFormatError

_TEXT_LINE = re.compile(r"^([^|\t]+)\|([ta])\|(.*)$")
CID = "CID"
NO_CID = "no_CID"
CHEMICAL_MASK, DISEASE_MASK = "@CHEMICAL$", "@DISEASE$"


@dataclass
class _Mention:
    start: int
    end: int
    text: str
    type: str
    ids: tuple[str, ...]
    line: int


@dataclass
class _Document:
    pmid: str
    line: int
    title: str = ""
    abstract: str = ""
    mentions: list[_Mention] = field(default_factory=list)
    relations: set[tuple[str, str]] = field(default_factory=set)

    @property
    def text(self) -> str:
        """Title and abstract joined by one space: the text PubTator offsets count in."""
        return f"{self.title} {self.abstract}" if self.abstract else self.title

    def sentences(self) -> list[tuple[int, int]]:
        """Sentence offsets; the title is always a sentence of its own, and no cut falls inside a mention."""
        keep = [(m.start, m.end) for m in self.mentions]
        spans = sentence_spans(self.text, 0, len(self.title), keep)
        return spans + (sentence_spans(self.text, len(self.title) + 1, None, keep) if self.abstract else [])


def _annotation(path: Path, line_number: int, fields: list[str], document: _Document) -> None:
    if len(fields) == 4:
        if fields[1] != CID:
            raise DataFormatError(f"{path}:{line_number}: relation type {fields[1]!r}; only CID relations "
                                  f"(BioCreative V CDR) are read from PubTator files")
        document.relations.add((fields[2], fields[3]))
        return
    if len(fields) < 5 or not (fields[1].isdigit() and fields[2].isdigit()):
        raise DataFormatError(f"{path}:{line_number}: {'<TAB>'.join(fields)[:200]!r} is neither a mention line "
                              f"(PMID<TAB>start<TAB>end<TAB>text<TAB>type<TAB>id) nor a relation line "
                              f"(PMID<TAB>CID<TAB>chemical id<TAB>disease id)")
    start, end = int(fields[1]), int(fields[2])
    ids = tuple(i for i in (fields[5].split("|") if len(fields) > 5 else []) if i and i != "-1")
    document.mentions.append(_Mention(start, end, fields[3], fields[4], ids, line_number))


def _documents(path: Path) -> list[_Document]:
    documents: list[_Document] = []
    current: _Document | None = None
    for line_number, line in enumerate(read_lines(path), start=1):
        if not line.strip():
            current = None
            continue
        text_line = _TEXT_LINE.match(line)
        if text_line:
            pmid, part, text = text_line.groups()
            if current is None or current.pmid != pmid:
                current = _Document(pmid, line_number)
                documents.append(current)
            setattr(current, "title" if part == "t" else "abstract", text)
            continue
        fields = line.split("\t")
        if current is None or fields[0] != current.pmid:
            raise DataFormatError(f"{path}:{line_number}: annotation of PMID {fields[0]!r} outside its document; "
                                  f"expected it after the document's PMID|t| and PMID|a| lines")
        _annotation(path, line_number, fields, current)
    return documents


def _check_offsets(path: Path, document: _Document) -> None:
    """Every mention reads its text at its offsets, and starts and ends with a character that is not white
    space (a token can then start and end where it does, so that tags and spans agree)."""
    text = document.text
    for mention in document.mentions:
        if not mention.text.strip() or mention.text != mention.text.strip():
            raise DataFormatError(f"{path}:{mention.line}: mention {mention.text!r} at {mention.start}-{mention.end} "
                                  f"is empty or starts or ends with white space; expected the offsets of the "
                                  f"mention's first and last characters")
        if text[mention.start:mention.end] != mention.text:
            raise DataFormatError(f"{path}:{mention.line}: mention {mention.text!r} at {mention.start}-{mention.end} "
                                  f"reads {text[mention.start:mention.end]!r} in the document; expected offsets into "
                                  f"the title and the abstract joined by one space")


def read_pubtator(path: str | Path, family: str = "relation", head_mask: str = CHEMICAL_MASK,
                  tail_mask: str = DISEASE_MASK) -> RealData:
    """A PubTator file (PMID|t|title, PMID|a|abstract, mention lines PMID<TAB>start<TAB>end<TAB>text<TAB>type
    <TAB>id, relation lines PMID<TAB>CID<TAB>chemical id<TAB>disease id, a blank line between documents).
    family "ner": one example per sentence with the mentions as spans, types as written. family "relation":
    see `_relation_instances`. Offsets are checked against the text; a mismatch names file:line."""
    path = Path(path)
    documents = _documents(path)
    for document in documents:
        _check_offsets(path, document)
    if family == "ner":
        return _ner_examples(path, documents)
    return _relation_instances(path, documents, head_mask, tail_mask)


def _ner_examples(path: Path, documents: list[_Document]) -> RealData:
    """One example per sentence with every mention inside it as a span, types as written, nested and
    overlapping mentions included: which of them the tags show is decided once a task's label_map has picked
    its types (labels.map_labels), so that a Chemical nested in a Disease mention ("Nicotine" in "Nicotine
    dependence") is kept for a chemical task. Here the tags show what BIO can (the outer, earlier mention).
    Tokens are split at every mention boundary so that the tags can say exactly what the spans say ("APC" in
    "APC2"). A mention that lies in no sentence (it runs from the title into the abstract) is counted."""
    data = RealData(path, "pubtator", [], [], found=_contents(documents))
    outside = 0
    for document in documents:
        placed = 0
        for index, (start, end) in enumerate(document.sentences()):
            inside = [m for m in document.mentions if start <= m.start and m.end <= end]
            placed += len(inside)
            spans = [Span(m.start - start, m.end - start, m.type, m.text) for m in inside]
            data.examples.append(ner_example_from_spans(f"{document.pmid}-{index}", document.text[start:end], spans,
                                                        split_at_spans=True))
            data.locations.append(Location(path, document.line, f"PMID {document.pmid}, sentence {index + 1}"))
        outside += len(document.mentions) - placed
    if outside:
        data.problems.append(f"{outside} mention(s) run from the title into the abstract (the title is a sentence of "
                             f"its own) and are left out")
    return data


def _by_id(document: _Document, start: int, end: int, kind: str) -> dict[str, list[tuple[int, int]]]:
    found: dict[str, list[tuple[int, int]]] = {}
    for m in document.mentions:
        if m.type.lower() == kind and start <= m.start and m.end <= end:
            for concept in m.ids:
                found.setdefault(concept, []).append((m.start, m.end))
    return found


def _sentence_instances(document: _Document, start: int, end: int):
    """The instances of one sentence as {(chemical mention, disease mention): [chemical ids, disease ids,
    label]}, and the (chemical id, disease id) pairs seen. Pairs of concepts that mask the same two mentions
    (composite mentions) share one instance, CID when any of them is a CID pair."""
    chemicals, diseases = _by_id(document, start, end, "chemical"), _by_id(document, start, end, "disease")
    instances: dict[tuple, list] = {}
    seen: set[tuple[str, str]] = set()
    for chemical in sorted(chemicals):
        for disease in sorted(diseases):
            pair = closest_pair(chemicals[chemical], diseases[disease])
            if pair is None:
                continue
            seen.add((chemical, disease))
            instance = instances.setdefault(pair, [[], [], NO_CID])
            instance[0] += [chemical] if chemical not in instance[0] else []
            instance[1] += [disease] if disease not in instance[1] else []
            if (chemical, disease) in document.relations:
                instance[2] = CID
    return instances, seen


def _relation_instances(path: Path, documents: list[_Document], head_mask: str, tail_mask: str) -> RealData:
    """BioCreative V CDR's relations are document-level pairs of MeSH ids (CID: the chemical induces the
    disease). Each (chemical id, disease id) pair whose mentions share a sentence gives one instance of that
    sentence: label CID when the pair is a CID pair of its document, else no_CID; the closest of their
    mentions are masked (@CHEMICAL$, @DISEASE$) as in the BioBERT CDR TSV, other mentions stay as text.
    A composite mention (ids D018500|D051437) stands for several concepts, whose pairs would mask the same two
    mentions: they give one instance (id "<PMID>-<sentence>-<chemical ids>-<disease ids>", ids joined by
    "|"), CID when any of the pairs is a CID pair. CID pairs that never share a sentence, merged pairs and
    mentions without a concept id (-1) are counted in the problems."""
    data = RealData(path, "pubtator", [], [], found=f"{_contents(documents)}; an instance needs a Chemical and a "
                    f"Disease mention with concept ids in one sentence")
    lost = total = pairs = 0
    for document in documents:
        seen: set[tuple[str, str]] = set()
        for index, (start, end) in enumerate(document.sentences()):
            instances, sentence_pairs = _sentence_instances(document, start, end)
            seen |= sentence_pairs
            pairs += len(sentence_pairs)
            for (head, tail), (chemical_ids, disease_ids, label) in instances.items():
                text = mask_pair(document.text[start:end], start, (*head, head_mask), (*tail, tail_mask))
                row_id = f"{document.pmid}-{index}-{'|'.join(chemical_ids)}-{'|'.join(disease_ids)}"
                data.examples.append(RelationExample(row_id, text, label))
                data.locations.append(Location(path, document.line, f"PMID {document.pmid}, sentence {index + 1}"))
        total += len(document.relations)
        lost += len(document.relations - seen)
    if lost:
        data.problems.append(f"{lost} of {total} CID pair(s) never share a sentence and give no instance "
                             f"(relations are document-level; instances are sentence-level)")
    if pairs > len(data.examples):
        data.problems.append(f"{pairs - len(data.examples)} concept pair(s) of composite mentions (several ids on one "
                             f"mention) mask the same two mentions as another pair: merged into its instance, CID "
                             f"if any of them is")
    no_id = sum(1 for d in documents for m in d.mentions if m.type.lower() in ("chemical", "disease") and not m.ids)
    if no_id:
        data.problems.append(f"{no_id} Chemical/Disease mention(s) have no concept id (-1) and take part in no "
                             f"instance")
    return data


def _contents(documents: list[_Document]) -> str:
    """What the documents hold, for the error refusing a file that gives no example."""
    kinds = Counter(m.type for d in documents for m in d.mentions)
    relations = sum(len(d.relations) for d in documents)
    return (f"{len(documents)} document(s), {sum(kinds.values())} mention(s) {dict(sorted(kinds.items()))}, "
            f"{relations} CID relation(s)")
