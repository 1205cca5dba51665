"""The interactive simulator: terminal drawing, PC key decoding, and a real run in a pty."""

import os
import pty
import select
import subprocess
import sys
import time

from PIL import Image

from parrot.keys import Key
from parrot.sim.script import LONG_S, PRESS_S
from parrot.sim.terminal import KeyDecoder, frame_to_text


def test_half_block_and_braille_drawing():
    img = Image.new("1", (128, 64))
    img.putpixel((0, 0), 1)
    img.putpixel((1, 1), 1)
    img.putpixel((0, 1), 1)
    half = frame_to_text(img, "half")
    assert len(half) == 32 + 2 and all(len(row) == 130 for row in half)
    assert half[1][1:3] == "█▄"
    braille = frame_to_text(img, "braille")
    assert len(braille) == 16 + 2 and braille[1][1] == chr(0x2800 | 0x01 | 0x02 | 0x10)


def test_key_decoding():
    d = KeyDecoder()
    assert d.feed("6") == (Key.K6, PRESS_S)
    assert d.feed("a") == (Key.A, PRESS_S)
    assert d.feed("A") == (Key.A, LONG_S)
    assert d.feed("\r") == (Key.D, PRESS_S)
    assert d.feed("\x7f") == (Key.A, PRESS_S)
    assert d.feed("L") is None and d.feed("0") == (Key.K0, LONG_S)
    assert [d.feed(c) for c in "\x1b[A"][-1] == (Key.STAR, PRESS_S)
    assert [d.feed(c) for c in "\x1b[B"][-1] == (Key.HASH, PRESS_S)
    assert d.feed("z") is None


def set_size(fd, cols, rows):
    import fcntl
    import struct
    import termios

    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def test_too_small_terminal_says_what_it_needs(tmp_path):
    import io

    from parrot.sim.terminal import TerminalDisplay

    for size, drawn in (((100, 40), False), ((130, 35), True)):
        out = io.StringIO()
        TerminalDisplay(out, assumed_size=size).show(Image.new("1", (128, 64)))
        text = out.getvalue()
        assert ("┌" in text) is drawn and ("needs 130x35" in text) is not drawn, size
    out = io.StringIO()
    TerminalDisplay(out, style="braille", assumed_size=(100, 40)).show(Image.new("1", (128, 64)))
    assert "┌" in out.getvalue(), "the braille view fits where half blocks do not"


def test_interactive_session_in_a_pty(tmp_path):
    env = dict(os.environ, PARROT_DATA_DIR=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path), COLUMNS="140", LINES="50")
    master, slave = pty.openpty()
    set_size(slave, cols=140, rows=50)
    proc = subprocess.Popen([sys.executable, "-m", "parrot", "sim", "--backend", "echo", "--exit-after", "20"],
                            stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True)
    os.close(slave)
    out = b""

    def read_for(seconds):
        nonlocal out
        end = time.time() + seconds
        while time.time() < end:
            r, _, _ = select.select([master], [], [], 0.1)
            if r:
                try:
                    out += os.read(master, 65536)
                except OSError:
                    return

    try:
        read_for(3)
        assert "┌" in out.decode("utf-8", "ignore"), out[-500:]
        # raw mode: every frame row must start with a carriage return, or rows drift right
        assert "\r\n│" in out.decode("utf-8", "ignore") and "\n│" not in out.decode("utf-8", "ignore").replace("\r\n│", "")
        os.write(master, b"d")  # splash -> menu
        read_for(1)
        mark = len(out)
        os.write(master, b"#")
        read_for(1)
        assert len(out) > mark, "a key press redraws the screen"
        os.write(master, b"\x03")  # Ctrl-C quits cleanly
        proc.wait(timeout=10)
        assert proc.returncode == 0
        assert b"Traceback" not in out
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)


def test_run_without_i2c_is_a_clear_error(tmp_path, capsys, monkeypatch):
    from parrot.cli import main

    monkeypatch.setenv("PARROT_DATA_DIR", str(tmp_path / "data"))  # not the user's (maybe in use)
    cfg = tmp_path / "c.toml"
    cfg.write_text("[display]\nport = 250\n")
    assert main(["run", "--config", str(cfg), "--backend", "echo"]) == 1
    err = capsys.readouterr().err
    assert "parrot:" in err and "250" in err and "Traceback" not in err
