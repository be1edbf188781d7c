"""Config keys that moved to another section. Every manifest.json and model_card.json written before a move
records the old spelling, and so do users' YAML files and scripts' `--set` overrides: each old key is moved to
its new place before validation, so that all of them keep loading (with the same fingerprints: only RunFields
have moved)."""

from __future__ import annotations

import logging
from typing import Any

from clingen.errors import ConfigError

log = logging.getLogger("clingen.config")

# Old dotted path -> new dotted path. The Ray settings were generation's, although every stage uses them.
MOVED_KEYS = {
    "generation.ray_address": "cluster.address",
    "generation.num_cpus": "cluster.num_cpus",
    "local_paths_are_shared": "cluster.local_paths_are_shared",
}


def migrate_moved_keys(data: dict[str, Any], where: str = "", warn: bool = True) -> dict[str, Any]:
    """Move every old key of `data` (in place) to its new path and return `data`. `warn`: one deprecation line
    per old key (for what a user wrote; a recorded config is moved silently, since its file is not the user's to
    edit). Raises ConfigError naming both keys when the old and the new one are given with different values."""
    for old, new in MOVED_KEYS.items():
        found, value = _pop(data, old)
        if not found:
            continue
        present, current = _get(data, new)
        if present and current != value:
            raise ConfigError(f"{old}={value!r} and {new}={current!r} are both given{where}; {old} is the old "
                              f"name of {new}: keep only {new}")
        if warn:
            log.warning("config key %s%s is deprecated: write %s instead", old, where, new)
        _set(data, new, value)
    return data


def moved_override_key(key: str, override: str) -> str:
    """The dotted path an override `key=value` writes: the new path when `key` moved (said in a deprecation
    line, as for a YAML file), else `key` itself."""
    new = MOVED_KEYS.get(key)
    if new is not None:
        log.warning("override %r: config key %s is deprecated: write %s instead", override, key, new)
        return new
    return key


def _get(data: dict[str, Any], path: str) -> tuple[bool, Any]:
    node: Any = data
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return False, None
        node = node[part]
    return True, node


def _pop(data: dict[str, Any], path: str) -> tuple[bool, Any]:
    *parents, leaf = path.split(".")
    found, node = _get(data, ".".join(parents)) if parents else (True, data)
    if not found or not isinstance(node, dict) or leaf not in node:
        return False, None
    return True, node.pop(leaf)


def _set(data: dict[str, Any], path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    node = data
    for part in parents:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"{part} must be a section (a mapping) to hold {path}, got {type(node).__name__}")
    node[leaf] = value
