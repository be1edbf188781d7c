"""Datasets stage: which published format a real file is in, told from its content and name.

Also the task families each format can hold. Each format has a check that says why a file does not fit it, so
that a file fitting none of the formats a task reads is refused with the closest one and the reason.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from clingen.datasets.readers.chemprot import chemprot_files
from clingen.datasets.readers.markers import has_masks_or_markers, marker_style
from clingen.datasets.readers.text import read_text, split_lines
from clingen.errors import DataFormatError

ALL_FAMILIES = ("classification", "relation", "pair", "ner", "attribute")


@dataclass(frozen=True)
class Format:
    """A published format of real data: its name (a key of FORMATS), the task families whose examples it
    holds, and a one-line description of its layout for messages."""

    name: str
    families: tuple[str, ...]
    description: str


FORMATS = {f.name: f for f in (
    Format("conll", ("ner", "attribute"), "CoNLL/IOB: token<TAB>tag, a blank line between sentences"),
    Format("pubtator", ("relation", "ner"), "PubTator: PMID|t|title, PMID|a|abstract, mention and CID lines"),
    Format("chemprot-biocreative", ("relation",), "ChemProt (BioCreative VI): *_abstracts, *_entities, "
           "*_relations .tsv files"),
    Format("relation-tsv", ("relation",), "BioBERT/BLURB relation TSV: [index<TAB>]sentence<TAB>label"),
    Format("relation-jsonl", ("relation",), "relation instances, JSON lines: text (entities masked @GENE$ or "
           "marked << >> [[ ]], <e1> <e2>) and label"),
    Format("hoc", ("classification",), "HoC corpus folder: text/<PMID>.txt and labels/<PMID>.txt"),
    Format("litcovid-csv", ("classification",), "LitCovid BioCreative VII CSV: pmid,...,title,abstract,...,label"),
    Format("mediqa-rqe-xml", ("pair",), "MEDIQA-RQE XML: <pair pid value><chq/><faq/></pair>"),
    Format("nli-jsonl", ("pair",), "MedNLI / MEDIQA-NLI JSON lines: sentence1, sentence2, gold_label"),
    Format("pubhealth-tsv", ("pair",), "PUBHEALTH TSV: claim_id, claim, ..., main_text, ..., label"),
    Format("healthver-csv", ("pair",), "HealthVer CSV: evidence, claim, label"),
    Format("mqp-csv", ("pair",), "MQP CSV: id,question 1,question 2,0|1 (no header)"),
    Format("casi-jsonl", ("attribute",), "CASI medication attributes, JSON lines: text and attribute strings"),
    Format("clingen-jsonl", ALL_FAMILIES, "ClinGen records, JSON lines (a demonstration pool, a converted split)"),
    Format("clingen-parquet", ALL_FAMILIES, "ClinGen records, Parquet"),
)}

_PUBTATOR_TEXT = re.compile(r"^\d+\|[ta]\|")
_TAG = re.compile(r"^(O|[BIES]-\S+|[BIES])$")
_SNIFF_CHARS = 65536
_TEXT_KEYS = ("text", "sentence")
# Keys that hold an instance's class: a JSON line with one is not a CASI line (which holds attribute strings).
_LABEL_KEYS = frozenset({"label", "labels", "gold_label", "relation", "relations", "class", "tags", "ner_tags"})


@dataclass(frozen=True)
class _Sample:
    """What the checks look at: the path, the first line with content and, when it is one, its JSON object."""

    path: Path
    line: str
    row: dict | None


@dataclass(frozen=True)
class _Fit:
    """A format check's answer: reason None when the file fits; otherwise why not, and how close the file came
    (0: nothing in common, 1: its kind of layout (JSON lines, delimited text), more: the format's layout with
    some of its fields, 1 + those present)."""

    reason: str | None = None
    closeness: int = 0


_FITS = _Fit()


def _keys_fit(sample: _Sample, required: tuple[str, ...], any_of: tuple[tuple[str, ...], ...] = ()) -> _Fit:
    if sample.row is None:
        return _Fit("its first line is not a JSON object")
    missing = [key for key in required if key not in sample.row]
    missing += [" or ".join(keys) for keys in any_of if not set(keys) & sample.row.keys()]
    if missing:
        present = len(required) + len(any_of) - len(missing)
        return _Fit(f"its first line has the keys {sorted(sample.row)} and lacks {missing}", 1 + present)
    return _FITS


def _relation_jsonl(sample: _Sample) -> _Fit:
    fit = _keys_fit(sample, ("label",), (_TEXT_KEYS,))
    if fit.reason:
        return fit
    text = next((sample.row[key] for key in _TEXT_KEYS if isinstance(sample.row.get(key), str)), "")
    if not has_masks_or_markers(text):
        return _Fit(f"the text of its first line ({text[:80]!r}) neither masks two entities (@GENE$, @DISEASE$) nor "
                    f"marks them inline (<< >> and [[ ]], <e1> and <e2>)", 3)
    return _FITS


def _clingen_jsonl(sample: _Sample) -> _Fit:
    fit = _keys_fit(sample, ("id",), (("text", "text_a"), ("label", "labels", "tags")))
    text = sample.row.get("text") if fit.reason is None else None
    if isinstance(text, str) and marker_style(text) is not None:  # ClinGen's records never mark entities inline
        return _Fit(f"its text marks entities inline ({marker_style(text).name}), which ClinGen records never do", 2)
    return fit


def _casi_jsonl(sample: _Sample) -> _Fit:
    fit = _keys_fit(sample, (), (_TEXT_KEYS,))
    if fit.reason:
        return fit
    labels = sorted(_LABEL_KEYS & sample.row.keys())
    if labels:
        return _Fit(f"its first line has the key(s) {labels}: a CASI line holds attribute strings, not a label", 3)
    others = [key for key in sample.row if key not in (*_TEXT_KEYS, "id")]
    if not others:
        return _Fit("its first line holds a text and no attribute", 2)
    return _FITS


def _columns(sample: _Sample, delimiter: str) -> list[str]:
    if delimiter == "\t":
        return [field.strip().lower() for field in sample.line.split("\t")]
    return [field.strip().lower() for field in next(csv.reader([sample.line]), [])]


def _header_fit(required: set[str], delimiter: str) -> Callable[[_Sample], _Fit]:
    def check(sample: _Sample) -> _Fit:
        names = set(_columns(sample, delimiter))
        missing = sorted(required - names)
        if not missing:
            return _FITS
        what = "TSV" if delimiter == "\t" else "CSV"
        return _Fit(f"its first line is not a {what} header with {sorted(required)} (it lacks {missing})",
                    2 if len(missing) < len(required) else int(delimiter in sample.line))
    return check


def _mqp(sample: _Sample) -> _Fit:
    comma = _columns(sample, ",")
    if len(comma) == 4 and "\t" not in sample.line and " " not in comma[0]:  # id,question,question,label
        return _FITS
    return _Fit(f"its first line has {len(comma)} comma-separated field(s); expected id,question 1,question 2,label",
                int("," in sample.line))


def _conll(sample: _Sample) -> _Fit:
    if sample.line == "":  # -DOCSTART- lines only: a CoNLL file without sentences, refused for that by the reader
        return _FITS
    tab = sample.line.split("\t")
    columns = [field.strip() for field in tab] if len(tab) > 1 else sample.line.split()
    if len(columns) >= 2 and _TAG.match(columns[-1]) and " " not in columns[0]:
        return _FITS
    return _Fit("its first line is not token<TAB>tag with a BIO tag (O, B-<type>, I-<type>) last", int(len(tab) > 1))


def _relation_tsv(sample: _Sample) -> _Fit:
    tab = _columns(sample, "\t")
    if tab in (["index", "sentence", "label"], ["sentence", "label"]) or (len(tab) in (2, 3) and " " in tab[-2]):
        return _FITS
    return _Fit(f"its first line has {len(tab)} tab-separated field(s); expected [index<TAB>]sentence<TAB>label "
                f"with a sentence of several words", 2 if len(tab) in (2, 3) else int(len(tab) > 1))


def _pubtator(sample: _Sample) -> _Fit:
    if _PUBTATOR_TEXT.match(sample.line):
        return _FITS
    return _Fit("its first line does not start with PMID|t| or PMID|a|", int(sample.line[:1].isdigit()))


def _xml(sample: _Sample) -> _Fit:
    if not sample.line.lstrip().startswith("<"):
        return _Fit("it is not XML")
    if "<pair" in read_text(sample.path)[:_SNIFF_CHARS]:
        return _FITS
    return _Fit("it is XML without <pair> elements", 1)


def _text_line(check: Callable[[_Sample], _Fit]) -> Callable[[_Sample], _Fit]:
    """A check of a delimited-text format, which a JSON first line never fits (a line may start with "<": an
    entity marked << >> or <e1>)."""
    def checked(sample: _Sample) -> _Fit:
        if sample.row is not None:
            return _Fit("its first line is a JSON object, not delimited text")
        return check(sample)
    return checked


def _never(reason: str) -> Callable[[_Sample], _Fit]:
    return lambda sample: _Fit(reason)


# In the order they are tried: when a file fits several, the first that the task's family reads wins.
_CHECKS: dict[str, Callable[[_Sample], _Fit]] = {
    "pubtator": _pubtator,
    "mediqa-rqe-xml": _xml,
    "nli-jsonl": lambda sample: _keys_fit(sample, ("sentence1", "sentence2", "gold_label")),
    "clingen-jsonl": _clingen_jsonl,
    "relation-jsonl": _relation_jsonl,
    "casi-jsonl": _casi_jsonl,
    "pubhealth-tsv": _text_line(_header_fit({"claim", "label", "main_text"}, "\t")),
    "healthver-csv": _text_line(_header_fit({"evidence", "claim", "label"}, ",")),
    "litcovid-csv": _text_line(_header_fit({"pmid", "title", "abstract", "label"}, ",")),
    "mqp-csv": _text_line(_mqp),
    "conll": _text_line(_conll),
    "relation-tsv": _text_line(_relation_tsv),
    "chemprot-biocreative": _never("it is not one of a ChemProt split's chemprot_*_abstracts, _entities, _relations "
                                   "or _gold_standard .tsv files"),
    "hoc": _never("it is a file; HoC is a folder with text/ and labels/"),
    "clingen-parquet": _never("it is not a .parquet file"),
}


def _sample(path: Path) -> _Sample | None:
    """The first line with content (a CoNLL -DOCSTART- line says nothing about the columns; "" when the file
    holds nothing but -DOCSTART- lines) and its JSON object; None when the file holds nothing but white space."""
    text = read_text(path)
    if not text or text.isspace():
        return None
    lines = split_lines(text[:_SNIFF_CHARS])
    line = next((line for line in lines if line.strip() and not line.startswith("-DOCSTART-")), "")
    try:
        row = json.loads(line) if line.lstrip().startswith("{") else None
    except (json.JSONDecodeError, RecursionError):  # RecursionError: nested deeper than json's parser goes
        row = None
    return _Sample(path, line, row if isinstance(row, dict) else None)


def _folder_format(path: Path) -> str:
    if (path / "text").is_dir() and (path / "labels").is_dir():
        return "hoc"
    if chemprot_files(path) is not None:
        return "chemprot-biocreative"
    raise DataFormatError(f"{path} is a folder but neither a HoC corpus (text/ and labels/) nor a ChemProt "
                          f"split (*_abstracts*.tsv, *_entities*.tsv, *_relations*.tsv)")


def formats_of(family: str) -> list[str]:
    """The formats that hold a family's examples, in the order of FORMATS."""
    return [f.name for f in FORMATS.values() if family in f.families]


def _reader_of(family: str | None, task: str | None) -> str:
    return f"task {task} ({family})" if task else f"a {family} task"


def detect_format(path: str | Path, family: str | None = None, task: str | None = None) -> str:
    """The name (a key of FORMATS) of the format of the real file or folder at path, told from its content
    (and, for folders and ChemProt's three files, its name). With a family (and the task's name, for
    messages), a format of that family wins when several fit. Raises DataFormatError naming the path and its
    first line when no format fits: without a family, listing every format; with one, naming the formats
    the task reads, the closest of them and why it does not fit."""
    path = Path(path)
    if not path.exists():
        raise DataFormatError(f"{path} does not exist; expected a real data file (or a HoC or ChemProt folder)")
    if path.is_dir():
        return _folder_format(path)
    if chemprot_files(path) is not None:
        return "chemprot-biocreative"
    if path.suffix == ".parquet":
        return "clingen-parquet"
    sample = _sample(path)
    readable = formats_of(family) if family else list(FORMATS)
    if sample is None:
        who = f" for {_reader_of(family, task)}" if family else ""
        raise DataFormatError(f"{path}: the file is empty; expected a real data split{who} in one of the formats "
                              f"{', '.join(readable)}")
    fits = {name: check(sample) for name, check in _CHECKS.items()}
    fitting = [name for name, fit in fits.items() if fit.reason is None]
    chosen = next((name for name in fitting if name in readable), fitting[0] if fitting else None)
    if chosen is not None:
        return chosen
    if family is None:
        known = "; ".join(f"{f.name} ({f.description})" for f in FORMATS.values())
        raise DataFormatError(f"{path}: cannot tell its format from its first line {sample.line[:120]!r}; expected "
                              f"one of: {known}")
    closest = max(readable, key=lambda name: fits[name].closeness)  # the first of FORMATS' order on ties
    raise DataFormatError(f"{path}: none of the formats {_reader_of(family, task)} reads fits its first line "
                          f"{sample.line[:120]!r}; closest: {closest} ({FORMATS[closest].description}), but "
                          f"{fits[closest].reason}; {_reader_of(family, task)} reads: {', '.join(readable)}")
