"""What a run folder's shard files are accounted for by: each file in data/, failures/ and progress/ must belong
to a committed shard (its progress marker there and readable, its data and failure files as the marker recorded
them), and the markers must hold at least what the manifest counts.

Writers (`OutputStore.scan`) set aside what is not accounted for; readers (`OutputStore.read_examples`,
`read_failures`) refuse it. Both find it here, with the same words.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

SHARD_FOLDERS = ("data", "failures", "progress")
PART = re.compile(r"part-(\d{6})\.(parquet|json)$")
# What write_bytes leaves behind when a kill lands between opening its temporary file and renaming it.
PARTIAL_WRITE = re.compile(r"part-(\d{6})\.(parquet|json)\.tmp-[0-9a-f]{8}$")


@dataclass(frozen=True)
class Unaccounted:
    """Files no committed shard accounts for: set aside together under `name`, for `problem`."""

    name: str  # part-NNNNNN, or the file's own name
    files: tuple[str, ...]  # relative to the run folder
    problem: str
    marker: dict | None = None  # its readable marker, if it has one: what the manifest counted of it

    @property
    def rows(self) -> int | None:
        return len(self.marker["rows"]) if self.marker else None


@dataclass
class FolderState:
    markers: dict[int, dict] = field(default_factory=dict)  # part -> marker, every committed shard's files there
    unaccounted: list[Unaccounted] = field(default_factory=list)


def inspect_folder(store, verify: bool) -> FolderState:
    """The committed shards of `store` (an OutputStore) and what no marker accounts for. With `verify`, each
    shard file is read and checked against its marker too (readers check as they read instead)."""
    files, state = _shard_files(store), FolderState()
    for name in files.pop("foreign"):
        state.unaccounted.append(Unaccounted(name.rsplit("/", 1)[-1], (name,), f"{name} is not a file ClinGen "
                                             "writes there (expected part-NNNNNN.parquet, or .json in progress/)"))
    for part in sorted(files["parts"]):
        present = sorted(files["parts"][part])
        partial = tuple(path for path in present if PARTIAL_WRITE.search(path))
        whole = [path for path in present if path not in partial]
        if not whole:
            state.unaccounted.append(Unaccounted(f"part-{part:06d}", partial, _partial(partial)))
            continue
        marker, problem = _committed(store, part, whole, verify)
        if problem is None:
            state.markers[part] = marker
            if partial:  # beside a whole shard: only the partial write is not accounted for
                state.unaccounted.append(Unaccounted(f"part-{part:06d}-partial", partial, _partial(partial)))
            continue
        state.unaccounted.append(Unaccounted(f"part-{part:06d}", tuple(present), problem, marker))
    return state


def _committed(store, part: int, whole: list[str], verify: bool) -> tuple[dict | None, str | None]:
    """(marker, None) when shard `part` is committed (its marker readable, its files there and, with `verify`,
    as recorded), else (marker or None, why not). `whole`: its files, partial writes left out."""
    name = f"part-{part:06d}"
    if f"progress/{name}.json" not in whole:
        return None, (f"{' and '.join(whole)} {'has' if len(whole) == 1 else 'have'} no progress marker (progress/{name}.json): "
                      "a shard a killed run left half written, or one copied from elsewhere")
    marker, problem = read_marker(store, f"progress/{name}.json")
    if problem is not None:
        return None, problem
    for folder in ("data", "failures"):
        if f"{folder}/{name}.parquet" not in whole:
            return marker, f"{folder}/{name}.parquet is missing"
    return marker, _verify(store, part, marker) if verify else None


def shard_problem(relative: str, data: bytes, marker: dict) -> str | None:
    """Why the bytes of shard file `relative` (data/ or failures/) do not match its marker, or None. Markers
    written before ClinGen recorded checksums are checked by the Parquet footer's row count instead."""
    folder = relative.split("/", 1)[0]
    recorded = (marker.get("files") or {}).get(folder)
    if recorded:
        if len(data) != recorded["bytes"] or hashlib.sha256(data).hexdigest() != recorded["sha256"]:
            return (f"{relative} differs from its marker ({len(data)} bytes, {recorded['bytes']} committed): "
                    "truncated, edited or replaced")
        return None
    try:
        rows = pq.read_metadata(pa.BufferReader(data)).num_rows
    except (OSError, pa.ArrowException) as exc:
        return f"{relative} is unreadable ({type(exc).__name__}: {str(exc)[:200]})"
    if folder == "data" and rows != marker["examples"]:
        return f"{relative} holds {rows} examples, its marker {marker['examples']}"
    return None


def read_marker(store, relative: str) -> tuple[dict | None, str | None]:
    """(marker, None), or (None, why it is not one)."""
    try:
        marker = store.read_json(store.path(relative))
    except (OSError, ValueError, RecursionError) as exc:
        return None, f"{relative} is unreadable ({type(exc).__name__})"
    if not isinstance(marker, dict) or not {"rows", "examples", "failures"} <= set(marker):
        return None, f"{relative} is not a shard marker"
    rows, examples, failures = marker["rows"], marker["examples"], marker["failures"]
    if (not isinstance(rows, list) or not all(isinstance(row, int) for row in rows) or not isinstance(examples, int)
            or not isinstance(failures, dict) or not isinstance(marker.get("files", {}), dict)):
        return None, f"{relative} is not a shard marker (rows, examples, failures or files of the wrong type)"
    return marker, None


def removed_with_markers(manifest, markers: list[dict]) -> str | None:
    """Why `markers` (every readable marker: committed, and of shards found damaged) hold less than `manifest`
    counts, or None: progress markers were removed (with or without their shards) or damaged. A live generate only adds
    shards, so markers never hold less than its manifest; a filtered set keeps the source's rows_done, so only
    its examples are compared."""
    if manifest is None:
        return None
    counts = manifest.counts
    examples = sum(marker["examples"] for marker in markers)
    if examples < counts.examples:
        return (f"manifest.json records {counts.examples} examples, the readable progress markers {examples}: "
                "markers were removed or cannot be read")
    done = len({row for marker in markers for row in marker["rows"] if row < counts.prompts})
    if manifest.filtered_from is None and done < counts.rows_done:
        return (f"manifest.json records {counts.rows_done} rows done, the readable progress markers {done}: "
                "markers were removed or cannot be read")
    return None


def all_markers(state: FolderState) -> list[dict]:
    """Every readable marker of the folder: its committed shards' and those of the shards found damaged."""
    return [*state.markers.values(), *(item.marker for item in state.unaccounted if item.marker)]


def _shard_files(store) -> dict:
    """{"parts": {part: {relative paths}}, "foreign": [relative paths]} of the shard folders. Hidden names
    (.DS_Store and the like) are not the run's, and neither `datasets` nor Ray reads them."""
    parts: dict[int, set[str]] = {}
    foreign: list[str] = []
    for folder in SHARD_FOLDERS:
        infos = store.fs.get_file_info(pafs.FileSelector(store.path(folder), allow_not_found=True))
        for info in sorted(infos, key=lambda info: info.base_name):
            name = info.base_name
            match = PART.match(name) or PARTIAL_WRITE.match(name)
            expected = "json" if folder == "progress" else "parquet"
            if name.startswith("."):
                continue
            if info.type == pafs.FileType.File and match and match.group(2) == expected:
                parts.setdefault(int(match.group(1)), set()).add(f"{folder}/{name}")
            else:
                foreign.append(f"{folder}/{name}")
    return {"parts": parts, "foreign": foreign}


def _partial(files: tuple[str, ...]) -> str:
    return f"{', '.join(files)}: a partial write a killed run left"


def _verify(store, part: int, marker: dict) -> str | None:
    for folder in ("data", "failures"):
        relative = f"{folder}/part-{part:06d}.parquet"
        with store.fs.open_input_stream(store.path(relative)) as stream:
            problem = shard_problem(relative, stream.read(), marker)
        if problem:
            return problem
    return None
