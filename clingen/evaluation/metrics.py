"""Evaluation stage: pure metric functions that score predictions against gold labels for every task family."""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
from seqeval.metrics import classification_report as seqeval_report
from seqeval.scheme import IOB2
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support
from sklearn.preprocessing import MultiLabelBinarizer

from clingen.datasets.records import to_iob2
from clingen.errors import ConfigError, DataFormatError
from clingen.tasks.spec import TaskSpec

# Macro averages run over the labels that occur in gold or predictions, as scikit-learn's default
# (labels=unique_labels(y_true, y_pred)) does: a label absent from both has F1 = 0/0, and counting it as 0
# would cap a perfect model below 1.0 on any subset that lacks a label (a perfect PUBHEALTH model scored 0.75
# on a subset with 3 of its 4 labels). zero_division=NaN is scikit-learn's documented way to leave such a
# label out of the average while the per-label table still lists it.
_LEAVE_OUT = np.nan


def _undefined_ratio(nothing_anywhere: bool) -> float:
    """The value of a pooled (micro) ratio that is 0/0: 1.0 when neither gold nor predictions hold anything
    to score (nothing to find and nothing wrongly claimed, so a perfect prediction scores 1.0), else 0.0
    (e.g. precision when nothing was predicted though gold has positives)."""
    return 1.0 if nothing_anywhere else 0.0


def _check_lengths(gold: Sequence[Any], pred: Sequence[Any], what: str = "examples") -> None:
    if len(gold) != len(pred):
        raise DataFormatError(f"gold and predictions differ in length: {len(gold)} gold {what} but "
                              f"{len(pred)} predicted; expected one prediction per gold example")


def _check_known(values: Sequence[str], labels: Sequence[str], side: str) -> None:
    known = set(labels)
    for index, value in enumerate(values):
        if value not in known:
            raise DataFormatError(f"{side} label {value!r} (example {index}) is not in the label set; "
                                  f"known labels: {list(labels)}")


def _per_label(precision: Sequence[float], recall: Sequence[float], f1: Sequence[float],
               support: Sequence[int], labels: Sequence[str]) -> dict[str, dict[str, float | int]]:
    # Plain floats/ints so that the result is JSON-serialisable as is.
    return {label: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
            for label, p, r, f, s in zip(labels, precision, recall, f1, support)}


def single_label_metrics(gold: list[str], pred: list[str], labels: list[str]) -> dict[str, Any]:
    """Accuracy, macro-F1, per-label precision/recall/F1/support for every label of `labels` and the
    confusion matrix (rows gold, columns predicted, both in `labels` order). Macro-F1 averages over the
    labels that occur in gold or predictions (see _LEAVE_OUT), which is scikit-learn's default."""
    _check_lengths(gold, pred)
    _check_known(gold, labels, "gold")
    _check_known(pred, labels, "predicted")
    labels = list(labels)
    p, r, f, s = precision_recall_fscore_support(gold, pred, labels=labels, average=None, zero_division=0)
    with warnings.catch_warnings():
        # A one-label task's 1x1 matrix: sklearn warns to pass labels=, which is passed.
        warnings.filterwarnings("ignore", message="A single label was found")
        matrix = confusion_matrix(gold, pred, labels=labels)
    return {
        "accuracy": float(accuracy_score(gold, pred)),
        "macro_f1": float(f1_score(gold, pred, labels=labels, average="macro", zero_division=_LEAVE_OUT)),
        "per_label": _per_label(p, r, f, s, labels),
        "confusion_matrix": {"labels": labels, "matrix": matrix.tolist()},
    }


def multi_label_metrics(gold: list[list[str]], pred: list[list[str]], labels: list[str]) -> dict[str, Any]:
    """Micro precision/recall/F1 over the multi-hot label matrix, macro-F1 over the labels that occur in gold
    or predictions (see _LEAVE_OUT), per-label figures for every label of `labels` and exact-match (subset)
    accuracy. When no example has a label on either side, every pooled figure is 1.0 (_undefined_ratio)."""
    _check_lengths(gold, pred)
    for index, (gold_set, pred_set) in enumerate(zip(gold, pred)):
        _check_known(list(gold_set), labels, f"gold (example {index})")
        _check_known(list(pred_set), labels, f"predicted (example {index})")
    binarizer = MultiLabelBinarizer(classes=list(labels))
    gold_hot, pred_hot = binarizer.fit_transform(gold), binarizer.transform(pred)
    # scikit-learn reads a one-column indicator as a binary target with classes 0 and 1, where the task's one
    # label is class 1 (unnamed, its figures would be those of class 0, "label absent"); a wider indicator is
    # multilabel and `labels` are its column indices.
    columns = [1] if len(labels) == 1 else list(range(len(labels)))
    nothing_anywhere = not (gold_hot.any() or pred_hot.any())
    p, r, f, s = precision_recall_fscore_support(gold_hot, pred_hot, labels=columns, average=None, zero_division=0)
    micro_p, micro_r, micro_f, _ = precision_recall_fscore_support(
        gold_hot, pred_hot, labels=columns, average="micro", zero_division=_undefined_ratio(nothing_anywhere))
    # With no label anywhere every label is left out of the macro mean, which would be a mean of nothing.
    macro_f = 1.0 if nothing_anywhere else f1_score(gold_hot, pred_hot, labels=columns, average="macro",
                                                    zero_division=_LEAVE_OUT)
    return {
        "micro_f1": float(micro_f),
        "micro_precision": float(micro_p),
        "micro_recall": float(micro_r),
        "macro_f1": float(macro_f),
        "subset_accuracy": float(accuracy_score(gold_hot, pred_hot)),
        "per_label": _per_label(p, r, f, s, list(labels)),
    }


def _check_tag_syntax(sequences: Sequence[Sequence[str]], side: str) -> list[list[str]]:
    """The sequences in strict IOB2 (records.to_iob2, the one reading of where an entity starts that readers
    and serving share: an IOB1 I- opening an entity, or a stray I- after O, starts one). seqeval fails on
    malformed tags with a bare KeyError; this names the side, the sentence and the tag instead."""
    normalised = []
    for sentence, tags in enumerate(sequences):
        try:
            normalised.append(to_iob2(tags))
        except DataFormatError as exc:
            raise DataFormatError(f"{side} sentence {sentence}: {exc} (IOB1 or IOB2)") from None
    return normalised


def _aliased(sequences: list[list[str]], alias: dict[str, str]) -> list[list[str]]:
    return [[tag if tag == "O" else tag[:2] + alias[tag[2:]] for tag in tags] for tags in sequences]


def _seqeval_report(gold_tags: list[list[str]], pred_tags: list[list[str]]) -> tuple[dict, list[str], list[dict]]:
    """seqeval's strict IOB2 report on IOB2 tags, its micro row, and the per-type rows with their types in
    name order. seqeval strips "-" off a type's ends ("B--x" and "B-x-" are both type "x", and "I-x" would
    continue a "B--x" entity), so each type goes in under a plain alias and keeps its own name and entities."""
    types = sorted({tag[2:] for tags in (*gold_tags, *pred_tags) for tag in tags if tag != "O"})
    alias = {name: f"T{index}" for index, name in enumerate(types)}
    # In IOB2 every non-O tag belongs to an entity, so no type means no entity on either side.
    with warnings.catch_warnings():
        # With no entity at all seqeval's macro average is a mean of nothing; only the micro row is used.
        warnings.simplefilter("ignore", RuntimeWarning)
        report = seqeval_report(_aliased(gold_tags, alias), _aliased(pred_tags, alias), output_dict=True,
                                mode="strict", scheme=IOB2, zero_division=int(_undefined_ratio(not types)))
    return report["micro avg"], types, [report[alias[name]] for name in types]


def ner_metrics(gold_tags: list[list[str]], pred_tags: list[list[str]]) -> dict[str, Any]:
    """Strict entity-level precision, recall and F1 (seqeval, IOB2): an entity counts only when its type and
    both boundaries match, so a wrong boundary is one false positive and one false negative. Tags may be IOB1
    or IOB2: both sides are first read with records.to_iob2, so the entities scored are those of
    records.bio_to_spans and of serving's decode_entities. Per-type rows cover the types that occur in gold or
    predictions; with no entity on either side precision, recall and F1 are 1.0 (_undefined_ratio). Raises
    DataFormatError on unequal lengths or a tag that is not O, B-<type> or I-<type>."""
    _check_lengths(gold_tags, pred_tags, "sentences")
    for index, (gold, pred) in enumerate(zip(gold_tags, pred_tags)):
        if len(gold) != len(pred):
            raise DataFormatError(f"sentence {index}: {len(gold)} gold tags but {len(pred)} predicted tags; "
                                  f"expected one predicted tag per token")
    gold_tags, pred_tags = _check_tag_syntax(gold_tags, "gold"), _check_tag_syntax(pred_tags, "predicted")
    micro, types, rows = _seqeval_report(gold_tags, pred_tags)
    return {
        "precision": float(micro["precision"]),
        "recall": float(micro["recall"]),
        "f1": float(micro["f1-score"]),
        "per_label": _per_label([row["precision"] for row in rows], [row["recall"] for row in rows],
                                [row["f1-score"] for row in rows], [row["support"] for row in rows], types),
    }


def relation_metrics(gold: list[str], pred: list[str], labels: list[str],
                     negative_labels: list[str]) -> dict[str, Any]:
    """single_label_metrics plus `positive_f1`, the micro-F1 over the positive (relation) classes only: the
    literature's relation-extraction metric, equal to the positive class's F1 for a binary task. When neither
    gold nor predictions hold a positive label (a subset of negatives, all predicted negative) it is 1.0."""
    positive = [label for label in labels if label not in set(negative_labels)]
    if not positive:
        raise ConfigError(f"every relation label {list(labels)} is a negative label {list(negative_labels)}; "
                          f"positive_f1 needs at least one positive label")
    result = single_label_metrics(gold, pred, labels)
    no_positive = not set(positive) & (set(gold) | set(pred))
    result["positive_f1"] = float(f1_score(gold, pred, labels=positive, average="micro",
                                           zero_division=_undefined_ratio(no_positive)))
    result["positive_labels"] = positive
    result["negative_labels"] = [label for label in labels if label in set(negative_labels)]
    return result


def negative_labels_for(spec: TaskSpec) -> list[str]:
    """The "no relation" label of a relation task, as its spec declares it (`negative_label`: GAD No_relation,
    CDR not_induce, ChemProt NOT, a user task's no_CID), as a one-element list. Raises ConfigError for a task
    of another family."""
    if spec.family != "relation":
        raise ConfigError(f"task {spec.name} is a {spec.family} task; negative labels exist only for "
                          f"relation tasks")
    return [spec.negative_label]


def _single(values: Sequence[Any], side: str) -> list[str]:
    """Single-label values as strings; a one-element list (the ClassificationExample form) is unwrapped."""
    out = []
    for index, value in enumerate(values):
        if isinstance(value, (list, tuple)):
            if len(value) != 1:
                raise DataFormatError(f"{side} example {index} has {len(value)} labels {list(value)}; "
                                      f"a single-label task expects exactly one")
            value = value[0]
        out.append(value)
    return out


def _check_entity_types(sequences: list[list[str]], types: list[str], side: str) -> None:
    known = set(types)
    for sentence, tags in enumerate(sequences):
        for tag in tags:
            if tag != "O" and tag[2:] not in known:
                raise DataFormatError(f"{side} tag {tag!r} in sentence {sentence} has entity type "
                                      f"{tag[2:]!r}, not in the label set; known labels: {types}")


def _score(spec: TaskSpec, gold: Sequence[Any], pred: Sequence[Any]) -> tuple[dict[str, Any], str]:
    """The family's metrics and the name of its headline metric."""
    labels = spec.label_names
    if spec.family in ("ner", "attribute"):
        _check_lengths(gold, pred, "sentences")
        gold, pred = _check_tag_syntax(gold, "gold"), _check_tag_syntax(pred, "predicted")  # IOB1 -> IOB2
        _check_entity_types(gold, labels, "gold")
        _check_entity_types(pred, labels, "predicted")
        return ner_metrics(gold, pred), "f1"
    if spec.family == "classification" and spec.multi_label:
        return multi_label_metrics([list(g) for g in gold], [list(p) for p in pred], labels), "micro_f1"
    gold, pred = _single(gold, "gold"), _single(pred, "predicted")
    if spec.family == "relation":
        return relation_metrics(gold, pred, labels, negative_labels_for(spec)), "positive_f1"
    return single_label_metrics(gold, pred, labels), "macro_f1"


def evaluate_predictions(spec: TaskSpec, gold: Sequence[Any], pred: Sequence[Any]) -> dict[str, Any]:
    """Score `pred` against `gold` with the metrics of the task's family; adds `family`, `n` (examples)
    and `primary` ({"name", "value"}: the headline metric reported in the literature for the family)."""
    _check_lengths(gold, pred)
    if not gold:
        raise DataFormatError(f"task {spec.name}: no examples to evaluate; expected at least one")
    result, primary = _score(spec, gold, pred)
    return {**result, "family": spec.family, "n": len(gold),
            "primary": {"name": primary, "value": result[primary]}}


def _majority(spec: TaskSpec, gold: Sequence[Any]) -> tuple[Any, list[Any]]:
    """The most frequent gold label (label set for multi-label) and the constant prediction list.
    Ties go to the label listed first in the spec so that the baseline is deterministic."""
    if spec.multi_label:
        # most_common keeps first-seen order among ties, which is deterministic for a given gold list.
        best = Counter(tuple(sorted(labels)) for labels in gold).most_common(1)[0][0]
        return list(best), [list(best) for _ in gold]
    values = _single(gold, "gold")
    counts = Counter(values)
    best = max(spec.label_names, key=lambda label: (counts[label], -spec.label_names.index(label)))
    return best, [best] * len(values)


def majority_baseline(spec: TaskSpec, gold: Sequence[Any]) -> dict[str, Any]:
    """The metrics of always predicting the most frequent gold label: the floor a trained model must beat.
    Multi-label tasks predict the most frequent label set; NER has no majority label and is refused."""
    if spec.family in ("ner", "attribute"):
        raise ConfigError(f"task {spec.name} is a {spec.family} task; a majority baseline is defined only "
                          f"for classification, pair and relation tasks")
    if not gold:
        raise DataFormatError(f"task {spec.name}: no gold examples; the majority baseline needs at least one")
    label, pred = _majority(spec, gold)
    result = evaluate_predictions(spec, gold, pred)
    result["baseline"] = {"strategy": "majority", "label": label}
    return result
