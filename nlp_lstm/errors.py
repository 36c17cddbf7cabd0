"""How a command fails: ``NlpLstmError``, a message that names the file and line
(printed as one ``error:`` line, exit status 2), or ``Interrupted`` by a signal
(exit status 128 + the signal's number)."""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


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
        where = (
            f"{path}:{line}: "
            if path is not None and line is not None
            else (f"{path}: " if path is not None else "")
        )
        super().__init__(where + message)


class Interrupted(KeyboardInterrupt):
    """SIGINT (Ctrl-C) or SIGTERM stopped the command.

    Args:
        signum: the signal's number; the command exits with ``128 + signum``.
        detail: what was kept (e.g. the rows already written), for the closing line.
    """

    def __init__(self, signum: int, detail: str = ""):
        super().__init__(signal.Signals(signum).name)
        self.signum, self.detail = signum, detail


def signal_of(stop: KeyboardInterrupt) -> signal.Signals:
    """The signal behind an interrupt (a plain ``KeyboardInterrupt`` is SIGINT's)."""
    return signal.Signals(getattr(stop, "signum", signal.SIGINT))


@contextlib.contextmanager
def handling_signals(handler: Callable[[int, object], None]) -> Iterator[None]:
    """Runs ``handler`` on SIGINT and SIGTERM while active, then restores the previous
    handlers; outside the main thread (where Python cannot handle signals) a no-op."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {number: signal.signal(number, handler) for number in STOP_SIGNALS}
    try:
        yield
    finally:
        for number, old in previous.items():
            signal.signal(number, old)


@contextlib.contextmanager
def deferred_signals() -> Iterator[list[int]]:
    """While active, SIGINT and SIGTERM are recorded in the yielded list instead of
    stopping the process, for the caller to act on at a safe point (between training
    steps, between batches); a second one raises ``Interrupted`` at once.

    Stopping inside TensorFlow's Python code instead can leave its runtime in a state
    that crashes the process.
    """
    received: list[int] = []

    def record(signum, frame):
        if received:
            raise Interrupted(signum)
        received.append(signum)

    with handling_signals(record):
        yield received


def raise_interrupted(signum: int, frame) -> None:
    """A signal handler: stops the command at once with ``Interrupted``."""
    raise Interrupted(signum)


def exit_status(command: Callable[[], int | None], on_interrupt: str = "") -> int:
    """Runs a command as the command line does: a user error is one ``error:`` line on
    stderr and exit status 2, SIGINT or SIGTERM one ``stopped by ...`` line (with the
    interrupt's ``detail``, else ``on_interrupt``, e.g. how to resume) and 128 + the
    signal's number; no traceback.

    Returns:
        The exit status: the command's own (0 for ``None``), 2, or 128 + signal.
    """
    try:
        with handling_signals(raise_interrupted):
            return command() or 0
    except NlpLstmError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as stop:
        detail = getattr(stop, "detail", "") or on_interrupt
        stopped = signal_of(stop)
        print(f"stopped by {stopped.name}" + (f"; {detail}" if detail else ""), file=sys.stderr)
        return 128 + stopped
