"""Datasets stage: which published format a real file is in, told from its content and name.

Also the task families each format can hold.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass
from pathlib import Path

from clingen.datasets.readers.chemprot import chemprot_files
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


def _first_line(path: Path) -> str | None:
    """The first line with content (a CoNLL -DOCSTART- line says nothing about the columns); "" when the
    file holds nothing but -DOCSTART- lines, None when it holds nothing but white space."""
    text = read_text(path)
    if not text or text.isspace():
        return None
    lines = split_lines(text[:_SNIFF_CHARS])
    return next((line for line in lines if line.strip() and not line.startswith("-DOCSTART-")), "")


def _json_format(path: Path, line: str) -> str | None:
    try:
        row = json.loads(line)
    except json.JSONDecodeError:
        return None
    if not isinstance(row, dict):
        return None
    if {"sentence1", "sentence2", "gold_label"} <= row.keys():
        return "nli-jsonl"
    if "id" in row and ({"text", "text_a"} & row.keys()) and ({"label", "labels", "tags"} & row.keys()):
        return "clingen-jsonl"
    if {"text", "sentence"} & row.keys():
        return "casi-jsonl"
    return None


def _table_format(line: str) -> str | None:
    tab = [field.strip().lower() for field in line.split("\t")]
    if {"claim", "label", "main_text"} <= set(tab):
        return "pubhealth-tsv"
    comma = [field.strip().lower() for field in next(csv.reader([line]), [])]
    if {"evidence", "claim", "label"} <= set(comma):
        return "healthver-csv"
    if {"pmid", "title", "abstract", "label"} <= set(comma):
        return "litcovid-csv"
    if len(comma) == 4 and "\t" not in line and " " not in comma[0].strip():  # id,question,question,label
        return "mqp-csv"
    if tab in (["index", "sentence", "label"], ["sentence", "label"]):
        return "relation-tsv"
    columns = [field.strip() for field in line.split("\t")] if len(tab) > 1 else line.split()
    if len(columns) >= 2 and _TAG.match(columns[-1]) and " " not in columns[0]:
        return "conll"
    if len(tab) in (2, 3) and " " in tab[-2]:
        return "relation-tsv"
    return None


def detect_format(path: str | Path) -> str:
    """The name (a key of FORMATS) of the format of the real file or folder at path, told from its content
    (and, for folders and ChemProt's three files, its name). Raises DataFormatError naming the path and its
    first line when no format fits, and listing the formats read."""
    path = Path(path)
    if not path.exists():
        raise DataFormatError(f"{path} does not exist; expected a real data file (or a HoC or ChemProt folder)")
    if path.is_dir():
        if (path / "text").is_dir() and (path / "labels").is_dir():
            return "hoc"
        if chemprot_files(path) is not None:
            return "chemprot-biocreative"
        raise DataFormatError(f"{path} is a folder but neither a HoC corpus (text/ and labels/) nor a ChemProt "
                              f"split (*_abstracts*.tsv, *_entities*.tsv, *_relations*.tsv)")
    if chemprot_files(path) is not None:
        return "chemprot-biocreative"
    if path.suffix == ".parquet":
        return "clingen-parquet"
    line = _first_line(path)
    if line is None:
        raise DataFormatError(f"{path}: the file is empty; expected a real data split in one of the formats "
                              f"{', '.join(FORMATS)}")
    found = None
    if line == "":
        found = "conll"  # -DOCSTART- lines only: a CoNLL file without sentences, refused for that by the reader
    elif line.lstrip().startswith("<"):
        found = "mediqa-rqe-xml" if "<pair" in read_text(path)[:_SNIFF_CHARS] else None
    elif _PUBTATOR_TEXT.match(line):
        found = "pubtator"
    elif line.lstrip().startswith("{"):
        found = _json_format(path, line)
    else:
        found = _table_format(line)
    if found is None:
        known = "; ".join(f"{f.name} ({f.description})" for f in FORMATS.values())
        raise DataFormatError(f"{path}: cannot tell its format from its first line {line[:120]!r}; expected one "
                              f"of: {known}")
    return found
