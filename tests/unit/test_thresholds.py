import pytest

from clingen.evaluation.thresholds import tune_thresholds

pytestmark = pytest.mark.unit


def test_each_label_gets_the_cut_with_the_best_f1_on_its_examples():
    """A head that ranks well but sits below 0.5 (what 120 CPU steps on HoC gave): tuned cuts recover it."""
    scores = [{"a": 0.30, "b": 0.10}, {"a": 0.25, "b": 0.40}, {"a": 0.05, "b": 0.35}, {"a": 0.02, "b": 0.05}]
    gold = [["a"], ["a", "b"], ["b"], []]
    assert tune_thresholds(scores, gold, ["a", "b"]) == {"a": 0.25, "b": 0.35}


def test_labels_the_examples_cannot_calibrate_keep_the_default():
    scores = [{"a": 0.3, "b": 0.2, "c": 0.9}, {"a": 0.1, "b": 0.4, "c": 0.8}]
    gold = [["a", "c"], ["c"]]
    tuned = tune_thresholds(scores, gold, ["a", "b", "c"])
    assert tuned == {"a": 0.3, "b": 0.5, "c": 0.5}  # b never positive, c always positive


def test_score_rows_must_match_the_gold_rows():
    with pytest.raises(ValueError, match="2 score rows for 1 gold label sets"):
        tune_thresholds([{"a": 0.1}, {"a": 0.2}], [["a"]], ["a"])
