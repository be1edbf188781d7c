"""Generating to a number of kept examples (`generation.examples`, `clingen generate --examples N`): rows are
asked for in rounds, each sized from the kept rate measured so far, until N examples are kept.

Row i is a function of (dataset fingerprint, i) alone (config.dataset_fingerprint), so a round is the same
dataset grown to a larger `generation.n`: a killed run resumes, and a larger N grows the same rows, with no
duplicate and no gap. A rejected row is not asked again with another seed: the next round's new rows take its
place, drawn as every row is (topics, labels and styles by row index).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from clingen.errors import ClinGenError

# Before any row is done: the share of rows assumed kept, to size the first round (the README's NCBI run on
# the embedded SmolLM2 keeps about 36%; a 7B model on a GPU keeps most rows).
FIRST_ROUND_KEPT_RATE = 0.5
# Rounds ask for this much more than the measured rate says, so that the last round rarely falls short.
MARGIN = 1.15
# A round below this many rows measures the kept rate too roughly to size the next one.
MIN_ROUND_ROWS = 16


@dataclass(frozen=True)
class RoundPlan:
    """What the next round asks for: `n` rows in all (generation.n), or None when the goal is met."""

    n: int | None
    reason: str  # why: 'goal met', 'first round', 'kept rate 36.0% (72 of 200 rows)'


def next_round(goal: int, n_now: int, rows: int, examples: int, max_rows: int) -> RoundPlan:
    """The next round's generation.n for `goal` kept examples, when rows below `n_now` were asked for, `rows` of
    them are done (their outcome committed; the others failed in the generator and are asked again) and
    `examples` were kept. Raises RoundsExhausted when the goal needs more than `max_rows` rows, or nothing is
    kept at all."""
    if examples >= goal:
        return RoundPlan(None, "goal met")
    if rows == 0:
        rate, reason = FIRST_ROUND_KEPT_RATE, "first round"
    else:
        rate, reason = examples / rows, f"kept rate {examples / rows:.1%} ({examples} of {rows} rows)"
    if rate <= 0:
        raise RoundsExhausted(f"0 of {rows} rows gave an example, so no number of rows reaches {goal} examples; "
                              f"the summary and failures/ say why they were rejected")
    pending = max(n_now - rows, 0)  # retried in the next round as they are
    new = max(math.ceil((goal - examples) / rate * MARGIN) - pending, 0)
    if new and n_now >= max_rows:
        raise RoundsExhausted(f"{examples} of {goal} examples after {rows} rows, the most generation.max_rows "
                              f"allows ({max_rows}); raise it (--set generation.max_rows=...) and run the same "
                              f"command again to go on")
    # Never fewer than asked before (the rows there stay part of the dataset), never past the budget.
    n = max(n_now, min(n_now + (max(new, MIN_ROUND_ROWS) if new else 0), max_rows))
    return RoundPlan(n, reason)


class RoundsExhausted(ClinGenError):
    """The examples goal cannot be reached within the row budget (or at a kept rate of 0)."""
