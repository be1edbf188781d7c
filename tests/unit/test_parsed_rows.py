"""The parsed row: the one record the workers' parse stage writes and the driver reads, as Dataset columns."""

import json

import numpy as np
import pytest

from clingen._batches import rows_of
from clingen.generation.rows import PARSED_COLUMNS, ParsedRow

pytestmark = pytest.mark.unit

EXAMPLE = {"id": "ncbi-disease-00000007", "text": "Gout flares were frequent.", "reply_record": "{}"}
FAILURE = {"row_id": 7, "reason": "unknown_entity", "detail": "x", "raw": "", "step": 1, "reply_record": None}


def test_a_parsed_row_round_trips_through_the_dataset_columns():
    row = ParsedRow(row_id=7, prompt_tokens=120, completion_tokens=31, example=EXAMPLE, failures=[FAILURE],
                    dedup_signature=b"\x01\x02")
    columns = row.to_columns()
    assert tuple(columns) == PARSED_COLUMNS
    assert json.loads(columns["example"]) == EXAMPLE and json.loads(columns["failures"]) == [FAILURE]
    assert ParsedRow.from_columns(columns) == row


def test_a_row_read_back_from_a_ray_batch_has_plain_types():
    # Ray Data hands columns over as numpy arrays: the record is built from rows_of's plain values.
    columns = ParsedRow(row_id=3, prompt_tokens=5, completion_tokens=2, generation_error="timeout").to_columns()
    batch = {name: np.array([value], dtype=object if not isinstance(value, int) else np.int64)
             for name, value in columns.items()}
    [row] = rows_of(batch)
    parsed = ParsedRow.from_columns(row)
    assert parsed == ParsedRow(row_id=3, prompt_tokens=5, completion_tokens=2, generation_error="timeout")
    assert type(parsed.row_id) is int and parsed.failures == [] and parsed.example is None


def test_a_row_without_its_columns_names_the_missing_one():
    with pytest.raises(KeyError, match="prompt_tokens"):
        ParsedRow.from_columns({"row_id": 1, "completion_tokens": 0})
