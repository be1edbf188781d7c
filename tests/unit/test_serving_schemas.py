import pytest
from pydantic import ValidationError

from clingen.serving.schemas import Item, PredictRequest, ServingLimits, check_item
from clingen.training.card import ModelCard

pytestmark = pytest.mark.unit
LIMITS = ServingLimits(max_inputs=4, max_chars=20)


def test_items_fit_their_family():
    assert check_item(Item(text="asthma"), "ner", LIMITS, 0) is None
    assert check_item(Item(text="@GENE$ and @DISEASE$", head=None), "relation", LIMITS, 0) is None
    assert check_item(Item(text="BRCA1 and cancer", head="BRCA1", tail="cancer"), "relation", LIMITS, 0) is None
    assert check_item(Item(text_a="a?", text_b="b?"), "pair", LIMITS, 2) is None
    assert check_item(Item(text="a"), "pair", LIMITS, 2) == "inputs[2].text_a is required for a pair model"
    assert check_item(Item(text="a", head="x"), "classification", LIMITS, 0) == (
        "inputs[0] has ['head'], which a classification model does not take")
    assert check_item(Item(text=" "), "ner", LIMITS, 1) == "inputs[1].text is empty"
    assert check_item(Item(text="x" * 21), "ner", LIMITS, 0) == "inputs[0].text has 21 characters; the limit is 20"


def test_request_shape_is_validated():
    with pytest.raises(ValidationError, match="at least 1 item"):
        PredictRequest(inputs=[])
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        PredictRequest.model_validate({"inputs": [{"txt": "a"}]})


def test_text_that_cannot_be_encoded_is_refused_with_where_it_is():
    assert check_item(Item(text="asthma \ud800"), "ner", LIMITS, 3) == (
        "inputs[3].text has a lone surrogate U+D800 at character 7; send UTF-8 text")
    assert check_item(Item(text="gout\x00"), "classification", LIMITS, 0) == (
        "inputs[0].text has a control character U+0000 at character 4; send UTF-8 text")
    assert check_item(Item(text="BRCA1 and cancer", head="BRCA1\udc80", tail="cancer"), "relation", LIMITS, 0) == (
        "inputs[0].head has a lone surrogate U+DC80 at character 5; send UTF-8 text")
    assert check_item(Item(text="asthma\tand\ncough"), "ner", LIMITS, 0) is None


class FailingOn:
    """A predictor with the classifier interface that fails any model call containing `bad`."""

    card = ModelCard(task="upper", family="classification", multi_label=False, labels=["A", "B"], max_length=8)

    def __init__(self, bad: str):
        self.bad = bad

    def predict_texts(self, texts: list[str]) -> list[dict]:
        if self.bad in texts:
            raise RuntimeError(f"cannot label {self.bad!r}")
        return [{"label": text.upper()} for text in texts]


def test_an_error_in_a_batch_fails_only_the_request_that_caused_it():
    from clingen.serving.classifier_app import predict_requests
    predictors = {"m": FailingOn("boom"), "n": FailingOn("never")}
    requests = [("m", [Item(text="a"), Item(text="b")]), ("n", [Item(text="c")]), ("m", [Item(text="boom")]),
                ("m", [Item(text="d")])]
    results = predict_requests(predictors, requests)
    assert results[0] == [{"label": "A"}, {"label": "B"}]
    assert results[1] == [{"label": "C"}]
    assert isinstance(results[2], RuntimeError) and "cannot label 'boom'" in str(results[2])
    assert results[3] == [{"label": "D"}]
    assert predict_requests(predictors, requests[:2]) == [[{"label": "A"}, {"label": "B"}], [{"label": "C"}]]
