"""Datasets stage: the ChemProt (BioCreative VI track 5) reader of the abstracts, entities and relations files.

A split's files become the sentence-level, masked chemical-protein instances of the BLURB/BioBERT ChemProt TSV.
"""

from __future__ import annotations

import glob
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from clingen.datasets.records import RelationExample
from clingen.datasets.readers.sentences import mask_pair, sentence_spans
from clingen.datasets.readers.text import Location, RealData, read_lines
from clingen.errors import DataFormatError

# The groups the task evaluates (Krallinger et al. 2017); other groups and pairs without a relation are "false".
EVALUATED_GROUPS = frozenset({"CPR:3", "CPR:4", "CPR:5", "CPR:6", "CPR:9"})
FALSE = "false"
KINDS = ("abstracts", "entities", "relations")
CHEMICAL_MASK, GENE_MASK = "@CHEMICAL$", "@GENE$"
_GENE_TYPES = ("GENE-Y", "GENE-N", "GENE")
_FILE_NAME = re.compile(r"^(?P<prefix>.*?)(?P<kind>abstracts|entities|relations)(?P<suffix>.*\.tsv)$")
# chemprot_training_gold_standard.tsv, chemprot_test_gold_standard.tsv: the evaluated relations only.
_GOLD_NAME = re.compile(r"^(?P<prefix>.*?)gold_standard(?P<suffix>.*\.tsv)$")


@dataclass(frozen=True)
class _Entity:
    type: str
    start: int
    end: int


def _refuse_drugprot(path: Path) -> None:
    """DrugProt (BioCreative VII track 1) lays its files out like ChemProt, but annotates 13 relation types
    of its own, not ChemProt's CPR groups: read as ChemProt, every instance would be "false"."""
    names = [p.name for p in path.glob("*.tsv")] if path.is_dir() else [path.name]
    if any("drugprot" in name.lower() for name in names):
        raise DataFormatError(f"{path} is a DrugProt (BioCreative VII) split: DrugProt annotates its own relation "
                              f"types (INHIBITOR, ACTIVATOR, PART-OF, ...), not ChemProt's CPR groups, and has no "
                              f"reader here; expected a ChemProt (BioCreative VI) split: chemprot_*_abstracts*.tsv, "
                              f"chemprot_*_entities*.tsv and chemprot_*_relations*.tsv (or *_gold_standard.tsv)")


def _gold_standard_files(path: Path, match: re.Match) -> dict[str, Path]:
    """The split of a *_gold_standard.tsv file: its sibling abstracts and entities files, with the gold
    standard (the evaluated relations, 4 columns) as the relations file."""
    found = {kind: sorted(path.parent.glob(f"{glob.escape(match['prefix'])}{kind}*.tsv")) for kind in KINDS[:2]}
    if not all(len(paths) == 1 for paths in found.values()):
        expected = [f"{match['prefix']}{kind}*.tsv" for kind in KINDS[:2]]
        raise DataFormatError(f"{path} is a ChemProt gold standard (relations only), and {path.parent} holds "
                              f"{sorted(p.name for paths in found.values() for p in paths) or 'none'} of the files "
                              f"that give its texts and entity offsets; expected exactly one of each of {expected} "
                              f"beside it")
    return {"abstracts": found["abstracts"][0], "entities": found["entities"][0], "relations": path}


def chemprot_files(path: str | Path) -> dict[str, Path] | None:
    """The abstracts, entities and relations files of a ChemProt split: the three *_abstracts*.tsv,
    *_entities*.tsv, *_relations*.tsv of a folder, or the siblings of one of them; for a *_gold_standard.tsv
    file, its sibling abstracts and entities files with it as the relations. None when path is neither.
    Raises DataFormatError for DrugProt files (see `_refuse_drugprot`) and for a gold standard without its
    siblings."""
    path = Path(path)
    _refuse_drugprot(path)
    if path.is_dir():
        found = {kind: sorted(p for p in path.glob(f"*{kind}*.tsv") if "gold_standard" not in p.name)
                 for kind in KINDS}
        if not all(found.values()):
            return None
        if any(len(paths) > 1 for paths in found.values()):
            names = sorted(p.name for paths in found.values() for p in paths)
            raise DataFormatError(f"{path} holds several ChemProt splits ({names}); expected one split's "
                                  f"abstracts, entities and relations files")
        return {kind: paths[0] for kind, paths in found.items()}
    if "chemprot" not in path.name.lower():
        return None
    gold = _GOLD_NAME.match(path.name)
    if gold:
        return _gold_standard_files(path, gold)
    match = _FILE_NAME.match(path.name)
    if not match:
        return None
    return {kind: path.with_name(f"{match['prefix']}{kind}{match['suffix']}") for kind in KINDS}


def _rows(path: Path, widths: tuple[int, ...], expected: str):
    for line_number, line in enumerate(read_lines(path), start=1):
        if not line.strip():
            continue
        fields = [f.strip() for f in line.split("\t")]
        if len(fields) not in widths:
            raise DataFormatError(f"{path}:{line_number}: {line[:200]!r} has {len(fields)} tab-separated field(s); "
                                  f"expected {expected}")
        yield line_number, fields


def _read_split(files: dict[str, Path]):
    """Document texts (title, a space, abstract: the text the offsets count in) with their line, entities by
    (PMID, T id), and the evaluated group of each (PMID, chemical T, gene T) pair."""
    documents = {f[0]: (f"{f[1]} {f[2]}", len(f[1]), line)
                 for line, f in _rows(files["abstracts"], (3,), "PMID<TAB>title<TAB>abstract")}
    entities: dict[tuple[str, str], _Entity] = {}
    for line, (pmid, tid, kind, start, end, text) in _rows(files["entities"], (6,), "PMID<TAB>T<n><TAB>type<TAB>"
                                                            "start<TAB>end<TAB>text"):
        document = documents.get(pmid)
        if document is None or not (start.isdigit() and end.isdigit()) or document[0][int(start):int(end)] != text:
            raise DataFormatError(f"{files['entities']}:{line}: entity {tid} {text!r} at {start}-{end} does not match "
                                  f"the text of PMID {pmid} in {files['abstracts']}; expected offsets into the title "
                                  f"and the abstract joined by one space")
        entities[pmid, tid] = _Entity(kind.upper(), int(start), int(end))
    return documents, entities, _relations(files["relations"], entities)


def _relations(path: Path, entities: dict[tuple[str, str], _Entity]) -> dict[tuple[str, str, str], str]:
    """The group of each relation that counts: evaluated (Y; the 4-column gold-standard files hold only those)
    and in EVALUATED_GROUPS, keyed by (PMID, chemical T, gene T)."""
    groups: dict[tuple[str, str, str], str] = {}
    expected = "PMID<TAB>CPR:<n><TAB>Y|N<TAB>name<TAB>Arg1:T<n><TAB>Arg2:T<n> (or the 4-column gold standard)"
    for line, fields in _rows(path, (4, 6), expected):
        pmid, group = fields[0], fields[1]
        evaluated = len(fields) == 4 or fields[2].upper() == "Y"
        args = [arg.partition(":")[2] for arg in fields[-2:]]
        if any((pmid, arg) not in entities for arg in args):
            raise DataFormatError(f"{path}:{line}: relation arguments {fields[-2:]} are not entities of PMID {pmid}")
        chemical, gene = sorted(args, key=lambda arg: entities[pmid, arg].type != "CHEMICAL")
        if evaluated and group in EVALUATED_GROUPS:
            groups.setdefault((pmid, chemical, gene), group)
    return groups


def _document_instances(text: str, title_length: int, mentions: list[tuple[str, _Entity]], masks: tuple[str, str]):
    """(T id of the chemical, T id of the gene, masked sentence) for every non-overlapping (chemical, gene)
    mention pair of one sentence of the document."""
    keep = [(e.start, e.end) for _, e in mentions]
    sentences = sentence_spans(text, 0, title_length, keep) + sentence_spans(text, title_length + 1, None, keep)
    for start, end in sentences:
        inside = [(tid, e) for tid, e in mentions if start <= e.start and e.end <= end]
        for chem_id, chem in (m for m in inside if m[1].type == "CHEMICAL"):
            for gene_id, gene in (m for m in inside if m[1].type in _GENE_TYPES):
                if chem.start < gene.end and gene.start < chem.end:
                    continue
                yield chem_id, gene_id, mask_pair(text[start:end], start, (chem.start, chem.end, masks[0]),
                                                  (gene.start, gene.end, masks[1]))


def read_chemprot(path: str | Path, head_mask: str = CHEMICAL_MASK, tail_mask: str = GENE_MASK) -> RealData:
    """One ChemProt split (see chemprot_files). Every (chemical, gene) mention pair sharing a sentence gives an
    instance of that sentence with the two mentions masked (@CHEMICAL$, @GENE$), labelled with the pair's
    relation group when the relation is evaluated and in CPR:3/4/5/6/9, else "false" (the BLURB/BioBERT
    ChemProt TSV). Evaluated relations whose arguments lie in different sentences give no instance: they are
    counted in the problems."""
    files = chemprot_files(path)
    if files is None or not all(p.is_file() for p in files.values()):
        expected = [str(p) for p in files.values()] if files else KINDS
        raise DataFormatError(f"{path} is not a ChemProt split; expected the files {expected}")
    documents, entities, groups = _read_split(files)
    kinds = Counter(entity.type for entity in entities.values())
    data = RealData(Path(path), "chemprot-biocreative", [], [], found=(
        f"{len(documents)} abstract(s), {len(entities)} entity mention(s) {dict(sorted(kinds.items()))}, "
        f"{len(groups)} evaluated relation(s); an instance needs a CHEMICAL and a GENE mention in one sentence"))
    by_document: dict[str, list[tuple[str, _Entity]]] = {}
    for (pmid, tid), entity in sorted(entities.items(), key=lambda item: (item[0][0], item[1].start, item[0][1])):
        by_document.setdefault(pmid, []).append((tid, entity))
    placed: set[tuple[str, str, str]] = set()
    for pmid, (text, title_length, line) in documents.items():
        mentions = by_document.get(pmid, [])
        for chem_id, gene_id, masked in _document_instances(text, title_length, mentions, (head_mask, tail_mask)):
            placed.add((pmid, chem_id, gene_id))
            label = groups.get((pmid, chem_id, gene_id), FALSE)
            data.examples.append(RelationExample(f"{pmid}.{chem_id}.{gene_id}", masked, label))
            data.locations.append(Location(files["abstracts"], line, f"PMID {pmid}, {chem_id}-{gene_id}"))
    lost = len(set(groups) - placed)
    if lost:
        data.problems.append(f"{lost} of {len(groups)} evaluated relation(s) join mentions of different sentences "
                             f"and give no instance")
    return data
