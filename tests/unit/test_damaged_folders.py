"""A run folder that is not as its markers and manifest record, through every command that reads one: the
writers (generate, reparse, the filter step) set aside what nothing accounts for, say so on stderr and in the
manifest at once, and delete nothing; the readers (export, audit, quality, train) refuse in one line naming the
file. Folders are written with the store's real writers; damage is done as a user or a crash would. Last,
damaged input files (real splits, manifests): one error line each, never "unexpected"."""

import hashlib
import json
import shutil
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings, strategies as st

from clingen.cli import main, run_handler
from clingen.config import load_config
from clingen.datasets.readers import read_task_split
from clingen.datasets.records import Provenance, RelationExample, Span, ner_example_from_spans, schema_for
from clingen.datasets.text_checks import text_problem
from clingen.errors import DataFormatError
from clingen.generation.job import GenerationFailed, RunCounters
from clingen.parsing.checker import ReplyRecord
from clingen.parsing.consistency import filter_synthetic_set
from clingen.parsing.parsers import ReplyEnd
from clingen.runfolder import lock
from clingen.runfolder.card import write_card
from clingen.runfolder.manifest import build_manifest
from clingen.runfolder.store import OutputStore
from clingen.tasks.registry import get_task
from tests.integration.synthetic_sets import ner_records
from tests.unit.test_consistency import ScoresByText

pytestmark = pytest.mark.unit
NCBI = get_task("ncbi-disease")
SETTINGS = ["prompts.strategy=few-shot", "prompts.n_demos=0", "generation.min_words=3", "generation.shard_rows=4"]
ROWS, SHARD_ROWS = 12, 4


def run_config(out: Path):
    return load_config(overrides=[*SETTINGS, f"generation.n={ROWS}", f"generation.out={out}"])


def make_run(out: Path, seed: int = 0) -> Path:
    """A finished NER run of ROWS rows in shards of SHARD_ROWS, each example with its reply record, committed,
    its manifest and card written as `clingen generate` writes them."""
    store = OutputStore(str(out))
    records = ner_records(ROWS, seed)
    for part in range(ROWS // SHARD_ROWS):
        rows = []
        for record in records[part * SHARD_ROWS:(part + 1) * SHARD_ROWS]:
            row = {**record.to_row(), "strategy": "few-shot"}
            reply = ReplyRecord.start({"row_id": row["row_id"], "task": "ncbi-disease", "strategy": "few-shot",
                                       "label": "Disease"})
            reply.add(json.dumps({"sentence": row["text"], "entities": [s["text"] for s in row["spans"]]}),
                      ReplyEnd("stop", 30))
            rows.append({**row, "reply_record": reply.to_json()})
        store.commit(part, pa.Table.from_pylist(rows, schema=schema_for("ner")), [], [r["row_id"] for r in rows],
                     100, 40)
    manifest = build_manifest(run_config(out), NCBI, store.scan(), RunCounters(rows=ROWS, examples=ROWS), "m", 1.0,
                              None)
    store.write_manifest(manifest)
    write_card(store, manifest, NCBI)
    return out


def damage(out: Path, case: str) -> None:
    """Damage shard part-000001 (or add part-000003) as `case` says."""
    shard = {folder: out / folder / f"part-000001.{'json' if folder == 'progress' else 'parquet'}"
             for folder in ("data", "failures", "progress")}
    if case == "shard without its marker":
        shard["progress"].unlink()
    elif case == "foreign shard":
        other = make_run(out.parent / "another-run", seed=7)
        shutil.copy(other / "data/part-000001.parquet", out / "data/part-000003.parquet")
    elif case == "deleted shard":
        shard["data"].unlink()
    elif case == "truncated shard":
        shard["data"].write_bytes(shard["data"].read_bytes()[:-40])
    elif case == "shard deleted with its marker":
        for path in shard.values():
            path.unlink()


CASES = {  # what each damage is called by every command
    "shard without its marker": "data/part-000001.parquet and failures/part-000001.parquet have no progress marker",
    "foreign shard": "data/part-000003.parquet has no progress marker",
    "deleted shard": "data/part-000001.parquet is missing",
    "truncated shard": "data/part-000001.parquet differs from its marker",
    "shard deleted with its marker": "manifest.json records 12 examples, the readable progress markers 8: "
                                     "markers were removed or cannot be read",
}


def contents(out: Path) -> dict[str, str]:
    """sha256 -> path of every file of the folder but the locks."""
    return {hashlib.sha256(p.read_bytes()).hexdigest(): str(p.relative_to(out)) for p in sorted(out.rglob("*"))
            if p.is_file() and p.name not in lock.LOCK_FILES}


def shard_files(out: Path) -> dict[str, str]:
    return {digest: path for digest, path in contents(out).items() if path.split("/")[0] in ("data", "failures",
                                                                                             "progress")}


@pytest.fixture
def no_ray(monkeypatch):
    """Commands stop where they would start Ray: generate as a failing generator would stop it."""
    def generator_down(*args, **kwargs):
        raise GenerationFailed("the generator is down (unit test: no Ray)")

    def refuse(*args, **kwargs):
        raise AssertionError("a reader that should have refused went on to start Ray")
    monkeypatch.setattr("clingen.generation.job.ensure_ray", generator_down)
    monkeypatch.setattr("clingen.cluster.ensure_ray", refuse)
    monkeypatch.setattr("clingen.quality.report._embed_all", refuse)


def reader_argv(command: str, run: Path, tmp_path: Path) -> list[str]:
    return {"export": ["export", str(run), "--format", "jsonl", "--out", str(tmp_path / "x.jsonl")],
            "export --failures": ["export", str(run), "--format", "parquet", "--failures", "--out",
                                  str(tmp_path / "f.parquet")],
            "audit": ["audit", str(run)],
            "quality": ["quality", "--synthetic", str(run), "--out", str(tmp_path / "quality")],
            "train": ["train", "--task", "ncbi-disease", "--train", str(run), "--out", str(tmp_path / "model")],
            }[command]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("command", ["export", "export --failures", "audit", "quality", "train"])
def test_readers_refuse_a_damaged_folder_in_one_line_naming_the_file(tmp_path, capsys, no_ray, case, command):
    run = make_run(tmp_path / "run")
    damage(run, case)
    before = contents(run)
    expected_error = "truncated" not in case or command != "export --failures"  # it reads no data/ file
    assert main(reader_argv(command, run, tmp_path)) == (2 if expected_error else 0)
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("clingen: ")]
    if expected_error:
        assert len(err) == 1 and err[0].startswith(f"clingen: error: {run} is not as its progress markers and "
                                                   f"manifest record: ") and CASES[case] in err[0], err
        assert "Nothing was read" in err[0] and "unexpected" not in err[0]
        assert not (tmp_path / "x.jsonl").exists() and not (tmp_path / "f.parquet").exists()
    assert contents(run) == before  # a reader changes nothing


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("command", ["generate", "reparse"])
def test_writers_set_aside_what_nothing_accounts_for_say_so_and_delete_nothing(tmp_path, capsys, no_ray, case,
                                                                               command):
    run = make_run(tmp_path / "run")
    damage(run, case)
    before = shard_files(run)
    argv = (["generate", "--out", str(run), "--n", str(ROWS), *[a for s in SETTINGS for a in ("--set", s)]]
            if command == "generate" else ["reparse", str(run)])
    code = main(argv)
    err = capsys.readouterr().err.splitlines()
    warnings = [line for line in err if line.startswith("clingen: warning: ")]
    assert len(warnings) == (2 if case == "shard without its marker" else 1), err
    assert any(CASES[case] in line for line in warnings), warnings
    manifest = json.loads((run / "manifest.json").read_text())
    assert len(manifest["set_aside"]) == len(warnings)  # on record, even when the command then fails
    for entry in manifest["set_aside"]:
        if entry["moved_to"]:
            note = json.loads((run / entry["moved_to"] / "SET_ASIDE.json").read_text())
            assert note["problem"] == entry["problem"] and note["files"]
            assert all((run / entry["moved_to"] / name).is_file() for name in note["files"])
    after = contents(run)
    assert set(before) <= set(after), [before[d] for d in set(before) - set(after)]  # nothing deleted
    if command == "generate":  # rows to generate again: it stops where the generator would start
        regenerate = case != "foreign shard"
        assert code == (2 if regenerate else 0)
        assert (err[-1] == "clingen: error: the generator is down (unit test: no Ray)") == regenerate
        assert manifest["counts"]["rows_done"] == (8 if regenerate else 12)
    else:
        assert code == 0 and manifest["reparses"][0]["counts_before"]["rows_done"] == (12 if case == "foreign shard"
                                                                                      else 8)
    # What is left is as its markers record: every reader takes it.
    assert OutputStore.open_run(str(run)).read_examples().num_rows == manifest["counts"]["examples"]


def test_a_reparse_stopped_before_its_swap_leaves_staged_shards_that_the_next_one_sets_aside(tmp_path, caplog):
    run = make_run(tmp_path / "run")
    staged = OutputStore(str(run)).staging()
    staged.commit(0, schema_for("ner").empty_table(), [], [0], 0, 0)  # then killed: no journal, no swap
    left = contents(run / ".staged")
    OutputStore(str(run)).staging()
    [entry] = json.loads((run / "manifest.json").read_text())["set_aside"]
    assert entry["part"] == "staged" and not [p for p in (run / ".staged").rglob("*") if p.is_file()]
    kept = contents(run / entry["moved_to"])
    assert set(left) <= set(kept) and "reparse stopped before swapping" in caplog.text


def test_a_set_aside_folder_an_earlier_run_could_not_record_is_recorded_by_the_next_writer(tmp_path, caplog):
    """On a full disk the move to set_aside/ succeeds and its note and manifest entry cannot be written: the next
    writer notes it, says so once and puts it in the manifest; its files stay as they are."""
    run = make_run(tmp_path / "run")
    unrecorded = run / "set_aside" / "part-000003-20261207T225406Z"
    (unrecorded / "data").mkdir(parents=True)
    (unrecorded / "data" / "part-000003.parquet").write_bytes(b"PAR1 partial")
    OutputStore(str(run)).scan()
    [entry] = json.loads((run / "manifest.json").read_text())["set_aside"]
    assert entry["part"] == "part-000003" and entry["moved_to"] == "set_aside/part-000003-20261207T225406Z"
    assert "could not record why" in caplog.text and (unrecorded / "SET_ASIDE.json").is_file()
    assert (unrecorded / "data" / "part-000003.parquet").read_bytes() == b"PAR1 partial"
    caplog.clear()
    OutputStore(str(run)).scan()  # recorded once
    assert len(json.loads((run / "manifest.json").read_text())["set_aside"]) == 1 and not caplog.text


def relation_run(out: Path) -> Path:
    store = OutputStore(str(out))
    rows = [RelationExample(f"gad-{i}", text, "Has_relation", provenance=None).to_row() | {"row_id": i}
            for i, text in enumerate(["@GENE$ causes @DISEASE$.", "@GENE$ is unrelated to @DISEASE$."])]
    store.commit(0, pa.Table.from_pylist(rows, schema=schema_for("relation")), [], [0, 1], 10, 5)
    config = load_config(overrides=["task=gad", "generation.n=2"])
    store.write_manifest(build_manifest(config, get_task("gad"), store.scan(), None, "m", 0.0, None))
    return out


def test_the_filter_step_run_again_keeps_its_previous_output_as_a_version(tmp_path):
    source = relation_run(tmp_path / "run")
    scores = {"@GENE$ causes @DISEASE$.": {"Has_relation": 0.9, "No_relation": 0.1},
              "@GENE$ is unrelated to @DISEASE$.": {"Has_relation": 0.02, "No_relation": 0.98}}
    out = tmp_path / "filtered"
    assert filter_synthetic_set(str(source), ScoresByText(scores), 0.9, str(out))["examples"] == 1
    first = shard_files(out)
    assert filter_synthetic_set(str(source), ScoresByText(scores), 0.99, str(out))["examples"] == 2
    assert set(first) <= set(contents(out))  # the first output moved to versions/1, not overwritten
    assert (out / "versions/1/manifest.json").is_file()
    assert OutputStore.open_run(str(out)).read_examples().num_rows == 2


def test_a_damaged_source_is_not_filtered(tmp_path):
    source = relation_run(tmp_path / "run")
    (source / "failures/part-000000.parquet").unlink()
    with pytest.raises(DataFormatError, match="failures/part-000000.parquet is missing"):
        filter_synthetic_set(str(source), ScoresByText({}), 0.9, str(tmp_path / "filtered"))
    assert not (tmp_path / "filtered").exists()


# Property: random shards (non-ASCII texts, empty shards, failures only), one random damage of one shard.
DAMAGES = ("none", "drop marker", "delete data", "delete failures", "truncate data", "truncate failures",
           "swap data of two shards", "foreign file", "partial write", "remove shard with marker")
TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30)


@st.composite
def shards(draw):
    sizes = draw(st.lists(st.integers(0, 4), min_size=2, max_size=4))
    result, row = [], 0
    for size in sizes:
        kept = [draw(st.booleans()) for _ in range(size)]
        result.append([(row + i, draw(TEXT) if keep else None) for i, keep in enumerate(kept)])
        row += size
    return result


def write_shards(out: Path, drawn) -> OutputStore:
    store = OutputStore(str(out))
    for part, rows in enumerate(drawn):
        examples = [{"id": f"e{row}", "text": text} for row, text in rows if text is not None]
        failures = [{"row_id": row, "reason": "no_json", "detail": "d", "raw": "r", "step": 1}
                    for row, text in rows if text is None]
        store.commit(part, pa.Table.from_pylist(examples, schema=pa.schema([("id", pa.string()),
                                                                            ("text", pa.string())])),
                     failures, [row for row, _ in rows], 1, 1)
    config = load_config(overrides=["task=ncbi-disease", f"generation.n={max(1, sum(len(r) for r in drawn))}"])
    store.write_manifest(build_manifest(config, NCBI, store.scan(), None, "m", 0.0, None))
    return store


def do_damage(out: Path, how: str, part: int, drawn) -> bool:
    """Damage shard `part`; whether the folder is now not as recorded."""
    name = f"part-{part:06d}"
    data, failures, marker = out / f"data/{name}.parquet", out / f"failures/{name}.parquet", out / f"progress/{name}.json"
    if how == "drop marker":
        marker.unlink()
    elif how in ("delete data", "delete failures"):
        (data if how == "delete data" else failures).unlink()
    elif how.startswith("truncate"):
        path = data if how == "truncate data" else failures
        path.write_bytes(path.read_bytes()[:-1])
    elif how == "swap data of two shards":
        other = out / f"data/part-{(part + 1) % len(drawn):06d}.parquet"
        if other.read_bytes() == data.read_bytes():
            return False
        tmp = data.read_bytes()
        data.write_bytes(other.read_bytes())
        other.write_bytes(tmp)
    elif how == "foreign file":
        (out / "data/notes.parquet").write_bytes(b"PAR1 not really")
    elif how == "partial write":
        (out / f"data/{name}.parquet.tmp-0a1b2c3d").write_bytes(data.read_bytes()[:7])
    elif how == "remove shard with marker":
        for path in (data, failures, marker):
            path.unlink()
        return bool(drawn[part])  # a shard of no rows counted nothing
    return how != "none"


@settings(max_examples=60)
@given(drawn=shards(), how=st.sampled_from(DAMAGES), pick=st.integers(0, 10))
def test_readers_refuse_exactly_the_damaged_folders_and_writers_keep_every_file(drawn, how, pick):
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        store = write_shards(out, drawn)
        part = pick % len(drawn)
        damaged = do_damage(out, how, part, drawn)
        before = shard_files(out)
        # A reader checks every file's place and what it reads itself: a changed data file fails the
        # examples, a changed failure file the failures, anything else both.
        readers = {"truncate data": [store.read_examples], "swap data of two shards": [store.read_examples],
                   "truncate failures": [store.read_failures]}.get(how, [store.read_examples, store.read_failures])
        for read in readers if damaged else []:
            with pytest.raises(DataFormatError, match="is not as its progress markers and manifest record"):
                read()
        progress = store.scan()
        assert bool(progress.set_aside) == damaged
        assert set(before) <= set(contents(out))  # nothing deleted, whatever the damage
        kept_rows = {row for rows in drawn for row, _ in rows}
        if damaged and how != "foreign file" and how != "partial write":
            lost = {row for p, rows in enumerate(drawn) for row, _ in rows
                    if p == part or (how == "swap data of two shards" and p == (part + 1) % len(drawn))}
            kept_rows -= lost
        assert progress.rows == kept_rows
        texts = {f"e{row}": text for rows in drawn for row, text in rows if text is not None and row in kept_rows}
        table = store.read_examples()  # what is left reads, as recorded
        read = dict(zip(table["id"].to_pylist(), table["text"].to_pylist())) if table is not None else {}
        assert read == texts


# Damaged input files: one `clingen: error:` line naming the file, never "unexpected ...", before Ray starts.
BAD_CHARACTERS = st.sampled_from(["\ud800", "\udfff", "\x00", "\x1b", "\x07", "\x7f", "\x9b"])
PLAIN = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")) | st.sampled_from("\t\n\r"), max_size=40)


@given(before=PLAIN, bad=BAD_CHARACTERS, after=PLAIN)
def test_a_lone_surrogate_or_a_control_character_is_named_with_its_offset(before, bad, after):
    assert text_problem(before + after) is None
    problem = text_problem(before + bad + after)
    assert f"U+{ord(bad):04X}" in problem and f"at character {len(before)}" in problem


def ner_row(text: str) -> dict:
    start = text.index("gout")
    return ner_example_from_spans("x-1", text, [Span(start, start + 4, "Disease", "gout")],
                                  Provenance(task="ncbi-disease", row_id=0)).to_row()


@pytest.mark.parametrize("name, content, expected", [
    ("surrogate.jsonl", json.dumps(ner_row("Patient with gout \ud800 and fever.")) + "\n",
     "surrogate.jsonl:1: text holds a lone surrogate U+D800 at character 18"),
    ("nul.jsonl", json.dumps(ner_row("Patient with gout\x00 and fever.")) + "\n",
     "nul.jsonl:1: text holds the control character U+0000 (NUL) at character 17"),
    ("esc.conll", "Patient\tO\nwith\tO\ngout\x1b[31m\tB-Disease\n\n",
     "esc.conll:1: text holds the control character U+001B (ESC) at character 17"),
    ("nested.jsonl", '{"text": "gout", "spans": ' + "[" * 100000 + "]" * 100000 + "}\n",
     "nested.jsonl: none of the formats task ncbi-disease (ner) reads fits its first line"),
])
def test_data_check_refuses_what_later_commands_would_crash_on(tmp_path, capsys, name, content, expected):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8", errors="surrogatepass")
    assert main(["data", "check", str(path), "--task", "ncbi-disease"]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith(f"clingen: error: {tmp_path}/") and expected in line, line
    with pytest.raises(DataFormatError):  # every command reads a real split through the same reader
        read_task_split(NCBI, path)


def test_a_corrupt_parquet_split_is_one_line(tmp_path, capsys):
    path = tmp_path / "split.parquet"
    pq.write_table(pa.Table.from_pylist([ner_row("Patient with gout and fever.")]), path)
    path.write_bytes(path.read_bytes()[:-30])
    assert main(["data", "check", str(path), "--task", "ncbi-disease"]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith(f"clingen: error: {path} is not a readable Parquet file (ArrowInvalid: ")


@pytest.mark.parametrize("content, expected", [
    (bytes(range(256)), "manifest.json is not valid JSON"),
    (b'{"task": ' + b"[" * 100000 + b"]" * 100000 + b"}", "manifest.json nests too deep to be read"),
    (b"[1, 2]", "manifest.json is not a manifest this ClinGen"),
])
@pytest.mark.parametrize("command", ["audit", "export", "reparse", "generate"])
def test_a_damaged_manifest_is_one_line_for_every_command(tmp_path, capsys, no_ray, content, expected, command):
    run = make_run(tmp_path / "run")
    (run / "manifest.json").write_bytes(content)
    argv = {"audit": ["audit", str(run)], "reparse": ["reparse", str(run)],
            "export": ["export", str(run), "--format", "jsonl", "--out", str(tmp_path / "x.jsonl")],
            "generate": ["generate", "--out", str(run), "--n", str(ROWS), *[a for s in SETTINGS for a in ("--set", s)]]}
    assert main(argv[command]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith(f"clingen: error: {run}/") and expected in line, line


def test_json_nested_too_deep_anywhere_is_an_input_error_and_other_recursion_a_bug(capsys):
    def nested_input(args):
        return json.loads("[" * 100000 + "]" * 100000)

    def endless(args):
        return endless(args)
    assert run_handler(nested_input, None) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("clingen: error: an input holds JSON nested deeper than can be read")
    assert run_handler(endless, None) == 1
    assert "unexpected RecursionError" in capsys.readouterr().err
