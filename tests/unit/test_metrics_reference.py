"""Differential tests: every figure ClinGen's evaluation reports equals the reference library called directly on
the same inputs (scikit-learn for single-label, relation and multi-label tasks; seqeval, strict IOB2, for NER),
over random label sets, subsets that lack some labels, single examples and empty label lists (ClinGen issue #34).

The reference for a macro average is scikit-learn's default label set, the labels that occur in gold or
predictions (unique_labels(y_true, y_pred)): a label absent from both has no F1, so it is left out of the mean.
A pooled ratio that is 0/0 because neither side holds anything to score is 1.0 (a perfect prediction of an
all-negative subset is perfect); that is scikit-learn's and seqeval's zero_division=1 in exactly that case."""

from __future__ import annotations

import warnings

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from seqeval import metrics as seqeval
from seqeval.scheme import IOB2
from sklearn.metrics import (accuracy_score, classification_report, confusion_matrix, f1_score,
                             precision_recall_fscore_support)
from sklearn.preprocessing import MultiLabelBinarizer

from clingen.evaluation.metrics import (evaluate_predictions, multi_label_metrics, ner_metrics, relation_metrics,
                                        single_label_metrics)
from clingen.tasks.registry import get_task

pytestmark = pytest.mark.unit

# Labels as task files may spell them: spaces, punctuation and non-ASCII letters included.
LABEL = st.text(st.characters(categories=["L", "N", "P", "S", "Zs"]), min_size=1, max_size=8)
# Entity types are one word (TaskSpec refuses whitespace); "-" inside a type is covered by its own test below.
ENTITY_TYPE = st.text(st.characters(categories=["L", "N"], include_characters="_"), min_size=1, max_size=8)
LABEL_SETS = st.lists(LABEL, min_size=1, max_size=6, unique=True)


def _quiet(call, *args, **kwargs):
    """A reference call without its UndefinedMetricWarning (zero_division is always given explicitly)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return call(*args, **kwargs)


def _pool(draw, labels: list) -> list:
    """A non-empty subset of `labels`: the labels a gold or predicted side may use, so others are absent."""
    return draw(st.lists(st.sampled_from(labels), min_size=1, max_size=len(labels), unique=True))


@st.composite
def single_label_cases(draw, labels=LABEL_SETS):
    labels = draw(labels) if not isinstance(labels, list) else labels
    n = draw(st.integers(1, 25))
    gold = draw(st.lists(st.sampled_from(_pool(draw, labels)), min_size=n, max_size=n))
    pred = list(gold) if draw(st.booleans()) else draw(st.lists(st.sampled_from(_pool(draw, labels)),
                                                                 min_size=n, max_size=n))
    return labels, gold, pred


@st.composite
def multi_label_cases(draw, labels=LABEL_SETS):
    labels = draw(labels) if not isinstance(labels, list) else labels
    n = draw(st.integers(1, 20))
    rows = st.lists(st.sampled_from(_pool(draw, labels)), max_size=len(labels), unique=True)  # [] included
    gold = draw(st.lists(rows, min_size=n, max_size=n))
    pred = [list(row) for row in gold] if draw(st.booleans()) else draw(st.lists(rows, min_size=n, max_size=n))
    return labels, gold, pred


@st.composite
def iob2_sentence(draw, types: list[str], length: int) -> list[str]:
    """Valid IOB2 tags: O tokens and entities of a random type and length, adjacent entities included."""
    tags: list[str] = []
    while len(tags) < length:
        if draw(st.booleans()):
            tags.append("O")
            continue
        kind, size = draw(st.sampled_from(types)), draw(st.integers(1, length - len(tags)))
        tags += [f"B-{kind}"] + [f"I-{kind}"] * (size - 1)
    return tags


@st.composite
def ner_cases(draw, types=st.lists(ENTITY_TYPE, min_size=1, max_size=4, unique=True)):
    types = draw(types) if not isinstance(types, list) else types
    lengths = draw(st.lists(st.integers(0, 8), min_size=1, max_size=6))
    gold = [draw(iob2_sentence(_pool(draw, types), length)) for length in lengths]
    pred = [list(tags) for tags in gold] if draw(st.booleans()) else \
        [draw(iob2_sentence(_pool(draw, types), length)) for length in lengths]
    return types, gold, pred


def _rows(report: dict, names: list[str]) -> dict:
    return {name: {"precision": report[name]["precision"], "recall": report[name]["recall"],
                   "f1": report[name]["f1-score"], "support": report[name]["support"]} for name in names}


def reference_single_label(gold: list[str], pred: list[str], labels: list[str]) -> dict:
    report = _quiet(classification_report, gold, pred, labels=labels, output_dict=True, zero_division=0)
    return {"accuracy": accuracy_score(gold, pred),
            "macro_f1": _quiet(f1_score, gold, pred, average="macro", zero_division=0),  # sklearn's default labels
            "per_label": _rows(report, labels),
            "confusion_matrix": {"labels": labels,
                                 "matrix": _quiet(confusion_matrix, gold, pred, labels=labels).tolist()}}


def reference_relation(gold: list[str], pred: list[str], labels: list[str], negative: str) -> dict:
    positive = [label for label in labels if label != negative]
    return {**reference_single_label(gold, pred, labels), "positive_labels": positive, "negative_labels": [negative],
            "positive_f1": f1_score(gold, pred, labels=positive, average="micro", zero_division=1.0)}


def _has(rows: list[list[str]], label: str) -> list[bool]:
    return [label in row for row in rows]


def reference_multi_label(gold: list[list[str]], pred: list[list[str]], labels: list[str]) -> dict:
    """Each label scored as its own 1-D yes/no target (a one-column indicator matrix would be read by sklearn as
    a binary target over classes 0 and 1, so the matrix route cannot be the reference for one-label sets); micro
    figures pool every (example, label) decision; macro-F1 averages the labels that occur on either side."""
    figures = {label: _quiet(precision_recall_fscore_support, _has(gold, label), _has(pred, label), labels=[True],
                             average=None, zero_division=0) for label in labels}
    per_label = {label: {"precision": p[0], "recall": r[0], "f1": f[0], "support": s[0]}
                 for label, (p, r, f, s) in figures.items()}
    cells_gold = [answer for label in labels for answer in _has(gold, label)]
    cells_pred = [answer for label in labels for answer in _has(pred, label)]
    nothing_anywhere = not any(cells_gold) and not any(cells_pred)
    p, r, f, _ = _quiet(precision_recall_fscore_support, cells_gold, cells_pred, labels=[True], average="micro",
                        zero_division=1.0 if nothing_anywhere else 0.0)
    present = [label for label in labels if any(_has(gold, label)) or any(_has(pred, label))]
    macro = sum(per_label[label]["f1"] for label in present) / len(present) if present else 1.0
    exact = sum(set(g) == set(q) for g, q in zip(gold, pred)) / len(gold)
    return {"micro_f1": f, "micro_precision": p, "micro_recall": r, "macro_f1": macro, "subset_accuracy": exact,
            "per_label": per_label}


def reference_ner(gold: list[list[str]], pred: list[list[str]]) -> dict:
    undefined = 0 if any(tag != "O" for tags in (*gold, *pred) for tag in tags) else 1
    scored = {"mode": "strict", "scheme": IOB2, "zero_division": undefined}
    report = _quiet(seqeval.classification_report, gold, pred, output_dict=True, **scored)
    types = sorted(name for name in report if not name.endswith(" avg"))
    return {"precision": _quiet(seqeval.precision_score, gold, pred, **scored),
            "recall": _quiet(seqeval.recall_score, gold, pred, **scored),
            "f1": _quiet(seqeval.f1_score, gold, pred, **scored),
            "per_label": _rows(report, types)}


def assert_matches(result: dict, reference: dict) -> None:
    """Every figure of the reference, in ClinGen's result: floats to rounding, counts and names exactly."""
    for key, expected in reference.items():
        if key == "per_label":
            assert list(result[key]) == list(expected), "per-label rows (names and order)"
            for label, row in expected.items():
                assert result[key][label] == pytest.approx(row), label
                assert isinstance(result[key][label]["support"], int)
        elif isinstance(expected, float) or hasattr(expected, "dtype"):
            assert result[key] == pytest.approx(float(expected)), key
            assert type(result[key]) is float, key  # plain floats, so the report is JSON as is
        else:
            assert result[key] == expected, key


@given(single_label_cases())
def test_single_label_metrics_equal_sklearn(case):
    labels, gold, pred = case
    assert_matches(single_label_metrics(gold, pred, labels), reference_single_label(gold, pred, labels))


@given(single_label_cases(labels=st.lists(LABEL, min_size=2, max_size=6, unique=True)), st.data())
def test_relation_metrics_equal_sklearn(case, data):
    labels, gold, pred = case
    negative = data.draw(st.sampled_from(labels))
    assert_matches(relation_metrics(gold, pred, labels, [negative]), reference_relation(gold, pred, labels, negative))


@given(multi_label_cases())
def test_multi_label_metrics_equal_sklearn(case):
    labels, gold, pred = case
    result = multi_label_metrics(gold, pred, labels)
    assert_matches(result, reference_multi_label(gold, pred, labels))
    if len(labels) > 1:  # and the multi-hot matrix route, where sklearn reads it as multilabel
        every = MultiLabelBinarizer(classes=labels)
        gold_hot, pred_hot = every.fit_transform(gold), every.transform(pred)
        assert result["subset_accuracy"] == pytest.approx(accuracy_score(gold_hot, pred_hot))
        report = _quiet(classification_report, gold_hot, pred_hot, target_names=labels, output_dict=True,
                        zero_division=0)
        assert result["per_label"] == {label: pytest.approx(row) for label, row in _rows(report, labels).items()}


@given(ner_cases())
def test_ner_metrics_equal_seqeval_strict_iob2(case):
    _, gold, pred = case
    assert_matches(ner_metrics(gold, pred), reference_ner(gold, pred))


HEADLINE = {"pubhealth": "macro_f1", "hoc": "micro_f1", "gad": "positive_f1", "chemprot": "positive_f1",
            "ncbi-disease": "f1"}
SPECS = {name: get_task(name) for name in HEADLINE}  # the real TaskSpecs the CLI scores with


def _spec_case(data, name: str):
    """Random gold and predictions for a built-in task, over random subsets of its labels."""
    spec = SPECS[name]
    labels = spec.label_names
    if spec.family == "ner":
        lengths = data.draw(st.lists(st.integers(0, 8), min_size=1, max_size=6))
        gold = [data.draw(iob2_sentence(labels, length)) for length in lengths]
        pred = [list(tags) for tags in gold] if data.draw(st.booleans()) else \
            [data.draw(iob2_sentence(labels, length)) for length in lengths]
        return spec, gold, pred, reference_ner(gold, pred)
    if spec.multi_label:
        _, gold, pred = data.draw(multi_label_cases(labels=labels))
        return spec, gold, pred, reference_multi_label(gold, pred, labels)
    _, gold, pred = data.draw(single_label_cases(labels=labels))
    if spec.family == "relation":
        return spec, gold, pred, reference_relation(gold, pred, labels, spec.negative_label)
    return spec, gold, pred, reference_single_label(gold, pred, labels)


@pytest.mark.parametrize("task", sorted(HEADLINE))
@settings(max_examples=50)  # per task; the family's metrics get 100 examples of their own above
@given(data=st.data())
def test_evaluate_predictions_on_real_tasks_equals_the_reference(task, data):
    spec, gold, pred, reference = _spec_case(data, task)
    result = evaluate_predictions(spec, gold, pred)
    assert_matches(result, reference)
    assert result["primary"] == {"name": HEADLINE[task], "value": result[HEADLINE[task]]}
    assert result["n"] == len(gold)


# Every headline and aggregate figure a perfect prediction must score 1.0 on, per family.
PERFECT = {"pubhealth": ("accuracy", "macro_f1"), "gad": ("accuracy", "macro_f1", "positive_f1"),
           "chemprot": ("accuracy", "macro_f1", "positive_f1"),
           "hoc": ("micro_f1", "micro_precision", "micro_recall", "macro_f1", "subset_accuracy"),
           "ncbi-disease": ("precision", "recall", "f1")}


@pytest.mark.parametrize("task", sorted(PERFECT))
@settings(max_examples=50)  # per task
@given(data=st.data())
def test_a_perfect_prediction_scores_one_on_any_subset(task, data):
    spec, gold, _, _ = _spec_case(data, task)
    result = evaluate_predictions(spec, gold, gold)
    assert {name: result[name] for name in PERFECT[task]} == {name: 1.0 for name in PERFECT[task]}
    assert result["primary"]["value"] == 1.0


def test_perfect_pubhealth_subset_with_three_of_four_labels_scores_one():
    spec = get_task("pubhealth")
    absent = spec.label_names[-1]
    gold = [label for label in spec.label_names[:3] for _ in range(2)]
    result = evaluate_predictions(spec, gold, gold)
    assert result["macro_f1"] == 1.0 and result["primary"] == {"name": "macro_f1", "value": 1.0}
    # The 0.75: the absent label counted as F1 0 in a mean over all four.
    assert f1_score(gold, gold, labels=spec.label_names, average="macro", zero_division=0) == 0.75
    assert result["per_label"][absent] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    # A wrong answer still counts: predicting the absent label brings it into the mean with F1 0.
    wrong = evaluate_predictions(spec, gold, [*gold[:-1], absent])
    assert wrong["macro_f1"] == pytest.approx(f1_score(gold, [*gold[:-1], absent], average="macro"))
    assert wrong["macro_f1"] < 1.0 and wrong["per_label"][absent]["precision"] == 0.0


def test_perfect_hoc_subset_scores_one_and_lists_every_label():
    spec = get_task("hoc")
    present = spec.label_names[:3]
    gold = [[present[0]], [present[1], present[2]], [], [present[0], present[2]]]
    result = evaluate_predictions(spec, gold, gold)
    assert (result["macro_f1"], result["micro_f1"], result["subset_accuracy"]) == (1.0, 1.0, 1.0)
    assert list(result["per_label"]) == spec.label_names
    assert result["per_label"][spec.label_names[-1]]["support"] == 0


def test_nothing_to_find_and_nothing_claimed_scores_one_but_a_false_alarm_scores_zero():
    hoc, gad, ncbi = get_task("hoc"), get_task("gad"), get_task("ncbi-disease")
    label = hoc.label_names[0]
    assert evaluate_predictions(hoc, [[], []], [[], []])["primary"]["value"] == 1.0
    claimed = evaluate_predictions(hoc, [[], []], [[label], []])
    assert (claimed["micro_f1"], claimed["macro_f1"], claimed["micro_precision"]) == (0.0, 0.0, 0.0)
    assert evaluate_predictions(gad, ["No_relation"], ["No_relation"])["positive_f1"] == 1.0
    assert evaluate_predictions(gad, ["No_relation"], ["Has_relation"])["positive_f1"] == 0.0
    assert evaluate_predictions(ncbi, [["O", "O"]], [["O", "O"]])["f1"] == 1.0
    missed = evaluate_predictions(ncbi, [["B-Disease", "O"]], [["O", "O"]])
    assert (missed["precision"], missed["recall"], missed["f1"]) == (0.0, 0.0, 0.0)


def test_entity_types_with_hyphens_keep_their_own_names_and_entities():
    # seqeval strips "-" off a type's ends, so fed directly it would merge "-x", "x" and "x-" into one type x
    # and read "I-x" as continuing a "B--x" entity.
    gold = [["B--x", "I--x", "B-x", "B-x-", "O"]]
    pred = [["B--x", "I-x", "B-x", "O", "B-x-"]]
    result = ner_metrics(gold, pred)
    assert list(result["per_label"]) == ["-x", "x", "x-"]
    # pred entities: -x [0,0], x [1,1], x [2,2], x- [4,4]; gold: -x [0,1], x [2,2], x- [3,3] -> 1 hit of 4 and 3
    assert (result["precision"], result["recall"]) == (pytest.approx(1 / 4), pytest.approx(1 / 3))
    # The same entities with plain type names (A = -x, B = x, C = x-), predictions in their IOB2 form.
    reference = reference_ner([["B-A", "I-A", "B-B", "B-C", "O"]], [["B-A", "B-B", "B-B", "O", "B-C"]])
    assert result["f1"] == pytest.approx(reference["f1"])
    assert [row for row in result["per_label"].values()] == [pytest.approx(reference["per_label"][name])
                                                             for name in "ABC"]
