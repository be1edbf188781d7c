"""One writer at a time on a run folder, and readers that never see half of a change.

Two OS file locks (`flock`) inside a local run folder; the kernel releases them when their process ends, however
it ends (a kill leaves no stale lock):

- `.clingen.lock`, the writer lock: held exclusively for the whole run of a command that writes the folder
  (generate, reparse, export into the folder, the pipeline's filter step). A second writer is refused at once
  with the holder's pid, command and start time, which the holder writes into the file, or waits for it
  (`--wait`).
- `.clingen.change.lock`, the change lock: held exclusively while the set of shards changes (a shard commit, a
  set-aside, a version swap), each change a few file moves or writes long, and shared by a reader while it
  lists and reads the shards. A reader sees the shards before or after a change, never half of one, and can
  read a folder while a generate writes it. Both pass a turnstile (`.clingen.turnstile.lock`) on the way, so
  a change waits for the readers already in, not for every reader that comes after it.

Object stores (s3://, gs://) have no file locks: there neither lock is taken, a writer logs that it cannot
refuse a second one, and keeping one writer per folder is the user's part (see the README).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import socket
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from clingen.errors import ConfigError

log = logging.getLogger(__name__)

WRITER_LOCK = ".clingen.lock"
CHANGE_LOCK = ".clingen.change.lock"
# Taken briefly on the way to the change lock: a change waiting for it holds the turnstile, so a stream of
# readers cannot keep it waiting (flock itself grants a shared lock while an exclusive one waits).
TURNSTILE = ".clingen.turnstile.lock"
LOCK_FILES = (WRITER_LOCK, CHANGE_LOCK, TURNSTILE)


class FolderBusy(ConfigError):
    """Another process writes the run folder."""


@dataclass
class _Held:
    fd: int
    exclusive: bool
    depth: int = 1


# The locks this process holds, by lock file: taking one again (a library call inside a command that holds
# it) is a no-op, since a second flock on another descriptor of the same file would wait for this process.
_HELD: dict[str, _Held] = {}
_WARNED: set[str] = set()


@contextlib.contextmanager
def writing(folder: str, command: str | None = None, wait: bool = False,
            on_wait: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold the writer lock of the local folder `folder` (created if missing) for the block, recording this
    process as its holder (`command`: what it runs, by default its command line). Busy: FolderBusy naming the
    holder, or with `wait` block until it is free, first calling `on_wait(holder)` (default: a warning line)."""
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(os.path.abspath(folder), WRITER_LOCK)
    if path in _HELD:
        with _nested(path, exclusive=True):
            yield
        return
    fd = _open(path)

    def acquire() -> None:
        if not _try_flock(fd, fcntl.LOCK_EX):
            holder = describe_holder(path)
            if not wait:
                raise FolderBusy(f"{folder} is being written by {holder}; one command writes a run folder at a "
                                 f"time: wait until it ends (or give --wait), or choose another folder")
            (on_wait or _log_wait)(holder)
            fcntl.flock(fd, fcntl.LOCK_EX)
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(_me(command)).encode(), 0)

    with _holding(path, fd, acquire, exclusive=True, forget_holder=True):
        yield


@contextlib.contextmanager
def changing(folder: str) -> Iterator[None]:
    """Hold the change lock of the local folder `folder` exclusively: the shards change within the block."""
    with _change_lock(folder, exclusive=True):
        yield


@contextlib.contextmanager
def reading(folder: str) -> Iterator[None]:
    """Hold the change lock of the local folder `folder` shared: no shard changes while the block reads. A
    folder this user cannot write (a read-only copy) is read without it: no ClinGen command can change it."""
    with _change_lock(folder, exclusive=False):
        yield


def holds_writer_lock(folder: str) -> bool:
    """Whether this process holds the writer lock of `folder`."""
    return os.path.join(os.path.abspath(folder), WRITER_LOCK) in _HELD


def writer_gone(folder: str, pid: int) -> str | None:
    """Why the process `pid`, which asked for a change to `folder` from Ray workers (a shard commit), may no longer
    write it, or None when it still holds the writer lock: it has ended (killed: the kernel released its lock,
    and its workers may outlive it by a moment), or another process now holds the lock. A commit checks this
    under the change lock, so that no shard of a run that ended lands beside the next run's rows."""
    try:
        with open(os.path.join(os.path.abspath(folder), WRITER_LOCK), encoding="utf-8") as handle:
            holder = json.loads(handle.read() or "null")
    except (OSError, ValueError):
        holder = None
    if not isinstance(holder, dict) or holder.get("pid") != pid or holder.get("host") != socket.gethostname():
        return f"the writer lock is now held by {describe_holder(os.path.join(folder, WRITER_LOCK))}"
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return f"the run that asked for it (pid {pid}) has ended"
    except PermissionError:  # alive, another user's: not ours to judge
        pass
    return None


def describe_holder(path: str) -> str:
    """Who holds the writer lock at `path`, as it recorded itself: '`clingen reparse` (pid 12, host h, since
    2025-01-01T00:00:00Z)'."""
    try:
        with open(path, encoding="utf-8") as handle:
            holder = json.loads(handle.read() or "null")
    except (OSError, ValueError):
        holder = None
    if not isinstance(holder, dict):
        return "another process (it has not recorded itself yet)"
    return (f"`{holder.get('command')}` (pid {holder.get('pid')}, host {holder.get('host')}, since "
            f"{holder.get('started')})")


def warn_unlocked(uri: str) -> None:
    """What a writer says on an object store, where it cannot take a lock (once per folder and process)."""
    if uri in _WARNED:
        return
    _WARNED.add(uri)
    log.warning("%s is on an object store, which has no file locks: ClinGen cannot refuse a second command "
                "writing it at the same time; run one writing command at a time on it", uri)


@contextlib.contextmanager
def _change_lock(folder: str, exclusive: bool) -> Iterator[None]:
    path = os.path.join(os.path.abspath(folder), CHANGE_LOCK)
    if path in _HELD:
        with _nested(path, exclusive):
            yield
        return
    # A reader of a folder it cannot write (a read-only copy: nothing can change it) or of one that is not there
    # (nothing to read) goes on without the lock; a writer cannot.
    fd = _open(path, tolerate=not exclusive)
    if fd is None:
        yield
        return

    def acquire() -> None:
        turnstile = _open(os.path.join(os.path.dirname(path), TURNSTILE), tolerate=not exclusive)
        try:
            if turnstile is not None:
                fcntl.flock(turnstile, fcntl.LOCK_EX)
            fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        finally:
            if turnstile is not None:
                os.close(turnstile)  # releases it

    with _holding(path, fd, acquire, exclusive=exclusive, forget_holder=False):
        yield


@contextlib.contextmanager
def _holding(path: str, fd: int, acquire, exclusive: bool, forget_holder: bool) -> Iterator[None]:
    """Lock the open file `fd` (`acquire()`; the file is closed when that fails or is interrupted) and hold it,
    recorded in _HELD, for the block."""
    try:
        acquire()
    except BaseException:
        os.close(fd)
        raise
    _HELD[path] = _Held(fd, exclusive)
    try:
        yield
    finally:
        _release(path, forget_holder=forget_holder)


@contextlib.contextmanager
def _nested(path: str, exclusive: bool) -> Iterator[None]:
    held = _HELD[path]
    if exclusive and not held.exclusive:
        raise RuntimeError(f"{path}: an exclusive lock asked for inside a shared one of the same process")
    held.depth += 1
    try:
        yield
    finally:
        held.depth -= 1


def _open(path: str, tolerate: bool = False) -> int | None:
    """A descriptor of the lock file `path`, created if missing; with `tolerate`, None where this user cannot
    create or open it (a read-only folder) or its folder is not there."""
    try:
        # O_CLOEXEC: a process the holder starts (Ray's raylet, a worker) must not keep the lock after it ends.
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        if tolerate and exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOENT):
            return None
        raise


def _try_flock(fd: int, mode: int) -> bool:
    try:
        fcntl.flock(fd, mode | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _release(path: str, forget_holder: bool) -> None:
    held = _HELD.pop(path)
    try:
        if forget_holder:  # the next contender must not read this process as the holder
            os.ftruncate(held.fd, 0)
        fcntl.flock(held.fd, fcntl.LOCK_UN)
    finally:
        os.close(held.fd)


def _me(command: str | None) -> dict:
    if command is None:
        command = " ".join([os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "python",
                            *sys.argv[1:]])[:300]
    return {"pid": os.getpid(), "command": command, "host": socket.gethostname(),
            "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def _log_wait(holder: str) -> None:
    log.warning("waiting for %s to finish writing the folder (--wait)", holder)
