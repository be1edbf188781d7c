"""Datasets stage: canonical example records per task family, their Arrow schemas, BIO helpers and JSONL/Parquet I/O."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Union

import pyarrow as pa
import pyarrow.parquet as pq

from clingen.errors import DataFormatError, UnknownNameError


@dataclass(frozen=True)
class Provenance:
    """Where a synthetic example came from; real data has none (all its provenance columns are null)."""

    task: str | None = None
    row_id: int | None = None
    topic: str | None = None
    style: str | None = None
    prompt_label: str | None = None
    strategy: str | None = None
    demo_ids: list[str] | None = None
    model: str | None = None
    # JSON: the generator's raw reply (per step) and the prompt fields it was checked against, so that
    # `clingen reparse` can re-check the example under newer rules without generating again.
    reply_record: str | None = None

    def to_columns(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_columns(cls, row: Mapping[str, Any]) -> Provenance | None:
        """The provenance stored in a row's columns, or None when every column is null or absent (so a
        Provenance whose fields are all None round-trips as None: both mean "no provenance")."""
        values = {name: row.get(name) for name in PROVENANCE_COLUMNS}
        if all(value is None for value in values.values()):
            return None
        if values["demo_ids"] is not None:
            values["demo_ids"] = list(values["demo_ids"])
        return cls(**values)


PROVENANCE_COLUMNS = tuple(f.name for f in fields(Provenance))
_NO_PROVENANCE = {name: None for name in PROVENANCE_COLUMNS}


def _provenance_columns(provenance: Provenance | None) -> dict[str, Any]:
    return provenance.to_columns() if provenance is not None else dict(_NO_PROVENANCE)


def _require(row: Mapping[str, Any], record_name: str, names: Iterable[str]) -> None:
    missing = [name for name in names if name not in row]
    if missing:
        raise DataFormatError(f"{record_name} row lacks column(s) {missing}; it has {sorted(row)}")


@dataclass(frozen=True)
class ClassificationExample:
    """A text with its labels: exactly one for single-label tasks, any number (zero included) for multi-label."""

    id: str
    text: str
    labels: list[str]
    provenance: Provenance | None = None

    def to_row(self) -> dict[str, Any]:
        return {"id": self.id, "text": self.text, "labels": list(self.labels),
                **_provenance_columns(self.provenance)}

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> ClassificationExample:
        _require(row, cls.__name__, ("id", "text", "labels"))
        return cls(row["id"], row["text"], list(row["labels"] or []), Provenance.from_columns(row))


@dataclass(frozen=True)
class RelationExample:
    """A sentence labelled with the relation between two entities; masked real text (GAD's @GENE$/@DISEASE$)
    keeps its masks and has no head/tail strings."""

    id: str
    text: str
    label: str
    head: str | None = None
    tail: str | None = None
    head_type: str | None = None
    tail_type: str | None = None
    provenance: Provenance | None = None

    def to_row(self) -> dict[str, Any]:
        return {"id": self.id, "text": self.text, "label": self.label, "head": self.head, "tail": self.tail,
                "head_type": self.head_type, "tail_type": self.tail_type, **_provenance_columns(self.provenance)}

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> RelationExample:
        _require(row, cls.__name__, ("id", "text", "label"))
        return cls(row["id"], row["text"], row["label"], row.get("head"), row.get("tail"), row.get("head_type"),
                   row.get("tail_type"), Provenance.from_columns(row))


@dataclass(frozen=True)
class PairExample:
    """Two texts labelled with their relation (entailment, equivalence, ...)."""

    id: str
    text_a: str
    text_b: str
    label: str
    provenance: Provenance | None = None

    def to_row(self) -> dict[str, Any]:
        return {"id": self.id, "text_a": self.text_a, "text_b": self.text_b, "label": self.label,
                **_provenance_columns(self.provenance)}

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> PairExample:
        _require(row, cls.__name__, ("id", "text_a", "text_b", "label"))
        return cls(row["id"], row["text_a"], row["text_b"], row["label"], Provenance.from_columns(row))


@dataclass(frozen=True)
class Span:
    """An entity mention: character offsets [start, end) into its example's text, its type and its text."""

    start: int
    end: int
    type: str
    text: str

    def to_row(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "type": self.type, "text": self.text}


@dataclass(frozen=True)
class NERExample:
    """A text with its tokens, one BIO tag per token, and its entity spans (the character-level truth; the
    tags are the token-level view of them). Also the record of the "attribute" family."""

    id: str
    text: str
    tokens: list[str]
    tags: list[str]
    spans: list[Span] = field(default_factory=list)
    provenance: Provenance | None = None

    def __post_init__(self) -> None:
        # A mismatch here would silently shift every label during training, so it is refused at construction.
        if len(self.tokens) != len(self.tags):
            raise DataFormatError(f"NER example {self.id!r} has {len(self.tokens)} tokens but {len(self.tags)} "
                                  f"tags; expected one tag per token")
        for span in self.spans:
            if not (0 <= span.start <= span.end <= len(self.text)) or self.text[span.start:span.end] != span.text:
                raise DataFormatError(f"NER example {self.id!r}: span {span} does not match its text; expected "
                                      f"text[{span.start}:{span.end}] == {span.text!r} within {len(self.text)} chars")

    def to_row(self) -> dict[str, Any]:
        return {"id": self.id, "text": self.text, "tokens": list(self.tokens), "tags": list(self.tags),
                "spans": [span.to_row() for span in self.spans], **_provenance_columns(self.provenance)}

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> NERExample:
        _require(row, cls.__name__, ("id", "text", "tokens", "tags", "spans"))
        spans = []
        for span in row["spans"] or []:
            _require(span, "Span", ("start", "end", "type", "text"))
            spans.append(Span(int(span["start"]), int(span["end"]), span["type"], span["text"]))
        return cls(row["id"], row["text"], list(row["tokens"] or []), list(row["tags"] or []), spans,
                   Provenance.from_columns(row))


Record = Union[ClassificationExample, RelationExample, PairExample, NERExample]

_PROVENANCE_FIELDS = [
    pa.field("task", pa.string()), pa.field("row_id", pa.int64()), pa.field("topic", pa.string()),
    pa.field("style", pa.string()), pa.field("prompt_label", pa.string()), pa.field("strategy", pa.string()),
    pa.field("demo_ids", pa.list_(pa.string())), pa.field("model", pa.string()),
    pa.field("reply_record", pa.string()),
]
_SPAN_TYPE = pa.struct([pa.field("start", pa.int64()), pa.field("end", pa.int64()),
                        pa.field("type", pa.string()), pa.field("text", pa.string())])
_NER_SCHEMA = pa.schema([pa.field("id", pa.string(), nullable=False), pa.field("text", pa.string()),
                         pa.field("tokens", pa.list_(pa.string())), pa.field("tags", pa.list_(pa.string())),
                         pa.field("spans", pa.list_(_SPAN_TYPE)), *_PROVENANCE_FIELDS])

# Plain string/int64/list/struct columns only, so `datasets.load_dataset("parquet"/"json")` maps them to
# Value/Sequence features without custom feature definitions.
SCHEMAS: dict[str, pa.Schema] = {
    "classification": pa.schema([pa.field("id", pa.string(), nullable=False), pa.field("text", pa.string()),
                                 pa.field("labels", pa.list_(pa.string())), *_PROVENANCE_FIELDS]),
    "relation": pa.schema([pa.field("id", pa.string(), nullable=False), pa.field("text", pa.string()),
                           pa.field("label", pa.string()), pa.field("head", pa.string()),
                           pa.field("tail", pa.string()), pa.field("head_type", pa.string()),
                           pa.field("tail_type", pa.string()), *_PROVENANCE_FIELDS]),
    "pair": pa.schema([pa.field("id", pa.string(), nullable=False), pa.field("text_a", pa.string()),
                       pa.field("text_b", pa.string()), pa.field("label", pa.string()), *_PROVENANCE_FIELDS]),
    "ner": _NER_SCHEMA,
    "attribute": _NER_SCHEMA,
}

RECORD_TYPES: dict[str, type] = {"classification": ClassificationExample, "relation": RelationExample,
                                 "pair": PairExample, "ner": NERExample, "attribute": NERExample}


def schema_for(family: str) -> pa.Schema:
    """The Arrow schema of a task family's records; an unknown family lists the known ones."""
    if family not in SCHEMAS:
        raise UnknownNameError("task family", family, SCHEMAS)
    return SCHEMAS[family]


def record_type_for(family: str) -> type:
    """The record class of a task family; an unknown family lists the known ones."""
    if family not in RECORD_TYPES:
        raise UnknownNameError("task family", family, RECORD_TYPES)
    return RECORD_TYPES[family]


# Runs of letters/digits (Unicode-aware, underscore excluded), else any single non-space character.
_TOKEN_PATTERN = re.compile(r"[^\W_]+|\S")
_TAG_PATTERN = re.compile(r"^(O|[BI]-\S+)$")


def tokenize(text: str) -> list[tuple[str, int, int]]:
    """Split text into (token, start, end) with character offsets: runs of letters/digits, and every other
    non-space character as its own token."""
    return [(match.group(), match.start(), match.end()) for match in _TOKEN_PATTERN.finditer(text)]


def split_at(tokens: list[tuple[str, int, int]], cuts: Iterable[int]) -> list[tuple[str, int, int]]:
    """The (token, start, end) tokens with every token that a cut offset falls strictly inside split there
    ("APC2" cut at 3 -> "APC", "2"), so that each cut is a token boundary."""
    inside = sorted(set(cuts))
    out = []
    for token, start, end in tokens:
        points = [start, *(cut for cut in inside if start < cut < end), end]
        out.extend((token[a - start:b - start], a, b) for a, b in zip(points, points[1:]))
    return out


def spans_to_bio(text: str, spans: Iterable[Span], split_at_spans: bool = False) -> tuple[list[str], list[str]]:
    """Tokenize text and tag each token B-/I-<type> when it overlaps a span (so a span that cuts a token
    still tags it), else O. BIO cannot nest: a span overlapping tokens already tagged by an earlier
    (by start, then longer first) span is dropped from the tags rather than tagged partially.
    split_at_spans: tokens are first split at every span start and end (`split_at`), so that the tags
    say exactly what the spans say (real data annotated by character offsets: "APC" in "APC2")."""
    spans = list(spans)
    tokens = tokenize(text)
    if split_at_spans:
        tokens = split_at(tokens, [offset for span in spans for offset in (span.start, span.end)])
    tags, _ = tags_from_spans([(start, end) for _, start, end in tokens], spans)
    return [token for token, _, _ in tokens], tags


def tags_from_spans(offsets: Sequence[tuple[int, int]], spans: Iterable[Span]) -> tuple[list[str], list[Span]]:
    """BIO tags of tokens at the character offsets given, from the spans (sorted by start, longer first), and
    the spans that the tags show. A token overlapping a span is tagged with it; BIO cannot nest, so a span
    that covers no token or a token already tagged by an earlier span is left out of the tags (and of the
    spans returned). The one rule `spans_to_bio` and the readers (once a task's label_map has picked its
    types) share."""
    tags = ["O"] * len(offsets)
    shown = []
    for span in sorted(spans, key=lambda s: (s.start, -s.end)):
        covered = [i for i, (start, end) in enumerate(offsets) if start < span.end and end > span.start]
        if not covered or any(tags[i] != "O" for i in covered):
            continue
        tags[covered[0]] = f"B-{span.type}"
        for i in covered[1:]:
            tags[i] = f"I-{span.type}"
        shown.append(span)
    return tags, shown


def token_offsets(tokens: list[str], text: str | None) -> tuple[str, list[tuple[int, int]]]:
    """Offsets of each token: in text searched left to right, or in the tokens joined by single spaces."""
    if text is None:
        text = " ".join(tokens)
    offsets, cursor = [], 0
    for index, token in enumerate(tokens):
        start = text.find(token, cursor)
        if start < 0:
            raise DataFormatError(f"token {index} {token!r} is not found in the text after character {cursor}; "
                                  f"expected the tokens to appear in the text in order")
        offsets.append((start, start + len(token)))
        cursor = start + len(token)
    return text, offsets


def to_iob2(tags: Sequence[str]) -> list[str]:
    """The same entities in strict IOB2: an I-<type> tag that does not continue an entity of its type (IOB1
    style, or a model's stray I- after O) becomes B-<type>. This is the one reading of where an entity
    starts that the readers, evaluation (seqeval strict IOB2) and serving share; `bio_to_spans` reads
    the same entities from either form. Raises DataFormatError on a tag that is neither O, B-<type>
    nor I-<type>."""
    out: list[str] = []
    for index, tag in enumerate(tags):
        if not _TAG_PATTERN.match(tag):
            raise DataFormatError(f"tag {index} {tag!r} is not a BIO tag; expected O, B-<type> or I-<type>")
        if tag.startswith("I-") and (not out or out[-1] == "O" or out[-1][2:] != tag[2:]):
            tag = "B-" + tag[2:]
        out.append(tag)
    return out


def bio_to_spans(tokens: list[str], tags: list[str], text: str | None = None) -> list[Span]:
    """Recover entity spans from BIO tags, with offsets into text (or into the tokens joined by single
    spaces when text is None). Like seqeval's lenient mode, an I- tag that does not continue an entity of
    its type starts a new one."""
    if len(tokens) != len(tags):
        raise DataFormatError(f"{len(tokens)} tokens but {len(tags)} tags; expected one tag per token")
    for index, tag in enumerate(tags):
        if not _TAG_PATTERN.match(tag):
            raise DataFormatError(f"tag {index} {tag!r} is not a BIO tag; expected O, B-<type> or I-<type>")
    text, offsets = token_offsets(tokens, text)
    entities: list[list] = []  # [type, first token index, last token index]
    for index, tag in enumerate(tags):
        continues = entities and tag.startswith("I-") and entities[-1][2] == index - 1 \
            and entities[-1][0] == tag[2:]
        if continues:
            entities[-1][2] = index
        elif tag != "O":
            entities.append([tag[2:], index, index])
    spans = []
    for entity_type, first, last in entities:
        start, end = offsets[first][0], offsets[last][1]
        spans.append(Span(start, end, entity_type, text[start:end]))
    return spans


def ner_example_from_spans(id: str, text: str, spans: Iterable[Span], provenance: Provenance | None = None,
                           split_at_spans: bool = False) -> NERExample:
    """A full NER example from a text and its character spans: tokens and BIO tags from spans_to_bio (with
    split_at_spans, tokens split at span boundaries), the spans kept as given (sorted by offset) because
    they are the character-level truth."""
    spans = sorted(spans, key=lambda s: (s.start, -s.end))
    tokens, tags = spans_to_bio(text, spans, split_at_spans)
    return NERExample(id, text, tokens, tags, spans, provenance)


def _check_family(records: list[Record], family: str, path: Path) -> None:
    expected = record_type_for(family)
    for record in records:
        if not isinstance(record, expected):
            raise DataFormatError(f"cannot write {type(record).__name__} {getattr(record, 'id', record)!r} to "
                                  f"{path}; expected {expected.__name__} records for family {family!r}")


def write_jsonl(path: str | Path, records: Iterable[Record]) -> None:
    """Write records one JSON object a line, every column present (null where unset) so that
    `datasets.load_dataset("json")` sees the same columns on every line."""
    with Path(path).open("w", encoding="utf-8") as out:
        for record in records:
            out.write(json.dumps(record.to_row(), ensure_ascii=False) + "\n")


def read_jsonl(path: str | Path, family: str) -> list[Record]:
    """Read a JSONL file of one family's records; a bad line is reported with its file and line number."""
    path, record_type = Path(path), record_type_for(family)
    records = []
    with path.open(encoding="utf-8") as lines:
        for line_number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                if not isinstance(row, dict):
                    raise DataFormatError(f"got a JSON {type(row).__name__}; expected a JSON object")
                records.append(record_type.from_row(row))
            except (TypeError, ValueError, RecursionError) as exc:  # JSONDecodeError, DataFormatError: ValueErrors
                raise DataFormatError(f"{path}:{line_number}: bad {family} record {line.strip()[:200]!r}: "
                                      f"{exc}") from None
    return records


def write_parquet(path: str | Path, records: Iterable[Record], family: str) -> None:
    """Write records as a Parquet file with the family's schema."""
    path, records = Path(path), list(records)
    _check_family(records, family, path)
    table = pa.Table.from_pylist([record.to_row() for record in records], schema=schema_for(family))
    pq.write_table(table, path)


def read_parquet(path: str | Path, family: str) -> list[Record]:
    """Read a Parquet file of one family's records; missing columns are named with the ones expected.
    Provenance columns may be absent (files of real data written by other tools): they read as null."""
    path, record_type, schema = Path(path), record_type_for(family), schema_for(family)
    try:
        table = pq.read_table(path)
    except pa.ArrowException as exc:  # a truncated or foreign file: Arrow's message says which
        raise DataFormatError(f"{path} is not a readable Parquet file ({type(exc).__name__}: {str(exc)[:300]}); "
                              f"expected ClinGen records of the {family!r} schema") from None
    missing = [name for name in schema.names if name not in table.column_names and name not in PROVENANCE_COLUMNS]
    if missing:
        raise DataFormatError(f"{path} lacks column(s) {missing} of the {family!r} schema; it has "
                              f"{table.column_names}; expected {schema.names}")
    present = [name for name in schema.names if name in table.column_names]
    records = []
    for row_number, row in enumerate(table.select(present).to_pylist()):
        try:
            records.append(record_type.from_row(row))
        except DataFormatError as exc:
            raise DataFormatError(f"{path}: row {row_number}: {exc}") from None
    return records
