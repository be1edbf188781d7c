"""Datasets stage: readers of the real datasets published as corpora of their own shape.

HoC (a text and a label file per abstract), MEDIQA-RQE XML, MedNLI / MEDIQA-NLI JSON lines, relation instances as
JSON lines, CASI medication attributes (JSON lines) and ClinGen's own record files.
"""

from __future__ import annotations

import hashlib
import json
import re
import xml.etree.ElementTree as ElementTree
from collections.abc import Collection
from pathlib import Path

from clingen.datasets.records import (ClassificationExample, PairExample, RelationExample, Span,
                                      ner_example_from_spans, read_parquet, record_type_for)
from clingen.datasets.readers.markers import masks_for_markers
from clingen.datasets.readers.text import Location, RealData, read_lines, read_text
from clingen.errors import DataFormatError, UnknownNameError
from clingen.tasks.spec import label_key

# A sentence field may hold several labels joined by "AND" (with or without spaces: "...--Receptors ANDSus...");
# "NULL" marks a sentence annotated with no hallmark (11 sentences in the corpus).
_HOC_LABEL_SEPARATOR = re.compile(r"\s*AND\s*")
_HOC_NO_LABEL = "NULL"
HOC_SPLITS = ("train", "dev", "test", "all")
NLI_FIELDS = ("sentence1", "sentence2", "gold_label")
_TEXT_KEYS = ("text", "sentence")
_CASI_LIST_KEYS = ("attributes", "entities")
_ID_KEY = "id"
# Letters and digits: an attribute string is placed only where it is not part of a longer word.
_WORD_CHAR = re.compile(r"[^\W_]")


def hoc_split_of(pmid: str) -> str:
    """The HoC split of a document: sha256 of its PMID string (UTF-8) as an integer, mod 10; 0-6 -> train,
    7 -> dev, 8-9 -> test. Depends only on the PMID, so it is stable when documents are added or removed."""
    bucket = int(hashlib.sha256(pmid.encode("utf-8")).hexdigest(), 16) % 10
    return "train" if bucket <= 6 else "dev" if bucket == 7 else "test"


def _hoc_hallmarks(field: str) -> list[str]:
    """The top-level hallmarks (text before the first "--") of one sentence's label field, as written."""
    names = [name for name in _HOC_LABEL_SEPARATOR.split(field.strip()) if name and name != _HOC_NO_LABEL]
    return [name.split("--")[0].strip() for name in names]


def _hoc_document(text_path: Path, label_path: Path) -> ClassificationExample:
    """One HoC abstract. Its label file is a single line in which each sentence's labels are preceded by
    "<" (so it starts with "<" and has one field per sentence after it), not one line per sentence."""
    if not label_path.is_file():
        raise DataFormatError(f"{text_path} has no label file; expected {label_path}")
    sentences = read_lines(text_path)
    before_first, *fields = read_text(label_path).split("<")
    if before_first.strip() or len(fields) != len(sentences):
        raise DataFormatError(f"{label_path}: has {len(fields)} '<'-prefixed label field(s) (text before the first: "
                              f"{before_first.strip()!r}); expected one per sentence of {text_path}, "
                              f"{len(sentences)}, and nothing before the first '<'")
    hallmarks = [name for field in fields for name in _hoc_hallmarks(field)]
    text = " ".join(sentence.strip() for sentence in sentences if sentence.strip())
    return ClassificationExample(text_path.stem, text, list(dict.fromkeys(hallmarks)))


def read_hoc_data(root: str | Path, split: str = "all") -> RealData:
    """The HoC corpus (root/text/<PMID>.txt, root/labels/<PMID>.txt) as multi-label documents sorted by PMID:
    id = PMID, text = the sentences joined by a space, labels = the sentences' top-level hallmarks as the
    corpus writes them ("Sustaining proliferative signaling"), possibly none. split is one of HOC_SPLITS
    (see hoc_split_of)."""
    root = Path(root)
    if split not in HOC_SPLITS:
        raise UnknownNameError("HoC split", split, HOC_SPLITS)
    text_dir, label_dir = root / "text", root / "labels"
    if not text_dir.is_dir() or not label_dir.is_dir():
        raise DataFormatError(f"{root} is not a HoC corpus; expected the folders {text_dir} and {label_dir}")
    documents = sorted(text_dir.glob("*.txt"), key=lambda p: p.name)
    data = RealData(root, "hoc", [], [])
    for text_path in documents:
        if split == "all" or hoc_split_of(text_path.stem) == split:
            data.examples.append(_hoc_document(text_path, label_dir / text_path.name))
            data.locations.append(Location(label_dir / text_path.name))
    data.found = f"{len(documents)} document(s) in {text_dir}, {len(data.examples)} of them in split {split!r}"
    return data


def _pair_text(path: Path, pair: ElementTree.Element, tag: str) -> str:
    element = pair.find(tag)
    if element is None:
        raise DataFormatError(f"{path}: pair pid={pair.get('pid')!r} has no <{tag}>; expected <chq> and <faq>")
    return "".join(element.itertext()).strip()


def read_mediqa_rqe_data(path: str | Path) -> RealData:
    """MEDIQA-RQE XML pairs: text_a = <chq>, text_b = <faq>, both stripped; label = the value attribute as
    written (true, false); id "<file stem>-<pid>". Raises DataFormatError naming the pair when one is
    incomplete and the line when the XML is not well-formed."""
    path = Path(path)
    text = read_text(path)
    try:
        root = ElementTree.fromstring(text)
    except ElementTree.ParseError as exc:
        line, column = exc.position
        raise DataFormatError(f"{path}:{line}: not well-formed XML at column {column}: {exc}") from None
    lines = {match.group(1): text.count("\n", 0, match.start()) + 1
             for match in re.finditer(r"<pair\b[^>]*?\bpid=\"([^\"]*)\"", text)}
    data = RealData(path, "mediqa-rqe-xml", [], [])
    for pair in root.iter("pair"):
        pid, value = pair.get("pid"), pair.get("value")
        if not pid:
            raise DataFormatError(f"{path}: pair #{len(data.examples) + 1} has no pid attribute; expected "
                                  f"<pair pid=...>")
        if not value:
            raise DataFormatError(f"{path}:{lines.get(pid)}: pair pid={pid!r} has no value attribute; expected "
                                  f"value=\"true\" or value=\"false\"")
        data.examples.append(PairExample(f"{path.stem}-{pid}", _pair_text(path, pair, "chq"),
                                         _pair_text(path, pair, "faq"), value.strip()))
        data.locations.append(Location(path, lines.get(pid), f"pair pid={pid}"))
    return data


def _json_lines(path: Path):
    """(line number, object) of each non-empty line; a line that is not a JSON object names file:line."""
    for line_number, line in enumerate(read_lines(path), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataFormatError(f"{path}:{line_number}: not JSON ({exc.msg} at column {exc.colno}); expected "
                                  f"one JSON object a line") from None
        except RecursionError:
            raise DataFormatError(f"{path}:{line_number}: JSON nested deeper than can be read; expected one "
                                  f"JSON object a line") from None
        if not isinstance(row, dict):
            raise DataFormatError(f"{path}:{line_number}: a JSON {type(row).__name__}; expected a JSON object")
        yield line_number, row


def read_nli_jsonl(path: str | Path) -> RealData:
    """MedNLI / MEDIQA-NLI JSON lines: text_a = sentence1 (premise), text_b = sentence2 (hypothesis), label =
    gold_label as written (entailment, contradiction, neutral); id = pairID, else "<file stem>-<line>"."""
    path = Path(path)
    data = RealData(path, "nli-jsonl", [], [])
    for line_number, row in _json_lines(path):
        missing = [name for name in NLI_FIELDS if not isinstance(row.get(name), str) or not row[name].strip()]
        if missing:
            raise DataFormatError(f"{path}:{line_number}: lacks {missing}; expected the strings {list(NLI_FIELDS)}")
        row_id = str(row.get("pairID") or f"{path.stem}-{line_number}")
        data.examples.append(PairExample(row_id, row["sentence1"].strip(), row["sentence2"].strip(),
                                         row["gold_label"].strip()))
        data.locations.append(Location(path, line_number))
    return data


def _relation_label(path: Path, line_number: int, row: dict) -> str:
    """The label of a relation line as written: a string, or an integer (GAD's 0/1) as its digits."""
    label = row.get("label")
    if isinstance(label, int) and not isinstance(label, bool):
        return str(label)
    if not isinstance(label, str) or not label.strip():
        raise DataFormatError(f"{path}:{line_number}: label {label!r}; expected a non-empty string (or an integer "
                              f"such as 0/1)")
    return label.strip()


def read_relation_jsonl(path: str | Path, head_mask: str | None = None, tail_mask: str | None = None) -> RealData:
    """Relation instances as JSON lines (SciBERT's ChemProt copy and its kind): a `text` (or `sentence`)
    string whose two entities are masked (@CHEMICAL$ ... @GENE$) or marked inline (<< >> and [[ ]], <e1> and
    <e2>: masked with the task's masks, see markers.masks_for_markers), a `label` (see `_relation_label`)
    and optionally an `id`; other keys (`metadata`) are ignored. Ids: `id`, else "<file stem>-<line>"."""
    path = Path(path)
    data = RealData(path, "relation-jsonl", [], [])
    for line_number, row in _json_lines(path):
        text = next((row[key] for key in _TEXT_KEYS if isinstance(row.get(key), str)), None)
        if not text or not text.strip():
            raise DataFormatError(f"{path}:{line_number}: no text; expected a \"text\" (or \"sentence\") string")
        row_id = row.get(_ID_KEY)
        row_id = str(row_id) if isinstance(row_id, (str, int)) and str(row_id) else f"{path.stem}-{line_number}"
        data.examples.append(RelationExample(row_id, text.strip(), _relation_label(path, line_number, row)))
        data.locations.append(Location(path, line_number))
    return masks_for_markers(data, head_mask, tail_mask) if head_mask and tail_mask else data


def _casi_mentions(path: Path, line_number: int, row: dict, types: Collection[str] | None,
                   ignored: set[str]) -> list[tuple[str, str]]:
    """(type, text) pairs of one CASI line: an `attributes`/`entities` list of {type, text} objects, else one
    key per attribute type whose value is a string or a list of strings. With `types` (label_key forms of a
    task's attribute types and label_map), only keys of those types are attributes; without, every key
    holding strings is. Other keys (metadata such as "section" or "note_id") are added to `ignored`."""
    listed = next((row[key] for key in _CASI_LIST_KEYS if key in row), None)
    if listed is not None:
        if not isinstance(listed, list) or not all(isinstance(i, dict) and {"type", "text"} <= i.keys()
                                                   for i in listed):
            raise DataFormatError(f"{path}:{line_number}: attributes must be a list of {{\"type\", \"text\"}} "
                                  f"objects")
        return [(str(item["type"]), str(item["text"])) for item in listed]
    pairs = []
    for key, value in row.items():
        if key in (*_TEXT_KEYS, _ID_KEY):
            continue
        values = [value] if isinstance(value, str) else value
        strings = isinstance(values, list) and all(isinstance(v, str) for v in values)
        if (types is not None and label_key(key) not in types) or (types is None and not strings):
            ignored.add(key)
            continue
        if not strings:
            raise DataFormatError(f"{path}:{line_number}: attribute {key!r} is {value!r}; expected a string or "
                                  f"a list of strings")
        pairs.extend((key, v) for v in values if v.strip())
    return pairs


def _whole_word_at(text: str, mention: str, start: int) -> bool:
    """Whether mention, at start in text, is not part of a longer word: no letter or digit glued to an end
    that is itself a letter or digit ("po" in "potassium" is not a whole word)."""
    end = start + len(mention)
    glued_before = start > 0 and _WORD_CHAR.match(mention[0]) and _WORD_CHAR.match(text[start - 1])
    glued_after = end < len(text) and _WORD_CHAR.match(mention[-1]) and _WORD_CHAR.match(text[end])
    return not (glued_before or glued_after)


def _place(text: str, mentions: list[tuple[str, str]], taken: list[Span]) -> int:
    """Add a span per mention at its first whole-word occurrence that overlaps no span already placed, the
    longer mentions placed first (a short string such as a route "po" must not take the place of a longer
    one); returns how many mentions have no such occurrence (CASI lists attribute strings, not offsets)."""
    missing = 0
    for kind, mention in sorted(mentions, key=lambda pair: -len(pair[1])):
        start = text.find(mention)
        while start >= 0 and (not _whole_word_at(text, mention, start)
                              or any(s.start < start + len(mention) and start < s.end for s in taken)):
            start = text.find(mention, start + 1)
        if start < 0:
            missing += 1
            continue
        taken.append(Span(start, start + len(mention), kind, mention))
    return missing


def read_casi_jsonl(path: str | Path, attribute_types: Collection[str] | None = None) -> RealData:
    """CASI medication attributes as JSON lines: a `text` (or `sentence`) and either per attribute type a key
    holding the attribute strings ({"text": ..., "Dosage": ["10 mg"], ...}) or an `attributes` list of
    {"type", "text"}. attribute_types: the label_key forms of the names that are attribute types (a task's
    labels and label_map keys, see TaskSpec.dataset_labels); other keys are metadata, ignored and named once
    in the problems (None: every key holding strings is an attribute). Each string is located at its first
    free whole-word occurrence (see `_place`); strings that do not occur are dropped and counted in the
    problems. Tokens are split at the attribute boundaries. Types are kept as written."""
    path = Path(path)
    data = RealData(path, "casi-jsonl", [], [])
    missing = 0
    ignored: set[str] = set()
    types = None if attribute_types is None else set(attribute_types)
    for line_number, row in _json_lines(path):
        text = next((row[key] for key in _TEXT_KEYS if isinstance(row.get(key), str)), None)
        if not text or not text.strip():
            raise DataFormatError(f"{path}:{line_number}: no text; expected a \"text\" (or \"sentence\") string")
        spans: list[Span] = []
        missing += _place(text, _casi_mentions(path, line_number, row, types, ignored), spans)
        row_id = str(row.get(_ID_KEY, f"{path.stem}-{line_number}"))
        data.examples.append(ner_example_from_spans(row_id, text, spans, split_at_spans=True))
        data.locations.append(Location(path, line_number))
    if missing:
        data.problems.append(f"{missing} attribute string(s) do not occur in their text as whole words and were "
                             f"dropped")
    if ignored:
        data.problems.append(f"ignored keys: {sorted(ignored)} (not attribute types"
                             f"{' of the task' if types is not None else ''})")
    return data


def read_records(path: str | Path, family: str) -> RealData:
    """ClinGen's own record files (.jsonl, .parquet: a shipped demonstration pool, a converted split)."""
    path = Path(path)
    if path.suffix == ".parquet":
        records = read_parquet(path, family)
        return RealData(path, "clingen-parquet", records,
                        [Location(path, None, f"row {i}") for i in range(len(records))])
    record_type, data = record_type_for(family), RealData(path, "clingen-jsonl", [], [])
    for line_number, row in _json_lines(path):  # not records.read_jsonl: a byte-order mark or CRLF is fine here
        try:
            data.examples.append(record_type.from_row(row))
        except (TypeError, ValueError) as exc:
            raise DataFormatError(f"{path}:{line_number}: bad {family} record: {exc}") from None
        data.locations.append(Location(path, line_number))
    return data
