"""Rounds toward an examples goal (generation.examples): each round asks for enough rows at the kept rate so far,
never fewer rows than are there, never more than the budget."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clingen.generation.rounds import FIRST_ROUND_KEPT_RATE, MARGIN, RoundsExhausted, next_round

pytestmark = pytest.mark.unit


def test_the_first_round_assumes_half_the_rows_are_kept():
    assert FIRST_ROUND_KEPT_RATE == 0.5
    assert next_round(200, 0, 0, 0, 4000).n == math.ceil(200 / 0.5 * MARGIN) == 460


def test_the_next_round_asks_for_what_is_missing_at_the_measured_rate():
    plan = next_round(200, 460, 460, 150, 4000)  # 150 of 460 kept: 50 more at 32.6%
    assert plan.n == 460 + math.ceil(50 / (150 / 460) * MARGIN) and "32.6% (150 of 460 rows)" in plan.reason


def test_rows_that_failed_in_the_generator_are_asked_again_before_new_ones():
    assert next_round(10, 110, 90, 9, 4000).n == 110  # 20 rows pending cover the 1 missing example at 10%


def test_a_met_goal_asks_for_nothing():
    assert next_round(200, 600, 600, 215, 4000).n is None


def test_nothing_kept_or_no_budget_left_stops_with_the_reason():
    with pytest.raises(RoundsExhausted, match="0 of 64 rows gave an example"):
        next_round(10, 64, 64, 0, 1000)
    with pytest.raises(RoundsExhausted, match=r"5 of 10 examples after 200 rows, the most generation.max_rows "
                                              r"allows \(200\)"):
        next_round(10, 200, 200, 5, 200)


@given(goal=st.integers(1, 10_000), asked=st.integers(0, 20_000), done_share=st.floats(0, 1),
       kept_share=st.floats(0.001, 1), budget=st.integers(1, 50_000))
def test_a_round_never_shrinks_never_passes_the_budget_and_covers_the_gap(goal, asked, done_share, kept_share,
                                                                            budget):
    rows = int(asked * done_share)
    examples = min(int(rows * kept_share), goal - 1) if rows else 0
    try:
        plan = next_round(goal, asked, rows, examples, budget)
    except RoundsExhausted:
        assert (rows and examples == 0) or asked >= budget
        return
    assert plan.n is not None and asked <= plan.n <= max(budget, asked)
    rate = examples / rows if rows else FIRST_ROUND_KEPT_RATE
    if plan.n < budget:  # uncapped: the pending and new rows, at the rate so far, give the missing examples
        assert (plan.n - rows) * rate >= (goal - examples) * MARGIN - 1e-6
