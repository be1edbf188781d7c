"""What a run folder's committed shards hold (`Progress`), summed from their progress markers: the store counts
the markers into it on every scan, and the manifest's counts are built from it. Its own module so that the store
and the manifest both read it from below, neither importing the other for it."""

from __future__ import annotations

from dataclasses import dataclass, field

from clingen.errors import DataFormatError
from clingen.runfolder.reasons import level_of


@dataclass
class Progress:
    """What the committed shards hold, summed over every run."""

    rows: set[int] = field(default_factory=set)
    examples: int = 0
    failures: dict[str, int] = field(default_factory=dict)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    next_part: int = 0
    # Rows without an example by their first row-level reason, and mentions left out by reason; markers of
    # runs before these counts existed are read by the level of each failure's reason.
    rejected_rows: dict[str, int] = field(default_factory=dict)
    rejected_mentions: dict[str, int] = field(default_factory=dict)
    # Shards this scan moved to set_aside/: {"part", "problem", "rows", "moved_to"} each.
    set_aside: list[dict] = field(default_factory=list)


def add_marker(progress: Progress, marker: dict, where: str) -> None:
    """Count one committed shard's progress marker into `progress`; DataFormatError when it repeats rows an
    earlier marker holds (`where` names the marker)."""
    overlap = progress.rows.intersection(marker["rows"])
    if overlap:
        raise DataFormatError(f"{where} repeats rows {sorted(overlap)[:5]} of earlier shards; the output folder "
                              "was edited by hand")
    progress.rows.update(marker["rows"])
    progress.examples += marker["examples"]
    for reason, count in marker["failures"].items():
        progress.failures[reason] = progress.failures.get(reason, 0) + count
    _add_rejections(progress, marker)
    progress.prompt_tokens += marker.get("prompt_tokens", 0)
    progress.completion_tokens += marker.get("completion_tokens", 0)


def _add_rejections(progress: Progress, marker: dict) -> None:
    if "rejected_rows" in marker:
        rows, mentions = marker["rejected_rows"], marker.get("rejected_mentions", {})
    else:  # a marker from before ClinGen counted rejected rows: one row-level failure per rejected row
        rows = {r: c for r, c in marker["failures"].items() if level_of(r) == "row"}
        mentions = {r: c for r, c in marker["failures"].items() if level_of(r) == "mention"}
    for target, counts in ((progress.rejected_rows, rows), (progress.rejected_mentions, mentions)):
        for reason, count in counts.items():
            target[reason] = target.get(reason, 0) + count
