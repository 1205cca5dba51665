"""Scripted end-to-end runs of the simulator through the CLI, checking what the OLED showed.

Frames are read back from the PNGs the simulator wrote (what the emulated SSD1306 held), and
checked by drawing the expected text with the same font at the expected place and comparing
those pixels exactly.
"""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from parrot.app.screens.base import BODY_TOP
from parrot.cli import main
from parrot.ui.font import load_font


def read_frame(path: Path, scale: int = 4) -> np.ndarray:
    img = Image.open(path).convert("L")
    small = img.resize((img.width // scale, img.height // scale), Image.NEAREST)
    return np.asarray(small) > 128


def text_bitmap(text: str) -> np.ndarray:
    """The text as the font draws it: a (line height x width) boolean array."""
    font = load_font(12)
    probe = Image.new("1", (font.text_width(text), font.line_height), 0)
    font.draw(probe, 0, 0, text)
    return np.asarray(probe)


def text_at(frame: np.ndarray, text: str, x: int, y: int, inverse: bool = False, cursor_after: bool = False) -> bool:
    """Are exactly `text`'s glyph pixels lit at (x, y) (all within its box)? cursor_after: the
    box's last column (blank in the glyph) may hold the editor's cursor."""
    want = text_bitmap(text)
    got = frame[y:y + want.shape[0], x:x + want.shape[1]]
    if cursor_after:
        want, got = want[:, :-1], got[:, :-1]
    return got.shape == want.shape and bool(np.array_equal(got, ~want if inverse else want))


def find_text(frame: np.ndarray, text: str, inverse: bool = False) -> list[tuple[int, int]]:
    """Every (x, y) where the text appears exactly."""
    want = text_bitmap(text)
    if inverse:
        want = ~want
    windows = np.lib.stride_tricks.sliding_window_view(frame, want.shape)
    ys, xs = np.nonzero((windows == want).all(axis=(2, 3)))
    return list(zip(xs.tolist(), ys.tolist()))


@pytest.fixture
def sim(tmp_path, monkeypatch):
    monkeypatch.setenv("PARROT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))

    runs = iter(range(100))

    def run(keys: str, *extra: str) -> list[np.ndarray]:
        frames = tmp_path / f"frames{next(runs)}"
        args = ["sim", "--backend", "echo", "--keys", keys, "--frames", str(frames), "--clock", "2026-11-29 09:30", *extra]
        assert main(args) == 0
        return [read_frame(p) for p in sorted(frames.glob("frame_*.png"))]

    return run


def test_splash_menu_input_chat(sim, tmp_path):
    frames = sim("_ D D 64426 D D ! _", "--record", str(tmp_path / "demo.gif"))
    first, last = frames[0], frames[-1]
    assert find_text(first, "电子鹦鹉"), "splash shows the name"
    assert any(text_at(f, "主菜单", 1, 0, inverse=True) for f in frames), "menu title"
    assert any(find_text(f, "拼", inverse=True) and find_text(f[40:], "1你好", inverse=True) for f in frames), \
        "pinyin mode with 你好 highlighted as the first candidate"
    lh = load_font(12).line_height
    assert text_at(last, "鹦鹉", 1, 0, inverse=True)
    assert text_at(last, "问：你好", 1, BODY_TOP)
    assert text_at(last, "答：你说：你好", 1, BODY_TOP + lh)
    gif = Image.open(tmp_path / "demo.gif")
    assert gif.n_frames == len(frames) and gif.size == (384, 192)
    (saved,) = (tmp_path / "data" / "conversations").glob("*.json")
    assert "你好" in saved.read_text(encoding="utf-8")
    learned = (tmp_path / "data" / "user_dict.json").read_text(encoding="utf-8")
    assert "你好" in learned, "the pick was learned and saved (off the key path)"


def test_long_answer_autoscrolls_and_user_scroll_stays(sim):
    frames = sim("_ D D 2 4 2 4 D D ! _ * * _")
    last = frames[-1]
    assert not text_at(last, "问：", 1, BODY_TOP + 3 * load_font(12).line_height)


def test_settings_persist_across_runs(sim, tmp_path):
    sim("_ D 3 3 D _")  # settings, row 3 = contrast
    import json

    saved = json.loads((tmp_path / "data" / "settings.json").read_text())
    from parrot.app.settings import defaults

    assert saved["contrast"] != defaults()["contrast"]
    frames = sim("_ D 3 _")
    assert find_text(frames[-1], str(saved["contrast"])), "the saved value is shown in the next run"


def test_bad_key_in_script_is_a_clean_error(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PARROT_DATA_DIR", str(tmp_path))
    script = tmp_path / "s.script"
    script.write_text("press 6\njump 4\n")
    assert main(["sim", "--backend", "echo", "--script", str(script)]) == 1
    assert "s.script:2" in capsys.readouterr().err


def test_every_candidate_of_a_page_is_drawn(tmp_path, monkeypatch):
    """Ctrl+N must always name a visible candidate: draw each page and find each candidate."""
    from parrot.app.assemble import build_appliance
    from parrot.app.state import ScreenName
    from parrot.boards.test import TestBoard
    from parrot.config import Config, validate
    from parrot.events import KeyEvent
    from parrot.keys import Key, KeyAction

    app = build_appliance(TestBoard(), Config(validate({})), tmp_path, backend="echo").app
    app.go(ScreenName.INPUT)
    session = app.screen.session
    for digits in ("64426", "744", "9", "2", "48264"):
        for d in digits:
            app.handle(KeyEvent(Key.from_label(d), KeyAction.PRESS))
        for _ in range(min(session.page_count, 4)):
            frame = np.asarray(app.render().image)
            row = frame[64 - 12:, :]
            for i, cand in enumerate(session.candidates):
                label = f"{i + 1}{cand}"
                assert find_text(row, label) or find_text(row, label, inverse=True), (digits, label)
            app.handle(KeyEvent(Key.K0, KeyAction.PRESS))
            app.handle(KeyEvent(Key.K0, KeyAction.RELEASE))  # next page
        app.handle(KeyEvent(Key.A, KeyAction.LONG))  # clear the digits


def test_the_readme_demo_types_its_question(tmp_path, monkeypatch):
    """demo/demo.script (what `make run` records) must still type 你好，你是谁？ with T9."""
    monkeypatch.setenv("PARROT_DATA_DIR", str(tmp_path / "data"))
    frames = tmp_path / "frames"
    script = Path(__file__).resolve().parents[1] / "demo" / "demo.script"
    assert main(["sim", "--fresh", "--backend", "echo", "--script", str(script), "--frames", str(frames),
                 "--clock", "2026-11-29 09:30"]) == 0
    question = read_frame(frames / "question.png")
    assert text_at(question, "你好，你是谁？", 1, BODY_TOP, cursor_after=True)
    answer = read_frame(frames / "answer.png")
    assert find_text(answer, "你说：你好，你是谁？") or find_text(answer, "问：你好，你是谁？")
    assert not (tmp_path / "data" / "user_dict.json").exists(), "--fresh leaves the real state alone"
