"""Console edge of the CLI: the live progress line of a generation run (rich, on stderr), so that stdout holds
only the summary and a script can read it."""

from __future__ import annotations

import sys
import time


class GenerationProgress:
    """Rows done of those to do, examples kept, the commonest failure reasons, rows/s and time left, redrawn in
    place on a terminal (a plain line every `every_s` seconds otherwise, e.g. in `ray job logs`)."""

    def __init__(self, task: str, stream=None, every_s: float = 30.0):
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
        self.console = Console(file=stream or sys.stderr)
        self.live = self.console.is_terminal
        # None, not 0.0: time.monotonic() counts from boot, so on a machine up for less than `every_s` a 0.0 start
        # would hold back the first line.
        self.task, self.every_s, self._last_line, self._started = task, every_s, None, time.monotonic()
        self.progress = Progress(TextColumn(f"{task}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[note]}"),
                                 TimeRemainingColumn(), console=self.console, transient=False, disable=not self.live)
        self._bar = None

    def __enter__(self) -> "GenerationProgress":
        self.progress.start()
        return self

    def __exit__(self, *exc) -> bool:
        self.progress.stop()
        return False

    def update(self, counters, todo: int) -> None:
        """counters: the run's RunCounters (rows, examples, generation_errors, failures by reason)."""
        note = self.describe(counters)
        if self._bar is None:
            self._bar = self.progress.add_task(self.task, total=todo, note=note)
        self.progress.update(self._bar, completed=counters.rows, note=note)
        now = time.monotonic()
        if not self.live and (self._last_line is None or now - self._last_line >= self.every_s):
            self._last_line = now
            self.console.print(f"{self.task}: {counters.rows}/{todo} rows | {note}", highlight=False)

    def describe(self, counters) -> str:
        elapsed = max(time.monotonic() - self._started, 1e-9)
        top = sorted(counters.failures.items(), key=lambda item: -item[1])[:3]
        mix = ", ".join(f"{reason} {n}" for reason, n in top)
        errors = f" | {counters.generation_errors} request errors" if counters.generation_errors else ""
        return (f"{counters.examples} examples | {counters.rows / elapsed:.2f} rows/s"
                + (f" | {mix}" if mix else "") + errors)
