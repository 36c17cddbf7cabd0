"""The one error type users see: a message that names the file and line."""

from __future__ import annotations

from pathlib import Path


class NlpLstmError(Exception):
    """A problem with user input or configuration, explained in one message.

    Args:
        message: what is wrong and, where possible, how to fix it.
        path: the file at fault, if any.
        line: the 1-based line number in ``path``, if any.

    Example:
        >>> str(NlpLstmError("expected 2 columns, found 3", path="a.tsv", line=7))
        'a.tsv:7: expected 2 columns, found 3'
    """

    def __init__(self, message: str, path: str | Path | None = None, line: int | None = None):
        self.message, self.path, self.line = message, path, line
        where = f"{path}:{line}: " if path is not None and line is not None else (
            f"{path}: " if path is not None else "")
        super().__init__(where + message)
