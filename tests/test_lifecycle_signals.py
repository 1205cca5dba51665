"""SIGTERM / SIGHUP / SIGINT stop parrot cleanly: finally blocks and registered cleanups run,
temp folders are removed, the display is turned off, the exit status says which signal."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from parrot import lifecycle

# parrot's own main with one extra cleanup and a display on a fake bus; the command then
# runs a headless sim with a long simulated wait (busy for many seconds of real time).
CHILD = textwrap.dedent("""
    import sys
    from pathlib import Path
    from PIL import Image
    from parrot import lifecycle
    from parrot.cli import build_parser, main
    from parrot.display.fake_oled import FakeOledBus
    from parrot.display.oled import open_oled

    out = Path(sys.argv[1])
    bus = FakeOledBus()
    # cleanups run newest first: this one, registered before the display, sees it after its off()
    lifecycle.at_exit(lambda: (out / "display_on").write_text(str(bus.display_on)))
    display = open_oled("ssd1306", 1, 0x3C, bus=bus)
    display.show(Image.new("1", (128, 64)))
    tmp = lifecycle.temp_dir("parrot-test-")
    (out / "tmp").write_text(str(tmp))
    lifecycle.at_exit(lambda: (out / "flushed").write_text("yes"))
    (out / "long.script").write_text("wait 86000\\n")
    build_parser()  # the imports: from here main reaches its handlers in milliseconds
    print("ready", flush=True)
    sys.exit(main(["sim", "--fresh", "--headless", "--backend", "echo", "--script", str(out / "long.script")]))
""")


@pytest.mark.parametrize("sig,code", [(signal.SIGTERM, 143), (signal.SIGHUP, 129), (signal.SIGINT, 130)])
def test_signal_stops_cleanly(tmp_path, sig, code):
    env = dict(os.environ, PARROT_DATA_DIR=str(tmp_path / "data"), XDG_CONFIG_HOME=str(tmp_path / "cfg"))
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    assert proc.stdout.readline().strip() == "ready"
    time.sleep(2.0)  # inside the sim
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == code, err
    assert "Traceback" not in err
    assert (tmp_path / "flushed").read_text() == "yes"
    assert not os.path.exists((tmp_path / "tmp").read_text())  # temp folder removed
    assert (tmp_path / "display_on").read_text() == "False"  # the panel was turned off first


def test_normal_exit_keeps_the_last_frame_and_runs_the_cleanups(tmp_path):
    ran = []
    from parrot.cli import main
    from parrot.display.fake_oled import FakeOledBus
    from parrot.display.oled import open_oled

    bus = FakeOledBus()
    open_oled("ssd1306", 1, 0x3C, bus=bus)
    lifecycle.at_exit(lambda: ran.append("a"))
    lifecycle.at_exit(lambda: ran.append("b"))
    lifecycle.at_exit(lambda: 1 / 0)  # a failing cleanup does not stop the others
    assert main(["keypad", "--fake", "--seconds", "0.05"]) == 0
    assert ran == ["b", "a"] and bus.display_on
    assert lifecycle.run_cleanups(signaled=True) == 0  # all forgotten


def test_sigterm_during_a_headless_sim_removes_its_fresh_state_folder(tmp_path):
    script = tmp_path / "long.script"
    script.write_text("press 1\nwait 86000\n")
    env = dict(os.environ, TMPDIR=str(tmp_path), PARROT_DATA_DIR=str(tmp_path / "data"),
               XDG_CONFIG_HOME=str(tmp_path / "cfg"))
    proc = subprocess.Popen([sys.executable, "-m", "parrot", "sim", "--fresh", "--headless", "--backend", "echo",
                             "--script", str(script)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob("parrot-sim-*")) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert list(tmp_path.glob("parrot-sim-*")), "the sim made no state folder"
    time.sleep(1.5)  # well inside the simulated wait
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert "Traceback" not in err
    assert not list(tmp_path.glob("parrot-sim-*"))
