"""Datasets stage: the CoNLL/IOB reader (NCBI-disease, BC5CDR, CHEMDNER and other token-per-line NER files)."""

from __future__ import annotations

import re
from pathlib import Path

from clingen.datasets.records import NERExample, bio_to_spans, to_iob2
from clingen.datasets.readers.text import Location, RealData, read_lines
from clingen.errors import DataFormatError

# Chunks tagged bare B/I (BioBERT's NER copies have one entity type and leave it out) get this type, which a
# task with exactly one entity type reads as its own.
UNTYPED = "(untyped)"
_TAG = re.compile(r"^(O|[BIES]-\S+|[BIES])$")
_DOCUMENT_MARK = "-DOCSTART-"


def _iob_tag(path: Path, line_number: int, tag: str) -> str:
    """The tag in IOB form: IOBES S-/E- read as B-/I-, a bare B or I as the untyped type."""
    if not _TAG.match(tag):
        raise DataFormatError(f"{path}:{line_number}: tag {tag!r} is not a BIO tag; expected O, B-<type> or "
                              f"I-<type> (IOB1, IOB2 or IOBES)")
    if tag == "O":
        return tag
    prefix, _, kind = tag.partition("-")
    return f"{'B' if prefix in 'BS' else 'I'}-{kind or UNTYPED}"


def _columns(path: Path, line_number: int, line: str) -> tuple[str, str]:
    """(token, tag): tab-separated columns, else whitespace-separated ones (CoNLL-2003 style); the tag is the
    last column, so extra columns (part of speech, chunk) between them are skipped."""
    columns = [c.strip() for c in line.split("\t")] if "\t" in line else line.split()
    if len(columns) < 2 or not columns[0]:
        raise DataFormatError(f"{path}:{line_number}: {line!r} has {len(columns)} field(s); expected "
                              f"'token<TAB>tag' with a non-empty token")
    return columns[0], columns[-1]


def _example(path: Path, index: int, tokens: list[str], tags: list[str]) -> NERExample:
    tags = to_iob2(tags)  # IOB1 "I-" opening an entity is stored as the IOB2 "B-" evaluation expects
    return NERExample(f"{path.stem}-{index}", " ".join(tokens), tokens, tags, bio_to_spans(tokens, tags))


def read_conll_data(path: str | Path) -> RealData:
    """Read `token<TAB>tag` lines (or whitespace-separated columns, the tag last), a blank line between
    sentences, into NER examples whose text is the tokens joined by single spaces, ids "<file stem>-<sentence
    index from 0>", tags in IOB2 whatever the file's scheme (IOB1, IOB2, IOBES), entity types as the file
    names them. `-DOCSTART-` lines are skipped. Raises DataFormatError naming file:line for a malformed line."""
    path = Path(path)
    examples: list[NERExample] = []
    locations: list[Location] = []
    tokens: list[str] = []
    tags: list[str] = []
    first_line = 0
    for line_number, line in enumerate(read_lines(path) + [""], start=1):
        if line.strip() and line.split()[0] != _DOCUMENT_MARK:
            token, tag = _columns(path, line_number, line)
            first_line = first_line or line_number
            tokens.append(token)
            tags.append(_iob_tag(path, line_number, tag))
            continue
        if tokens:
            examples.append(_example(path, len(examples), tokens, tags))
            locations.append(Location(path, first_line, token_lines=True))
            tokens, tags, first_line = [], [], 0
    return RealData(path, "conll", examples, locations)


def read_conll(path: str | Path) -> list[NERExample]:
    """The examples of `read_conll_data` (entity types as the file names them)."""
    return read_conll_data(path).examples
