"""Tests that the reader (bio_to_spans), evaluation (ner_metrics) and serving (decode_entities) read the same
entities from any BIO tag sequence, IOB1 (an entity opening with I-) included."""

from __future__ import annotations

import random

import pytest

from clingen.datasets.records import NERExample, bio_to_spans, to_iob2
from clingen.errors import DataFormatError
from clingen.evaluation.metrics import evaluate_predictions, ner_metrics
from clingen.tasks.registry import get_task
from clingen.training.predict import decode_entities

pytestmark = pytest.mark.unit

IOB1 = ["I-Disease", "I-Disease", "O", "I-Chemical", "B-Chemical", "I-Chemical", "O", "I-Disease"]
IOB2 = ["B-Disease", "I-Disease", "O", "B-Chemical", "B-Chemical", "I-Chemical", "O", "B-Disease"]


def test_an_iob1_file_scored_against_itself_has_f1_one() -> None:
    assert to_iob2(IOB1) == IOB2
    assert ner_metrics([IOB1], [IOB1])["f1"] == 1.0
    assert ner_metrics([IOB1], [IOB2])["f1"] == 1.0 and ner_metrics([IOB2], [IOB1])["f1"] == 1.0
    result = ner_metrics([IOB1], [IOB1])
    assert result["per_label"]["Disease"]["support"] == 2 and result["per_label"]["Chemical"]["support"] == 2
    spec = get_task("ncbi-disease")
    gold = [["O", "I-Disease", "I-Disease", "O"], ["I-Disease"]]
    assert evaluate_predictions(spec, gold, gold)["primary"] == {"name": "f1", "value": 1.0}


def test_a_stray_i_after_o_counts_as_the_entity_serving_returns() -> None:
    text, pred = "severe cystic fibrosis today", ["O", "I-Disease", "I-Disease", "O"]
    words = [("severe", 0, 6), ("cystic", 7, 13), ("fibrosis", 14, 22), ("today", 23, 28)]
    assert decode_entities(words, pred, text) == [{"start": 7, "end": 22, "type": "Disease",
                                                   "text": "cystic fibrosis"}]
    gold = ["O", "B-Disease", "I-Disease", "O"]
    assert ner_metrics([gold], [pred]) == ner_metrics([gold], [gold])
    # an I- of another type after an entity starts a new entity, everywhere
    mixed = ["B-Chemical", "I-Disease", "I-Disease", "O"]
    assert [e["text"] for e in decode_entities(words, mixed, text)] == ["severe", "cystic fibrosis"]
    assert ner_metrics([["B-Chemical", "B-Disease", "I-Disease", "O"]], [mixed])["f1"] == 1.0


def test_a_tag_that_is_not_bio_is_named_with_its_side_and_sentence() -> None:
    with pytest.raises(DataFormatError, match=r"predicted sentence 1: tag 0 'Disease' is not a BIO tag"):
        ner_metrics([["O"], ["O"]], [["O"], ["Disease"]])
    with pytest.raises(DataFormatError, match="'X-Disease' is not a BIO tag"):
        decode_entities([("a", 0, 1)], ["X-Disease"], "a")


def _random_tags(rng: random.Random, length: int) -> list[str]:
    choices = ["O", "O", "B-Disease", "I-Disease", "B-Chemical", "I-Chemical"]
    return [rng.choice(choices) for _ in range(length)]


def _entities(spans) -> set:
    return {(span.start, span.end, span.type) for span in spans}


def test_reader_evaluation_and_serving_agree_on_random_tag_sequences() -> None:
    """Property check over 500 seeded random sequences (IOB1, IOB2 and malformed-but-readable mixes): the
    entities of bio_to_spans, of decode_entities and of strict seqeval scoring are the same."""
    rng = random.Random(18)
    vocabulary = ["IL", "-", "6", "asthma", "in", "mice", ".", "Crohn", "'", "s"]
    for case in range(500):
        length = rng.randint(0, 12)
        tokens = [rng.choice(vocabulary) for _ in range(length)]
        gold, pred = _random_tags(rng, length), _random_tags(rng, length)
        text = " ".join(tokens)
        reader = _entities(bio_to_spans(tokens, pred, text))
        assert reader == _entities(bio_to_spans(tokens, to_iob2(pred), text)), case
        starts = [sum(len(t) + 1 for t in tokens[:i]) for i in range(length)]
        words = [(token, start, start + len(token)) for token, start in zip(tokens, starts)]
        served = decode_entities(words, pred, text)
        assert {(e["start"], e["end"], e["type"]) for e in served} == reader, case
        assert all(text[e["start"]:e["end"]] == e["text"] for e in served)
        # strict scoring counts exactly the reader's entities: its precision/recall are set overlaps (0/0 is
        # 1.0 only when neither side has an entity: nothing to find and nothing wrongly claimed)
        gold_entities = _entities(bio_to_spans(tokens, gold, text))
        hits = len(gold_entities & reader)
        result = ner_metrics([gold], [pred])
        precision = hits / len(reader) if reader else float(not gold_entities)
        recall = hits / len(gold_entities) if gold_entities else float(not reader)
        assert result["precision"] == pytest.approx(precision), case
        assert result["recall"] == pytest.approx(recall), case


def test_training_reads_iob1_tags_as_their_iob2_form() -> None:
    transformers = pytest.importorskip("transformers")
    pytest.importorskip("torch")
    from clingen.training.features import Featurizer
    from clingen.training.model_io import offline_encoder_dir
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(offline_encoder_dir())
    except RuntimeError as exc:
        pytest.skip(f"offline MiniLM encoder unavailable: {exc}")
    tokens = ["Cystic", "fibrosis", "and", "gout"]
    featurizer = Featurizer(get_task("ncbi-disease"), tokenizer, 32)
    iob1 = NERExample("a", " ".join(tokens), tokens, ["I-Disease", "I-Disease", "O", "I-Disease"])
    iob2 = NERExample("b", " ".join(tokens), tokens, ["B-Disease", "I-Disease", "O", "B-Disease"])
    assert featurizer.encode([iob1])["labels"] == featurizer.encode([iob2])["labels"]
    assert 1 in featurizer.encode([iob1])["labels"][0]  # B-Disease's id
