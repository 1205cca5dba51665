"""SafeShutdown: sync then the command; failures come back as a message, never raised."""

import sys

import pytest

from parrot.errors import ConfigError
from parrot.power.shutdown import SafeShutdown

PY = sys.executable


def test_dry_run_runs_nothing_and_records_the_plan():
    shutdown = SafeShutdown(["/nonexistent/poweroff"], dry_run=True)
    assert shutdown.run() is None
    assert shutdown.ran == [["sync"], ["/nonexistent/poweroff"]]


def test_success():
    shutdown = SafeShutdown([PY, "-c", "pass"], sync_command=[PY, "-c", "pass"])
    assert shutdown.run() is None
    assert len(shutdown.ran) == 2


def test_missing_command_is_a_message():
    message = SafeShutdown(["/nonexistent/poweroff"], sync_command=[PY, "-c", "pass"]).run()
    assert "not found" in message and "poweroff" in message


def test_failing_command_reports_its_stderr():
    failing = [PY, "-c", "import sys; sys.stderr.write('Permission denied\\n'); sys.exit(1)"]
    message = SafeShutdown(failing, sync_command=[PY, "-c", "pass"]).run()
    assert message.startswith("cannot shut down") and "Permission denied" in message


def test_sync_failure_stops_before_poweroff():
    shutdown = SafeShutdown([PY, "-c", "pass"], sync_command=[PY, "-c", "raise SystemExit(3)"])
    assert "exit status 3" in shutdown.run()
    assert len(shutdown.ran) == 1


def test_timeout_is_a_message():
    shutdown = SafeShutdown([PY, "-c", "import time; time.sleep(5)"], sync_command=[PY, "-c", "pass"], timeout_s=0.3)
    assert "did not finish" in shutdown.run()


@pytest.mark.parametrize("command", [[], [""], "poweroff"])
def test_bad_command_rejected(command):
    with pytest.raises(ConfigError):
        SafeShutdown(command)
