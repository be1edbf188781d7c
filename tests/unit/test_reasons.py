"""Failure reasons are one enumeration (clingen/runfolder/reasons.py): a failure made with a name outside it fails
where it is made, a misspelt name in the source fails here, and every name is documented in the README."""

import ast
import difflib
import re
from pathlib import Path

import pytest

from clingen.parsing.parsers import ParseFailure
from clingen.runfolder.reasons import BY_NAME, NO_EXAMPLE, REASONS, failure_record, known_reason, level_of

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]


def test_a_failure_with_an_unknown_reason_is_refused_where_it_is_made_naming_the_closest():
    with pytest.raises(ValueError, match=r"unknown failure reason 'topic_mising'; closest: topic_missing"):
        ParseFailure(3, "topic_mising", "detail", "raw")
    with pytest.raises(ValueError, match=r"unknown failure reason 'near_dupe'"):
        failure_record(3, "near_dupe", "repeats 1", "{}")
    assert known_reason("truncated") == "truncated"


def test_the_failure_record_is_the_failures_shards_row():
    from clingen.runfolder.store import FAILURE_SCHEMA
    row = ParseFailure(7, "too_short", "2 words", "Asthma.", 2).to_dict()
    assert list(row) == FAILURE_SCHEMA.names and row == {"row_id": 7, "reason": "too_short", "detail": "2 words",
                                                        "raw": "Asthma.", "step": 2, "reply_record": None}


def test_no_example_is_a_defined_row_reason_and_recorded_names_of_older_versions_count_as_rows():
    assert NO_EXAMPLE in BY_NAME and level_of(NO_EXAMPLE) == "row"
    assert level_of("a_reason_from_2025") == "row"  # read from an old marker, not made now


def _snake_case_literals():
    for path in sorted((ROOT / "clingen").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and \
                    re.fullmatch(r"[a-z]+(_[a-z]+)+", node.value):
                yield path.relative_to(ROOT), node.lineno, node.value


def _plural_of(word: str, reason: str) -> bool:
    return word in (reason + "s", reason.replace("entity", "entities"))


def test_no_string_in_the_source_is_a_misspelt_reason():
    misspelt = []
    for path, line, value in _snake_case_literals():
        close = difflib.get_close_matches(value, BY_NAME, n=1, cutoff=0.85)
        if value not in BY_NAME and close and not _plural_of(value, close[0]):
            misspelt.append(f"{path}:{line}: {value!r} (did you mean {close[0]!r}?)")
    assert not misspelt, "\n".join(misspelt)


def test_every_reason_is_documented_in_the_readme_with_its_level():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [r.name for r in REASONS if f"| `{r.name}` | {r.level} |" not in readme]
    assert not missing, f"README's reasons table lacks: {missing}"
