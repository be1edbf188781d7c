"""YAML reading shared by the config tree, task files and experiment configs: a malformed file or value is a
ConfigError that names it and the place of the problem, never a parser traceback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from clingen.errors import ConfigError


def parse_yaml(text: str, what: str) -> Any:
    """`text` parsed as YAML (safe loader). Raises ConfigError "<what>: line L, column C: <problem>"."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{what} is not valid YAML: {where}{problem}") from None


def read_yaml_file(path: Path, what: str) -> Any:
    """The YAML document in the file `path` (UTF-8). Raises ConfigError naming `what` and the file when it is
    missing, not a file, not UTF-8, or not valid YAML."""
    path = Path(path)
    if not path.is_file():
        state = "is a folder" if path.is_dir() else "does not exist"
        raise ConfigError(f"{what} {path} {state}; expected a YAML file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{what} {path} is not UTF-8 (byte {exc.start}: {exc.reason})") from None
    return parse_yaml(text, f"{what} {path}")
