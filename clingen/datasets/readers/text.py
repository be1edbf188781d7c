"""Datasets stage: the text layer under every real-data reader, and what a reader returns.

Files are read as UTF-8 with or without a byte-order mark and with any line end; a reader returns the examples
with the dataset's own label names and where each came from.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from clingen.datasets.records import Record
from clingen.errors import DataFormatError

_LINE_END = re.compile(r"\r\n|\r|\n")
# csv's default field limit (128 KiB) is below the longest PUBHEALTH article text.
_CSV_FIELD_LIMIT = 16 * 1024 * 1024


@dataclass(frozen=True)
class Location:
    """Where an example is in its file: a line (1-based) and, where lines say little, a detail such as the
    XML pair id. `token_lines`: token i of the example is on `line + i` (CoNLL)."""

    file: Path
    line: int | None = None
    detail: str | None = None
    token_lines: bool = False

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else str(self.file)
        return f"{where} ({self.detail})" if self.detail else where

    def of_token(self, index: int) -> Location:
        """The location of the example's token `index` (its own line in CoNLL, else the example's)."""
        if self.token_lines and self.line is not None:
            return replace(self, line=self.line + index)
        return self


@dataclass
class RealData:
    """A real file as read, before its labels are mapped to a task's: the detected format, the examples
    (labels and entity types as the dataset names them), the location of each, and the problems seen
    while reading (instances lost by a conversion, rows skipped), each as one readable line. `found`: what
    the file held, in a phrase ("3 document(s), 7 mention(s) ..., 0 CID relation(s)"), for the error that
    refuses a file giving no example; None where the examples say it (one per data row)."""

    path: Path
    format: str
    examples: list[Record]
    locations: list[Location]
    problems: list[str] = field(default_factory=list)
    found: str | None = None


def read_text(path: str | Path) -> str:
    """The file's text: UTF-8, a leading byte-order mark dropped (so `\\ufeffindex` reads as `index`).
    Raises DataFormatError naming the line and byte of the first invalid byte."""
    path = Path(path)
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise DataFormatError(f"{path}:{line}: byte {exc.start} ({data[exc.start:exc.start + 1]!r}) is not "
                              f"UTF-8; expected UTF-8 text (re-encode the file, e.g. iconv -t UTF-8)") from None


def split_lines(text: str) -> list[str]:
    """Lines without their ends, for Unix (LF), Windows (CRLF) and old Mac (CR) line ends alike; a final line
    end gives no empty last line. Unlike str.splitlines, characters such as U+2028 or U+0085 inside a line
    are text, not line ends (they occur in abstracts)."""
    lines = _LINE_END.split(text)
    return lines[:-1] if lines and lines[-1] == "" else lines


def read_lines(path: str | Path) -> list[str]:
    """The lines of the file at path (`read_text` then `split_lines`): UTF-8, no byte-order mark, no line
    ends. Raises DataFormatError for a byte that is not UTF-8."""
    return split_lines(read_text(path))


def csv_rows(path: str | Path, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """(first line number, fields) of each non-empty CSV/TSV record; quoted fields may span lines."""
    csv.field_size_limit(max(csv.field_size_limit(), _CSV_FIELD_LIMIT))
    reader = csv.reader(io.StringIO(read_text(path), newline=""), delimiter=delimiter)
    start = 1
    try:
        for row in reader:
            if any(value.strip() for value in row):
                yield start, [value.strip() for value in row]
            start = reader.line_num + 1
    except csv.Error as exc:
        raise DataFormatError(f"{path}:{reader.line_num}: malformed {'TSV' if delimiter == chr(9) else 'CSV'} "
                              f"record ({exc}); expected {delimiter!r}-separated fields") from None


def header_index(path: Path, line: int, header: list[str], required: tuple[str, ...],
                 what: str) -> dict[str, int]:
    """Column positions by lower-cased header name; a missing required column is named with those present."""
    names = {name.strip().lower(): position for position, name in enumerate(header)}
    missing = [name for name in required if name not in names]
    if missing:
        raise DataFormatError(f"{path}:{line}: {what} header lacks column(s) {missing}; it has {header}; "
                              f"expected at least {list(required)}")
    return names
