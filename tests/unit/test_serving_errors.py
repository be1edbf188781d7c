"""Every input error of the classifier service is a 4xx with the reason, never a 5xx (issue #34): a relation head
or tail the text does not hold (the gene MET beside the verb "met") is refused before the request joins a batch,
and a prediction that still fails on a request's content answers 422. Checked without Ray on the handler's own
functions, and over random inputs with a real Predictor and tokenizer: what the checks let through is predicted."""

from __future__ import annotations

from functools import lru_cache
from types import SimpleNamespace

import pytest
from hypothesis import given, settings, strategies as st

from clingen.errors import ConfigError, DataFormatError
from clingen.serving.classifier_app import failure_answer, predict_requests, request_problem
from clingen.serving.schemas import Item, ServingLimits, relation_item_problem
from clingen.training.card import ModelCard

pytestmark = pytest.mark.unit

LIMITS = ServingLimits(max_inputs=4, max_chars=200)
GAD = ModelCard(task="gad", family="relation", multi_label=False, labels=["Has_relation", "No_relation"],
                max_length=32, head_mask="@GENE$", tail_mask="@DISEASE$")
MARKED = GAD.model_copy(update={"head_mask": None, "tail_mask": None})  # [E1] name [/E1] markers
CARDS = {
    "relation": GAD,
    "ner": ModelCard(task="ncbi-disease", family="ner", multi_label=False, labels=["O", "B-Disease", "I-Disease"],
                     max_length=16),
    "classification": ModelCard(task="hoc", family="classification", multi_label=True, labels=["a", "b"],
                                max_length=16),
    "pair": ModelCard(task="mediqa-rqe", family="pair", multi_label=False, labels=["x", "y"], max_length=16),
}


@pytest.mark.parametrize("item, reason", [
    (Item(text="Smokers who met the criteria had lung cancer.", head="MET", tail="lung cancer"),
     "inputs[1]: relation head 'MET' does not occur in the text 'Smokers who met the criteria had lung cancer.'"),
    (Item(text="BRCA1 carriers", head="BRCA1", tail="breast cancer"), "relation tail 'breast cancer' does not occur"),
    (Item(text="MET syndrome", head="MET", tail="MET syndrome"), "relation head 'MET' occurs only inside the other"),
    (Item(text="BRCA1 and breast cancer", head="BRCA1"),
     "inputs[1] has a head but no tail; a relation input takes both names, or neither"),
    (Item(text="BRCA1 and breast cancer", tail="breast cancer"), "inputs[1] has a tail but no head"),
    (Item(text="BRCA1 and breast cancer", head=" ", tail="breast cancer"), "inputs[1].head is empty"),
    (Item(text="BRCA1 and breast cancer"), "inputs[1].text lacks @GENE$ and @DISEASE$; send the text with the "
                                           "entities marked @GENE$ and @DISEASE$, or their names as head and tail"),
    (Item(text="@GENE$ and breast cancer"), "inputs[1].text lacks @DISEASE$;"),
])
def test_a_relation_input_the_model_cannot_be_given_is_refused_with_the_reason(item, reason):
    assert reason in relation_item_problem(item, GAD, 1)
    answer = request_problem([Item(text="@GENE$ in @DISEASE$"), item], GAD, LIMITS)
    assert answer.status_code == 422 and reason in answer.detail


def test_relation_inputs_the_model_can_be_given_pass():
    for item in (Item(text="MET amplification in Lung Cancers.", head="MET", tail="lung cancer"),
                 Item(text="@GENE$ variants in @DISEASE$."),
                 Item(text="@GENE$ variants in lung cancer.", head="MET", tail="lung cancer")):  # a mask counts
        assert relation_item_problem(item, GAD, 0) is None
    assert relation_item_problem(Item(text="[E1] MET [/E1] in [E2] gout [/E2]"), MARKED, 0) is None
    assert "lacks [E1] and [E2]" in relation_item_problem(Item(text="MET in gout"), MARKED, 0)
    assert request_problem([Item(text="@GENE$ in @DISEASE$")] * 4, GAD, LIMITS) is None
    assert request_problem([Item(text="@GENE$ in @DISEASE$")] * 5, GAD, LIMITS).status_code == 413


def test_a_prediction_that_fails_on_its_own_content_is_a_422_and_any_other_failure_a_500():
    refused = DataFormatError("relation head 'MET' does not occur in the text 'met'")
    assert (failure_answer(refused).status_code, failure_answer(refused).detail) == (
        422, "prediction failed: DataFormatError: relation head 'MET' does not occur in the text 'met'")
    assert failure_answer(RuntimeError("CUDA error")).status_code == 500
    assert failure_answer(ConfigError("predict_texts serves classification models")).status_code == 500


class Refusing:
    """A relation predictor that marks its inputs as serving does, so it refuses a name the text lacks."""

    card = GAD

    def predict_relations(self, items):
        from clingen.training.labels import encode_relation_text
        return [{"label": encode_relation_text(text, head, tail, self.card)} for text, head, tail in items]


def test_a_refused_input_in_a_batch_fails_only_its_own_request_with_a_422():
    requests = [("gad", [Item(text="MET in gout", head="MET", tail="gout")]),
                ("gad", [Item(text="met in gout", head="MET", tail="gout")])]
    results = predict_requests({"gad": Refusing()}, requests)
    assert results[0] == [{"label": "@GENE$ in @DISEASE$"}]
    assert failure_answer(results[1]).status_code == 422


@lru_cache(maxsize=None)
def predictor(family: str):
    """A Predictor over the offline MiniLM's real WordPiece tokenizer and a model that scores every label alike
    (no weights to load): the tokenizer and the marking are what odd inputs could break."""
    torch = pytest.importorskip("torch")
    from transformers import AutoTokenizer

    from clingen.quality.embed import resolve_embedding_encoder
    from clingen.training.predict import Predictor
    card = CARDS[family]

    class Even(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.config = SimpleNamespace(num_labels=len(card.labels))

        def forward(self, input_ids, attention_mask=None, token_type_ids=None):
            shape = (*input_ids.shape, len(card.labels)) if family == "ner" else (input_ids.shape[0], len(card.labels))
            return SimpleNamespace(logits=torch.zeros(shape))

    tokenizer = AutoTokenizer.from_pretrained(resolve_embedding_encoder("embedded:minilm-l6"))
    return Predictor(Even(), tokenizer, card)


ODD_TEXT = st.text(st.one_of(st.characters(), st.sampled_from(list("MET met @GENE$ @DISEASE$ [E1] \u0301\u200b"))),
                   max_size=60)


@st.composite
def items(draw, family: str) -> Item:
    """An input of the family, with odd text (any code point: surrogates, controls, combining marks, masks)
    and, for a relation, names drawn from the text, from elsewhere, blank or absent."""
    if family == "pair":
        return Item(text_a=draw(ODD_TEXT), text_b=draw(ODD_TEXT))
    text = draw(ODD_TEXT)
    if family != "relation":
        return Item(text=text)
    words = text.split() or [""]
    name = st.one_of(st.none(), st.sampled_from(words), ODD_TEXT, st.sampled_from(["MET", "met", " "]))
    return Item(text=text, head=draw(name), tail=draw(name))


@settings(max_examples=60)
@given(st.sampled_from(sorted(CARDS)).flatmap(lambda family: st.tuples(st.just(family),
                                                                       st.lists(items(family), min_size=1,
                                                                                max_size=3))))
def test_whatever_the_checks_let_through_is_predicted(case):
    family, inputs = case
    if request_problem(inputs, CARDS[family], LIMITS) is None:
        [predictions] = predict_requests({family: predictor(family)}, [(family, inputs)])
        assert not isinstance(predictions, Exception), (inputs, predictions)
        assert len(predictions) == len(inputs)
