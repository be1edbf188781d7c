"""Datasets stage: readers of the real evaluation datasets (CoNLL NER, BioBERT RE, HoC, MEDIQA-RQE) into records."""

from __future__ import annotations

import hashlib
import re
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

import numpy as np

from clingen.datasets.records import (ClassificationExample, NERExample, PairExample, Record, RelationExample,
                                      bio_to_spans, read_jsonl, read_parquet)
from clingen.errors import ConfigError, DataFormatError, UnknownNameError

# Label names are those of the reference implementation (data/*/label.txt, in clingen-labels/), indexed
# here by the datasets' own 0/1 or false/true values. gad.label.txt lists Has_relation first, but GAD's
# label 0 means "no relation" (BioBERT's README), so the order of that file is not the index order.
GAD_LABEL_NAMES: tuple[str, str] = ("No_relation", "Has_relation")
MEDIQA_RQE_LABEL_NAMES: tuple[str, str] = ("Not_entail", "Entail")  # value="false", value="true"

# The 10 HoC hallmarks, in the order of hoc.label.txt.
HOC_LABELS: tuple[str, ...] = (
    "evading growth suppressors", "tumor promoting inflammation", "enabling replicative immortality",
    "cellular energetics", "resisting cell death", "activating invasion and metastasis",
    "genomic instability and mutation", "inducing angiogenesis", "sustaining proliferative signaling",
    "avoiding immune destruction",
)
# The top level (text before the first "--") of HoC's hierarchical label strings -> the names above.
# These are all 10 top-level strings the 1852 label files use; anything else is refused, not guessed.
HOC_HALLMARK_TO_LABEL: dict[str, str] = {
    "Evading growth suppressors": "evading growth suppressors",
    "Tumor promoting inflammation": "tumor promoting inflammation",
    "Enabling replicative immortality": "enabling replicative immortality",
    "Cellular energetics": "cellular energetics",
    "Resisting cell death": "resisting cell death",
    "Activating invasion and metastasis": "activating invasion and metastasis",
    "Genomic instability and mutation": "genomic instability and mutation",
    "Inducing angiogenesis": "inducing angiogenesis",
    "Sustaining proliferative signaling": "sustaining proliferative signaling",
    "Avoiding immune destruction": "avoiding immune destruction",
}
# A sentence field may hold several labels joined by "AND" (with or without spaces: "...--Receptors ANDSus...");
# "NULL" marks a sentence annotated with no hallmark (11 sentences in the corpus).
_HOC_LABEL_SEPARATOR = re.compile(r"\s*AND\s*")
_HOC_NO_LABEL = "NULL"
HOC_SPLITS = ("train", "dev", "test", "all")

REAL_TASKS = ("ncbi-disease", "bc5cdr-disease", "gad", "hoc", "mediqa-rqe")

_BIO_TAG = re.compile(r"^(O|[BI]-\S+)$")
_GAD_TEST_HEADER = ["index", "sentence", "label"]

ExampleT = TypeVar("ExampleT")


def _conll_example(path: Path, index: int, tokens: list[str], tags: list[str]) -> NERExample:
    text = " ".join(tokens)
    return NERExample(f"{path.stem}-{index}", text, tokens, tags, bio_to_spans(tokens, tags))


def read_conll(path: str | Path) -> list[NERExample]:
    """Read `token<TAB>tag` lines, a blank line between sentences, into NER examples whose text is the tokens
    joined by single spaces and whose ids are "<file stem>-<sentence index from 0>"."""
    path = Path(path)
    examples: list[NERExample] = []
    tokens: list[str] = []
    tags: list[str] = []
    with path.open(encoding="utf-8") as lines:
        for line_number, line in enumerate(lines, start=1):
            line = line.rstrip("\r\n")
            if not line.strip():
                if tokens:
                    examples.append(_conll_example(path, len(examples), tokens, tags))
                    tokens, tags = [], []
                continue
            columns = line.split("\t")
            if len(columns) != 2 or not columns[0]:
                raise DataFormatError(f"{path}:{line_number}: {line!r} has {len(columns)} tab-separated "
                                      f"field(s); expected 'token<TAB>tag' with a non-empty token")
            if not _BIO_TAG.match(columns[1]):
                raise DataFormatError(f"{path}:{line_number}: tag {columns[1]!r} is not a BIO tag; expected O, "
                                      f"B-<type> or I-<type>")
            tokens.append(columns[0])
            tags.append(columns[1])
    if tokens:  # the last sentence need not end with a blank line
        examples.append(_conll_example(path, len(examples), tokens, tags))
    return examples


def _gad_label(path: Path, line_number: int, value: str, label_names: tuple[str, str]) -> str:
    if value not in ("0", "1"):
        raise DataFormatError(f"{path}:{line_number}: label {value!r} is not 0 or 1; expected 0 (no relation) "
                              f"or 1 (relation)")
    return label_names[int(value)]


def read_biobert_re(path: str | Path,
                    label_names: tuple[str, str] = GAD_LABEL_NAMES) -> list[RelationExample]:
    """Read a BioBERT relation TSV: `sentence<TAB>label` without a header (train.tsv), or, when the first line
    is the header `index<TAB>sentence<TAB>label` (test.tsv), `index<TAB>sentence<TAB>label`. Labels 0/1 become
    label_names[0]/label_names[1]; entity masks stay in the text and head/tail are None. Ids are
    "<file stem>-<index column>" with a header, else "<file stem>-<row index from 0>". Blank lines are skipped."""
    path = Path(path)
    rows = path.read_text(encoding="utf-8").splitlines()
    has_header = bool(rows) and rows[0].split("\t") == _GAD_TEST_HEADER
    expected = "index<TAB>sentence<TAB>label" if has_header else "sentence<TAB>label"
    examples = []
    for line_number, line in enumerate(rows[1:] if has_header else rows, start=2 if has_header else 1):
        if not line.strip():
            continue
        columns = line.split("\t")
        if len(columns) != (3 if has_header else 2) or not columns[-2].strip():
            raise DataFormatError(f"{path}:{line_number}: {line[:200]!r} has {len(columns)} tab-separated "
                                  f"field(s); expected {expected} with a non-empty sentence")
        row_id = columns[0] if has_header else str(len(examples))
        label = _gad_label(path, line_number, columns[-1].strip(), label_names)
        examples.append(RelationExample(f"{path.stem}-{row_id}", columns[-2], label))
    return examples


def hoc_split_of(pmid: str) -> str:
    """The HoC split of a document: sha256 of its PMID string (UTF-8) as an integer, mod 10; 0-6 -> train,
    7 -> dev, 8-9 -> test. Depends only on the PMID, so it is stable when documents are added or removed."""
    bucket = int(hashlib.sha256(pmid.encode("utf-8")).hexdigest(), 16) % 10
    return "train" if bucket <= 6 else "dev" if bucket == 7 else "test"


def _hoc_sentence_labels(label_path: Path, field_number: int, field: str) -> set[str]:
    labels = set()
    for name in _HOC_LABEL_SEPARATOR.split(field.strip()):
        if not name or name == _HOC_NO_LABEL:
            continue
        top = name.split("--")[0].strip()
        if top not in HOC_HALLMARK_TO_LABEL:
            raise DataFormatError(f"{label_path}: sentence {field_number}: hallmark {top!r} (of label {name!r}) "
                                  f"is unknown; expected one of {sorted(HOC_HALLMARK_TO_LABEL)}")
        labels.add(HOC_HALLMARK_TO_LABEL[top])
    return labels


def _hoc_document(text_path: Path, label_path: Path) -> ClassificationExample:
    """One HoC abstract. Its label file is a single line in which each sentence's labels are preceded by
    "<" (so it starts with "<" and has one field per sentence after it), not one line per sentence."""
    if not label_path.is_file():
        raise DataFormatError(f"{text_path} has no label file; expected {label_path}")
    sentences = text_path.read_text(encoding="utf-8").splitlines()
    before_first, *fields = label_path.read_text(encoding="utf-8").split("<")
    if before_first.strip() or len(fields) != len(sentences):
        raise DataFormatError(f"{label_path}: has {len(fields)} '<'-prefixed label field(s) (text before the first: "
                              f"{before_first.strip()!r}); expected one per sentence of {text_path}, "
                              f"{len(sentences)}, and nothing before the first '<'")
    labels: set[str] = set()
    for field_number, field in enumerate(fields, start=1):
        labels |= _hoc_sentence_labels(label_path, field_number, field)
    text = " ".join(sentence.strip() for sentence in sentences if sentence.strip())
    return ClassificationExample(text_path.stem, text, [name for name in HOC_LABELS if name in labels])


def read_hoc(root: str | Path, split: str = "all") -> list[ClassificationExample]:
    """Read the HoC corpus (root/text/<PMID>.txt, root/labels/<PMID>.txt) as multi-label documents, sorted by
    PMID: the id is the PMID, the text the sentences joined by a space, the labels the union of the
    sentences' hallmarks in HOC_LABELS order (possibly none). split is one of HOC_SPLITS (see hoc_split_of)."""
    root = Path(root)
    if split not in HOC_SPLITS:
        raise UnknownNameError("HoC split", split, HOC_SPLITS)
    text_dir, label_dir = root / "text", root / "labels"
    if not text_dir.is_dir() or not label_dir.is_dir():
        raise DataFormatError(f"{root} is not a HoC corpus; expected the folders {text_dir} and {label_dir}")
    examples = []
    for text_path in sorted(text_dir.glob("*.txt"), key=lambda p: p.name):
        if split == "all" or hoc_split_of(text_path.stem) == split:
            examples.append(_hoc_document(text_path, label_dir / text_path.name))
    return examples


def _pair_text(path: Path, pair: ElementTree.Element, tag: str) -> str:
    element = pair.find(tag)
    if element is None:
        raise DataFormatError(f"{path}: pair pid={pair.get('pid')!r} has no <{tag}>; expected <chq> and <faq>")
    return "".join(element.itertext()).strip()


def read_mediqa_rqe(path: str | Path,
                    label_names: tuple[str, str] = MEDIQA_RQE_LABEL_NAMES) -> list[PairExample]:
    """Read MEDIQA-RQE XML pairs: text_a = <chq>, text_b = <faq>, both stripped; value="false"/"true" ->
    label_names[0]/label_names[1]; id "<file stem>-<pid>"."""
    path = Path(path)
    try:
        root = ElementTree.parse(path).getroot()
    except ElementTree.ParseError as exc:
        line, column = exc.position
        raise DataFormatError(f"{path}:{line}: not well-formed XML at column {column}: {exc}") from None
    examples = []
    for pair in root.iter("pair"):
        pid, value = pair.get("pid"), pair.get("value")
        if not pid:
            raise DataFormatError(f"{path}: pair #{len(examples) + 1} has no pid attribute; expected <pair pid=...>")
        if value not in ("false", "true"):
            raise DataFormatError(f"{path}: pair pid={pid!r} has value={value!r}; expected 'true' or 'false'")
        examples.append(PairExample(f"{path.stem}-{pid}", _pair_text(path, pair, "chq"),
                                    _pair_text(path, pair, "faq"), label_names[value == "true"]))
    return examples


READERS_BY_FORMAT = ("conll", "biobert-re", "hoc", "mediqa-rqe")


def read_real_split(task_name: str, path: str | Path, split: str = "all", data_format: str | None = None,
                    label_names: Sequence[str] | None = None) -> list[Record]:
    """Read one split of a real dataset: path is the split's file, or for HoC the corpus root with the
    document split chosen by split (ignored otherwise). The format comes from `data_format` (a task spec's
    `real_data`) or, for the five shared datasets, from the task name. For binary relation and pair tasks,
    `label_names` are the task's names for the data's (negative, positive) labels."""
    formats = {"ncbi-disease": "conll", "bc5cdr-disease": "conll", "gad": "biobert-re", "hoc": "hoc",
               "mediqa-rqe": "mediqa-rqe"}
    data_format = data_format or formats.get(task_name)
    if data_format == "conll":
        return read_conll(path)
    if data_format == "biobert-re":
        return read_biobert_re(path, *([tuple(label_names)] if label_names else []))
    if data_format == "hoc":
        return read_hoc(path, split)
    if data_format == "mediqa-rqe":
        return read_mediqa_rqe(path, *([tuple(label_names)] if label_names else []))
    raise UnknownNameError(f"real-data format for task {task_name!r}", str(data_format), READERS_BY_FORMAT)


def read_task_split(spec, path: str | Path, split: str = "all") -> list[Record]:
    """One split for a task spec: ClinGen records (`.jsonl`, `.parquet`, e.g. a shipped demo pool or test
    split) or the task's real-data format (see `read_real_split`)."""
    path = Path(path)
    family = "ner" if spec.family == "attribute" else spec.family
    if path.suffix == ".jsonl":
        return read_jsonl(path, family)
    if path.suffix == ".parquet":
        return read_parquet(path, family)
    return read_real_split(spec.name, path, split=split, data_format=spec.real_data)


def fewshot_classes(example: Record) -> list[str]:
    """The classes few-shot sampling balances over: a classification example's labels, a relation or pair
    example's label, and for NER the single pseudo-class "all" (an NER sentence holds several entity
    types, or none, so per-type quotas are ill-defined; k examples in total is what a k-shot NER demo is)."""
    if isinstance(example, ClassificationExample):
        return list(example.labels)
    if isinstance(example, (RelationExample, PairExample)):
        return [example.label]
    if isinstance(example, NERExample):
        return ["all"]
    raise TypeError(f"no few-shot classes for {type(example).__name__}; expected a ClinGen record")


def fewshot_sample(examples: Sequence[ExampleT], k: int, seed: int,
                   label_of: Callable[[ExampleT], list[str]] = fewshot_classes) -> list[ExampleT]:
    """Up to k examples per class, deterministic for a seed whatever the input order: examples are sorted by
    id, classes visited in sorted order, and each class's candidates shuffled by one numpy Generator seeded
    with seed. An example already drawn for an earlier class is not drawn again (multi-label examples
    would otherwise repeat), a class with fewer than k candidates gives them all, and examples with no
    class are never drawn (have label_of return a pseudo-class such as "none" to include them)."""
    if k < 0:
        raise ConfigError(f"few-shot k is {k}; expected a non-negative number of examples per class")
    ordered = sorted(examples, key=lambda example: example.id)
    by_class: dict[str, list[ExampleT]] = {}
    for example in ordered:
        for name in dict.fromkeys(label_of(example)):
            by_class.setdefault(name, []).append(example)
    rng = np.random.default_rng(seed)
    chosen: list[ExampleT] = []
    chosen_ids: set[str] = set()
    for name in sorted(by_class):
        candidates = by_class[name]
        taken = 0
        for position in rng.permutation(len(candidates)):
            if taken == k:
                break
            candidate = candidates[int(position)]
            if candidate.id not in chosen_ids:
                chosen.append(candidate)
                chosen_ids.add(candidate.id)
                taken += 1
    return chosen


def training_fewshot_records(spec, path: str | Path, per_class: int, seed: int) -> list[Record]:
    """The real examples of training's few-shot stage (and of the thresholds tuned for its model): `per_class`
    per class from the split; for NER only sentences that hold an entity, since those teach tagging."""
    examples = read_task_split(spec, path, split="train")
    if examples and isinstance(examples[0], NERExample):
        examples = [e for e in examples if e.spans]
    return fewshot_sample(examples, per_class, seed)
