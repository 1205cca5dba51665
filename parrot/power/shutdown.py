"""Safe shutdown: flush file systems, then power off - or say why it could not.

Never raises into the app: the UI shows the returned message instead.
"""

from __future__ import annotations

import logging
import subprocess
from dataclasses import dataclass, field

from parrot.errors import ConfigError

log = logging.getLogger(__name__)

SYNC_COMMAND = ["sync"]
DEFAULT_POWEROFF_COMMAND = ["poweroff"]
COMMAND_TIMEOUT_S = 30.0  # sync on a slow SD card can take a while; poweroff returns at once


@dataclass
class SafeShutdown:
    command: list[str] = field(default_factory=lambda: list(DEFAULT_POWEROFF_COMMAND))
    sync_command: list[str] = field(default_factory=lambda: list(SYNC_COMMAND))
    dry_run: bool = False  # simulator: log what would run, touch nothing
    timeout_s: float = COMMAND_TIMEOUT_S
    ran: list[list[str]] = field(default_factory=list)  # commands run (or that would run)

    def __post_init__(self) -> None:
        for command in (self.command, self.sync_command):
            if not isinstance(command, (list, tuple)) or not command or not all(
                isinstance(part, str) and part for part in command
            ):
                raise ConfigError(f"shutdown command must be a non-empty list of strings, got {command!r}")

    def run(self) -> str | None:
        """Sync, then run the shutdown command. None on success, else a one-line message."""
        for command in (self.sync_command, self.command):
            error = self._run(command)
            if error is not None:
                log.error("shutdown: %s", error)
                return error
        return None

    def _run(self, command: list[str]) -> str | None:
        self.ran.append(list(command))
        if self.dry_run:
            log.info("shutdown (dry run): would run %s", " ".join(command))
            return None
        name = command[0]
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=self.timeout_s)
        except FileNotFoundError:
            return f"cannot shut down: command {name!r} not found"
        except PermissionError:
            return f"cannot shut down: not allowed to run {name!r}"
        except subprocess.TimeoutExpired:
            return f"cannot shut down: {name!r} did not finish in {self.timeout_s:g} s"
        except OSError as e:
            return f"cannot shut down: {name!r} failed to start ({e.strerror or e})"
        if result.returncode != 0:
            detail = (result.stderr or result.stdout).strip().splitlines()
            reason = detail[-1] if detail else f"exit status {result.returncode}"
            return f"cannot shut down: {name!r} failed: {reason}"
        return None
