"""Tokens per run: cost at the configured prices per million tokens and examples per thousand tokens
(clingen/runfolder/usage.py), in the summary line, the JSON summary and the dataset card of a generation folder."""

from __future__ import annotations

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from clingen.cli.generate import summary_json, summary_line
from clingen.config import load_config
from clingen.datasets.records import schema_for
from clingen.generation.job import RunCounters
from clingen.runfolder.manifest import build_manifest
from clingen.runfolder.store import OutputStore
from clingen.runfolder.usage import manifest_usage, run_usage
from clingen.tasks.registry import get_task

pytestmark = pytest.mark.unit

prices = st.none() | st.floats(0, 100, allow_nan=False)


@given(st.integers(0, 10**10), st.integers(0, 10**10), st.integers(0, 10**6), prices, prices)
def test_cost_and_examples_per_thousand_tokens(prompt, completion, examples, price_in, price_out):
    usage = run_usage(prompt, completion, examples, price_in, price_out)
    if price_in is None and price_out is None:
        assert usage.cost is None and "cost" not in usage.text()
    else:
        assert usage.cost == pytest.approx(prompt / 1e6 * (price_in or 0) + completion / 1e6 * (price_out or 0))
    if prompt + completion:
        assert usage.examples_per_1k_tokens == pytest.approx(1000 * examples / (prompt + completion))
    else:
        assert usage.examples_per_1k_tokens is None and "examples per" not in usage.text()


def test_the_usage_text_reads_as_a_sentence():
    usage = run_usage(1_200_000, 300_000, 450, price_in_per_million=0.15, price_out_per_million=0.6)
    assert usage.text() == "tokens 1,200,000 in / 300,000 out, cost 0.36, 0.3 examples per 1,000 tokens"


def generated(tmp_path, *overrides):
    spec = get_task("ncbi-disease")
    out = str(tmp_path / "run")
    store = OutputStore(out)
    row = {"task": "ncbi-disease", "row_id": 0, "id": "ncbi-disease-0", "topic": "gout", "style": "a case report",
           "prompt_label": None, "strategy": "clingen-kg", "demo_ids": [], "model": "m", "reply_record": None,
           "text": "Gout flared .", "tokens": ["Gout", "flared", "."], "tags": ["B-Disease", "O", "O"],
           "spans": [{"start": 0, "end": 4, "type": "Disease", "text": "Gout"}]}
    store.commit(0, pa.Table.from_pylist([row], schema=schema_for("ner")), [], [0, 1], 40_000, 10_000, {}, {})
    config = load_config(overrides=["task=ncbi-disease", f"generation.out={out}", "generation.n=2", *overrides])
    run = RunCounters(rows=2, examples=1, prompt_tokens=40_000, completion_tokens=10_000)
    return store, spec, build_manifest(config, spec, store.scan(), run, "m", 4.0, None)


def test_the_summary_line_json_and_card_give_the_cost_at_the_configured_prices(tmp_path):
    from clingen.runfolder.card import write_card
    store, spec, manifest = generated(tmp_path, "generator.price_in_per_million=2.5",
                                      "generator.price_out_per_million=10")
    expected = "tokens 40,000 in / 10,000 out, cost 0.2, 0.02 examples per 1,000 tokens"
    assert summary_line(manifest).endswith(expected)
    report = type("Report", (), {"manifest": manifest, "out": str(tmp_path / "run"),
                                 "manifest_path": "manifest.json", "set_aside": []})()
    assert summary_json(report)["usage"] == {"prompt_tokens": 40_000, "completion_tokens": 10_000, "examples": 1,
                                             "cost": pytest.approx(0.2), "examples_per_1k_tokens": 0.02}
    write_card(store, manifest, spec)
    assert f"Generator usage: {expected}." in (tmp_path / "run" / "README.md").read_text()


def test_without_prices_no_cost_is_shown(tmp_path):
    _, _, manifest = generated(tmp_path)
    assert manifest_usage(manifest).cost is None
    assert summary_line(manifest).endswith("tokens 40,000 in / 10,000 out, 0.02 examples per 1,000 tokens")
