"""Stopping cleanly: SIGTERM and SIGHUP become an exception, and parts register what must be
undone on the way out (temp folders, the display turned off).

`parrot.cli.main` installs the handlers and runs the cleanups however the command ends. A
signal raises `Terminated` (a SystemExit, so `except Exception` and the chat's Ctrl-C handler
do not swallow it, and asyncio lets it out of the event loop): `finally` blocks run, pending
saves can be flushed, and the process exits with 128 + the signal number. SIGINT keeps
Python's KeyboardInterrupt (exit 130).
"""

from __future__ import annotations

import logging
import shutil
import signal
import tempfile
import threading
import weakref
from pathlib import Path
from typing import Callable

log = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


class Terminated(SystemExit):
    """The process was asked to stop by a signal."""

    def __init__(self, signum: int):
        super().__init__(128 + signum)
        self.signum = signum

    def __str__(self) -> str:
        return f"stopped by {signal.Signals(self.signum).name}"


class _Cleanup:
    def __init__(self, fn: Callable[[], object], only_on_signal: bool, weak: bool):
        self._ref = weakref.WeakMethod(fn) if weak else (lambda: fn)
        self.only_on_signal = only_on_signal
        self.name = getattr(fn, "__qualname__", repr(fn))

    def fn(self) -> Callable[[], object] | None:
        return self._ref()


_cleanups: list[_Cleanup] = []
_lock = threading.Lock()


def at_exit(fn: Callable[[], object], *, only_on_signal: bool = False, weak: bool = False) -> Callable[[], None]:
    """Run fn when the command ends (last registered, first run); returns an unregister function.

    only_on_signal: only when stopped by SIGTERM/SIGHUP/SIGINT (e.g. turning the display off,
    which a normal exit leaves showing its last frame). weak: fn is a bound method whose
    object may be dropped first (then nothing runs)."""
    entry = _Cleanup(fn, only_on_signal, weak)
    with _lock:
        _cleanups.append(entry)

    def unregister() -> None:
        with _lock:
            if entry in _cleanups:
                _cleanups.remove(entry)

    return unregister


def temp_dir(prefix: str = "parrot-") -> Path:
    """A new temp folder, removed when the command ends (also on SIGTERM)."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    at_exit(lambda: shutil.rmtree(path, ignore_errors=True))
    return path


def run_cleanups(signaled: bool) -> int:
    """Run (and forget) the registered cleanups, newest first; returns how many ran.

    Stop signals are held back meanwhile so a second SIGTERM cannot cut a cleanup short;
    a failing cleanup is logged and the others still run."""
    blocked = {signal.SIGTERM, signal.SIGHUP, signal.SIGINT}
    old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, blocked)
    ran = 0
    try:
        while True:
            with _lock:
                if not _cleanups:
                    break
                entry = _cleanups.pop()
            fn = entry.fn()
            if fn is None or (entry.only_on_signal and not signaled):
                continue
            try:
                fn()
                ran += 1
            except Exception as e:
                log.warning("cleanup %s failed: %s", entry.name, e)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
    return ran


def _raise_terminated(signum, _frame) -> None:
    raise Terminated(signum)


def install_signal_handlers() -> dict:
    """SIGTERM/SIGHUP raise Terminated in the main thread; returns the old handlers to restore.
    Outside the main thread (a test calling main from a worker) nothing is installed."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    return {sig: signal.signal(sig, _raise_terminated) for sig in STOP_SIGNALS}


def restore_signal_handlers(old: dict) -> None:
    for sig, handler in old.items():
        signal.signal(sig, handler)
