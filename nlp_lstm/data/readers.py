"""Readers for user corpora: plain text, labelled TSV/CSV/JSONL, parallel pairs.

Files may be gzip-compressed (``.gz``). Every problem is reported as an
``NlpLstmError`` naming the file and line; with ``skip_bad_rows=True`` bad rows are
skipped instead, and counted in the result's ``skipped``.
"""

from __future__ import annotations

import csv
import dataclasses
import gzip
import io
import json
import re
import sys
from pathlib import Path

from nlp_lstm.errors import NlpLstmError

PAIR_HEADER = re.compile(r"^([a-z]{2,3}([_-][A-Za-z]{2,4})?|source|target|src|tgt)$")


@dataclasses.dataclass
class LabelledExamples:
    """Texts with one label each (labels kept as strings, as the file gives them)."""

    texts: list[str]
    labels: list[str]
    skipped: int = 0


@dataclasses.dataclass
class ParallelExamples:
    """Aligned source and target sentences."""

    sources: list[str]
    targets: list[str]
    skipped: int = 0


class _RowErrors:
    """Raises on the first bad row, or counts them when skipping is allowed."""

    def __init__(self, path: Path, skip: bool):
        self.path, self.skip, self.count, self.first = path, skip, 0, None

    def bad(self, line: int, message: str) -> None:
        if not self.skip:
            raise NlpLstmError(
                message + " (pass --skip-bad-rows to skip such rows)", path=self.path, line=line
            )
        self.count += 1
        self.first = self.first or f"{self.path}:{line}: {message}"

    def report(self) -> int:
        if self.count:
            print(
                f"warning: skipped {self.count} bad row(s) in {self.path}; first: {self.first}",
                file=sys.stderr,
            )
        return self.count


def _read_bytes(path: Path) -> bytes:
    if not path.is_file():
        raise NlpLstmError("no such file" if not path.exists() else "not a file", path=path)
    try:
        data = path.read_bytes()
        return gzip.decompress(data) if path.suffix == ".gz" else data
    except (OSError, EOFError) as error:
        raise NlpLstmError(f"cannot read: {error}", path=path) from None


def read_lines(path: str | Path) -> list[str]:
    """The lines of a UTF-8 file (a BOM dropped), split at line feeds only (a CRLF's
    carriage return dropped too), so U+2028, a form feed and the like stay in their line.

    Raises:
        NlpLstmError: missing, empty, blank-only or not UTF-8 (naming the line).
    """
    path = Path(path)
    data = _read_bytes(path)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise NlpLstmError(
            f"not valid UTF-8 (byte 0x{data[error.start]:02x}); re-save the file as UTF-8",
            path=path,
            line=line,
        ) from None
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()  # the final newline ends the last line
    lines = [line.removesuffix("\r") for line in lines]
    if not any(line.strip() for line in lines):
        raise NlpLstmError("the file is empty or holds only blank lines", path=path)
    return lines


def _format(path: Path) -> str:
    suffixes = [s for s in path.suffixes if s != ".gz"]
    suffix = suffixes[-1].lower() if suffixes else ""
    return {".csv": "csv", ".jsonl": "jsonl", ".json": "jsonl", ".ndjson": "jsonl"}.get(
        suffix, "tsv"
    )


def read_text(path: str | Path) -> str:
    """Reads a plain UTF-8 text file (for character-level generation).

    Raises:
        NlpLstmError: missing, empty, blank-only or not UTF-8 (with the line).
    """
    return "\n".join(read_lines(path)) + "\n"


def _labelled_rows(path: Path, lines: list[str], text_field: str, label_field: str):
    """Yields ``(line_number, text, label | None, problem | None)`` for any format."""
    fmt = _format(path)
    if fmt == "jsonl":
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                yield number, None, None, f"not a JSON object ({error.msg})"
                continue
            if not isinstance(record, dict) or text_field not in record:
                yield number, None, None, f"missing the {text_field!r} field"
            elif label_field not in record or record[label_field] in (None, ""):
                yield number, None, None, f"missing the {label_field!r} field"
            else:
                yield number, str(record[text_field]), str(record[label_field]), None
        return
    delimiter = "," if fmt == "csv" else "\t"
    reader = csv.reader(
        io.StringIO("\n".join(lines)),
        delimiter=delimiter,
        quoting=csv.QUOTE_MINIMAL if fmt == "csv" else csv.QUOTE_NONE,
    )
    rows = list(reader)
    header = [h.strip().lower() for h in rows[0]] if rows else []
    has_header = text_field in header and label_field in header
    if fmt == "csv" and not has_header:
        raise NlpLstmError(
            f"a CSV file needs a header with {text_field!r} and {label_field!r}", path=path, line=1
        )
    columns = (header.index(text_field), header.index(label_field)) if has_header else (0, 1)
    width = len(header) if has_header else 2
    line_numbers = _row_line_numbers(lines, delimiter, fmt)
    for index, row in enumerate(rows[1:] if has_header else rows, 1 if has_header else 0):
        number = line_numbers[index]
        if not row or not any(field.strip() for field in row):
            continue
        if len(row) != width:
            yield number, None, None, f"expected {width} columns, found {len(row)}"
            continue
        text, label = row[columns[0]].strip(), row[columns[1]].strip()
        yield number, text, (label or None), None if label else "missing label"


def _row_line_numbers(lines: list[str], delimiter: str, fmt: str) -> list[int]:
    """Maps csv row index to the file line it starts on (quoted fields may span lines)."""
    if fmt == "tsv":
        return list(range(1, len(lines) + 1))
    reader = csv.reader(io.StringIO("\n".join(lines)), delimiter=delimiter)
    starts, last = [], 0
    for _ in reader:
        starts.append(last + 1)
        last = reader.line_num
    return starts


def read_labelled(
    path: str | Path,
    text_field: str = "text",
    label_field: str = "label",
    skip_bad_rows: bool = False,
) -> LabelledExamples:
    """Reads texts with labels from TSV, CSV or JSON lines.

    TSV: two columns ``text<TAB>label``, with or without a header naming them
    (then any column order and extra columns are fine). CSV: a header is required.
    JSONL: one object per line with ``text_field`` and ``label_field``.
    Labels stay strings ("1", "positive", ...); the recipe maps them to ids.

    Raises:
        NlpLstmError: with file and line, for bad encoding, missing or extra
            columns, missing labels, empty texts, malformed JSON, or no rows at all.
    """
    path = Path(path)
    errors = _RowErrors(path, skip_bad_rows)
    texts, labels = [], []
    for number, text, label, problem in _labelled_rows(
        path, read_lines(path), text_field.lower(), label_field.lower()
    ):
        if problem is None and not text:
            problem = "empty text"
        if problem:
            errors.bad(number, problem)
            continue
        texts.append(text)
        labels.append(label)
    skipped = errors.report()
    if not texts:
        raise NlpLstmError("no usable rows", path=path)
    return LabelledExamples(texts, labels, skipped)


def read_pairs(
    path: str | Path, target_path: str | Path | None = None, skip_bad_rows: bool = False
) -> ParallelExamples:
    """Reads parallel sentences: a two-column TSV, or two line-aligned files.

    A TSV's first row is taken as a header when both fields look like language
    codes or ``source``/``target`` (``en<TAB>de``).

    Raises:
        NlpLstmError: with file and line, for bad encoding, rows without exactly
            two columns, empty sides, or aligned files of different lengths.
    """
    path = Path(path)
    errors = _RowErrors(path, skip_bad_rows)
    sources, targets = [], []
    if target_path is None:
        lines = read_lines(path)
        first = lines[0].split("\t")
        start = 1 if len(first) == 2 and all(PAIR_HEADER.match(f.strip()) for f in first) else 0
        rows = [
            (n, line.split("\t")) for n, line in enumerate(lines[start:], start + 1) if line.strip()
        ]
    else:
        target_path = Path(target_path)
        source_lines, target_lines = read_lines(path), read_lines(target_path)
        if len(source_lines) != len(target_lines):
            raise NlpLstmError(
                f"{len(source_lines)} lines here but {len(target_lines)} in {target_path}; "
                "aligned files need one sentence per line on both sides",
                path=path,
            )
        rows = [
            (n, [s, t])
            for n, (s, t) in enumerate(zip(source_lines, target_lines), 1)
            if s.strip() or t.strip()
        ]
    for number, fields in rows:
        if len(fields) != 2:
            errors.bad(number, f"expected 2 tab-separated columns, found {len(fields)}")
        elif not fields[0].strip() or not fields[1].strip():
            errors.bad(number, "one side of the pair is empty")
        else:
            sources.append(fields[0].strip())
            targets.append(fields[1].strip())
    skipped = errors.report()
    if not sources:
        raise NlpLstmError("no usable sentence pairs", path=path)
    return ParallelExamples(sources, targets, skipped)
