import pytest
from pydantic import ValidationError

from clingen.serving.schemas import Item, PredictRequest, ServingLimits, check_item

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
