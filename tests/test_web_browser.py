"""The web simulator in a real headless browser: Debian's chromium driven by Playwright.

`parrot web` runs as a subprocess (loopback, a free port, echo backend, throw-away state); the
test clicks the page's keypad and reads the page's canvas back, comparing it pixel for pixel with
the frame the emulated OLED holds (GET /frame.png) and following the screens the app shows.
Chromium comes from `make browser-deps` (make test runs it first)."""
from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("PARROT_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOT = os.environ.get("PARROT_WEB_SCREENSHOT")  # e.g. docs/web-sim.png (make web-screenshot)

pytestmark = pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK),
                                reason=f"no chromium at {CHROMIUM}: run `make browser-deps`")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    config = tmp_path_factory.mktemp("cfg") / "parrot.toml"
    config.write_text("[ui]\nsplash_s = 0\n")  # defaults, but the splash waits for a key
    proc = subprocess.Popen([sys.executable, "-m", "parrot", "web", "--port", "0", "--fresh", "--backend", "echo",
                             "--config", str(config)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        line = proc.stdout.readline()
        assert "serving on http://127.0.0.1:" in line, line + proc.stdout.read()
        yield line.split("serving on ")[1].split()[0]
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def server_frame(url: str) -> str:
    """The emulated panel's pixels as a string of 0/1, row by row."""
    from PIL import Image

    with urllib.request.urlopen(url + "frame.png", timeout=5) as r:
        image = Image.open(io.BytesIO(r.read())).convert("L")
    return "".join("1" if v else "0" for v in image.getdata())


def state(url: str) -> dict:
    with urllib.request.urlopen(url + "state", timeout=5) as r:
        return json.loads(r.read())


CANVAS_BITS = """() => {
  const c = document.getElementById('screen');
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let s = '';
  for (let i = 0; i < d.length; i += 4) s += d[i] > 0 ? '1' : '0';
  return s;
}"""


def until(check, timeout=8.0, what="condition"):
    end = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_keypad_and_screen_in_chromium(server, tmp_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 640, "height": 700})
            page.goto(server)
            page.wait_for_function("window.parrot.connected && window.parrot.frames > 0")

            def shown():
                return page.evaluate(CANVAS_BITS)

            def in_sync():
                """The page shows exactly what the panel holds (retried: the cursor blinks)."""
                return until(lambda: (lambda c: c if c == server_frame(server) else None)(shown()),
                             what="the page to show the panel's frame")

            def screen_is(name):
                until(lambda: state(server)["screen"] == name, what=f"screen {name}")
                return in_sync()

            def click(label, hold_s=0.12):
                button = page.locator(f"button[data-key='{label}']")
                button.hover()
                page.mouse.down()
                time.sleep(hold_s)
                page.mouse.up()
                time.sleep(0.08)  # the poller's debounce sees the release

            splash = screen_is("splash")
            assert splash.count("1") > 200  # something is drawn
            click("5")
            menu = screen_is("menu")
            assert menu != splash
            click("1")  # item 1: the question editor
            editor = screen_is("input")
            assert editor != menu
            for label in "64426":  # T9 for "nihao"
                click(label)
            until(lambda: in_sync() != editor, what="the pinyin row")
            click("D")  # take the first candidate
            click("D")  # ask
            screen_is("chat")
            until(lambda: state(server)["screen"] == "chat" and in_sync().count("1") > 300, what="the answer")
            time.sleep(0.5)
            page.screenshot(path=str(tmp_path / "web.png"))
            if SCREENSHOT:
                Path(SCREENSHOT).parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=SCREENSHOT)
            # A long press goes through the real key tracker: long A leaves the chat for the menu
            # (a short A would open the editor instead).
            click("A", hold_s=1.0)
            screen_is("menu")
            click("1")
            screen_is("input")
            click("A")  # a short A in the empty editor goes back
            # The computer's keyboard holds keys the same way.
            page.keyboard.down("5")
            time.sleep(0.1)
            page.keyboard.up("5")
            assert state(server)["screen"] in ("menu", "chat", "input")
        finally:
            browser.close()
