"""One writer at a time on a run folder (the writer lock), readers that never see half a change (the change
lock), and Ctrl-C: two processes on one folder, synchronised by events, never by sleeps."""

import hashlib
import json
import logging
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pyarrow as pa
import pytest

from clingen.cli import main, run_handler
from clingen.errors import ConfigError
from clingen.generation.job import run_generation
from clingen.generation.reparse import reparse_run
from clingen.runfolder import lock
from clingen.runfolder.export import export_run
from clingen.runfolder.lock import FolderBusy
from clingen.runfolder.store import OutputStore
from tests.unit.test_damaged_folders import SETTINGS, make_run, run_config

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]
SPAWN = multiprocessing.get_context("spawn")  # a forked child would share the parent's lock descriptors
# Upper bounds on waiting for an event (a child starts Python and imports ClinGen first): on a loaded 2-core
# machine that has taken over a minute.
START_S, END_S = 300, 300
COMMANDS = ("clingen generate", "clingen reparse", "clingen export")


def hold_writer_lock(folder: str, command: str, held, release, releasing=None) -> None:
    """A child process: hold the folder's writer lock as `command` does until `release` is set; `releasing` is
    set just before it lets go."""
    with OutputStore(folder).writing(command):
        held.set()
        release.wait()
        if releasing is not None:
            releasing.set()


def change_shards_midway(folder: str, held, release) -> None:
    """A child process halfway through a change of the shards (a file moved out, as a swap does) until
    `release` is set; then it puts the file back and lets go."""
    shard, aside = Path(folder) / "data/part-000001.parquet", Path(folder) / "moving.parquet"
    with lock.changing(folder):
        shard.rename(aside)
        held.set()
        release.wait()
        aside.rename(shard)


def swap_versions(folder: str, swaps: int, done) -> None:
    """A child process: swap in `swaps` new versions of the shards, alternating two contents."""
    store = OutputStore(folder)
    with store.writing("clingen reparse"):
        for swap in range(swaps):
            staged = store.staging()
            for part, ids in enumerate(version_ids(swap % 2)):
                staged.commit(part, ids_table(ids), [], [int(i[1:]) for i in ids], 0, 0)
            store.swap_in(staged, store.read_manifest())
    done.set()


def version_ids(which: int) -> list[list[str]]:
    return [[f"r{i}" for i in range(4 * part, 4 * part + 4)] if which == 0 else
            [f"r{i}" for i in range(4 * part + 3, 4 * part - 1, -1)] for part in range(3)]


def ids_table(ids: list[str]) -> pa.Table:
    return pa.table({"id": [f"{i}-{'é' * (len(ids) % 3)}" for i in ids], "text": [f"text of {i}" for i in ids]})


def folder_digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name not in lock.LOCK_FILES}


@pytest.fixture
def no_ray(monkeypatch):
    """A test that got past the lock by mistake must fail here, not start Ray."""
    def refuse(*args, **kwargs):
        raise AssertionError("the second writer went on to start Ray")
    monkeypatch.setattr("clingen.generation.job.ensure_ray", refuse)


@pytest.fixture
def held_by(tmp_path):
    """held_by(folder, command): a child process holding the folder's writer lock until the test ends."""
    children = []

    def start(folder: Path, command: str, releasing=None):
        held, release = SPAWN.Event(), SPAWN.Event()
        child = SPAWN.Process(target=hold_writer_lock, args=(str(folder), command, held, release, releasing))
        child.start()
        assert held.wait(START_S), "the child never took the lock"
        children.append((child, release))
        return child, release
    yield start
    for child, release in children:
        if child.is_alive():  # a killed child would never acknowledge the event: setting it would hang
            release.set()
        child.join(END_S)


def second_writer(command: str, run: Path, tmp_path: Path, wait: bool = False):
    """Run `command` as the second writer of `run`, through the library entry point the CLI calls."""
    if command == "clingen generate":
        return run_generation(run_config(run), wait=wait)
    if command == "clingen reparse":
        return reparse_run(str(run), wait=wait)
    return export_run(str(run), "jsonl", run / "exports" / f"{tmp_path.name}.jsonl", wait=wait)


@pytest.mark.parametrize("first", COMMANDS)
@pytest.mark.parametrize("second", COMMANDS)
def test_a_second_writer_is_refused_at_once_naming_the_first(tmp_path, held_by, no_ray, first, second):
    run = make_run(tmp_path / "run")
    before = folder_digest(run)
    child, _ = held_by(run, first)
    with pytest.raises(FolderBusy) as refused:
        second_writer(second, run, tmp_path)
    message = str(refused.value)
    assert f"{run} is being written by `{first}` (pid {child.pid}, host " in message
    assert "give --wait" in message
    assert folder_digest(run) == before  # the refused command changed nothing


def test_the_cli_refuses_in_one_line_naming_the_holder(tmp_path, held_by, capsys):
    run = make_run(tmp_path / "run")
    child, _ = held_by(run, "clingen generate")
    assert main(["reparse", str(run)]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith(f"clingen: error: {run} is being written by `clingen generate` (pid {child.pid}")
    holder = json.loads((run / lock.WRITER_LOCK).read_text())
    assert holder["pid"] == child.pid and holder["command"] == "clingen generate" and holder["started"].endswith("Z")


def test_wait_blocks_until_the_holder_ends_then_writes(tmp_path, held_by, no_ray):
    run = make_run(tmp_path / "run")
    releasing = SPAWN.Event()
    child, release = held_by(run, "clingen generate", releasing)
    waiting, result = threading.Event(), {}

    class WaitSeen(logging.Handler):
        def emit(self, record):
            if "waiting for" in record.getMessage():
                result["holder_alive_while_waiting"] = child.is_alive()
                waiting.set()

    handler = WaitSeen()
    logging.getLogger("clingen.runfolder.lock").addHandler(handler)
    try:
        def reparse():
            result["report"] = reparse_run(str(run), wait=True)
            result["holder_done"] = releasing.is_set()  # it wrote only after the holder let go
        worker = threading.Thread(target=reparse)
        worker.start()
        assert waiting.wait(START_S), "the reparse never said it was waiting"
        release.set()
        child.join(END_S)
        worker.join(END_S)
    finally:
        logging.getLogger("clingen.runfolder.lock").removeHandler(handler)
    assert result["holder_alive_while_waiting"] and result["holder_done"]
    assert result["report"].previous_version == "versions/1"


def test_a_killed_holder_leaves_no_stale_lock(tmp_path, held_by, no_ray):
    run = make_run(tmp_path / "run")
    child, _ = held_by(run, "clingen reparse")
    child.kill()  # SIGKILL: no cleanup code runs; the kernel releases the flock
    child.join(END_S)
    assert reparse_run(str(run)).previous_version == "versions/1"
    assert (run / lock.WRITER_LOCK).read_text() == ""  # the holder record goes with the lock


def test_writers_inside_one_process_nest_and_the_lock_is_released_after(tmp_path):
    run = make_run(tmp_path / "run")
    with OutputStore(str(run)).writing("clingen reparse"):
        assert reparse_run(str(run)).previous_version == "versions/1"  # the library call nests, no self-refusal
        assert lock.holds_writer_lock(str(run))
    assert not lock.holds_writer_lock(str(run))
    held, release = SPAWN.Event(), SPAWN.Event()
    child = SPAWN.Process(target=hold_writer_lock, args=(str(run), "clingen generate", held, release))
    child.start()
    assert held.wait(START_S)  # another process takes it once this one let go
    release.set()
    child.join(END_S)


def test_an_export_into_its_own_run_folder_holds_the_lock_and_keeps_out_of_the_shard_folders(tmp_path, held_by):
    run = make_run(tmp_path / "run")
    report = export_run(str(run), "jsonl", run / "exports" / "all.jsonl")
    assert report.rows == 12 and len((run / "exports" / "all.jsonl").read_text().splitlines()) == 12
    for inside in ("data/extra.parquet", "progress/x.json", "set_aside/x.jsonl", "versions/1/x.jsonl"):
        with pytest.raises(ConfigError, match="which ClinGen keeps in the run folder"):
            export_run(str(run), "parquet", run / inside)
    assert OutputStore.open_run(str(run)).read_examples().num_rows == 12  # still as its markers record
    # Another run's folder is a run folder too: exporting into it takes its lock.
    other = make_run(tmp_path / "other", seed=3)
    held_by(other, "clingen generate")
    with pytest.raises(FolderBusy, match="clingen generate"):
        export_run(str(run), "jsonl", other / "copy.jsonl")
    assert not (other / "copy.jsonl").exists()


def test_readers_see_one_whole_version_while_another_process_swaps_versions(tmp_path):
    folder = tmp_path / "run"
    make_run(folder)
    done = SPAWN.Event()
    child = SPAWN.Process(target=swap_versions, args=(str(folder), 25, done))
    child.start()
    versions = [sorted(ids_table(ids)["id"].to_pylist() for ids in version_ids(which)) for which in (0, 1)]
    versions = [sorted(i for part in version for i in part) for version in versions]
    reads, first = 0, sorted(OutputStore(str(folder), create=False).read_examples(["id"])["id"].to_pylist())
    while not done.is_set() or reads == 0:
        ids = sorted(OutputStore(str(folder), create=False).read_examples(["id"])["id"].to_pylist())
        assert ids in versions or ids == first, f"a torn read: {ids}"
        reads += 1
    child.join(END_S)
    assert child.exitcode == 0 and reads > 0


def test_a_reader_waits_for_a_change_in_progress(tmp_path):
    folder = tmp_path / "run"
    make_run(folder)
    held, release = SPAWN.Event(), SPAWN.Event()
    child = SPAWN.Process(target=change_shards_midway, args=(str(folder), held, release))
    child.start()
    assert held.wait(START_S)  # a shard file is out now: a reader that did not wait would refuse the folder
    read = {}
    reader = threading.Thread(target=lambda: read.update(table=OutputStore(str(folder), create=False).read_examples()))
    reader.start()
    release.set()
    child.join(END_S)
    reader.join(END_S)
    assert read["table"].num_rows == 12


def test_an_object_store_cannot_be_locked_and_says_so(caplog):
    store = OutputStore("mock:///runs/remote")
    with caplog.at_level(logging.WARNING, logger="clingen.runfolder.lock"):
        with store.writing("clingen generate"), store.writing("clingen generate"):
            store.commit(0, pa.table({"id": ["a"], "text": ["b"]}), [], [0], 1, 1)
    assert [r.getMessage() for r in caplog.records] == [
        "mock:///runs/remote is on an object store, which has no file locks: ClinGen cannot refuse a second command "
        "writing it at the same time; run one writing command at a time on it"]
    assert store.scan().rows == {0} and store.read_examples()["id"].to_pylist() == ["a"]


def test_ctrl_c_is_one_line_and_exit_130(tmp_path, monkeypatch, capsys):
    def interrupted(args):
        raise KeyboardInterrupt
    assert run_handler(interrupted, None) == 130
    assert capsys.readouterr().err == "clingen: interrupted\n"

    def stopped_generation(config, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr("clingen.generation.job.run_generation", stopped_generation)
    out = tmp_path / "run"
    assert main(["generate", "--task", "ncbi-disease", "--n", "4", "--out", str(out)]) == 130
    [line] = capsys.readouterr().err.splitlines()
    assert line == (f"clingen: interrupted: committed shards are kept in {out}; run the same command again to "
                    "resume")
    assert not lock.holds_writer_lock(str(out))


def test_sigint_to_a_real_generate_waiting_for_the_lock_is_one_line_and_exit_130(tmp_path, held_by):
    run = make_run(tmp_path / "run")
    held_by(run, "clingen reparse")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    command = [sys.executable, "-m", "clingen", "generate", "--wait", "--out", str(run), "--n", "12",
               *[arg for setting in SETTINGS for arg in ("--set", setting)]]
    generate = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                cwd=ROOT)
    first = generate.stderr.readline()  # blocks until it says it is waiting: no Ray has started
    assert "clingen: warning: waiting for `clingen reparse`" in first, first + generate.stderr.read()
    generate.send_signal(signal.SIGINT)
    _, rest = generate.communicate(timeout=END_S)
    assert generate.returncode == 130
    assert rest.splitlines() == ["clingen: interrupted"], rest
    assert "Traceback" not in rest


def test_a_commit_asked_for_by_a_run_that_was_killed_writes_nothing(tmp_path):
    """A killed driver's Ray workers can outlive it by a moment: their commit must not land beside the rows the
    next run generates (it would hold the same rows twice)."""
    import subprocess
    import sys

    import pyarrow as pa

    from clingen.datasets.records import schema_for
    from clingen.runfolder.store import OutputStore, WriterGone
    folder = tmp_path / "run"
    store = OutputStore(str(folder))
    # The killed driver: it took the writer lock, recorded itself, and died (the kernel released the lock).
    code = ("import os, signal, sys\nfrom clingen.runfolder import lock\n"
            "with lock.writing(sys.argv[1], 'clingen generate'):\n"
            "    print(os.getpid(), flush=True)\n    os.kill(os.getpid(), signal.SIGKILL)")
    killed = subprocess.run([sys.executable, "-c", code, str(folder)], capture_output=True, text=True)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    dead = int(killed.stdout)
    empty = pa.Table.from_pylist([], schema=schema_for("ner"))
    with pytest.raises(WriterGone, match=rf"shard part-000001 not committed: the run that asked for it \(pid {dead}\) "
                                         r"has ended"):
        store.commit(1, empty, [], [8, 9], 0, 0, writer_pid=dead)
    with lock.writing(str(folder), "clingen generate"):  # the next run holds the folder now
        with pytest.raises(WriterGone, match="not committed: the writer lock is now held by `clingen generate`"):
            store.commit(1, empty, [], [8, 9], 0, 0, writer_pid=dead)
        store.commit(1, empty, [], [8, 9], 0, 0, writer_pid=os.getpid())  # its own commits land
    assert sorted(p.name for p in (folder / "progress").iterdir()) == ["part-000001.json"]
