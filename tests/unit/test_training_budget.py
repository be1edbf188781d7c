"""The synthetic stage's fixed step budget (training.total_steps): the plan, and the steps each pass may take."""

import pytest

from clingen.errors import ConfigError
from clingen.training.run import MIN_STEPS_PER_PASS, synthetic_stage_plan
from clingen.training.trainer import _step_limit

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("examples, expected", [
    # (repeats, steps per pass, planned passes): a small set is repeated until a pass holds 50 steps ...
    (13, (124, 51, 6)), (1000, (2, 63, 5)),
    # ... a large one is not, and the budget may end inside a pass.
    (5000, (1, 157, 2)),
])
def test_the_plan_of_a_fixed_budget(examples, expected):
    plan = synthetic_stage_plan(examples, epochs=3, total_steps=300, batch_size=16, num_workers=2)
    assert (plan["repeats"], plan["steps_per_pass"], plan["epochs"]) == expected
    assert plan["total_steps"] == 300 and plan["steps_per_pass"] * plan["epochs"] >= 300
    assert MIN_STEPS_PER_PASS == 50


def test_without_a_budget_the_stage_runs_its_epochs():
    assert synthetic_stage_plan(100, 3, None, 16, 2) == {"dataset": "synthetic", "epochs": 3, "repeats": 1}


def test_a_set_smaller_than_the_workers_is_refused():
    with pytest.raises(ConfigError, match="the synthetic set has 1 example"):
        synthetic_stage_plan(1, 3, 300, 16, 2)


def test_step_limits():
    budget = {"dataset": "synthetic", "epochs": 5, "total_steps": 300}
    assert _step_limit(budget, 0, max_steps=40) == 300  # the budget, not the per-epoch cap
    assert _step_limit(budget, 252, max_steps=40) == 48 and _step_limit(budget, 300, None) == 0
    assert _step_limit({"dataset": "fewshot", "epochs": 5}, 0, max_steps=40) == 40
    assert _step_limit({"dataset": "fewshot", "epochs": 5}, 0, max_steps=None) is None
