"""Datasets stage: readers of the real datasets as they are published, into ClinGen records.

The reader is chosen by the file (CoNLL/IOB, PubTator, ChemProt, BioBERT/BLURB relation TSV, relation JSON lines,
HoC, LitCovid, MEDIQA-RQE, MedNLI/MEDIQA-NLI, PUBHEALTH, HealthVer, MQP, CASI), and the labels are mapped to a
task's by its label_map.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from clingen.datasets.records import ClassificationExample, PairExample, Record, RelationExample
from clingen.datasets.readers.chemprot import read_chemprot
from clingen.datasets.readers.conll import UNTYPED, read_conll, read_conll_data
from clingen.datasets.readers.corpora import (HOC_SPLITS, hoc_split_of, read_casi_jsonl, read_hoc_data,
                                              read_mediqa_rqe_data, read_nli_jsonl, read_records,
                                              read_relation_jsonl)
from clingen.datasets.readers.detect import FORMATS, detect_format, formats_of
from clingen.datasets.readers.fewshot import fewshot_classes, fewshot_sample, teaching_examples
from clingen.datasets.readers.labels import map_labels, raw_labels
from clingen.datasets.readers.pubtator import read_pubtator
from clingen.datasets.readers.tables import (read_healthver, read_litcovid, read_mqp, read_pubhealth,
                                             read_relation_tsv)
from clingen.datasets.readers.text import Location, RealData
from clingen.datasets.text_checks import refuse_unsafe_text
from clingen.errors import DataFormatError

__all__ = [
    "FORMATS", "GAD_LABEL_NAMES", "HOC_HALLMARK_TO_LABEL", "HOC_LABELS", "HOC_SPLITS", "MEDIQA_RQE_LABEL_NAMES",
    "Location", "RealData", "TaskData", "UNTYPED", "check_real_files", "detect_format", "fewshot_classes",
    "fewshot_sample", "hoc_split_of", "map_labels", "raw_labels", "read_biobert_re", "read_conll",
    "read_conll_data", "read_hoc", "read_mediqa_rqe", "read_real_file", "read_real_split", "read_task_data",
    "read_task_split", "training_fewshot_records",
]

# Label names of the reference implementation (data/*/label.txt, in clingen-labels/) for the 0/1 and
# false/true values of GAD and MEDIQA-RQE, for the fixed-name readers below (tasks map with their label_map).
GAD_LABEL_NAMES: tuple[str, str] = ("No_relation", "Has_relation")
MEDIQA_RQE_LABEL_NAMES: tuple[str, str] = ("Not_entail", "Entail")  # value="false", value="true"
# The 10 HoC hallmarks, in the order of hoc.label.txt, and the corpus's top-level names for them.
HOC_LABELS: tuple[str, ...] = (
    "evading growth suppressors", "tumor promoting inflammation", "enabling replicative immortality",
    "cellular energetics", "resisting cell death", "activating invasion and metastasis",
    "genomic instability and mutation", "inducing angiogenesis", "sustaining proliferative signaling",
    "avoiding immune destruction",
)
HOC_HALLMARK_TO_LABEL: dict[str, str] = {name[0].upper() + name[1:]: name for name in HOC_LABELS}


@dataclass
class TaskData:
    """A real split read for a task: its format, the records with the task's labels, where each came from,
    and the problems seen (instances lost by a conversion, labels dropped by the label_map, ...)."""

    path: Path
    format: str
    records: list[Record]
    locations: list[Location]
    problems: list[str] = field(default_factory=list)


def _reader(name: str, path: Path, family: str, split: str, masks: dict[str, str],
            attribute_types: frozenset[str] | None):
    readers = {
        "conll": lambda: read_conll_data(path), "pubtator": lambda: read_pubtator(path, family, **masks),
        "chemprot-biocreative": lambda: read_chemprot(path, **masks),
        "relation-tsv": lambda: read_relation_tsv(path, **masks),
        "relation-jsonl": lambda: read_relation_jsonl(path, **masks),
        "hoc": lambda: read_hoc_data(path, split),
        "litcovid-csv": lambda: read_litcovid(path), "mediqa-rqe-xml": lambda: read_mediqa_rqe_data(path),
        "nli-jsonl": lambda: read_nli_jsonl(path), "pubhealth-tsv": lambda: read_pubhealth(path),
        "healthver-csv": lambda: read_healthver(path), "mqp-csv": lambda: read_mqp(path),
        "casi-jsonl": lambda: read_casi_jsonl(path, attribute_types),
        "clingen-jsonl": lambda: read_records(path, family), "clingen-parquet": lambda: read_records(path, family),
    }
    return readers[name]


def read_real_file(path: str | Path, family: str, split: str = "all", head_mask: str | None = None,
                   tail_mask: str | None = None, attribute_types: frozenset[str] | None = None,
                   task: str | None = None) -> RealData:
    """A real file (or HoC / ChemProt folder) in its detected format, labels as the dataset names them.
    family decides what a format serving several families gives (PubTator: NER sentences or relation
    instances); split is HoC's document split; the masks replace the entities of converted relation
    instances (defaults: @CHEMICAL$ with @DISEASE$ for PubTator, with @GENE$ for ChemProt);
    attribute_types: for CASI, the label_key forms of the keys that are attributes (None: every key holding
    strings); task: the task's name, for messages. Raises DataFormatError when the format holds data of another
    family, and when no format the family reads fits (see detect_format)."""
    path = Path(path)
    name = detect_format(path, family, task)
    if family not in FORMATS[name].families:
        raise DataFormatError(f"{path} is in the {name} format ({FORMATS[name].description}), which holds "
                              f"{' or '.join(FORMATS[name].families)} data; a {family} task reads "
                              f"{formats_of(family)}")
    masks = {key: value for key, value in (("head_mask", head_mask), ("tail_mask", tail_mask)) if value}
    return _reader(name, path, family, split, masks, attribute_types)()


def _mask_problems(spec, data: RealData) -> list[str]:
    """Relation instances must carry the task's masks: a file masked otherwise (GAD's @GENE$ read for CDR) is
    refused when no instance has them, and the instances without them are counted otherwise."""
    if spec.family != "relation" or not (spec.head_mask and spec.tail_mask) or data.format.startswith("clingen-"):
        return []
    lacking = [r for r in data.examples if spec.head_mask not in r.text or spec.tail_mask not in r.text]
    if data.examples and len(lacking) == len(data.examples):
        raise DataFormatError(f"{data.locations[0]}: no instance of {data.path} holds both masks of task "
                              f"{spec.name} ({spec.head_mask}, {spec.tail_mask}); first text: "
                              f"{data.examples[0].text[:120]!r}; expected the task's own data (the masks are "
                              f"head_mask and tail_mask of its spec)")
    return [f"{len(lacking)} instance(s) lack {spec.head_mask} or {spec.tail_mask}"] if lacking else []


_UNITS = {"classification": "document", "relation": "relation instance", "pair": "text pair", "ner": "sentence",
          "attribute": "sentence"}


def _refuse_empty(spec, data: RealData, records: list[Record], problems: list[str], split: str) -> None:
    """A split that gives no example, or (NER, attributes, multi-label) none with an entity or a label of the
    task, teaches and tests nothing: every command would go on with no demonstration, no few-shot example or
    an undefined score. Refused naming the file, what it held and what was expected."""
    labelled = spec.family in ("ner", "attribute") or (spec.family == "classification" and spec.multi_label)
    if records and (not labelled or any(raw_labels(record) for record in records)):
        return
    unit, what = _UNITS[spec.family], "an entity" if spec.family in ("ner", "attribute") else "a label"
    held = (f"gives {len(records)} {unit}(s), none with {what} of task {spec.name}" if records
            else f"gives no {unit} for task {spec.name}")
    found = "; ".join(([data.found] if data.found else []) + problems) or (
        "" if records else "no data rows (the file holds no more than a header, blank lines or -DOCSTART- lines)")
    where = f"{data.path} (split {split})" if data.format == "hoc" else str(data.path)
    raise DataFormatError(f"{where} {held}{f': found {found}' if found else ''}; expected at least one {unit} with "
                          f"{what} of the task ({FORMATS[data.format].description})")


def read_task_data(spec, path: str | Path, split: str = "all") -> TaskData:
    """A real split for a task spec, the way every command reads one: format detected from the file, labels
    mapped with the task's label_map. Raises DataFormatError (file:line, labels found and known) for a
    label the task does not know, for a file of another family's format, for relation instances without
    the task's masks, and for a split that gives no example (NER, attributes, multi-label: none with an
    entity or a label of the task), naming what the file held."""
    attribute_types = frozenset(spec.dataset_labels()) if spec.family == "attribute" else None
    data = read_real_file(path, spec.family, split, spec.head_mask, spec.tail_mask, attribute_types, spec.name)
    refuse_unsafe_text(data.examples, data.locations)  # a lone surrogate or NUL/ESC fails here, not after Ray starts
    records, notes = map_labels(data, spec)
    problems = data.problems + notes + _mask_problems(spec, data)
    _refuse_empty(spec, data, records, problems, split)
    return TaskData(data.path, data.format, records, data.locations, problems)


def read_task_split(spec, path: str | Path, split: str = "all") -> list[Record]:
    """The records of `read_task_data`."""
    return read_task_data(spec, path, split).records


def check_real_files(spec, files: dict[str, tuple[str | Path | None, str]]) -> None:
    """Read every real split a command will read ({setting name: (path or None, HoC split)}), so that a file
    with an unknown label or format fails at once, before Ray or any step starts; the error is prefixed with
    the setting that names the file."""
    for setting, (path, split) in files.items():
        if path is None:
            continue
        try:
            read_task_data(spec, path, split)
        except DataFormatError as exc:
            raise DataFormatError(f"{setting}: {exc}") from None


def read_real_split(task_name: str, path: str | Path, split: str = "all",
                    task_file: Path | None = None) -> list[Record]:
    """`read_task_split` for a task given by name (a built-in task, or one of task_file)."""
    from clingen.tasks.registry import get_task
    return read_task_split(get_task(task_name, task_file), path, split)


def training_fewshot_records(spec, path: str | Path, per_class: int, seed: int) -> list[Record]:
    """The real examples of training's few-shot stage (and of the thresholds tuned for its model): `per_class`
    per class from the split; for NER only sentences that hold an entity, since those teach tagging."""
    return fewshot_sample(teaching_examples(read_task_split(spec, path, split="train")), per_class, seed)


def _binary(record, where: Location, names: tuple[str, str], values: tuple[str, str]):
    if record.label not in values:
        raise DataFormatError(f"{where}: label {record.label!r} is not {values[0]} or {values[1]}; expected "
                              f"{values[0]} ({names[0]}) or {values[1]} ({names[1]})")
    return replace(record, label=names[values.index(record.label)])


def read_biobert_re(path: str | Path, label_names: tuple[str, str] = GAD_LABEL_NAMES) -> list[RelationExample]:
    """A BioBERT relation TSV with labels 0/1 named label_names[0]/label_names[1] (GAD's by default), without a
    task spec; any other label raises DataFormatError naming file:line."""
    data = read_relation_tsv(path)
    return [_binary(r, where, label_names, ("0", "1")) for r, where in zip(data.examples, data.locations)]


def read_mediqa_rqe(path: str | Path, label_names: tuple[str, str] = MEDIQA_RQE_LABEL_NAMES) -> list[PairExample]:
    """MEDIQA-RQE XML with value="false"/"true" named label_names[0]/label_names[1], without a task spec."""
    data = read_mediqa_rqe_data(path)
    return [_binary(r, where, label_names, ("false", "true")) for r, where in zip(data.examples, data.locations)]


def read_hoc(root: str | Path, split: str = "all") -> list[ClassificationExample]:
    """The HoC corpus with the hallmarks named as in HOC_LABELS, in that order (see corpora.read_hoc_data),
    without a task spec; an unknown top-level hallmark raises DataFormatError naming its label file."""
    data = read_hoc_data(root, split)
    records = []
    for record, where in zip(data.examples, data.locations):
        unknown = [name for name in record.labels if name not in HOC_HALLMARK_TO_LABEL]
        if unknown:
            raise DataFormatError(f"{where}: hallmark {unknown[0]!r} is unknown; expected one of "
                                  f"{sorted(HOC_HALLMARK_TO_LABEL)}")
        names = {HOC_HALLMARK_TO_LABEL[name] for name in record.labels}
        records.append(replace(record, labels=[name for name in HOC_LABELS if name in names]))
    return records
