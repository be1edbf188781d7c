"""The typed model card (model_card.json): the writer/reader round trip, its bytes, old cards, and the errors."""

import json
import re

import pytest

from clingen.errors import ConfigError
from clingen.tasks.registry import get_task
from clingen.training.card import CARD_FILE, ModelCard

pytestmark = pytest.mark.unit

PROVENANCE = {"encoder": "embedded:minilm-l6", "run_name": "gad-abc123", "train_wall_s": 12.5,
              "clingen_version": "0.2.0", "config": {"seed": 7, "task": "gad"},
              "training_data": {"synthetic": {"path": "runs/gad", "fingerprint": "f00", "examples": 64}},
              "plan": [{"dataset": "synthetic", "epochs": 3, "repeats": 1}],
              "final_metrics": {"stage": "synthetic", "epoch": 2, "loss": 0.25}}

# What the untyped writer (build_model_card + json.dumps(indent=2, sort_keys=True) + "\n") wrote for the card
# above: existing model folders hold these bytes, and the typed writer must keep them.
GAD_CARD_BYTES = """{
  "clingen_version": "0.2.0",
  "config": {
    "seed": 7,
    "task": "gad"
  },
  "encoder": "embedded:minilm-l6",
  "family": "relation",
  "final_metrics": {
    "epoch": 2,
    "loss": 0.25,
    "stage": "synthetic"
  },
  "head_mask": "@GENE$",
  "labels": [
    "Has_relation",
    "No_relation"
  ],
  "max_length": 32,
  "multi_label": false,
  "plan": [
    {
      "dataset": "synthetic",
      "epochs": 3,
      "repeats": 1
    }
  ],
  "run_name": "gad-abc123",
  "tail_mask": "@DISEASE$",
  "task": "gad",
  "thresholds": null,
  "train_wall_s": 12.5,
  "training_data": {
    "synthetic": {
      "examples": 64,
      "fingerprint": "f00",
      "path": "runs/gad"
    }
  }
}
"""

VALID = {"task": "t", "family": "classification", "multi_label": True, "labels": ["a", "b"], "max_length": 8}


def test_the_card_round_trips_with_the_bytes_of_the_untyped_writer(tmp_path):
    card = ModelCard.from_spec(get_task("gad"), 32, **PROVENANCE)
    path = card.write(tmp_path)
    assert path == tmp_path / CARD_FILE
    assert path.read_text(encoding="utf-8") == GAD_CARD_BYTES
    again = ModelCard.read(tmp_path)
    assert again == card and again.to_json() == GAD_CARD_BYTES
    assert (again.task, again.family, again.multi_label, again.max_length) == ("gad", "relation", False, 32)
    assert (again.labels, again.thresholds) == (["Has_relation", "No_relation"], None)
    assert (again.head_mask, again.tail_mask) == ("@GENE$", "@DISEASE$")
    assert again.plan == PROVENANCE["plan"] and again.training_data["synthetic"]["examples"] == 64
    assert again.final_metrics["loss"] == 0.25 and again.config == {"seed": 7, "task": "gad"}


def test_a_multi_label_card_gets_one_threshold_per_label():
    labels = get_task("hoc").label_names
    card = ModelCard.from_spec(get_task("hoc"), 16, thresholds={labels[0]: 0.3})
    assert card.multi_label and card.labels == list(labels)
    assert card.thresholds == {name: 0.3 if name == labels[0] else 0.5 for name in labels}
    # No provenance given: none written, as the untyped writer did for a card saved outside `clingen train`.
    assert sorted(json.loads(card.to_json())) == ["family", "head_mask", "labels", "max_length", "multi_label",
                                                  "tail_mask", "task", "thresholds"]


def test_an_old_card_without_provenance_or_optional_prediction_keys_loads_and_is_written_back_unchanged(tmp_path):
    old = json.dumps({**VALID, "encoder": "x/y"}, indent=2, sort_keys=True) + "\n"
    (tmp_path / CARD_FILE).write_text(old)
    card = ModelCard.read(tmp_path)
    assert (card.encoder, card.plan, card.final_metrics, card.config, card.clingen_version) == \
        ("x/y", None, None, None, None)
    assert (card.thresholds, card.head_mask, card.tail_mask) == (None, None, None)
    assert card.to_json() == old


@pytest.mark.parametrize(("change", "message"), [
    ({"family": "regression"}, "model card family 'regression'; expected one of ['classification', 'relation', "
                               "'pair', 'ner', 'attribute']"),
    ({"labels": []}, "model card labels []; expected a non-empty list of label names"),
    ({"labels": "ab"}, "model card labels 'ab'; expected a non-empty list of label names"),
    ({"labels": ["a", 3]}, "model card labels ['a', 3]; expected a non-empty list of label names"),
    ({"max_length": 1}, "model card max_length 1; expected an integer >= 2"),
    ({"max_length": "16"}, "model card max_length '16'; expected an integer >= 2"),
    ({"max_length": True}, "model card max_length True; expected an integer >= 2"),
    ({"thresholds": {"a": 0.5, "zz": 0.1}}, "model card thresholds {'a': 0.5, 'zz': 0.1}; expected thresholds of "
                                            "known labels only; unknown ['zz'], known: ['a', 'b']"),
    ({"thresholds": {"a": "high"}}, "model card thresholds.a 'high'; expected a valid number"),
    ({"multi_label": "yes"}, "model card multi_label 'yes'; expected a valid boolean"),
    ({"plan": "synthetic"}, "model card plan 'synthetic'; expected a valid list"),
])
def test_each_invalid_value_is_named_with_what_was_expected(change, message):
    with pytest.raises(ConfigError) as caught:
        ModelCard.parse({**VALID, **change}, "models/m/model_card.json")
    assert str(caught.value).startswith(f"models/m/model_card.json: {message}")


def test_missing_keys_and_a_non_object_are_named(tmp_path):
    (tmp_path / CARD_FILE).write_text(json.dumps({"task": "hoc"}))
    with pytest.raises(ConfigError) as caught:
        ModelCard.read(tmp_path)
    assert str(caught.value) == (f"{tmp_path / CARD_FILE}: the model card lacks ['family', 'multi_label', 'labels', "
                                 f"'max_length']; expected keys ['task', 'family', 'multi_label', 'labels', "
                                 f"'max_length']")
    (tmp_path / CARD_FILE).write_text("[1, 2]")
    with pytest.raises(ConfigError, match=re.escape(f"{tmp_path / CARD_FILE}: the model card is a list; expected a "
                                                    f"JSON object")):
        ModelCard.read(tmp_path)


def test_an_unknown_key_is_refused_by_name(tmp_path):
    (tmp_path / CARD_FILE).write_text(json.dumps({**VALID, "tokenizer": "fast", "calibration": {}}))
    with pytest.raises(ConfigError) as caught:
        ModelCard.read(tmp_path)
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / CARD_FILE}: the model card has unknown key(s) ['calibration', "
                              f"'tokenizer']; expected only the keys ['task', 'family', ")
    assert "'clingen_version']" in message and "remove the key or upgrade ClinGen" in message
    with pytest.raises(ConfigError, match=r"the model card of task gad: the model card has unknown key\(s\) "
                                          r"\['metrics'\]"):
        ModelCard.from_spec(get_task("gad"), 32, metrics={})


def test_a_missing_or_unreadable_file_names_the_folder(tmp_path):
    with pytest.raises(ConfigError, match=re.escape(f"model folder {tmp_path} has no {CARD_FILE}; expected the "
                                                    f"output of `clingen train`")):
        ModelCard.read(tmp_path)
    (tmp_path / CARD_FILE).write_text("{not json")
    with pytest.raises(ConfigError, match=re.escape(f"{tmp_path / CARD_FILE} is not readable JSON")):
        ModelCard.read(tmp_path)
    (tmp_path / CARD_FILE).write_bytes(b"\xff\xfe{")
    with pytest.raises(ConfigError, match="not readable JSON"):
        ModelCard.read(tmp_path)


def test_several_problems_are_all_reported_one_a_line():
    with pytest.raises(ConfigError) as caught:
        ModelCard.parse({**VALID, "family": "x", "max_length": 0, "extra": 1}, "here")
    assert str(caught.value).splitlines() == [
        "here: the model card has unknown key(s) ['extra']; expected only the keys "
        f"{list(ModelCard.model_fields)} (a card of a newer ClinGen, or a hand edit: remove the key or upgrade "
        "ClinGen)",
        "here: model card family 'x'; expected one of ['classification', 'relation', 'pair', 'ner', 'attribute']",
        "here: model card max_length 0; expected an integer >= 2"]


def test_every_field_is_described():
    assert all(field.description for field in ModelCard.model_fields.values())
