"""The README.md model card of a trained model folder: Hub front matter, labels, training data and metrics."""

import pytest
import yaml

from clingen.tasks.registry import get_task
from clingen.training.card import ModelCard
from clingen.training.model_readme import model_readme

pytestmark = pytest.mark.unit


def card_for(task: str, encoder: str) -> ModelCard:
    return ModelCard.from_spec(get_task(task), 128, encoder=encoder, run_name="r1", train_wall_s=12.5,
                               clingen_version="0.2.0",
                               training_data={"fewshot": {"path": "train.tsv", "examples": 10},
                                              "synthetic": {"path": "runs/x", "examples": 480}},
                               plan=[{"dataset": "fewshot", "epochs": 5},
                                     {"dataset": "synthetic", "epochs": 7, "total_steps": 300, "repeats": 2}],
                               final_metrics={"stage": "synthetic", "epoch": 6, "stage_steps": 300, "loss": 0.123456})


def front_matter(text: str) -> dict:
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n")[1])


def test_a_ner_card_names_the_bio_tags_the_stages_and_the_metrics():
    text = model_readme(card_for("ncbi-disease", "microsoft/BiomedNLP-PubMedBERT-base-uncased-abstract-fulltext"))
    meta = front_matter(text)
    assert meta["pipeline_tag"] == "token-classification" and meta["library_name"] == "transformers"
    assert meta["base_model"] == "microsoft/BiomedNLP-PubMedBERT-base-uncased-abstract-fulltext"
    assert "ncbi-disease" in meta["tags"]
    assert "`O`, `B-Disease`, `I-Disease` (BIO tags over words)." in text
    assert "| fewshot | `train.tsv` | 10 | 5 epoch(s) |" in text
    assert "| synthetic | `runs/x` | 480 | 300 steps, set repeated 2x per pass |" in text
    assert "| synthetic | 6 | 300 | 0.1235 |" in text


def test_a_local_or_embedded_encoder_is_no_base_model_and_multi_label_says_thresholds():
    text = model_readme(card_for("hoc", "embedded:minilm-l6"))
    assert "base_model" not in front_matter(text)
    assert front_matter(text)["pipeline_tag"] == "text-classification"
    assert "(multi-label, per-label thresholds in model_card.json)" in text
    assert "base_model" not in front_matter(model_readme(card_for("gad", "/models/pubmedbert")))


def test_the_card_loads_as_a_hugging_face_model_card():
    huggingface_hub = pytest.importorskip("huggingface_hub")
    card = huggingface_hub.ModelCard(model_readme(card_for("gad", "embedded:minilm-l6")))
    assert card.data.pipeline_tag == "text-classification" and "clingen" in card.data.tags
