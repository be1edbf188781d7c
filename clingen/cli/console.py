"""Console edge of the CLI: the live progress lines of generation and training runs (rich, on stderr), so that
stdout holds only the summary and a script can read it, and the route of the library's log records."""

from __future__ import annotations

import contextlib
import logging
import sys
import time


class _StandardStreams(logging.Handler):
    """INFO records on stdout (what a command reports: a pipeline step's status, an evaluation table), WARNING and
    above on stderr as `clingen: warning: ...`; the streams are looked up per record, so a redirected or captured
    sys.stdout is honoured."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
            if record.levelno >= logging.WARNING:
                sys.stderr.write(f"clingen: {record.levelname.lower()}: {line}\n")
                sys.stderr.flush()
            else:
                sys.stdout.write(line + "\n")
                sys.stdout.flush()
        except Exception:  # noqa: BLE001 - logging's contract: a broken stream must not break the run
            self.handleError(record)


def route_library_logs() -> None:
    """Print the "clingen" loggers' records (INFO and above) on the console, once however often it is called. The
    library itself only logs (no handler of its own), so an application that imports it keeps control."""
    logger = logging.getLogger("clingen")
    if not any(isinstance(handler, _StandardStreams) for handler in logger.handlers):
        handler = _StandardStreams()
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False  # a root handler (Ray installs one) would print every line twice


@contextlib.contextmanager
def diagnostics_on_stderr():
    """Within the block, what is written to sys.stdout goes to stderr, so that stdout holds only the summary a
    command prints after it (one JSON object with --json). Ray's driver prints the raylet's warnings (e.g. "N
    PYTHON worker processes have been started") on stdout whatever log_to_driver says, from a thread that looks
    sys.stdout up per message."""
    with contextlib.redirect_stdout(sys.stderr):
        yield


class _ProgressLine:
    """A rich progress display on `stream` (stderr by default): bars redrawn in place on a terminal; elsewhere (e.g.
    `ray job logs`) the bars are off and `_plain` prints a line at most every `every_s` seconds, the first at once."""

    def __init__(self, stream, every_s: float, *columns):
        from rich.console import Console
        from rich.progress import Progress
        self.console = Console(file=stream or sys.stderr)
        self.live = self.console.is_terminal
        # None, not 0.0: time.monotonic() counts from boot, so on a machine up for less than `every_s` a 0.0 start
        # would hold back the first line.
        self.every_s, self._last_line = every_s, None
        self.progress = Progress(*columns, console=self.console, transient=False, disable=not self.live)

    def __enter__(self):
        self.progress.start()
        return self

    def __exit__(self, *exc) -> bool:
        self.progress.stop()
        return False

    def _plain(self, line: str) -> None:
        now = time.monotonic()
        if not self.live and (self._last_line is None or now - self._last_line >= self.every_s):
            self._last_line = now
            self.console.print(line, highlight=False, soft_wrap=True)


class GenerationProgress(_ProgressLine):
    """Rows done of those to do, examples kept, the commonest failure reasons, rows/s and time left, redrawn in
    place on a terminal (a plain line every `every_s` seconds otherwise, e.g. in `ray job logs`)."""

    def __init__(self, task: str, stream=None, every_s: float = 30.0):
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
        super().__init__(stream, every_s, TextColumn(f"{task}"), BarColumn(), MofNCompleteColumn(),
                         TextColumn("{task.fields[note]}"), TimeRemainingColumn())
        self.task, self._started = task, time.monotonic()
        self._bar = None
        self._first_row: tuple[float, int] | None = None  # (when, rows done) at the first update with a row

    def update(self, counters, todo: int, goal: tuple[int, int] | None = None) -> None:
        """counters: the run's RunCounters (rows, examples, generation_errors, failures by reason); todo: rows to
        do in this run (it grows round by round); goal: (examples wanted, examples kept before this run)."""
        note = self.describe(counters, goal)
        if self._bar is None:
            self._bar = self.progress.add_task(self.task, total=todo, note=note)
        self.progress.update(self._bar, completed=counters.rows, total=todo, note=note)
        self._plain(f"{self.task}: {counters.rows}/{todo} rows | {note}{self.time_left(counters.rows, todo)}")

    def time_left(self, done: int, todo: int) -> str:
        """' | ~4m10s left' at the rate since the first row arrived (the terminal bar has its own column): the
        time before it is start-up (Ray, the engine), and counting it made the first estimate hundreds of
        minutes. '' until rows have arrived after the first."""
        now = time.monotonic()
        if self._first_row is None:
            if done > 0:
                self._first_row = (now, done)
            return ""
        since, rows = now - self._first_row[0], done - self._first_row[1]
        if rows <= 0 or done >= todo or since <= 0:
            return ""
        seconds = round((todo - done) * since / rows)
        return f" | ~{seconds // 60}m{seconds % 60:02d}s left" if seconds >= 60 else f" | ~{seconds}s left"

    def describe(self, counters, goal: tuple[int, int] | None = None) -> str:
        elapsed = max(time.monotonic() - self._started, 1e-9)
        top = sorted(counters.failures.items(), key=lambda item: -item[1])[:3]
        mix = ", ".join(f"{reason} {n}" for reason, n in top)
        errors = f" | {counters.generation_errors} request errors" if counters.generation_errors else ""
        kept = (f"{goal[1] + counters.examples} of {goal[0]} examples" if goal is not None
                else f"{counters.examples} examples")
        return (f"{kept} | {counters.rows / elapsed:.2f} rows/s"
                + (f" | {mix}" if mix else "") + errors)


class TrainingProgress(_ProgressLine):
    """Rank 0's stage, epoch, optimizer steps and mean loss of the epoch so far, redrawn in place on a terminal (a
    plain line every `every_s` seconds otherwise). `update` takes the records of training.progress."""

    def __init__(self, task: str, stream=None, every_s: float = 30.0):
        from rich.progress import BarColumn, TextColumn, TimeElapsedColumn
        super().__init__(stream, every_s, TextColumn(f"{task} training"), BarColumn(),
                         TextColumn("{task.fields[note]}"), TimeElapsedColumn())
        self.task = task
        self._bars: dict[int, int] = {}

    def update(self, record: dict) -> None:
        note = self.describe(record)
        # A bar per stage: over its step budget when it has one, else over its planned epochs.
        total, done = ((record["total_steps"], record["stage_steps"]) if record.get("total_steps")
                       else (record["epochs"], record["epoch"]))
        stage = record["stage_index"]
        if stage not in self._bars:
            self._bars[stage] = self.progress.add_task(record["stage"], total=total, note=note)
        self.progress.update(self._bars[stage], completed=done, note=note)
        self._plain(f"{self.task} training: {note}")

    @staticmethod
    def describe(record: dict) -> str:
        steps = f"step {record['stage_steps']}" + (f"/{record['total_steps']}" if record.get("total_steps") else "")
        return (f"{record['stage']} (stage {record['stage_index'] + 1}/{record['stages']}) | epoch "
                f"{record['epoch'] + 1}/{record['epochs']} | {steps} | loss {record['loss']:.4f}")
