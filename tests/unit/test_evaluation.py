import json

import pytest

from clingen.errors import ConfigError, DataFormatError
from clingen.evaluation.metrics import (evaluate_predictions, majority_baseline, multi_label_metrics,
                                        negative_labels_for, ner_metrics, relation_metrics,
                                        single_label_metrics)
from clingen.evaluation.report import format_report, write_report
from clingen.tasks.registry import get_task

pytestmark = pytest.mark.unit

HAS, NO = "Has_relation", "No_relation"


def test_single_label_known_answer():
    result = single_label_metrics(["a", "a", "b", "b"], ["a", "b", "b", "b"], ["a", "b"])
    assert result["accuracy"] == pytest.approx(0.75)
    # a: p=1, r=1/2 -> f1=2/3; b: p=2/3, r=1 -> f1=0.8
    assert result["macro_f1"] == pytest.approx((2 / 3 + 0.8) / 2)
    assert result["per_label"]["a"] == pytest.approx({"precision": 1.0, "recall": 0.5, "f1": 2 / 3, "support": 2})
    assert result["per_label"]["b"] == pytest.approx({"precision": 2 / 3, "recall": 1.0, "f1": 0.8, "support": 2})
    assert result["confusion_matrix"] == {"labels": ["a", "b"], "matrix": [[1, 1], [0, 2]]}


def test_confusion_matrix_rows_are_gold_and_unseen_labels_count_zero():
    result = single_label_metrics(["x", "y", "y", "z"], ["y", "y", "x", "y"], ["x", "y", "z", "w"])
    assert result["confusion_matrix"]["matrix"] == [[0, 1, 0, 0], [1, 1, 0, 0], [0, 1, 0, 0], [0, 0, 0, 0]]
    assert result["per_label"]["w"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    # y: tp=1 fp=2 fn=1 -> p=1/3 r=1/2 f1=0.4; x and z score 0. Macro-F1 averages the labels that occur in
    # gold or predictions (x, y, z); "w", absent from both, is listed per label but left out of the mean.
    assert result["macro_f1"] == pytest.approx(0.4 / 3)


def test_multi_label_known_answer():
    gold = [["a", "b"], ["a"], []]
    pred = [["a"], ["a", "b"], []]
    result = multi_label_metrics(gold, pred, ["a", "b", "c"])
    # a: tp=2; b: tp=0 fp=1 fn=1; c: nothing -> micro p=2/3 r=2/3 f1=2/3; macro=(1+0)/2 (c, absent from
    # gold and predictions, is left out of the mean)
    assert result["micro_f1"] == pytest.approx(2 / 3)
    assert result["micro_precision"] == pytest.approx(2 / 3)
    assert result["macro_f1"] == pytest.approx(1 / 2)
    assert result["per_label"]["c"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    assert result["subset_accuracy"] == pytest.approx(1 / 3)
    assert result["per_label"]["b"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert result["per_label"]["a"]["support"] == 2


def test_ner_strict_wrong_boundary_is_false_positive_and_false_negative():
    result = ner_metrics([["B-Disease", "I-Disease", "O"]], [["B-Disease", "O", "O"]])
    assert (result["precision"], result["recall"], result["f1"]) == (0.0, 0.0, 0.0)
    assert result["per_label"]["Disease"]["support"] == 1


def test_ner_known_answer_per_type():
    gold = [["B-Chemical", "O", "B-Disease", "I-Disease"], ["B-Disease", "O"]]
    pred = [["B-Chemical", "O", "B-Disease", "I-Disease"], ["O", "B-Disease"]]
    result = ner_metrics(gold, pred)
    # 3 predicted, 3 gold, 2 exact matches (the shifted one-token Disease is wrong) -> p = r = f1 = 2/3
    assert result["precision"] == pytest.approx(2 / 3)
    assert result["recall"] == pytest.approx(2 / 3)
    assert result["f1"] == pytest.approx(2 / 3)
    assert result["per_label"]["Chemical"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 1}
    assert result["per_label"]["Disease"]["recall"] == pytest.approx(0.5)


def test_ner_length_mismatch_names_sentence_and_lengths():
    with pytest.raises(DataFormatError, match=r"sentence 1: 3 gold tags but 2 predicted"):
        ner_metrics([["O"], ["O", "O", "O"]], [["O"], ["O", "O"]])
    with pytest.raises(DataFormatError, match="gold sentence 0: tag 0 'Disease' is not a BIO tag"):
        ner_metrics([["Disease"]], [["O"]])


def test_relation_positive_f1_for_gad():
    gold = [HAS, HAS, HAS, NO, NO]
    pred = [HAS, HAS, NO, HAS, NO]
    result = relation_metrics(gold, pred, [HAS, NO], [NO])
    # Has_relation: tp=2 fp=1 fn=1 -> f1=2/3 (binary positive_f1 is the positive class's F1)
    assert result["positive_f1"] == pytest.approx(2 / 3)
    assert result["positive_f1"] == pytest.approx(result["per_label"][HAS]["f1"])
    assert result["accuracy"] == pytest.approx(3 / 5)
    assert result["positive_labels"] == [HAS] and result["negative_labels"] == [NO]


def test_relation_positive_f1_multi_class_ignores_negative_class():
    labels = ["Agonist", "Antagonist", "NOT"]
    gold = ["Agonist", "Antagonist", "NOT", "NOT"]
    pred = ["Agonist", "NOT", "NOT", "Antagonist"]
    # Over positives only: tp=1 (Agonist), fp=1 (Antagonist on NOT), fn=1 (Antagonist -> NOT) -> 0.5
    assert relation_metrics(gold, pred, labels, ["NOT"])["positive_f1"] == pytest.approx(0.5)
    with pytest.raises(ConfigError, match="positive"):
        relation_metrics(gold, pred, ["NOT"], ["NOT"])


def test_negative_labels_for_builtin_tasks():
    assert negative_labels_for(get_task("gad")) == [NO]
    assert negative_labels_for(get_task("cdr")) == ["not_induce"]
    assert negative_labels_for(get_task("chemprot")) == ["NOT"]
    with pytest.raises(ConfigError):
        negative_labels_for(get_task("mednli"))


def test_evaluate_predictions_dispatch_and_primary():
    gad = evaluate_predictions(get_task("gad"), [HAS, NO], [HAS, HAS])
    assert gad["primary"] == {"name": "positive_f1", "value": pytest.approx(2 / 3)} and gad["n"] == 2
    rqe = evaluate_predictions(get_task("mediqa-rqe"), ["Entail", "Not_entail"], ["Entail", "Entail"])
    assert rqe["primary"]["name"] == "macro_f1" and rqe["accuracy"] == pytest.approx(0.5)
    hoc_label = "inducing angiogenesis"
    hoc = evaluate_predictions(get_task("hoc"), [[hoc_label], []], [[hoc_label], [hoc_label]])
    assert hoc["primary"] == {"name": "micro_f1", "value": pytest.approx(2 / 3)}
    ner = evaluate_predictions(get_task("ncbi-disease"), [["B-Disease", "O"]], [["B-Disease", "O"]])
    assert ner["primary"] == {"name": "f1", "value": 1.0} and ner["family"] == "ner"


def test_single_label_classification_accepts_one_element_lists():
    spec = get_task("mqp")
    result = evaluate_predictions(spec, [["equivalent"], ["not_equivalent"]], ["equivalent", "equivalent"])
    assert result["accuracy"] == pytest.approx(0.5)
    with pytest.raises(DataFormatError, match="exactly one"):
        evaluate_predictions(spec, [["equivalent", "not_equivalent"]], ["equivalent"])


def test_length_mismatch_and_unknown_labels_are_named():
    gad = get_task("gad")
    with pytest.raises(DataFormatError, match="3 gold examples but 2 predicted"):
        evaluate_predictions(gad, [HAS, NO, NO], [HAS, NO])
    with pytest.raises(DataFormatError, match=r"'Maybe'.*known labels: \['Has_relation', 'No_relation'\]"):
        evaluate_predictions(gad, [HAS, NO], [HAS, "Maybe"])
    with pytest.raises(DataFormatError, match="'Chemical'.*known labels"):
        evaluate_predictions(get_task("ncbi-disease"), [["B-Chemical"]], [["O"]])
    with pytest.raises(DataFormatError, match="'Oncology'"):
        evaluate_predictions(get_task("hoc"), [["Oncology"]], [[]])
    with pytest.raises(DataFormatError, match="no examples"):
        evaluate_predictions(gad, [], [])


def test_majority_baseline():
    gad = get_task("gad")
    result = majority_baseline(gad, [NO, NO, NO, HAS])
    assert result["baseline"] == {"strategy": "majority", "label": NO}
    assert result["accuracy"] == pytest.approx(0.75) and result["positive_f1"] == 0.0
    # Ties go to the first label of the spec.
    assert majority_baseline(gad, [NO, HAS])["baseline"]["label"] == HAS
    hoc = majority_baseline(get_task("hoc"), [["inducing angiogenesis"], ["inducing angiogenesis"], []])
    assert hoc["subset_accuracy"] == pytest.approx(2 / 3)
    with pytest.raises(ConfigError):
        majority_baseline(get_task("ncbi-disease"), [["O"]])


def test_format_report_and_write_report(tmp_path):
    result = evaluate_predictions(get_task("gad"), [HAS, HAS, NO, NO], [HAS, NO, NO, NO])
    text = format_report(result, "gad", "pubmedbert")
    assert "gad" in text and "pubmedbert" in text
    lines = text.splitlines()
    metric_lines = [line for line in lines if line.startswith(("positive_f1", "accuracy", "macro_f1"))]
    assert metric_lines[0].startswith("positive_f1 (primary)") and "0.6667" in metric_lines[0]
    assert any(line.split() == [HAS, "1.0000", "0.5000", "0.6667", "2"] for line in lines)
    assert any(line.split() == [NO, "0.6667", "1.0000", "0.8000", "2"] for line in lines)
    assert any(line.split() == [HAS, "1", "1"] for line in lines)  # confusion matrix row
    assert any(line.split() == [NO, "0", "2"] for line in lines)
    json_path, text_path = write_report(result, tmp_path / "eval", "gad", "pubmedbert")
    assert json.loads(json_path.read_text()) == result
    assert text_path.read_text() == text
