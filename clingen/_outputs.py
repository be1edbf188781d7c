"""Output folders shared by the commands that write one (training, evaluation): a command never deletes or
overwrites what it did not write itself."""

from __future__ import annotations

from pathlib import Path

from clingen.errors import ConfigError


def check_output_folder(out: str | Path, marker: str, command: str) -> Path:
    """Refuse `out` unless it is new, an empty folder, or a previous output of `command` (a folder holding
    `marker`, the file that command writes last). Runs before any work starts.

    Returns: `out` as a Path. Raises ConfigError naming the folder and what is in the way: a file, a parent
    that is a file, or a folder holding files that `command` did not write."""
    out = Path(out)
    for parent in [out, *out.parents]:
        if parent.exists() and not parent.is_dir():
            where = "is a file" if parent == out else f"is under {parent}, which is a file"
            raise ConfigError(f"--out {out} {where}; expected a new or empty folder or a previous {command} output")
    if not out.exists() or (out / marker).is_file():
        return out
    foreign = sorted(p.name for p in out.iterdir())
    if foreign:
        shown = ", ".join(foreign[:5]) + (f", ... ({len(foreign)} in all)" if len(foreign) > 5 else "")
        raise ConfigError(f"--out {out} holds files that {command} did not write ({shown}) and would replace "
                          f"them; expected a new or empty folder or a previous {command} output (with {marker})")
    return out
