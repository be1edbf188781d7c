"""Reply parsing (generation -> parsing -> datasets): one parser per family turns raw model text into a typed
example or a recorded ParseFailure carrying the reason and the raw text. Parsers never raise on bad output."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field

from clingen.datasets.records import (ClassificationExample, PairExample, Provenance, Record, RelationExample, Span,
                                      ner_example_from_spans)
from clingen.parsing.gazetteer import Gazetteer
from clingen.tasks.spec import TaskSpec

# The reasons a reply (or part of one) is rejected; the manifest counts failures by these names.
REASONS = ("empty_reply", "no_json", "wrong_type", "missing_field", "too_short", "too_long", "unknown_label",
           "entity_not_in_text", "no_entities", "relation_entity_missing", "generation_error",
           "copies_demonstration", "exact_duplicate", "near_duplicate")


@dataclass(frozen=True)
class ParseFailure:
    row_id: int
    reason: str
    detail: str
    raw: str
    step: int = 1

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class ParseResult:
    """A parsed example (or None) plus every failure found; an NER example may come with failures for the
    entities it had to leave out."""

    example: Record | None = None
    value: str | None = None  # pair tasks' first step: the sentence A the second step is given
    failures: list[ParseFailure] = field(default_factory=list)


@dataclass(frozen=True)
class ParseOptions:
    min_words: int = 5
    max_words: int = 120
    model: str | None = None
    gazetteer: Gazetteer | None = None  # NER label completion from knowledge-graph names


class _Reject(Exception):
    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason, self.detail = reason, detail


def extract_json_object(text: str) -> dict:
    """The first JSON object in `text`, tolerating prose and ``` fences around it."""
    decoder = json.JSONDecoder()
    for match in re.finditer(r"\{", text):
        try:
            value, _ = decoder.raw_decode(text, match.start())
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict):
            return value
    raise _Reject("no_json", "no JSON object found in the reply")


def _string_field(obj: dict, name: str) -> str:
    if name not in obj:
        raise _Reject("missing_field", f"JSON reply lacks {name!r}; it has {sorted(obj)}")
    if not isinstance(obj[name], str):
        raise _Reject("wrong_type", f"{name!r} is {type(obj[name]).__name__}, expected a string")
    return obj[name].strip()


def _check_length(text: str, options: ParseOptions) -> str:
    words = len(text.split())
    if words == 0:
        raise _Reject("empty_reply", "the text is empty")
    if words < options.min_words:
        raise _Reject("too_short", f"{words} words, fewer than the minimum {options.min_words}")
    if words > options.max_words:
        raise _Reject("too_long", f"{words} words, more than the maximum {options.max_words}")
    return text


def _provenance(row: dict, options: ParseOptions) -> Provenance:
    return Provenance(task=row["task"], row_id=int(row["row_id"]), topic=row.get("topic"), style=row.get("style"),
                      prompt_label=row.get("label"), strategy=row.get("strategy"),
                      demo_ids=list(row.get("demo_ids") or []), model=options.model)


def _clean_plain_text(reply: str) -> str:
    """A classification reply: the text after 'Text:', cut before any further 'Label:'/'Text:' block the
    model continued with, without wrapping quotes."""
    text = re.sub(r"^\s*Text\s*:\s*", "", reply.strip())
    text = re.split(r"\n\s*(?:Label|Text)\s*:", text, maxsplit=1)[0]
    return text.strip().strip("\"'\u201c\u201d").strip()


def _find_all(text: str, needle: str) -> list[tuple[int, int]]:
    """Case-insensitive, whole-word occurrences of `needle` in `text`."""
    pattern = r"(?<!\w)" + re.escape(needle.strip()) + r"(?!\w)"
    return [(m.start(), m.end()) for m in re.finditer(pattern, text, flags=re.IGNORECASE)]


def _spans_for(text: str, items: list[tuple[str, str]], row_id: int, raw: str
               ) -> tuple[list[Span], list[ParseFailure]]:
    """Spans of every (type, mention) found in the text; mentions not found are recorded, not dropped."""
    spans: list[Span] = []
    failures: list[ParseFailure] = []
    taken: list[tuple[int, int]] = []
    # Longer mentions first, so 'breast cancer' wins over 'cancer' where both were listed.
    for entity_type, mention in sorted(set(items), key=lambda item: -len(item[1])):
        found = [(s, e) for s, e in _find_all(text, mention) if all(e <= a or s >= b for a, b in taken)]
        if not found:
            failures.append(ParseFailure(row_id, "entity_not_in_text", f"{entity_type} {mention!r} does not "
                                         f"occur in the sentence", raw))
        for start, end in found:
            spans.append(Span(start, end, entity_type, text[start:end]))
            taken.append((start, end))
    return sorted(spans, key=lambda s: s.start), failures


# ----- one parser per family ----------------------------------------------------------------------------
def _classification(spec: TaskSpec, row: dict, reply: str, options: ParseOptions) -> ParseResult:
    text = _check_length(_clean_plain_text(reply), options)
    return ParseResult(ClassificationExample(_example_id(row), text, [row["label"]], _provenance(row, options)))


def _relation(spec: TaskSpec, row: dict, reply: str, options: ParseOptions) -> ParseResult:
    text = _check_length(_string_field(extract_json_object(reply), "sentence"), options)
    # An entity may appear by name or by the real data's mask token (@GENE$): masked is how GAD trains anyway.
    roles = ((row.get("head"), spec.head_mask), (row.get("tail"), spec.tail_mask))
    missing = [name for name, mask in roles if name and not _find_all(text, name) and not (mask and mask in text)]
    if missing:
        raise _Reject("relation_entity_missing", f"the sentence does not mention {missing}")
    return ParseResult(RelationExample(_example_id(row), text, row["label"], row.get("head"), row.get("tail"),
                                       spec.head_role, spec.tail_role, _provenance(row, options)))


def _pair(spec: TaskSpec, row: dict, reply: str, options: ParseOptions) -> ParseResult:
    text = _check_length(_string_field(extract_json_object(reply), "sentence"), options)
    if row.get("sentence_a") is None:  # first step: the sentence the second step is given
        return ParseResult(value=text)
    return ParseResult(PairExample(_example_id(row), row["sentence_a"], text, row["label"], _provenance(row, options)))


def _ner(spec: TaskSpec, row: dict, reply: str, options: ParseOptions) -> ParseResult:
    obj = extract_json_object(reply)
    text = _check_length(_string_field(obj, "sentence"), options)
    key = "attributes" if spec.family == "attribute" else "entities"
    listed = obj.get(key)
    if not isinstance(listed, list):
        raise _Reject("missing_field" if listed is None else "wrong_type", f"{key!r} must be a JSON list")
    items, failures = _typed_mentions(spec, listed, int(row["row_id"]), reply)
    spans, missing = _spans_for(text, items, int(row["row_id"]), reply)
    failures += missing
    if options.gazetteer is not None:
        spans = sorted(spans + options.gazetteer.find(text, spans), key=lambda s: s.start)
    if not spans:
        raise _Reject("no_entities", f"no listed {key} occur in the sentence")
    example = ner_example_from_spans(_example_id(row), text, spans, _provenance(row, options))
    return ParseResult(example, failures=failures)


def _typed_mentions(spec: TaskSpec, listed: list, row_id: int, raw: str) -> tuple[list[tuple[str, str]], list[ParseFailure]]:
    """(type, mention) pairs from an NER entity list (one type) or an attribute list (typed objects)."""
    items, failures = [], []
    for entry in listed:
        if spec.family == "ner" and isinstance(entry, str) and entry.strip():
            # Models often list "X," or "X." : the punctuation is not part of the entity.
            items.append((spec.labels[0].name, entry.strip().strip(",.;:").strip()))
        elif spec.family == "attribute" and isinstance(entry, dict) and isinstance(entry.get("text"), str):
            if entry.get("type") in spec.label_names:
                items.append((entry["type"], entry["text"].strip()))
            else:
                failures.append(ParseFailure(row_id, "unknown_label", f"attribute type {entry.get('type')!r} "
                                             f"is not one of {spec.label_names}", raw))
        else:
            failures.append(ParseFailure(row_id, "wrong_type", f"list entry {entry!r} is not a "
                                         f"{'string' if spec.family == 'ner' else 'type/text object'}", raw))
    return [item for item in items if item[1]], failures


_PARSERS = {"classification": _classification, "relation": _relation, "pair": _pair, "ner": _ner,
            "attribute": _ner}


def _example_id(row: dict) -> str:
    return f"{row['task']}-{int(row['row_id']):08d}"


def parse_reply(spec: TaskSpec, row: dict, reply: str | None, options: ParseOptions) -> ParseResult:
    """Parse one reply to the prompt `row` (a PromptRow dict; pair second steps also carry 'sentence_a').
    Never raises on bad model output: every rejection is a ParseFailure with the raw text."""
    step = 2 if row.get("sentence_a") is not None else 1
    raw = reply or ""
    if not raw.strip():
        return ParseResult(failures=[ParseFailure(int(row["row_id"]), "empty_reply", "the model returned no text", raw, step)])
    if row.get("label") is not None and row["label"] not in spec.label_names:
        return ParseResult(failures=[ParseFailure(int(row["row_id"]), "unknown_label", f"label {row['label']!r} "
                                                  f"is not one of {spec.label_names}", raw, step)])
    try:
        return _PARSERS[spec.family](spec, row, raw, options)
    except _Reject as reject:
        return ParseResult(failures=[ParseFailure(int(row["row_id"]), reject.reason, reject.detail, raw, step)])
