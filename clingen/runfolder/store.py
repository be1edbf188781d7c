"""The run folder's store (`OutputStore`): commits shards, sums their progress markers, sets aside what no marker
accounts for, swaps a reparse's version in, and reads the examples and failures back checked; on any pyarrow
filesystem (local path, s3://, gs://). The folder's layout, who writes what, the locks and set_aside/: the
package docstring (clingen/runfolder/__init__.py).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import time
import uuid
from pathlib import Path, PurePosixPath

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from clingen.errors import ClinGenError, ConfigError, DataFormatError
from clingen.runfolder import lock
from clingen.runfolder.folder_check import (
    PART,
    SHARD_FOLDERS,
    Unaccounted,
    all_markers,
    inspect_folder,
    removed_with_markers,
    shard_problem,
)
from clingen.runfolder.manifest import MANIFEST_FILE, Manifest, with_set_aside
from clingen.runfolder.progress import Progress, add_marker

log = logging.getLogger(__name__)

STAGING = ".staged"  # a new version of the shards, written whole before it replaces the current one
SET_ASIDE = "set_aside"
SET_ASIDE_NOTE = "SET_ASIDE.json"  # in each set-aside folder: what was moved there, from where and why
_SWAP_JOURNAL = "SWAP.json"
FAILURE_SCHEMA = pa.schema([("row_id", pa.int64()), ("reason", pa.string()), ("detail", pa.string()),
                            ("raw", pa.string()), ("step", pa.int64()), ("reply_record", pa.string())])


def parquet_bytes(table: pa.Table) -> bytes:
    """`table` as a zstd Parquet file. A table without rows is written with no row group at all: pyarrow's
    write_table would write one of 0 rows, which `datasets.load_dataset` refuses ("BatchSize must be greater
    than 0"), and a shard whose rows were all rejected (or all kept: no failures) is ordinary."""
    sink = pa.BufferOutputStream()
    with pq.ParquetWriter(sink, table.schema, compression="zstd") as writer:
        if table.num_rows:
            writer.write_table(table)
    return sink.getvalue().to_pybytes()


class WriterGone(ClinGenError):
    """A commit asked for by a run that no longer holds the folder's writer lock (lock.writer_gone)."""


class OutputStore:
    """A generation run's folder on any pyarrow filesystem (the package docstring gives its layout)."""

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
        if self._is_file(self.path(STAGING, _SWAP_JOURNAL)):  # a reparse killed while swapping its version in
            with self._changing():
                self._finish_swap()

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

    def writing(self, command: str | None = None, wait: bool = False, on_wait=None):
        """A context holding the folder's writer lock (see `writing`)."""
        return writing(self.location, command, wait, on_wait)

    def write_bytes(self, path: str, data: bytes) -> None:
        """Whole-or-nothing write: a local file is renamed into place; an object store PUT is atomic."""
        if not self.is_local:
            with self.fs.open_output_stream(path) as out:
                out.write(data)
            return
        tmp = f"{path}.tmp-{uuid.uuid4().hex[:8]}"
        try:
            with open(tmp, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.remove(tmp)  # this process's own partial write
            if exc.filename is None:  # a full disk names no file: say which write it stopped
                raise OSError(exc.errno, exc.strerror, path) from exc
            raise

    def read_json(self, path: str) -> dict:
        with self.fs.open_input_stream(path) as stream:
            return json.loads(stream.read())

    def scan(self, verify: bool = True) -> Progress:
        """Sum the committed markers, after setting aside what no committed shard accounts for (package
        docstring; with `verify`, each shard file is checked against its marker too). For writers: it holds the
        writer lock for the call unless this process already holds it."""
        with self._writer_held(), self._changing():
            state = inspect_folder(self, verify)
            progress = Progress(set_aside=[self._set_aside(item) for item in state.unaccounted])
            manifest = self.read_manifest()
            progress.set_aside += self._unrecorded_set_asides((manifest.set_aside if manifest else [])
                                                              + progress.set_aside)
            for part, marker in sorted(state.markers.items()):
                add_marker(progress, marker, f"{self.uri}: shard part-{part:06d}.json")
            progress.next_part = max(state.markers, default=-1) + 1
            removed = removed_with_markers(manifest, all_markers(state))
            if removed:
                progress.set_aside.append(self._note_removed(removed, manifest, all_markers(state)))
            if progress.set_aside and manifest is not None:  # on record now, whatever the command does next
                self.write_manifest(with_set_aside(manifest, progress.set_aside, progress))
        return progress

    def committed_digest(self) -> str | None:
        """sha256 (hex) over the committed shard markers, in part order, or None before the first commit. Each
        marker records its rows, counts and shard files' sha256, so the digest names the exact examples without
        reading the shards again."""
        with self._reading():
            infos = self.fs.get_file_info(pafs.FileSelector(self.path("progress"), allow_not_found=True))
            names = sorted(info.base_name for info in infos if PART.match(info.base_name))
            if not names:
                return None
            digest = hashlib.sha256()
            for name in names:
                digest.update(name.encode())
                with self.fs.open_input_stream(self.path("progress", name)) as stream:
                    digest.update(stream.read())
        return digest.hexdigest()

    def commit(self, part: int, examples: pa.Table, failures: list[dict], rows: list[int],
               prompt_tokens: int, completion_tokens: int, rejected_rows: dict[str, int] | None = None,
               rejected_mentions: dict[str, int] | None = None, writer_pid: int | None = None) -> dict:
        """Write one shard: examples, failures, then the marker that makes both count. `rejected_rows` counts the
        shard's rows without an example by their first row-level reason, `rejected_mentions` its mention-level
        failures (reasons.REASONS). A shard of that number already there is never replaced (DataFormatError).
        `writer_pid`: the process that holds the writer lock and asked for this commit from a Ray worker; when it
        no longer holds it (killed), nothing is written (WriterGone): its rows are not done, and the next run
        generates them once."""
        name = f"part-{part:06d}"
        with self._changing():
            gone = lock.writer_gone(str(self.root), writer_pid) if writer_pid is not None and self.is_local else None
            if gone:
                raise WriterGone(f"{self.uri}: shard {name} not committed: {gone}")
            taken = [f"{folder}/{name}.{'json' if folder == 'progress' else 'parquet'}" for folder in SHARD_FOLDERS]
            taken = [relative for relative in taken if self._is_file(self.path(relative))]
            if taken:
                raise DataFormatError(f"{self.uri}: {', '.join(taken)} exists; a commit writes a new shard and "
                                      "replaces none (is another process writing this folder?)")
            files = {}
            for folder, table in (("data", examples),
                                  ("failures", pa.Table.from_pylist(failures, schema=FAILURE_SCHEMA))):
                data = parquet_bytes(table)
                self.write_bytes(self.path(folder, f"{name}.parquet"), data)
                files[folder] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data),
                                 "rows": table.num_rows}
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
        """Every committed example (only the given columns), or None when there are none yet. DataFormatError
        when the folder is not as its markers and manifest record (package docstring)."""
        tables = self._read_committed("data", columns)
        return pa.concat_tables(tables, promote_options="default") if tables else None

    def read_failures(self) -> pa.Table:
        """Every committed failure row; checked as read_examples."""
        tables = self._read_committed("failures", None)
        # Shards of older runs lack newer columns (reply_record): they read as null.
        return pa.concat_tables([FAILURE_SCHEMA.empty_table(), *tables], promote_options="default")

    def staging(self) -> "OutputStore":
        """An empty store in <root>/.staged for a new version of this store's shards (see swap_in). What a
        reparse stopped before its swap left there is set aside."""
        if self.fs.get_file_info(self.path(STAGING)).type != pafs.FileType.NotFound:
            with self._writer_held(), self._changing():
                entry = self._set_aside(Unaccounted("staged", (STAGING,), f"{STAGING}/ holds what a reparse "
                                                    "stopped before swapping it in had written"))
                manifest = self.read_manifest()
                if manifest is not None:
                    self.write_manifest(with_set_aside(manifest, [entry]))
        return OutputStore(self.path(STAGING) if self.is_local else f"{self.uri.rstrip('/')}/{STAGING}")

    def next_version(self) -> str:
        """The folder, relative to the run, that the current shards move to on the next swap: versions/<k>."""
        versions = [int(n) for n in self._names("versions") if n.isdigit()]
        return f"versions/{max(versions, default=0) + 1}"

    def swap_in(self, staged: "OutputStore", manifest: Manifest) -> str:
        """Replace data/, failures/, progress/ and manifest.json by the staged shards and `manifest`, moving the
        current ones to versions/<k>/. Readers wait for the change lock, so they see one version or the other;
        a journal makes a swap killed midway finish when the folder is next opened. Returns versions/<k>."""
        with self._changing():
            version = self.next_version()
            staged.write_manifest(manifest)
            self.write_bytes(self.path(STAGING, _SWAP_JOURNAL),
                             json.dumps({"version": version, "phase": "out"}).encode())
            self._finish_swap()
        return version

    def write_manifest(self, manifest: Manifest) -> str:
        path = self.path(MANIFEST_FILE)
        self.write_bytes(path, manifest.to_json().encode())
        return path

    def read_manifest(self) -> Manifest | None:
        """The run's manifest; None when there is none; ConfigError when it is not one this version reads."""
        path = self.path(MANIFEST_FILE)
        if not self._is_file(path):
            return None
        with self.fs.open_input_stream(path) as stream:
            return Manifest.from_json(stream.read(), path)

    def _read_committed(self, folder: str, columns: list[str] | None) -> list[pa.Table]:
        """The `folder` file of every committed shard, each checked against its marker as it is read, all under
        one look at the folder; DataFormatError naming every file that does not fit."""
        with self._reading():
            state = inspect_folder(self, verify=False)
            problems = [item.problem for item in state.unaccounted]
            tables = []
            for part, marker in sorted(state.markers.items()):
                relative = f"{folder}/part-{part:06d}.parquet"
                with self.fs.open_input_stream(self.path(relative)) as stream:
                    data = stream.read()
                problem = shard_problem(relative, data, marker)
                try:
                    tables += [] if problem else [pq.read_table(pa.BufferReader(data), columns=columns)]
                except (OSError, pa.ArrowException) as exc:
                    problem = f"{relative} is unreadable ({type(exc).__name__}: {str(exc)[:200]})"
                problems += [problem] if problem else []
            removed = removed_with_markers(self.read_manifest(), all_markers(state))
        if removed:
            problems.append(removed)
        if problems:
            more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
            raise DataFormatError(f"{self.uri} is not as its progress markers and manifest record: "
                                  f"{'; '.join(problems[:3])}{more}. Nothing was read: `clingen reparse "
                                  f"{self.uri}` sets what does not fit aside, `clingen generate` with the run's "
                                  "settings also generates its rows again")
        return tables

    def _set_aside(self, item: Unaccounted) -> dict:
        """Move `item`'s files to set_aside/<name>-<time>/ (kept, never deleted), with a note of why; one warning
        line; the manifest's set_aside entry."""
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        target = self.root / SET_ASIDE / f"{item.name}-{stamp}"
        suffix = 1
        while self.fs.get_file_info(str(target)).type != pafs.FileType.NotFound:
            suffix += 1
            target = self.root / SET_ASIDE / f"{item.name}-{stamp}-{suffix}"
        for relative in item.files:
            self.fs.create_dir(str((target / relative).parent), recursive=True)
            self.fs.move(self.path(relative), str(target / relative))
        entry = {"part": item.name, "problem": item.problem, "rows": item.rows,
                 "moved_to": str(target.relative_to(self.root))}
        rows = f"; its {item.rows} rows count as not done" if item.rows else ""
        # Said before its note is written: on a full disk the move succeeds and the note cannot (the next writer
        # records such a folder: _unrecorded_set_asides).
        log.warning("%s: set aside %s: %s; moved to %s%s", self.uri, item.name, item.problem,
                    self.path(entry["moved_to"]), rows)
        self.write_bytes(str(target / SET_ASIDE_NOTE), json.dumps({**entry, "files": list(item.files),
                                                                   "at": stamp}, indent=2).encode())
        return entry

    def _unrecorded_set_asides(self, recorded: list[dict]) -> list[dict]:
        """Folders under set_aside/ with no note and no manifest entry: moved there by a run that could not write
        either (a full disk). Each is noted now, said once, and returned as a manifest entry."""
        aside = Path(str(self.root)) / SET_ASIDE
        if not self.is_local or not aside.is_dir():
            return []
        known = {entry.get("moved_to") for entry in recorded}
        found = []
        for folder in sorted(aside.iterdir()):
            moved_to = f"{SET_ASIDE}/{folder.name}"
            if not folder.is_dir() or (folder / SET_ASIDE_NOTE).exists() or moved_to in known:
                continue
            stamped = re.fullmatch(r"(.+)-\d{8}T\d{6}Z(-\d+)?", folder.name)
            entry = {"part": stamped.group(1) if stamped else folder.name, "problem": "set aside by an earlier run that could not "
                     "record why (its note and the manifest could not be written, e.g. on a full disk)",
                     "rows": None, "moved_to": moved_to}
            log.warning("%s: %s is %s; recorded now", self.uri, self.path(moved_to), entry["problem"])
            self.write_bytes(str(folder / SET_ASIDE_NOTE), json.dumps(entry, indent=2).encode())
            found.append(entry)
        return found

    def _note_removed(self, problem: str, manifest: Manifest, markers: list[dict]) -> dict:
        """The manifest entry (and warning) of markers removed from the folder: nothing left to set aside."""
        done = len({row for marker in markers for row in marker["rows"] if row < manifest.counts.prompts})
        rows = manifest.counts.rows_done - done if manifest.filtered_from is None else None
        log.warning("%s: %s (not by ClinGen); %s", self.uri, problem,
                    f"{rows} rows count as not done" if rows else "the manifest now counts what is there")
        return {"part": None, "problem": problem, "rows": rows, "moved_to": None}

    def _finish_swap(self) -> None:
        journal = self.path(STAGING, _SWAP_JOURNAL)
        if not self._is_file(journal):  # another process finished it while this one waited for the lock
            return
        state = self.read_json(journal)
        version = state["version"]
        old = self.root.joinpath(version if isinstance(version, str) else f"versions/{version}")
        if state["phase"] == "out":  # every current file out first, so no name is ever in both versions
            for folder in SHARD_FOLDERS:
                self._move_files(self.root / folder, old / folder)
            self._move_file(self.root / MANIFEST_FILE, old / MANIFEST_FILE)
            self.write_bytes(journal, json.dumps({**state, "phase": "in"}).encode())
        for folder in SHARD_FOLDERS:
            self._move_files(self.root / STAGING / folder, self.root / folder)
        self._move_file(self.root / STAGING / MANIFEST_FILE, self.root / MANIFEST_FILE)
        infos = self.fs.get_file_info(pafs.FileSelector(self.path(STAGING), recursive=True))
        kept = (_SWAP_JOURNAL, *lock.LOCK_FILES)  # the swap's own bookkeeping, the only files deleted
        left = tuple(str(PurePosixPath(info.path).relative_to(self.root)) for info in infos
                     if info.type == pafs.FileType.File and info.base_name not in kept and
                     not info.base_name.startswith(f"{_SWAP_JOURNAL}.tmp-"))
        if left:
            self._set_aside(Unaccounted("staged", left, f"{', '.join(left)} stayed in {STAGING}/ after its swap"))
        self.fs.delete_dir(self.path(STAGING))

    def _move_file(self, source: PurePosixPath, target: PurePosixPath) -> None:
        if self._is_file(str(source)):
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

    def _is_file(self, path: str) -> bool:
        return self.fs.get_file_info(path).type == pafs.FileType.File

    def _writer_held(self):
        """The writer lock for a change outside a command that holds it (a library call, a test)."""
        if self.is_local and not lock.holds_writer_lock(str(self.root)):
            return lock.writing(str(self.root))
        return contextlib.nullcontext()

    def _changing(self):
        return lock.changing(str(self.root)) if self.is_local else contextlib.nullcontext()

    def _reading(self):
        return lock.reading(str(self.root)) if self.is_local else contextlib.nullcontext()


def writing(uri: str, command: str | None = None, wait: bool = False, on_wait=None):
    """A context holding the writer lock of the run folder `uri` (lock.writing): every command that writes a
    folder holds it for its whole run; busy: FolderBusy naming the holder, or with `wait` it waits. An object
    store (s3://, gs://) cannot be locked: a warning says so and nothing is held."""
    if "://" in uri and not isinstance(pafs.FileSystem.from_uri(uri)[0], pafs.LocalFileSystem):
        lock.warn_unlocked(uri)
        return contextlib.nullcontext()
    return lock.writing(pafs.FileSystem.from_uri(uri)[1] if "://" in uri else os.path.abspath(uri), command, wait,
                        on_wait)
