"""Reply parsing (generation -> parsing/filtering -> datasets): one parser per family.

Each turns raw model text into a typed example or recorded ParseFailures carrying the reason
(clingen/runfolder/reasons.py) and the raw text, and holds the example to the label-fidelity rules of
clingen/parsing/fidelity.py and mentions.py. Parsers never raise on bad output.
"""

from __future__ import annotations

import json
import re
from collections import ChainMap
from collections.abc import Mapping
from dataclasses import dataclass, field

from clingen.datasets.records import (ClassificationExample, PairExample, Provenance, Record, RelationExample, Span,
                                      ner_example_from_spans)
from clingen.kg.names import is_acronym
from clingen.parsing import fidelity, mentions
from clingen.parsing.evidence import NameEvidence, abbreviation_spans
from clingen.parsing.gazetteer import Gazetteer
from clingen.parsing.reasoning import SplitReply, split_reasoning
from clingen.runfolder.reasons import BY_NAME, failure_record, known_reason
from clingen.tasks.spec import TaskSpec, label_key

# The strategies whose topics are sampled from the knowledge graph, so known names of the prompted type.
KG_STRATEGIES = ("clingen-kg",)


@dataclass(frozen=True)
class ParseFailure:
    """One rejection: of the row (no example) or of one mention, by reasons.BY_NAME[reason].level."""

    row_id: int
    reason: str
    detail: str
    raw: str
    step: int = 1

    def __post_init__(self) -> None:
        known_reason(self.reason)  # a misspelt reason fails where it is made, not as a count of its own

    def to_dict(self) -> dict:
        # A reply with a lone surrogate must still be recordable as the reason it was rejected.
        return failure_record(self.row_id, self.reason, fidelity.storable(self.detail), fidelity.storable(self.raw),
                              self.step)


@dataclass
class ParseResult:
    """A parsed example (or None) plus every failure found; an NER example may come with failures for the
    mentions it had to leave out."""

    example: Record | None = None
    value: str | None = None  # pair tasks' first step: the sentence A the second step is given
    failures: list[ParseFailure] = field(default_factory=list)


@dataclass(frozen=True)
class ParseOptions:
    """Settings of the parsers (from generation.* in the config)."""

    min_words: int = 5
    max_words: int = 120
    model: str | None = None
    gazetteer: Gazetteer | None = None  # NER label completion from knowledge-graph names
    require_topic: bool | None = None  # NER: topic_missing when the topic is absent; None = on for KG_STRATEGIES
    pair_copy_threshold: float = 0.8
    max_tokens: int | None = None  # the reply budget: a reply that used all of it was cut off
    # NER: casefolded knowledge-graph names of other types -> type (mentions.other_type_names)
    other_type_names: dict[str, str] = field(default_factory=dict)
    # NER: what makes a listed mention a name of the prompted type (None: not judged)
    evidence: NameEvidence | None = None


@dataclass(frozen=True)
class ReplyEnd:
    """How the generator ended a reply: the OpenAI finish_reason (HTTP) and the tokens it generated."""

    finish_reason: str | None = None
    generated_tokens: int | None = None


class _Reject(Exception):
    """A row-level rejection; `found` are the mention-level failures recorded before it."""

    def __init__(self, reason: str, detail: str, found: list[ParseFailure] | None = None):
        assert reason in BY_NAME, reason  # every reason is documented in reasons.REASONS
        super().__init__(detail)
        self.reason, self.detail, self.found = reason, detail, list(found or [])


def extract_json_object(text: str, required: tuple[str, ...] = ()) -> dict:
    """The first JSON object in `text` (prose and ``` fences around it tolerated) that has every `required`
    key; when none has them all, the first object (so the caller names the missing field). Raises _Reject
    no_json when the text holds no JSON object."""
    decoder = json.JSONDecoder()
    first = None
    for match in re.finditer(r"\{", text):
        try:
            value, _ = decoder.raw_decode(text, match.start())
        except (json.JSONDecodeError, RecursionError, ValueError):  # too deep, or an int past Python's digit limit
            continue
        if isinstance(value, dict):
            if all(key in value for key in required):
                return value
            first = value if first is None else first
    if first is None:
        raise _Reject("no_json", "no JSON object found in the reply")
    return first


def _string_field(obj: dict, name: str) -> str:
    if name not in obj:
        raise _Reject("missing_field", f"JSON reply lacks {name!r}; it has {sorted(obj)}")
    if not isinstance(obj[name], str):
        raise _Reject("wrong_type", f"{name!r} is {type(obj[name]).__name__}, expected a string")
    return obj[name].strip()


def _max_chars(row: dict, name: str) -> int | None:
    """The schema's maxLength of field `name`: a constrained string that reaches it was cut there."""
    try:
        return int(json.loads(row["json_schema"])["properties"][name]["maxLength"])
    except (KeyError, TypeError, ValueError):
        return None


def _check_text(spec: TaskSpec, row: dict, text: str, options: ParseOptions, name: str = "sentence") -> str:
    """The row-level checks every family's text passes: storable characters, not cut at the schema's length
    limit, the word bounds, and fidelity.text_problem's content rules (no template placeholder, no talk as an
    assistant, about its own label or about the task, prose)."""
    bad = fidelity.bad_characters(text)
    if bad:
        raise _Reject("bad_characters", f"the text holds a {bad}, which cannot be stored")
    limit = _max_chars(row, name)
    if limit is not None and len(text) >= limit:
        raise _Reject("truncated", f"the text fills the schema's maxLength of {limit} characters")
    words = len(text.split())
    if words == 0:
        raise _Reject("empty_reply", "the text is empty")
    if words < options.min_words:
        raise _Reject("too_short", f"{words} words, fewer than the minimum {options.min_words}")
    if words > options.max_words:
        raise _Reject("too_long", f"{words} words, more than the maximum {options.max_words}")
    problem = fidelity.text_problem(spec, text, row.get("style"))
    if problem:
        raise _Reject(*problem)
    return text


def _provenance(row: dict, options: ParseOptions) -> Provenance:
    return Provenance(task=row["task"], row_id=int(row["row_id"]), topic=row.get("topic"), style=row.get("style"),
                      prompt_label=row.get("label"), strategy=row.get("strategy"),
                      demo_ids=list(row.get("demo_ids") or []), model=options.model)


def _clean_plain_text(reply: str) -> str:
    """A classification reply: the text after 'Text:' (and after a 'Label: ...' line the model echoed from the
    prompt's end), cut before any further 'Label:'/'Text:' block the model continued with, without wrapping
    quotes."""
    text = re.sub(r"^\s*Label\s*:[^\n]*\n", "", reply.strip())
    text = re.sub(r"^\s*Text\s*:\s*", "", text)
    text = re.split(r"\n\s*(?:Label|Text)\s*:", text, maxsplit=1)[0]
    return text.strip().strip("\"'\u201c\u201d").strip()


# ----- one parser per family ----------------------------------------------------------------------------
def _classification(spec: TaskSpec, row: dict, reply: str, options: ParseOptions) -> ParseResult:
    text = _check_text(spec, row, _clean_plain_text(reply), options)
    return ParseResult(ClassificationExample(_example_id(row), text, [row["label"]], _provenance(row, options)))


def _relation(spec: TaskSpec, row: dict, reply: str, options: ParseOptions) -> ParseResult:
    text = _check_text(spec, row, _string_field(extract_json_object(reply, ("sentence",)), "sentence"), options)
    problem = fidelity.relation_problem(spec, text, row.get("head"), row.get("tail"))
    if problem:
        raise _Reject("relation_entity_missing", problem)
    swap = fidelity.swapped_roles(spec, text, row.get("head"), row.get("tail"))
    if swap:
        raise _Reject("relation_roles_swapped", swap)
    return ParseResult(RelationExample(_example_id(row), text, row["label"], row.get("head"), row.get("tail"),
                                       spec.head_role, spec.tail_role, _provenance(row, options)))


def _pair(spec: TaskSpec, row: dict, reply: str, options: ParseOptions) -> ParseResult:
    text = _check_text(spec, row, _string_field(extract_json_object(reply, ("sentence",)), "sentence"), options)
    if row.get("sentence_a") is None:  # first step: the sentence the second step is given
        return ParseResult(value=text)
    share = fidelity.pair_copy_share(row["sentence_a"], text)
    if share >= options.pair_copy_threshold:
        raise _Reject("pair_copy", f"{share:.0%} of the {spec.pair_roles[1]} repeats the {spec.pair_roles[0]}")
    return ParseResult(PairExample(_example_id(row), row["sentence_a"], text, row["label"], _provenance(row, options)))


def _ner(spec: TaskSpec, row: dict, reply: str, options: ParseOptions) -> ParseResult:
    key = "attributes" if spec.family == "attribute" else "entities"
    obj = extract_json_object(reply, ("sentence", key))
    text = _check_text(spec, row, _string_field(obj, "sentence"), options)
    listed = obj.get(key)
    if not isinstance(listed, list):
        raise _Reject("missing_field" if listed is None else "wrong_type", f"{key!r} must be a JSON list")
    row_id = int(row["row_id"])
    generic = mentions.label_words(spec)
    # Hard negatives: names of another type the prompt asked the text to mention but not to list.
    # Looked up in front of the graph's names, not merged into a copy of them (tens of thousands) for every row.
    negatives = {name.casefold(): _HARD_NEGATIVE for name in row.get("hard_negatives") or []}
    other_types = ChainMap(negatives, options.other_type_names) if negatives else options.other_type_names
    items, failures = _typed_mentions(spec, listed, row_id, reply, generic, _item_max_chars(row, key), other_types)
    topic = row.get("topic") if row.get("strategy") in KG_STRATEGIES else None
    if topic and mentions.mention_problem(topic, generic):  # a graph name such as 'Syndrome' names no entity
        topic = None
    require = options.require_topic if options.require_topic is not None else topic is not None
    if topic and require and not mentions.find_mentions(text, topic):
        raise _Reject("topic_missing", f"the sampled topic {topic!r} does not occur in the text", failures)
    # The topic is a name of the task's first label (NER: its one type; CASI: the medication).
    spans, issues = mentions.label_spans(text, items, (spec.labels[0].name, topic) if topic else None)
    failures += [ParseFailure(row_id, issue.reason, issue.detail, reply) for issue in issues]
    _check_evidence(options.evidence, text, spans, failures)
    if options.gazetteer is not None:
        spans += _completed(text, spans, options.gazetteer, options.evidence)
    if spec.family == "ner":
        spans += abbreviation_spans(text, spans)
    if not spans:
        raise _Reject("no_entities", f"no listed {key} are entities that occur in the sentence", failures)
    spans = sorted(spans, key=lambda s: s.start)
    if not re.search(r"\w", "".join(text[a.end:b.start] for a, b in zip([_START] + spans, spans + [_end(text)]))):
        raise _Reject("no_context", f"the text is nothing but its {key} {[s.text for s in spans]}", failures)
    example = ner_example_from_spans(_example_id(row), text, spans, _provenance(row, options), split_at_spans=True)
    return ParseResult(example, failures=failures)


def _completed(text: str, spans: list[Span], gazetteer: Gazetteer, evidence: NameEvidence | None) -> list[Span]:
    """Label completion: graph names the reply did not list, and with evidence its class mentions, which win over
    the graph names they hold ('parasitic infection' over 'infection', 'meningioma tumor' over 'meningioma');
    never a generic class ('rare disease')."""
    names = gazetteer.find(text, spans)
    if evidence is None:
        return names
    classes = evidence.class_spans(text, spans, gazetteer.entity_type)
    names = [name for name in names if not evidence.is_generic_class(name.text)
             and not any(c.start <= name.start and name.end <= c.end for c in classes)]
    return names + [c for c in classes if all(c.end <= n.start or c.start >= n.end for n in names)]


def _check_evidence(evidence: NameEvidence | None, text: str, spans: list[Span], failures: list[ParseFailure]
                    ) -> None:
    """Reject the row when a labelled span has no evidence of being a name of the type: dropping only that span
    would leave a real name untagged if it is one, and teach the model that it is not."""
    if evidence is None:
        return
    unverified = [span.text for span in spans if evidence.kind(span.text, text) is None]
    if unverified:
        raise _Reject("mention_unverified", f"{unverified} {'is' if len(unverified) == 1 else 'are'} not a "
                      f"knowledge-graph {evidence.entity_type} name, headed by one, of a {evidence.entity_type}'s "
                      f"word form, or an abbreviation the text defines", failures)


def _typed_mentions(spec: TaskSpec, listed: list, row_id: int, raw: str, generic: frozenset[str],
                    max_chars: int | None, other_types: Mapping[str, str]
                    ) -> tuple[list[tuple[str, str]], list[ParseFailure]]:
    """(type, mention) pairs from an NER entity list (one type) or an attribute list (typed objects, the type
    matched ignoring case), with a mention-level failure for each entry that is malformed, was cut at the
    schema's length limit, cannot be an entity (placeholder, identifier, pronoun, a label or type word), or is
    a knowledge-graph name of another type (`other_types`; acronyms are not judged, except the prompt's own
    hard negatives, whose type is known)."""
    prompted = (spec.kg_entity_type or spec.labels[0].name.casefold()) if spec.family == "ner" else ""
    items, failures = [], []
    for entry in listed:
        entity_type, mention, problem = _read_entry(spec, entry)
        if problem is None and max_chars is not None:
            original = entry if isinstance(entry, str) else entry["text"]
            if len(original) >= max_chars:
                problem = ("entity_truncated", f"{entity_type} {original!r} fills the schema's maxLength of {max_chars}")
        problem = problem or _mention_problem(spec, entity_type, mention, generic, other_types, prompted)
        if problem:
            failures.append(ParseFailure(row_id, *problem, raw))
            continue
        # "Acute dacryoadenitis (ADE)": the name and its abbreviation are two mentions, as the corpora annotate.
        # Each part is judged as a mention of its own: in "Disease (LMD)" the name is only the type word.
        abbreviated = _ABBREVIATED.fullmatch(mention)
        for part in abbreviated.groups() if abbreviated else (mention,):
            problem = _part_problem(entity_type, part, generic, other_types) if part != mention else None
            if problem:
                failures.append(ParseFailure(row_id, problem[0], f"{problem[1]} (in {mention!r})", raw))
            else:
                items.append((entity_type, part))
    return items, failures


def _read_entry(spec: TaskSpec, entry) -> tuple[str | None, str, tuple[str, str] | None]:
    """(entity type, mention, None) of one listed entry, or a (reason, detail) problem when it is malformed."""
    if spec.family == "ner" and isinstance(entry, str) and entry.strip():
        # Models often list "X," or "X." : the punctuation is not part of the entity.
        return spec.labels[0].name, entry.strip().strip(",.;:").strip(), None
    if spec.family == "attribute" and isinstance(entry, dict) and isinstance(entry.get("text"), str) \
            and entry["text"].strip():
        entity_type = {label_key(name): name for name in spec.label_names}.get(label_key(str(entry.get("type"))))
        if entity_type is None:
            return None, "", ("attribute_type_unknown",
                              f"attribute type {entry.get('type')!r} is not one of {spec.label_names}")
        return entity_type, entry["text"].strip(), None
    return None, "", ("entity_malformed", f"list entry {entry!r} is not a non-empty "
                      f"{'string' if spec.family == 'ner' else 'type/text object'}")


def _mention_problem(spec: TaskSpec, entity_type: str, mention: str, generic: frozenset[str],
                     other_types: Mapping[str, str], prompted: str) -> tuple[str, str] | None:
    """(reason, detail) when a whole listed mention cannot be an entity of `entity_type`, else None."""
    problem = mentions.mention_problem(mention, generic) if mention else None
    if problem:
        return problem[0], f"{entity_type} {problem[1]}"
    if spec.family == "ner" and (fragment := mentions.fragment_problem(mention)):  # '' too: it has no letters
        return "mention_is_fragment", f"{entity_type} {fragment}"
    kind = other_types.get(mentions.without_determiner(mention).casefold())
    if kind and (kind == _HARD_NEGATIVE or not is_acronym(mention)):
        named = "a name the prompt gave as another type" if kind == _HARD_NEGATIVE else f"a knowledge-graph {kind} name"
        return "mention_is_other_type", f"{entity_type} {mention!r} is {named}, not a {entity_type}"
    if kind := mentions.other_type_word(mention, prompted):
        return "mention_is_other_type", f"{entity_type} {mention!r} names another type ({kind}), not a {entity_type}"
    return None


def _part_problem(entity_type: str, part: str, generic: frozenset[str], other_types: Mapping[str, str]
                  ) -> tuple[str, str] | None:
    """A name or abbreviation inside "Name (ABBR)": only the type word ('Disease (LMD)'), or the prompt's own
    hard negative made the abbreviation ('Hypoglossal Nerve Injuries (SNRK)', SNRK the prompt's gene)."""
    problem = mentions.mention_problem(part, generic)
    if problem:
        return problem[0], f"{entity_type} {problem[1]}"
    if other_types.get(part.casefold()) == _HARD_NEGATIVE:
        return "mention_is_other_type", f"{entity_type} {part!r} is a name the prompt gave as another type, not a " \
            f"{entity_type}"
    return None


_START = Span(0, 0, "", "")
_HARD_NEGATIVE = "hard negative"  # the kind of a row's hard negatives among the other-type names


def _end(text: str) -> Span:
    return Span(len(text), len(text), "", "")


_ABBREVIATED = re.compile(r"(.*[^\s(])\s*\(([^()\s]{2,10})\)")


def _item_max_chars(row: dict, key: str) -> int | None:
    """The schema's maxLength of one listed mention (NER: the items; attributes: their text)."""
    try:
        items = json.loads(row["json_schema"])["properties"][key]["items"]
        return int(items["maxLength"] if "maxLength" in items else items["properties"]["text"]["maxLength"])
    except (KeyError, TypeError, ValueError):
        return None


_PARSERS = {"classification": _classification, "relation": _relation, "pair": _pair, "ner": _ner,
            "attribute": _ner}


def _example_id(row: dict) -> str:
    return f"{row['task']}-{int(row['row_id']):08d}"


def _reply_problem(reply: SplitReply, end: ReplyEnd | None, options: ParseOptions) -> tuple[str, str] | None:
    """(reason, detail) when the reply as a whole gives no answer to parse, else None: only reasoning (cut inside
    it, or no answer after it), cut at the token limit (an empty reply too: null content with finish_reason
    'length' was cut, not empty), or no text."""
    cut = _truncation(end, options)
    if reply.only_reasoning:
        how = "stopped inside its reasoning (never closed)" if reply.unclosed else "has no answer after its reasoning"
        return "reasoning_only", f"the reply {how}; {len(reply.reasoning)} characters of reasoning" + \
            (f"; {cut}" if cut else "")
    if cut:
        return "truncated", cut + ("" if reply.answer.strip() else ", with no text")
    if not reply.answer.strip():
        return "empty_reply", "the model returned no text"
    return None


def _truncation(end: ReplyEnd | None, options: ParseOptions) -> str | None:
    if end is None:
        return None
    if end.finish_reason is not None:  # the generator said why it stopped (HTTP): trust that over a token count
        return "the generator stopped at the token limit (finish_reason 'length')" \
            if end.finish_reason == "length" else None
    if options.max_tokens and end.generated_tokens is not None and end.generated_tokens >= options.max_tokens:
        return f"the reply used all {options.max_tokens} tokens of its budget (generator.model.sampling.max_tokens)"
    return None


def parse_reply(spec: TaskSpec, row: dict, reply: str | None, options: ParseOptions,
                end: ReplyEnd | None = None) -> ParseResult:
    """Parse one reply to the prompt `row` (a PromptRow dict; pair second steps also carry 'sentence_a'),
    ended as `end` says. The family parser reads the reply's answer only, never its reasoning
    (clingen/parsing/reasoning.py). Never raises on bad model output: every rejection is a ParseFailure with the
    raw text."""
    step = 2 if row.get("sentence_a") is not None else 1
    raw = reply or ""
    row_id = int(row["row_id"])
    if row.get("label") is not None and row["label"] not in spec.label_names:
        return ParseResult(failures=[ParseFailure(row_id, "unknown_label", f"label {row['label']!r} "
                                                  f"is not one of {spec.label_names}", raw, step)])
    split = split_reasoning(raw)  # a reasoning model's thinking (drafts included) never feeds extraction
    problem = _reply_problem(split, end, options)
    if problem:
        return ParseResult(failures=[ParseFailure(row_id, *problem, raw, step)])
    try:
        result = _PARSERS[spec.family](spec, row, split.answer, options)
    except _Reject as reject:
        found = [ParseFailure(f.row_id, f.reason, f.detail, raw, step) for f in reject.found]
        return ParseResult(failures=found + [ParseFailure(row_id, reject.reason, reject.detail, raw, step)])
    except Exception as exc:  # a parser bug must cost one recorded row, not a whole run
        detail = f"{type(exc).__name__}: {str(exc)[:500]}"
        return ParseResult(failures=[ParseFailure(row_id, "parser_error", detail, raw, step)])
    # Every failure quotes the whole reply, reasoning included, as the generator returned it.
    result.failures = [ParseFailure(f.row_id, f.reason, f.detail, raw, step) for f in result.failures]
    return result
