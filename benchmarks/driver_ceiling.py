"""Benchmark: the ceiling of the generation driver, the single process that deduplicates every row and hands
shards to the committer (`generation.job._absorb`, the code `_drain` runs), without Ray, against the driver of
ClinGen 0.2 at 6d360f2 (every row's JSON decoded, the exact-match digest computed and every shard encoded and
written in the driver), kept here as the baseline. Rows are composed and parsed in this process by the stream's
own stage classes (ComposePrompts, ParseReplies) from instant, valid NER replies, then fed to the driver code and
timed alone. Also the parse stage's rate and the shard commit's (both run on Ray workers, so they scale with
them) and the deduplicator's memory per million rows (tracemalloc).

    python benchmarks/driver_ceiling.py [--n 20000] [--shard-rows 1000] [--json]

Saturation: one 8-GPU node with a 7B model writes ~150-700 examples/s (issue #17), so the driver saturates at
(driver rows/s reading from a Ray Dataset) / (rows/s per node) nodes; the figures are printed for both ends.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
import tracemalloc

import numpy as np
import pyarrow as pa

from pipeline_overhead import _TOPIC, _WORDS  # the same instant replies as the stub endpoint
from clingen.config import load_config
from clingen.datasets.records import schema_for
from clingen.generation.commits import InlineCommits, ShardBuffer
from clingen.generation.job import RunCounters, _absorb
from clingen.generation.rows import ParsedRow
from clingen.generation.stages import ComposePrompts, ParseReplies, StageInputs
from clingen.parsing.checker import text_of
from clingen.parsing.dedup import Deduplicator
from clingen.runfolder.store import OutputStore
from clingen.tasks.registry import get_task

NODE_ROWS_PER_S = (150, 700)


def parsed_rows(config, n: int) -> tuple[list[dict], float]:
    """n parsed stream rows (what the driver receives) and the parse stage's rows/s in this process."""
    prompts = ComposePrompts(inputs=StageInputs.for_config(config), done_rows=np.array([], dtype=np.int64))({"id": np.arange(n)})
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
    parse = ParseReplies(inputs=StageInputs.for_config(config, "stub"))
    started = time.perf_counter()
    out = parse(replies)
    parse_s = time.perf_counter() - started
    rows = [dict(zip(out, values)) for values in zip(*out.values())]
    return rows, n / parse_s


def driver_rate(spec, rows: list[dict], shard_rows: int, commit_here: bool) -> dict:
    """rows/s of today's driver over `rows`; `commit_here`: it also writes each shard itself (InlineCommits)
    instead of handing it to a Ray task (what `clingen generate` does), and how long the commits took."""
    with tempfile.TemporaryDirectory() as folder:
        store, dedup, run = OutputStore(folder), Deduplicator(), RunCounters()
        commits, buffer, part, commit_s = InlineCommits(store, spec.family), ShardBuffer(), 0, 0.0
        started = time.perf_counter()
        for row in rows:
            _absorb(row, dedup, buffer, run)
            if len(buffer.rows) >= shard_rows:
                if commit_here:
                    commit_started = time.perf_counter()
                    commits.submit(part, buffer)
                    commit_s += time.perf_counter() - commit_started
                part, buffer = part + 1, ShardBuffer()
        total_s = time.perf_counter() - started
    return {"rows_per_s": len(rows) / total_s, "commit_rows_per_s": len(rows) / commit_s if commit_s else None,
            "commit_share": commit_s / total_s, "examples": run.examples}


def stream_driver_rate(rows: list[dict], shard_rows: int) -> float:
    """rows/s of today's driver reading the rows from a materialised Ray Dataset with `iter_rows`, as `_drain`
    does (the rows' conversion from Arrow blocks is the driver's work too), shards handed to nobody."""
    import ray
    ray.init(address="local", num_cpus=2, log_to_driver=False, include_dashboard=False)  # never a cluster found here
    try:
        dataset = ray.data.from_arrow(pa.Table.from_pylist(rows)).repartition(max(1, len(rows) // 512)).materialize()
        dedup, run, buffer = Deduplicator(), RunCounters(), ShardBuffer()
        started = time.perf_counter()
        for row in dataset.iter_rows():
            _absorb(row, dedup, buffer, run)
            if len(buffer.rows) >= shard_rows:
                buffer = ShardBuffer()
        return len(rows) / (time.perf_counter() - started)
    finally:
        ray.shutdown()


def previous_driver_rate(spec, rows: list[dict], shard_rows: int) -> float:
    """rows/s of the driver at 6d360f2 (ClinGen 0.2), the baseline: each row decoded whole, the exact-match
    digest computed from the text, and every shard's table built, encoded and written in the driver."""
    with tempfile.TemporaryDirectory() as folder:
        store, dedup = OutputStore(folder), Deduplicator()
        examples, failures, done, part = [], [], [], 0
        started = time.perf_counter()
        for row in rows:
            parsed = ParsedRow.from_columns(row)
            failures.extend(parsed.failures)
            done.append(parsed.row_id)
            if parsed.example is not None and dedup.check(parsed.example["id"], text_of(parsed.example),
                                                          parsed.dedup_signature) is None:
                examples.append(parsed.example)
            if len(done) >= shard_rows:
                table = pa.Table.from_pylist(examples, schema=schema_for(spec.family))
                store.commit(part, table, failures, done, 0, 0)
                examples, failures, done, part = [], [], [], part + 1
        return len(rows) / (time.perf_counter() - started)


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
    before = previous_driver_rate(spec, rows, args.shard_rows)
    inline = driver_rate(spec, rows, args.shard_rows, commit_here=True)
    driver = driver_rate(spec, rows, args.shard_rows, commit_here=False)
    streamed = stream_driver_rate(rows, args.shard_rows)
    per_row = dedup_memory(rows, config.generation.dedup_threshold)
    result = {"n": args.n, "examples": driver["examples"], "parse_rows_per_s_per_worker": round(parse_rate, 1),
              "driver_rows_per_s": round(driver["rows_per_s"], 1),
              "driver_rows_per_s_from_ray_dataset": round(streamed, 1),
              "driver_rows_per_s_committing_itself": round(inline["rows_per_s"], 1),
              "commit_rows_per_s_per_task": round(inline["commit_rows_per_s"], 1),
              "previous_driver_rows_per_s": round(before, 1),
              "speedup_vs_previous_driver": round(driver["rows_per_s"] / before, 2),
              "dedup_mib_per_million_rows": round(per_row * 1e6 / 2**20, 1),
              "saturating_nodes": [round(streamed / rate, 1) for rate in NODE_ROWS_PER_S]}
    print(f"{args.n} rows ({result['examples']} examples): driver {result['driver_rows_per_s']} rows/s with the "
          f"shards written by Ray tasks, {result['driver_rows_per_s_from_ray_dataset']} reading them from a Ray "
          f"Dataset ({result['driver_rows_per_s_committing_itself']} if it wrote them itself; "
          f"{result['speedup_vs_previous_driver']}x the {result['previous_driver_rows_per_s']} rows/s of the 6d360f2 "
          f"driver); commits {result['commit_rows_per_s_per_task']} rows/s per task; parse stage "
          f"{result['parse_rows_per_s_per_worker']} rows/s per worker; dedup "
          f"{result['dedup_mib_per_million_rows']} MiB per million rows; the driver saturates at "
          f"{result['saturating_nodes'][1]}-{result['saturating_nodes'][0]} 8-GPU nodes "
          f"({NODE_ROWS_PER_S[1]}-{NODE_ROWS_PER_S[0]} rows/s each)")
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
