"""Task registry (feeds prompts): the built-in specs from builtin.yaml plus user specs from a YAML file."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import ValidationError

from clingen._yaml import read_yaml_file
from clingen.errors import ConfigError, UnknownNameError
from clingen.tasks.spec import TaskSpec

BUILTIN_FILE = Path(__file__).with_name("builtin.yaml")


def load_task_file(path: Path) -> dict[str, TaskSpec]:
    """Specs from a YAML file holding a list of task mappings (the schema of clingen/tasks/spec.py)."""
    path = Path(path)
    entries = read_yaml_file(path, "task file")
    if not isinstance(entries, list):
        raise ConfigError(f"task file {path} must hold a YAML list of task specs, got {type(entries).__name__}")
    tasks: dict[str, TaskSpec] = {}
    for position, entry in enumerate(entries):
        try:
            spec = TaskSpec.model_validate(entry)
        except ValidationError as exc:
            name = entry.get("name", f"#{position}") if isinstance(entry, dict) else f"#{position}"
            raise ConfigError(f"task {name} in {path} is invalid:\n{exc}") from None
        if spec.name in tasks:
            raise ConfigError(f"task file {path} defines {spec.name!r} twice")
        tasks[spec.name] = spec
    return tasks


@lru_cache(maxsize=1)
def builtin_tasks() -> dict[str, TaskSpec]:
    return load_task_file(BUILTIN_FILE)


def get_task(name: str, task_file: Path | None = None) -> TaskSpec:
    """A user task (which may shadow a built-in one of the same name) or a built-in task."""
    tasks = dict(builtin_tasks())
    if task_file is not None:
        tasks.update(load_task_file(task_file))
    if name not in tasks:
        raise UnknownNameError("task", name, tasks)
    return tasks[name]
