"""Ray Data plumbing shared by the stages that run in workers: batches of columns to plain Python rows."""

from __future__ import annotations

import numpy as np


def rows_of(batch: dict) -> list[dict]:
    """The rows of a Ray Data batch (a dict of columns) as plain Python dicts."""
    names = list(batch)
    size = len(batch[names[0]]) if names else 0
    return [{name: plain(batch[name][i]) for name in names} for i in range(size)]


def plain(value):
    """numpy scalars and arrays (as Ray Data hands list columns over) back to Python values."""
    if isinstance(value, np.ndarray):
        return [plain(v) for v in value.tolist()] if value.dtype == object else value.tolist()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value != value:  # a pandas-format stage turns missing values into NaN
        return None
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value
