"""Datasets stage: readers of the real datasets published as delimited tables.

The BioBERT/BLURB relation TSV (GAD, CDR, ChemProt), PUBHEALTH TSV, HealthVer CSV, MQP CSV and the LitCovid
BioCreative VII CSV.
"""

from __future__ import annotations

from pathlib import Path

from clingen.datasets.records import ClassificationExample, PairExample, RelationExample
from clingen.datasets.readers.markers import masks_for_markers
from clingen.datasets.readers.text import Location, RealData, csv_rows, header_index, read_lines
from clingen.errors import DataFormatError

RELATION_TSV_HEADERS = (["index", "sentence", "label"], ["sentence", "label"])
# PUBHEALTH's `explanation` is the fact-checker's justification of the verdict (it often states it), so it is
# not the evidence: `main_text`, the article the claim is checked against, is (Kotonya & Toni 2020, sec. 3).
PUBHEALTH_EVIDENCE = "main_text"
MQP_HEADER_NAMES = {"id", "dr_id", "question_1", "question_2", "question 1", "question 2", "label"}


def _relation_header(lines: list[str]) -> list[str] | None:
    if not lines:
        return None
    fields = [field.strip().lower() for field in lines[0].split("\t")]
    return fields if fields in RELATION_TSV_HEADERS else None


def read_relation_tsv(path: str | Path, head_mask: str | None = None, tail_mask: str | None = None) -> RealData:
    """A BioBERT/BLURB relation TSV (GAD, CDR, ChemProt): `sentence<TAB>label`, or `index<TAB>sentence<TAB>label`,
    with or without the header line naming those columns. Entities stay masked in the text (@GENE$, ...);
    with a task's masks, entities marked inline (<< >> and [[ ]], <e1> and <e2>) are masked with them (see
    markers.masks_for_markers). Labels are kept as written (0/1, CPR:4, false, INHIBITOR, ...). Ids are
    "<file stem>-<index column>", else "<file stem>-<row index from 0>". Blank lines are skipped; a row with another number of fields, an empty
    sentence or an empty label raises DataFormatError naming file:line."""
    path = Path(path)
    lines = read_lines(path)
    header = _relation_header(lines)
    width = len(header) if header else len(next((line.split("\t") for line in lines if line.strip()), ["", ""]))
    width = width if width in (2, 3) else 2
    expected = "index<TAB>sentence<TAB>label" if width == 3 else "sentence<TAB>label"
    data = RealData(path, "relation-tsv", [], [])
    for line_number, line in enumerate(lines[1:] if header else lines, start=2 if header else 1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != width or not fields[-2].strip() or not fields[-1].strip():
            raise DataFormatError(f"{path}:{line_number}: {line[:200]!r} has {len(fields)} tab-separated field(s); "
                                  f"expected {expected} with a non-empty sentence and label")
        row_id = fields[0].strip() if width == 3 else str(len(data.examples))
        data.examples.append(RelationExample(f"{path.stem}-{row_id}", fields[-2].strip(), fields[-1].strip()))
        data.locations.append(Location(path, line_number))
    return masks_for_markers(data, head_mask, tail_mask) if head_mask and tail_mask else data


def read_pubhealth(path: str | Path) -> RealData:
    """PUBHEALTH TSV (header: claim_id, claim, date_published, explanation, fact_checkers, main_text, sources,
    label, subjects; quoted fields may span lines): text_a = claim, text_b = main_text (see
    PUBHEALTH_EVIDENCE), label as written (true, false, unproven, mixture), id = claim_id. Rows without a
    claim or an evidence text are skipped and counted in the problems."""
    path = Path(path)
    rows = csv_rows(path, "\t")
    data = RealData(path, "pubhealth-tsv", [], [])
    start, header = next(rows, (1, []))
    columns = header_index(path, start, header, ("claim", PUBHEALTH_EVIDENCE, "label"), "PUBHEALTH")
    skipped = 0
    for line, row in rows:
        claim, evidence, label = (_field(row, columns[name]) for name in ("claim", PUBHEALTH_EVIDENCE, "label"))
        if not claim or not evidence:
            skipped += 1
            continue
        row_id = _field(row, columns["claim_id"]) if "claim_id" in columns else str(len(data.examples))
        data.examples.append(PairExample(f"{path.stem}-{row_id}", claim, evidence, label))
        data.locations.append(Location(path, line))
    if skipped:
        data.problems.append(f"{skipped} row(s) without a claim or an evidence text ({PUBHEALTH_EVIDENCE}) were "
                             f"skipped")
    return data


def _field(row: list[str], position: int) -> str:
    return row[position] if position < len(row) else ""


def read_healthver(path: str | Path) -> RealData:
    """HealthVer CSV (header with at least evidence, claim, label; id optional): text_a = evidence, text_b =
    claim (the built-in task's roles), label as written (Supports, Refutes, Neutral)."""
    path = Path(path)
    rows = csv_rows(path, ",")
    start, header = next(rows, (1, []))
    columns = header_index(path, start, header, ("evidence", "claim", "label"), "HealthVer")
    data = RealData(path, "healthver-csv", [], [])
    for line, row in rows:
        evidence, claim, label = (_field(row, columns[name]) for name in ("evidence", "claim", "label"))
        if not evidence or not claim:
            raise DataFormatError(f"{path}:{line}: empty evidence or claim; expected both texts")
        row_id = _field(row, columns["id"]) if "id" in columns else str(len(data.examples))
        data.examples.append(PairExample(f"{path.stem}-{row_id}", evidence, claim, label))
        data.locations.append(Location(path, line))
    return data


def read_mqp(path: str | Path) -> RealData:
    """MQP CSV (medical question pairs): `id,question 1,question 2,label` with label 0/1, no header (a header
    row of those names is skipped). text_a/text_b = the two questions, id "<file stem>-<id column>"."""
    path = Path(path)
    data = RealData(path, "mqp-csv", [], [])
    for index, (line, row) in enumerate(csv_rows(path, ",")):
        if index == 0 and {value.lower() for value in row} & MQP_HEADER_NAMES:
            continue
        if len(row) != 4 or not row[1] or not row[2] or not row[3]:
            raise DataFormatError(f"{path}:{line}: {row!r} has {len(row)} field(s); expected id,question 1,"
                                  f"question 2,label with both questions and the label")
        data.examples.append(PairExample(f"{path.stem}-{row[0] or index}", row[1], row[2], row[3]))
        data.locations.append(Location(path, line))
    return data


def read_litcovid(path: str | Path) -> RealData:
    """LitCovid BioCreative VII CSV (header: pmid, journal, title, abstract, keywords, pub_type, authors, doi,
    label): one document per row, text = title and abstract joined by a space, labels = the `;`-separated
    label field (Treatment;Diagnosis), id = pmid."""
    path = Path(path)
    rows = csv_rows(path, ",")
    start, header = next(rows, (1, []))
    columns = header_index(path, start, header, ("pmid", "title", "abstract", "label"), "LitCovid")
    data = RealData(path, "litcovid-csv", [], [])
    for line, row in rows:
        text = " ".join(part for part in (_field(row, columns["title"]), _field(row, columns["abstract"])) if part)
        labels = [name.strip() for name in _field(row, columns["label"]).split(";") if name.strip()]
        if not text:
            raise DataFormatError(f"{path}:{line}: document {_field(row, columns['pmid'])!r} has neither title "
                                  f"nor abstract; expected its text")
        data.examples.append(ClassificationExample(_field(row, columns["pmid"]) or str(line), text, labels))
        data.locations.append(Location(path, line))
    return data
