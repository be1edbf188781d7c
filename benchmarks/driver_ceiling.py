"""Benchmark: the ceiling of the generation driver, the single process that deduplicates every row and commits
the shards (`generation.job._absorb` / `_commit`, the code `_drain` runs), without Ray, against the same
driver computing each example's MinHash signature itself instead of taking the parse stage's: rows are composed
and parsed in this process by the stream's own stage classes (ComposePrompts, ParseReplies) from instant,
valid NER replies, then fed to the driver code and timed alone. Also the parse stage's rate (it runs on Ray Data
workers, so it scales with them) and the deduplicator's memory per million rows (tracemalloc).

    python benchmarks/driver_ceiling.py [--n 20000] [--shard-rows 1000] [--json]

Saturation: one 8-GPU node with a 7B model writes ~150-700 examples/s (issue #17), so the driver saturates at
(driver rows/s) / (rows/s per node) nodes; the figures are printed for both ends.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
import tracemalloc

import numpy as np

from pipeline_overhead import _TOPIC, _WORDS  # the same instant replies as the stub endpoint
from clingen.config import load_config
from clingen.generation.job import RunCounters, _absorb, _commit, _ShardBuffer
from clingen.generation.stages import ComposePrompts, ParseReplies
from clingen.generation.store import OutputStore
from clingen.parsing.dedup import Deduplicator
from clingen.tasks.registry import get_task

NODE_ROWS_PER_S = (150, 700)


def parsed_rows(config, n: int) -> tuple[list[dict], float]:
    """n parsed stream rows (what the driver receives) and the parse stage's rows/s in this process."""
    prompts = ComposePrompts(config.model_dump_json(), np.array([], dtype=np.int64))({"id": np.arange(n)})
    replies = dict(prompts)
    texts = []
    for row_id, messages in zip(prompts["row_id"], prompts["messages"]):
        match = _TOPIC.search(messages[-1]["content"])
        topic = match.group(1) if match else "asthma"
        filler = " ".join(random.Random(row_id).sample(_WORDS, 12))
        texts.append(json.dumps({"sentence": f"In this {filler} report, {topic} was confirmed in most patients.",
                                 "entities": [topic]}))
    replies.update(generated_text=texts, num_input_tokens=[100] * n, num_generated_tokens=[40] * n,
                   finish_reason=["stop"] * n, __inference_error__=[None] * n)
    parse = ParseReplies(config.model_dump_json(), "stub")
    started = time.perf_counter()
    out = parse(replies)
    parse_s = time.perf_counter() - started
    rows = [dict(zip(out, values)) for values in zip(*out.values())]
    return rows, n / parse_s


def driver_rate(config, spec, rows: list[dict], shard_rows: int) -> dict:
    """rows/s of the driver's per-row work with and without shard commits, and the examples kept."""
    with tempfile.TemporaryDirectory() as folder:
        store, dedup, run = OutputStore(folder), Deduplicator(config.generation.dedup_threshold), RunCounters()
        buffer, part, commit_s = _ShardBuffer(), 0, 0.0
        started = time.perf_counter()
        for row in rows:
            _absorb(row, spec, dedup, buffer, run)
            if len(buffer.rows) >= shard_rows:
                commit_started = time.perf_counter()
                _commit(store, part, buffer, spec)
                commit_s += time.perf_counter() - commit_started
                part, buffer = part + 1, _ShardBuffer()
        _commit(store, part, buffer, spec)
        total_s = time.perf_counter() - started
    return {"rows_per_s": len(rows) / total_s, "absorb_rows_per_s": len(rows) / max(total_s - commit_s, 1e-9),
            "commit_share": commit_s / total_s, "examples": run.examples}


def dedup_memory(rows: list[dict], threshold: float) -> float:
    """Bytes the deduplicator holds per remembered text (tracemalloc, after all rows)."""
    texts = [json.loads(row["example"])["text"] for row in rows if row.get("example")]
    tracemalloc.start()
    dedup = Deduplicator(threshold)
    for index, text in enumerate(texts):
        dedup.check(f"e{index}", text)
    held, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return held / max(len(dedup), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20000, help="rows")
    parser.add_argument("--shard-rows", type=int, default=1000, help="generation.shard_rows")
    parser.add_argument("--json", action="store_true", help="end with one JSON line of the results")
    args = parser.parse_args()
    config = load_config(overrides=["task=ncbi-disease", f"generation.n={args.n}"])
    spec = get_task(config.task)
    rows, parse_rate = parsed_rows(config, args.n)
    driver = driver_rate(config, spec, rows, args.shard_rows)
    # The same rows without the workers' MinHash signatures: the driver computes them itself (ClinGen <= 0.2's
    # driver did), the baseline of this run.
    baseline = driver_rate(config, spec, [{**row, "dedup_signature": None} for row in rows], args.shard_rows)
    per_row = dedup_memory(rows, config.generation.dedup_threshold)
    result = {"n": args.n, "examples": driver["examples"], "parse_rows_per_s_per_worker": round(parse_rate, 1),
              "driver_rows_per_s": round(driver["rows_per_s"], 1),
              "driver_rows_per_s_without_commits": round(driver["absorb_rows_per_s"], 1),
              "commit_share": round(driver["commit_share"], 3),
              "driver_rows_per_s_minhash_on_driver": round(baseline["rows_per_s"], 1),
              "speedup_vs_minhash_on_driver": round(driver["rows_per_s"] / baseline["rows_per_s"], 2),
              "dedup_mib_per_million_rows": round(per_row * 1e6 / 2**20, 1),
              "saturating_nodes": [round(driver["rows_per_s"] / rate, 1) for rate in NODE_ROWS_PER_S]}
    print(f"{args.n} rows ({result['examples']} examples): driver {result['driver_rows_per_s']} rows/s "
          f"({result['driver_rows_per_s_without_commits']} without commits; commits {result['commit_share']:.1%} of "
          f"its time; {result['speedup_vs_minhash_on_driver']}x the "
          f"{result['driver_rows_per_s_minhash_on_driver']} rows/s of a driver that computes the MinHash itself); "
          f"parse stage {result['parse_rows_per_s_per_worker']} rows/s per worker; dedup "
          f"{result['dedup_mib_per_million_rows']} MiB per million rows; the driver saturates at "
          f"{result['saturating_nodes'][1]}-{result['saturating_nodes'][0]} 8-GPU nodes "
          f"({NODE_ROWS_PER_S[1]}-{NODE_ROWS_PER_S[0]} rows/s each)")
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
