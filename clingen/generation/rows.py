"""The row the generation stream hands the driver (parsing -> generation job): one parsed outcome per prompt row,
written by the ParseReplies stage in the workers and read by the driver that deduplicates and commits shards."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

# The columns every generator backend adds to a prompt row (vLLM's processor, the HTTP and Serve stages); a row
# whose request failed has `__inference_error__` (Ray Data LLM's name) and no text.
REPLY_COLUMNS = ("generated_text", "num_input_tokens", "num_generated_tokens", "finish_reason", "__inference_error__")

# The columns of a parsed row in the Ray Dataset. Families have different example schemas, so the example and
# its failures travel as JSON strings (Arrow needs one type per column); the driver builds the typed table.
PARSED_COLUMNS = ("row_id", "prompt_tokens", "completion_tokens", "example", "failures", "generation_error",
                  "sentence_a", "reply_record", "dedup_signature", "dedup_digest", "example_id", "failure_reasons")


@dataclass
class ParsedRow:
    """One prompt row's outcome: an example or failures (or both: mentions left out of a kept example), with the
    tokens its generator calls used (both steps of a pair task).

    - `example`: the example as a record row (datasets.records), None when the row gave none.
    - `failures`: failure rows (row_id, reason, detail, raw, step, reply_record), possibly empty.
    - `generation_error`: the generator's error, truncated; such a row is not done and is retried by the next run.
    - `sentence_a`: a pair task's first-step text (the second step's input), else None.
    - `reply_record`: a pair's first step that succeeded: the reply record (JSON) the second step extends.
    - `dedup_signature`: the example's MinHash signature (bytes), so the driver's duplicate check only looks
      it up.
    - `dedup_digest`: sha1 (20 bytes) of the example's normalised text (dedup.text_digest), its exact-match key.

    Two more columns are derived, so that the driver deduplicates and counts without decoding the JSON ones:
    `example_id` (the example's id) and `failure_reasons` (the failures' reasons in order, space-separated:
    reason names are single words, reasons.REASONS)."""

    row_id: int
    prompt_tokens: int = 0
    completion_tokens: int = 0
    example: dict[str, Any] | None = None
    failures: list[dict[str, Any]] = field(default_factory=list)
    generation_error: str | None = None
    sentence_a: str | None = None
    reply_record: str | None = None
    dedup_signature: bytes | None = None
    dedup_digest: bytes | None = None

    def to_columns(self) -> dict[str, Any]:
        """The row as the Dataset's column values (PARSED_COLUMNS): example and failures as JSON strings."""
        return {"row_id": self.row_id, "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens,
                "example": json.dumps(self.example) if self.example is not None else None,
                "failures": json.dumps(self.failures) if self.failures else None,
                "generation_error": self.generation_error, "sentence_a": self.sentence_a,
                "reply_record": self.reply_record, "dedup_signature": self.dedup_signature,
                "dedup_digest": self.dedup_digest,
                "example_id": self.example["id"] if self.example is not None else None,
                "failure_reasons": " ".join(failure["reason"] for failure in self.failures) or None}

    @classmethod
    def from_columns(cls, row: dict[str, Any]) -> ParsedRow:
        """The record from one Dataset row (a dict holding at least PARSED_COLUMNS; other columns are ignored).
        Raises KeyError naming a missing column."""
        return cls(row_id=int(row["row_id"]), prompt_tokens=int(row["prompt_tokens"]),
                   completion_tokens=int(row["completion_tokens"]),
                   example=json.loads(row["example"]) if row.get("example") else None,
                   failures=json.loads(row["failures"]) if row.get("failures") else [],
                   generation_error=row.get("generation_error") or None, sentence_a=row.get("sentence_a"),
                   reply_record=row.get("reply_record"), dedup_signature=row.get("dedup_signature"),
                   dedup_digest=row.get("dedup_digest"))
