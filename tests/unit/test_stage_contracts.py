"""Every stage of the generation stream checks the batch it receives: a missing column is one error naming the
stage and the column, and the column names come from the typed rows."""

import json

import pyarrow as pa
import pytest

from clingen.config import load_config
from clingen.generation.contracts import COMPOSE, GENERATE, PARSE, SECOND_STEP, StageInputError
from clingen.generation.rows import PARSED_COLUMNS, REPLY_COLUMNS
from clingen.parsing.checker import CONTEXT_FIELDS
from clingen.prompts.compose import PROMPT_COLUMNS

pytestmark = pytest.mark.unit


def config(*overrides):
    return load_config(None, ["task=ncbi-disease", *overrides])


def test_each_stage_needs_what_the_stage_before_it_adds():
    assert set(COMPOSE.adds) >= set(GENERATE.requires)
    assert set(COMPOSE.adds) | set(GENERATE.adds) >= set(PARSE.requires)
    assert set(CONTEXT_FIELDS) <= set(PROMPT_COLUMNS) and set(SECOND_STEP.requires) == {*PROMPT_COLUMNS,
                                                                                       *PARSED_COLUMNS}
    assert set(GENERATE.adds) == set(REPLY_COLUMNS)


@pytest.mark.parametrize("batch", [{"row_id": [1], "prompt": [[]]}, pa.table({"row_id": [1], "prompt": ["x"]})])
def test_a_batch_without_a_required_column_is_one_error_naming_stage_and_column(batch):
    with pytest.raises(StageInputError, match=r"^stage generator received a batch without column\(s\) messages; "
                                              r"it needs row_id, messages and got prompt, row_id$"):
        GENERATE.check(batch)


def test_the_compose_stage_refuses_a_batch_without_row_ids():
    import numpy as np

    from clingen.generation.stages import ComposePrompts, StageInputs
    stage = ComposePrompts(inputs=StageInputs.for_config(config()), done_rows=np.array([], dtype=np.int64))
    assert len(stage({"id": np.array([0, 1])})["row_id"]) == 2
    with pytest.raises(StageInputError, match="stage ComposePrompts received a batch without column.s. id;"):
        stage({"row": np.array([0, 1])})


def test_the_parse_stage_refuses_replies_without_their_text_or_prompt_context():
    import numpy as np

    from clingen.generation.stages import ComposePrompts, ParseReplies, StageInputs
    prompts = ComposePrompts(inputs=StageInputs.for_config(config()), done_rows=np.array([], dtype=np.int64))({"id": np.array([0])})
    replies = {**prompts, "generated_text": [json.dumps({"sentence": "Asthma was seen.", "entities": ["Asthma"]})],
               "finish_reason": ["stop"], "num_input_tokens": [10], "num_generated_tokens": [8],
               "__inference_error__": [None]}
    stage = ParseReplies(inputs=StageInputs.for_config(config(), "stub"))
    assert stage(replies)["row_id"] == [0]
    with pytest.raises(StageInputError, match="stage ParseReplies received a batch without column.s. generated_text;"):
        stage({k: v for k, v in replies.items() if k != "generated_text"})
    with pytest.raises(StageInputError, match="without column.s. label, topic;"):
        stage({k: v for k, v in replies.items() if k not in ("label", "topic")})


def test_stage_actors_are_built_from_what_the_driver_read_not_from_the_files_again(tmp_path):
    """A user task's YAML and its few-shot file live on the driver's machine; the stage actors (on any node)
    get the spec and the demonstration pool themselves."""
    import pickle
    import shutil
    from pathlib import Path

    import yaml

    import numpy as np

    from clingen.generation.stages import ComposePrompts, StageInputs
    from clingen.tasks.registry import get_task
    task_file, fewshot = tmp_path / "task.yaml", tmp_path / "fewshot.jsonl"
    spec = get_task("ncbi-disease").model_dump(mode="json", exclude_none=True)
    task_file.write_text(yaml.safe_dump([{**spec, "name": "my-disease"}]))
    shutil.copy(Path(__file__).resolve().parents[2] / "clingen/tasks/demos/ncbi-disease.jsonl", fewshot)
    user = load_config(None, ["task=my-disease", f"task_file={task_file}", f"prompts.fewshot_path={fewshot}",
                              "prompts.n_demos=1"])
    inputs = pickle.loads(pickle.dumps(StageInputs.for_config(user, "m")))  # as Ray ships it to an actor
    pool = {demo.id for demo in inputs.demo_pool}
    assert inputs.spec.name == "my-disease" and pool
    task_file.unlink()
    fewshot.unlink()
    rows = ComposePrompts(inputs=inputs, done_rows=np.array([], dtype=np.int64))({"id": np.arange(2)})
    assert rows["row_id"] == [0, 1] and rows["task"] == ["my-disease"] * 2
    assert len(rows["demo_ids"][0]) == 1 and set(rows["demo_ids"][0]) <= pool
