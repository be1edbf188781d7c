"""Shared error types, used at every stage so that bad input names the bad value and what was expected."""

from __future__ import annotations

from collections.abc import Iterable


class ClinGenError(Exception):
    """Base class for errors caused by the user's input, config or data (not by a bug)."""


class ConfigError(ClinGenError, ValueError):
    """A configuration value is invalid or inconsistent."""


class DataFormatError(ClinGenError, ValueError):
    """A file's content is not in the expected format (missing column, malformed row, ...)."""


class StepFailed(ClinGenError):
    """A pipeline step ran and did not finish; the steps before it keep their results for the re-run. Not a
    ConfigError: the config was valid, the step's work (the generator, the data) fell short."""


class UnknownNameError(ClinGenError, KeyError):
    """A name (entity type, relation type, task, label, model) that does not exist."""

    def __init__(self, what: str, name: str, known: Iterable[str]):
        known = sorted(known)
        shown = ", ".join(known[:40]) + (f", ... ({len(known)} in all)" if len(known) > 40 else "")
        super().__init__(f"unknown {what} {name!r}; known: {shown or '(none)'}")
        self.what, self.name, self.known = what, name, known

    def __str__(self) -> str:  # KeyError would otherwise quote the whole message
        return self.args[0]


class EmptyCandidatesError(ClinGenError, ValueError):
    """A sampler was asked to draw from an empty set."""


def root_cause(exc: BaseException) -> BaseException:
    """The exception at the bottom of `exc`'s chain: through Ray's wrappers (a RayTaskError's `.cause`, Ray
    Data's UserCodeException) and `raise ... from` causes."""
    seen = {id(exc)}
    while True:
        below = getattr(exc, "cause", None) or exc.__cause__
        if not isinstance(below, BaseException) or id(below) in seen:
            return exc
        seen.add(id(below))
        exc = below


def cause_line(exc: BaseException) -> str:
    """'OSError: [Errno 28] No space left on device: ...': the root cause's type and first line, for a one-line
    error; the whole chain (Ray's remote tracebacks included) goes to a new file in the temporary folder, named
    at the end."""
    import tempfile
    import traceback
    root = root_cause(exc)
    first = (str(root).strip().splitlines() or [""])[0][:500]
    with tempfile.NamedTemporaryFile("w", prefix="clingen-error-", suffix=".txt", delete=False) as handle:
        handle.write("".join(traceback.format_exception(exc)))
    return f"{type(root).__name__}: {first} (full traceback: {handle.name})"
