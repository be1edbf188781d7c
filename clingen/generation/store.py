"""Generation output store (generation -> datasets): committed Parquet shards, parse-failure files, progress
markers and the manifest, on any pyarrow filesystem (local path, s3://, gs://).

A shard is committed when its progress marker exists; the marker is written after the shard's data and
failure files, so a run killed at any point leaves either a whole shard or an orphan that the next run
deletes. Rows named in markers are done; a resumed run generates only the others: no duplicates, no gaps.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from dataclasses import dataclass, field
from pathlib import PurePosixPath

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from clingen.errors import DataFormatError

_PART = re.compile(r"part-(\d{6})\.(parquet|json)$")
FAILURE_SCHEMA = pa.schema([("row_id", pa.int64()), ("reason", pa.string()), ("detail", pa.string()),
                            ("raw", pa.string()), ("step", pa.int64())])


@dataclass
class Progress:
    """What the committed shards hold, summed over every run."""

    rows: set[int] = field(default_factory=set)
    examples: int = 0
    failures: dict[str, int] = field(default_factory=dict)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    next_part: int = 0


class OutputStore:
    def __init__(self, uri: str):
        self.uri = uri
        if "://" in uri:
            self.fs, root = pafs.FileSystem.from_uri(uri)
        else:
            self.fs, root = pafs.LocalFileSystem(), os.path.abspath(uri)
        self.root = PurePosixPath(root)
        self.is_local = isinstance(self.fs, pafs.LocalFileSystem)
        for folder in ("data", "failures", "progress"):
            self.fs.create_dir(str(self.root / folder), recursive=True)

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

    def scan(self) -> Progress:
        """Sum the committed markers and delete orphan shards (data written, marker not) of a killed run."""
        progress = Progress()
        committed: set[int] = set()
        for name in self._list("progress"):
            match = _PART.match(name)
            if not match:
                continue
            marker = self.read_json(self.path("progress", name))
            committed.add(int(match.group(1)))
            overlap = progress.rows.intersection(marker["rows"])
            if overlap:
                raise DataFormatError(f"{self.uri}: shard {name} repeats rows {sorted(overlap)[:5]} of "
                                      f"earlier shards; the output folder was edited by hand")
            progress.rows.update(marker["rows"])
            progress.examples += marker["examples"]
            for reason, count in marker["failures"].items():
                progress.failures[reason] = progress.failures.get(reason, 0) + count
            progress.prompt_tokens += marker["prompt_tokens"]
            progress.completion_tokens += marker["completion_tokens"]
        seen_parts = set(committed)
        for folder in ("data", "failures"):
            for name in self._list(folder):
                match = _PART.match(name)
                if match and int(match.group(1)) not in committed:
                    self.fs.delete_file(self.path(folder, name))
                elif match:
                    seen_parts.add(int(match.group(1)))
        progress.next_part = max(seen_parts, default=-1) + 1
        return progress

    def commit(self, part: int, examples: pa.Table, failures: list[dict], rows: list[int],
               prompt_tokens: int, completion_tokens: int) -> dict:
        """Write one shard: examples, failures, then the marker that makes both count."""
        name = f"part-{part:06d}"
        sink = pa.BufferOutputStream()
        pq.write_table(examples, sink, compression="zstd")
        self.write_bytes(self.path("data", f"{name}.parquet"), sink.getvalue().to_pybytes())
        sink = pa.BufferOutputStream()
        pq.write_table(pa.Table.from_pylist(failures, schema=FAILURE_SCHEMA), sink, compression="zstd")
        self.write_bytes(self.path("failures", f"{name}.parquet"), sink.getvalue().to_pybytes())
        counts: dict[str, int] = {}
        for failure in failures:
            counts[failure["reason"]] = counts.get(failure["reason"], 0) + 1
        marker = {"rows": sorted(rows), "examples": examples.num_rows, "failures": counts,
                  "prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens}
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
        return pa.concat_tables(tables) if tables else FAILURE_SCHEMA.empty_table()

    def write_manifest(self, manifest: dict) -> str:
        path = self.path("manifest.json")
        self.write_bytes(path, (json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n").encode())
        return path

    def read_manifest(self) -> dict | None:
        path = self.path("manifest.json")
        if self.fs.get_file_info(path).type != pafs.FileType.File:
            return None
        return self.read_json(path)
