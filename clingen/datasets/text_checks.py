"""Text a real split may not hold (datasets stage, for every reader): characters that later commands cannot
take. A lone surrogate (a JSON "\\ud800" escape, a file decoded with `surrogateescape`) is no Unicode text: it
cannot be encoded as UTF-8, so tokenizers, Arrow and the console fail on it far from the file. Control
characters other than tab, newline and carriage return (NUL, ESC and the rest of C0, DEL, C1) are no text
either: ESC starts terminal escape sequences, NUL ends C strings. A file holding one is refused when it is
read, naming the example, the character and where it is."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Sequence

from clingen.errors import DataFormatError

_SURROGATE = re.compile("[\ud800-\udfff]")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_NAMES = {0x00: "NUL", 0x1B: "ESC", 0x7F: "DEL"}


def text_problem(text: str) -> str | None:
    """Why `text` cannot be taken as text, naming the first bad character and its offset, or None."""
    surrogate = _SURROGATE.search(text)
    if surrogate:
        return (f"a lone surrogate U+{ord(surrogate.group()):04X} at character {surrogate.start()}, which is not "
                "Unicode text (it cannot be written as UTF-8)")
    control = _CONTROL.search(text)
    if control:
        code = ord(control.group())
        name = _NAMES.get(code) or unicodedata.name(control.group(), f"C{0 if code < 0x80 else 1} control")
        return f"the control character U+{code:04X} ({name}) at character {control.start()}"
    return None


def refuse_unsafe_text(records: Sequence, locations: Sequence) -> None:
    """DataFormatError for the first record (a Record with to_row()) holding a string `text_problem` refuses,
    at its location; `locations` pairs with `records`."""
    for index, record in enumerate(records):
        for field, value in _strings(record.to_row()):
            problem = text_problem(value)
            if problem:
                where = locations[index] if index < len(locations) else f"example {index + 1}"
                raise DataFormatError(f"{where}: {field} holds {problem}; expected text without lone surrogates "
                                      "or control characters other than tab, newline and carriage return")


def _strings(value, path: str = "") -> Iterator[tuple[str, str]]:
    """(field path, string) of every string in a record row (nested lists and dicts included)."""
    if isinstance(value, str):
        yield path or "the text", value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, (list, tuple)):
        for position, item in enumerate(value):
            yield from _strings(item, f"{path}[{position}]")
