"""Multi-label decision thresholds (training -> evaluation): per-label thresholds that maximise F1 on real
examples the model may see, instead of a fixed 0.5 that a briefly trained sigmoid head never reaches."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from clingen.training.card import DEFAULT_THRESHOLD


def tune_thresholds(scores: Sequence[Mapping[str, float]], gold: Sequence[Sequence[str]], labels: Sequence[str],
                    default: float = DEFAULT_THRESHOLD) -> dict[str, float]:
    """For each label, the score threshold with the best F1 on (scores, gold); a label the examples do not
    both show and omit keeps `default`, since its F1 there says nothing about where to cut."""
    from sklearn.metrics import precision_recall_curve
    if len(scores) != len(gold):
        raise ValueError(f"{len(scores)} score rows for {len(gold)} gold label sets; expected one per example")
    thresholds = {}
    for label in labels:
        truth = [label in answer for answer in gold]
        if all(truth) or not any(truth):
            thresholds[label] = default
            continue
        precision, recall, cuts = precision_recall_curve(truth, [row[label] for row in scores])
        f1 = [2 * p * r / (p + r) if p + r else 0.0 for p, r in zip(precision[:-1], recall[:-1])]
        best = max(range(len(cuts)), key=lambda i: (f1[i], cuts[i]))  # ties: the stricter cut
        thresholds[label] = float(cuts[best])
    return thresholds
