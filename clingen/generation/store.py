"""Generation output store (generation -> datasets): committed Parquet shards, parse-failure files, progress
markers and the manifest, on any pyarrow filesystem (local path, s3://, gs://).

A shard is committed when its progress marker exists; the marker is written after the shard's data and
failure files, so a run killed at any point leaves either a whole shard or an orphan that the next run
deletes. Rows named in markers are done; a resumed run generates only the others: no duplicates, no gaps.
Each marker records its files' SHA-256 and size; a shard whose files are missing, changed or unreadable is moved
to set_aside/ and its rows count as not done, so the next run regenerates them.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import re
import uuid
from dataclasses import dataclass, field
from pathlib import PurePosixPath

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from clingen.errors import ConfigError, DataFormatError
from clingen.generation.manifest import MANIFEST_FILE, Manifest
from clingen.parsing.reasons import level_of

_PART = re.compile(r"part-(\d{6})\.(parquet|json)$")
# What write_bytes leaves behind when a kill lands between opening its temporary file and renaming it.
_PARTIAL_WRITE = re.compile(r"part-\d{6}\.(parquet|json)\.tmp-[0-9a-f]{8}$")
SHARD_FOLDERS = ("data", "failures", "progress")
STAGING = ".staged"  # a new version of the shards, written whole before it replaces the current one
_SWAP_JOURNAL = "SWAP.json"
FAILURE_SCHEMA = pa.schema([("row_id", pa.int64()), ("reason", pa.string()), ("detail", pa.string()),
                            ("raw", pa.string()), ("step", pa.int64()), ("reply_record", pa.string())])


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



def parquet_bytes(table: pa.Table) -> bytes:
    """`table` as a zstd Parquet file. A table without rows is written with no row group at all: pyarrow's
    write_table would write one of 0 rows, which `datasets.load_dataset` refuses ("BatchSize must be greater
    than 0"), and a shard whose rows were all rejected (or all kept: no failures) is ordinary."""
    sink = pa.BufferOutputStream()
    with pq.ParquetWriter(sink, table.schema, compression="zstd") as writer:
        if table.num_rows:
            writer.write_table(table)
    return sink.getvalue().to_pybytes()

class OutputStore:
    """A generation run's folder on any pyarrow filesystem (see the module docstring)."""

    def __init__(self, uri: str, create: bool = True):
        self.uri = uri
        if "://" in uri:
            self.fs, root = pafs.FileSystem.from_uri(uri)
        else:
            self.fs, root = pafs.LocalFileSystem(), os.path.abspath(uri)
        self.root = PurePosixPath(root)
        self.is_local = isinstance(self.fs, pafs.LocalFileSystem)
        if create:
            for folder in SHARD_FOLDERS:
                self.fs.create_dir(str(self.root / folder), recursive=True)
        self._finish_swap()  # a reparse killed while swapping its new version in

    @classmethod
    def open_run(cls, uri: str) -> "OutputStore":
        """The store of an existing run, opened without creating anything; ConfigError when `uri` is not a
        folder holding a generation run's manifest.json."""
        store = cls(uri, create=False)
        kind = store.fs.get_file_info(str(store.root)).type
        if kind != pafs.FileType.Directory:
            what = "is a file" if kind == pafs.FileType.File else "does not exist"
            raise ConfigError(f"{uri} {what}; expected the output folder of `clingen generate`")
        if store.read_manifest() is None:
            raise ConfigError(f"{uri} has no manifest.json; expected the output folder of `clingen generate`")
        return store

    @property
    def location(self) -> str:
        """Where the store is, for another process: its absolute path (local) or its URI."""
        return str(self.root) if self.is_local else self.uri

    def path(self, *parts: str) -> str:
        return str(self.root.joinpath(*parts))

    def _list(self, folder: str) -> list[str]:
        infos = self.fs.get_file_info(pafs.FileSelector(self.path(folder), allow_not_found=True))
        return sorted(info.base_name for info in infos if info.type == pafs.FileType.File)

    def write_bytes(self, path: str, data: bytes) -> None:
        """Whole-or-nothing write: a local file is renamed into place; an object store PUT is atomic."""
        if not self.is_local:
            with self.fs.open_output_stream(path) as out:
                out.write(data)
            return
        tmp = f"{path}.tmp-{uuid.uuid4().hex[:8]}"
        with open(tmp, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)

    def read_json(self, path: str) -> dict:
        with self.fs.open_input_stream(path) as stream:
            return json.loads(stream.read())

    def scan(self, verify: bool = True) -> Progress:
        """Sum the committed markers and delete what a killed run left half done: orphan shards (data written,
        marker not) and partial writes (`*.tmp-*`). With `verify`, a shard whose files do not match its marker is
        set aside (see the module docstring)."""
        progress = Progress()
        committed: set[int] = set()
        for name in self._list("progress"):
            match = _PART.match(name)
            if not match:
                continue
            part = int(match.group(1))
            marker, problem = self._read_marker(name)
            if verify and problem is None:
                problem = self._shard_problem(part, marker)
            if problem is not None:
                progress.set_aside.append(self._set_aside(part, problem, marker))
                continue
            committed.add(part)
            overlap = progress.rows.intersection(marker["rows"])
            if overlap:
                raise DataFormatError(f"{self.uri}: shard {name} repeats rows {sorted(overlap)[:5]} of "
                                      f"earlier shards; the output folder was edited by hand")
            progress.rows.update(marker["rows"])
            progress.examples += marker["examples"]
            for reason, count in marker["failures"].items():
                progress.failures[reason] = progress.failures.get(reason, 0) + count
            _add_rejections(progress, marker)
            progress.prompt_tokens += marker["prompt_tokens"]
            progress.completion_tokens += marker["completion_tokens"]
        progress.next_part = self._remove_half_done_writes(committed)
        return progress

    def committed_digest(self) -> str | None:
        """sha256 (hex) over the committed shard markers, in part order, or None before the first commit. Each
        marker records its rows, counts and shard files' sha256, so the digest names the exact examples without
        reading the shards again."""
        names = [name for name in self._list("progress") if _PART.match(name)]
        if not names:
            return None
        digest = hashlib.sha256()
        for name in names:
            digest.update(name.encode())
            with self.fs.open_input_stream(self.path("progress", name)) as stream:
                digest.update(stream.read())
        return digest.hexdigest()

    def _remove_half_done_writes(self, committed: set[int]) -> int:
        """Delete partial writes and shards without a marker; the next free part number."""
        seen_parts = set(committed)
        for folder in ("data", "failures", "progress"):
            for name in self._list(folder):
                match = _PART.match(name)
                orphan = folder != "progress" and match is not None and int(match.group(1)) not in committed
                if orphan or _PARTIAL_WRITE.match(name):
                    self.fs.delete_file(self.path(folder, name))
                elif match:
                    seen_parts.add(int(match.group(1)))
        return max(seen_parts, default=-1) + 1

    def _read_marker(self, name: str) -> tuple[dict | None, str | None]:
        try:
            marker = self.read_json(self.path("progress", name))
        except (OSError, ValueError) as exc:
            return None, f"progress/{name} is unreadable ({type(exc).__name__})"
        if not isinstance(marker, dict) or not {"rows", "examples", "failures"} <= set(marker):
            return None, f"progress/{name} is not a shard marker"
        return marker, None

    def _shard_problem(self, part: int, marker: dict) -> str | None:
        """Why the shard's files do not match its marker (None when they do). Markers written before ClinGen
        recorded checksums are checked by reading the Parquet footer's row count instead."""
        for folder in ("data", "failures"):
            relative = f"{folder}/part-{part:06d}.parquet"
            if self.fs.get_file_info(self.path(relative)).type != pafs.FileType.File:
                return f"{relative} is missing"
            recorded = marker.get("files", {}).get(folder)
            if recorded:
                with self.fs.open_input_stream(self.path(relative)) as stream:
                    data = stream.read()
                if len(data) != recorded["bytes"] or hashlib.sha256(data).hexdigest() != recorded["sha256"]:
                    return f"{relative} differs from its marker ({len(data)} bytes, {recorded['bytes']} committed)"
                continue
            try:
                rows = pq.read_metadata(self.path(relative), filesystem=self.fs).num_rows
            except (OSError, pa.ArrowException) as exc:
                return f"{relative} is unreadable ({type(exc).__name__}: {str(exc)[:200]})"
            if folder == "data" and rows != marker["examples"]:
                return f"{relative} holds {rows} examples, its marker {marker['examples']}"
        return None

    def _set_aside(self, part: int, problem: str, marker: dict | None) -> dict:
        """Move the shard's files to set_aside/<part>-<time>/ (kept for inspection, never deleted)."""
        name = f"part-{part:06d}"
        target = self.root / "set_aside" / f"{name}-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}"
        for folder, suffix in (("data", "parquet"), ("failures", "parquet"), ("progress", "json")):
            self._move_file(self.root / folder / f"{name}.{suffix}", target / folder / f"{name}.{suffix}")
        rows = marker.get("rows") if marker else None
        return {"part": name, "problem": problem, "rows": len(rows) if rows is not None else None,
                "moved_to": str(target.relative_to(self.root))}

    def commit(self, part: int, examples: pa.Table, failures: list[dict], rows: list[int],
               prompt_tokens: int, completion_tokens: int, rejected_rows: dict[str, int] | None = None,
               rejected_mentions: dict[str, int] | None = None) -> dict:
        """Write one shard: examples, failures, then the marker that makes both count. `rejected_rows` counts the
        shard's rows without an example by their first row-level reason, `rejected_mentions` its mention-level
        failures (reasons.REASONS)."""
        name = f"part-{part:06d}"
        files = {}
        for folder, table in (("data", examples), ("failures", pa.Table.from_pylist(failures, schema=FAILURE_SCHEMA))):
            data = parquet_bytes(table)
            self.write_bytes(self.path(folder, f"{name}.parquet"), data)
            files[folder] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data), "rows": table.num_rows}
        counts: dict[str, int] = {}
        for failure in failures:
            counts[failure["reason"]] = counts.get(failure["reason"], 0) + 1
        marker = {"rows": sorted(rows), "examples": examples.num_rows, "failures": counts,
                  "prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "rejected_rows": dict(rejected_rows or {}), "rejected_mentions": dict(rejected_mentions or {}),
                  "files": files}
        self.write_bytes(self.path("progress", f"{name}.json"), json.dumps(marker).encode())
        return marker

    def read_examples(self, columns: list[str] | None = None) -> pa.Table | None:
        """Every committed example (only the given columns), or None when there are none yet."""
        names = [n for n in self._list("data") if _PART.match(n)]
        if not names:
            return None
        return pa.concat_tables([pq.read_table(self.path("data", n), columns=columns, filesystem=self.fs)
                                 for n in names], promote_options="default")

    def read_failures(self) -> pa.Table:
        names = [n for n in self._list("failures") if _PART.match(n)]
        tables = [pq.read_table(self.path("failures", n), filesystem=self.fs) for n in names]
        # Shards of older runs lack newer columns (reply_record): they read as null.
        return pa.concat_tables([FAILURE_SCHEMA.empty_table(), *tables], promote_options="default")

    def staging(self) -> "OutputStore":
        """An empty store in <root>/.staged for a new version of this store's shards (see swap_in)."""
        path = self.path(STAGING)
        if self.fs.get_file_info(path).type == pafs.FileType.Directory:
            self.fs.delete_dir(path)
        return OutputStore(path if self.is_local else f"{self.uri.rstrip('/')}/{STAGING}")

    def next_version(self) -> str:
        """The folder, relative to the run, that the current shards move to on the next swap: versions/<k>."""
        versions = [int(n) for n in self._names("versions") if n.isdigit()]
        return f"versions/{max(versions, default=0) + 1}"

    def swap_in(self, staged: "OutputStore", manifest: Manifest) -> str:
        """Replace data/, failures/, progress/ and manifest.json by the staged shards and `manifest`, moving the
        current ones to versions/<k>/. A journal makes the swap finish on the next open if it is killed midway,
        so the folder never holds half of each version, nor a manifest of the other one. Returns versions/<k>."""
        version = self.next_version()
        staged.write_manifest(manifest)
        self.write_bytes(self.path(STAGING, _SWAP_JOURNAL), json.dumps({"version": version, "phase": "out"}).encode())
        self._finish_swap()
        return version

    def _finish_swap(self) -> None:
        journal = self.path(STAGING, _SWAP_JOURNAL)
        if self.fs.get_file_info(journal).type != pafs.FileType.File:
            return
        state = self.read_json(journal)
        version = state["version"]
        old = self.root.joinpath(version if isinstance(version, str) else f"versions/{version}")
        if state["phase"] == "out":  # every current file out first, so no name is ever in both versions
            for folder in SHARD_FOLDERS:
                self._move_files(self.root / folder, old / folder)
            self._move_file(self.root / "manifest.json", old / "manifest.json")
            self.write_bytes(journal, json.dumps({**state, "phase": "in"}).encode())
        for folder in SHARD_FOLDERS:
            self._move_files(self.root / STAGING / folder, self.root / folder)
        self._move_file(self.root / STAGING / "manifest.json", self.root / "manifest.json")
        self.fs.delete_dir(self.path(STAGING))

    def _move_file(self, source: PurePosixPath, target: PurePosixPath) -> None:
        if self.fs.get_file_info(str(source)).type == pafs.FileType.File:
            self.fs.create_dir(str(target.parent), recursive=True)
            self.fs.move(str(source), str(target))

    def _move_files(self, source: PurePosixPath, target: PurePosixPath) -> None:
        self.fs.create_dir(str(target), recursive=True)
        infos = self.fs.get_file_info(pafs.FileSelector(str(source), allow_not_found=True))
        for info in infos:
            if info.type == pafs.FileType.File:
                self.fs.move(info.path, str(target / info.base_name))

    def _names(self, folder: str) -> list[str]:
        infos = self.fs.get_file_info(pafs.FileSelector(self.path(folder), allow_not_found=True))
        return sorted(info.base_name for info in infos)

    def write_manifest(self, manifest: Manifest) -> str:
        path = self.path(MANIFEST_FILE)
        self.write_bytes(path, manifest.to_json().encode())
        return path

    def read_manifest(self) -> Manifest | None:
        """The run's manifest; None when there is none; ConfigError when it is not one this version reads."""
        path = self.path(MANIFEST_FILE)
        if self.fs.get_file_info(path).type != pafs.FileType.File:
            return None
        with self.fs.open_input_stream(path) as stream:
            return Manifest.from_json(stream.read(), path)


def _add_rejections(progress: Progress, marker: dict) -> None:
    if "rejected_rows" in marker:
        rows, mentions = marker["rejected_rows"], marker.get("rejected_mentions", {})
    else:  # a marker from before ClinGen counted rejected rows: one row-level failure per rejected row
        rows = {r: c for r, c in marker["failures"].items() if level_of(r) == "row"}
        mentions = {r: c for r, c in marker["failures"].items() if level_of(r) == "mention"}
    for target, counts in ((progress.rejected_rows, rows), (progress.rejected_mentions, mentions)):
        for reason, count in counts.items():
            target[reason] = target.get(reason, 0) + count
