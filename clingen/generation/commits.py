"""Shard commits of the generation job (generation -> datasets): the rows the driver kept, buffered as the
stream's JSON columns, turned into a shard's typed tables and written by OutputStore.commit, in this process
or in Ray tasks beside it.

The driver only deduplicates and counts; decoding the examples, building the Arrow tables, Parquet encoding
and the writes (35% of its time when it did them itself, benchmarks/driver_ceiling.py) run in a Ray task per
shard, so the single driver process does not cap a cluster of many generation nodes (docs/driver.md).
Each shard is still whole or absent (its marker is written last), so a run killed with commits in flight
resumes without duplicates or gaps: the rows of a shard whose marker was not written are generated again.
"""

from __future__ import annotations

import json
import os
from collections import deque
from dataclasses import dataclass, field

from clingen._imports import require
from clingen.runfolder import lock
from clingen.datasets.records import schema_for
from clingen.runfolder.store import OutputStore

# Commits in flight before the driver waits for the oldest: enough to overlap writing with streaming, few
# enough that a slow disk holds back the stream (bounded memory) instead of piling up shards in the object store.
MAX_COMMITS_IN_FLIGHT = 2


@dataclass
class ShardBuffer:
    """One shard's rows as the driver absorbed them: examples as JSON strings (one example each) and failures
    as JSON strings (a list of failure rows each), decoded only by commit_shard."""

    examples: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    # Rows without an example, by their first row-level reason, and mentions left out, by reason: with the
    # examples these add up to the rows (reasons.REASONS documents every name).
    rejected_rows: dict[str, int] = field(default_factory=dict)
    rejected_mentions: dict[str, int] = field(default_factory=dict)

    def decoded_examples(self) -> list[dict]:
        return [json.loads(example) for example in self.examples]

    def decoded_failures(self) -> list[dict]:
        return [failure for failures in self.failures for failure in json.loads(failures)]


def commit_shard(location: str, part: int, family: str, buffer: ShardBuffer, writer_pid: int | None = None) -> dict:
    """Write `buffer` as shard `part` of the store at `location` (an absolute local path or a URI); returns the
    shard's marker. Raises what OutputStore.commit raises (OSError for a full disk, ArrowInvalid for an example
    that does not fit the family's schema, WriterGone when `writer_pid`, the driver, was killed meanwhile)."""
    import pyarrow as pa
    store = OutputStore(location)
    table = pa.Table.from_pylist(buffer.decoded_examples(), schema=schema_for(family))
    return store.commit(part, table, buffer.decoded_failures(), buffer.rows, buffer.prompt_tokens,
                        buffer.completion_tokens, buffer.rejected_rows, buffer.rejected_mentions, writer_pid)


def _ready() -> bool:
    return True


class InlineCommits:
    """Commits in the calling process, one at a time (no Ray: the benchmarks' baseline and the unit tests)."""

    def __init__(self, store: OutputStore, family: str):
        self.location, self.family = store.location, family

    def submit(self, part: int, buffer: ShardBuffer) -> None:
        if buffer.rows or buffer.failures:
            commit_shard(self.location, part, self.family, buffer)

    def wait(self) -> None:
        """Every submitted commit is written (here: already)."""


class RayCommits:
    """Commits as Ray tasks, at most MAX_COMMITS_IN_FLIGHT at once. A local store's tasks run on the driver's
    node (the folder is on its disk); an object store's anywhere. The tasks hold no CPU: they mostly wait on
    the disk, and a stream that fills a small head exactly (2.0 of 2 CPUs for NER) must not wait for them."""

    def __init__(self, store: OutputStore, family: str):
        self.ray = require("ray")
        self.location, self.family, self.is_local = store.location, family, store.is_local
        options: dict = {"num_cpus": 0, "max_retries": 0}  # a failed write fails the run, named, not silently
        if store.is_local:
            from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy
            node = self.ray.get_runtime_context().get_node_id()
            options["scheduling_strategy"] = NodeAffinitySchedulingStrategy(node_id=node, soft=False)
        self._task = self.ray.remote(commit_shard).options(**options)
        # A worker process started and this module imported while the stream starts, not at the first commit
        # (about 3 s on the 2-core machine, benchmarks/pipeline_overhead.py's start-up to the first shard).
        self._pending: deque = deque([self.ray.remote(_ready).options(**options).remote()])

    def submit(self, part: int, buffer: ShardBuffer) -> None:
        if not (buffer.rows or buffer.failures):
            return
        while len(self._pending) >= MAX_COMMITS_IN_FLIGHT:
            self._get_oldest()
        # The driver's pid, when it holds the folder's writer lock: a commit still running when the driver is killed
        # must not land (lock.writer_gone).
        writer = os.getpid() if self.is_local and lock.holds_writer_lock(self.location) else None
        self._pending.append(self._task.remote(self.location, part, self.family, buffer, writer))

    def wait(self) -> None:
        """Block until every submitted commit is written; raises the first commit's error (ray.get's
        RayTaskError wraps it)."""
        while self._pending:
            self._get_oldest()

    def _get_oldest(self) -> None:
        """The oldest pending commit's result. When it failed, the others are awaited too (their errors are the
        same cause, e.g. a full disk), so that Ray prints none of them as an unhandled error beside the one line
        the run ends with."""
        try:
            self.ray.get(self._pending.popleft())
        except Exception:
            for ref in self._pending:
                try:
                    self.ray.get(ref)
                except Exception:  # noqa: BLE001 - the first failure is the one reported
                    pass
            self._pending.clear()
            raise
