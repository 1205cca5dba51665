"""The one composition root on the test and sim boards: every setting changes behaviour, the
simulator is deterministic, conversations survive a restart, battery and model states are honest."""

from __future__ import annotations

import json

import numpy as np
import pytest

from parrot.app import effects as fx
from parrot.app.assemble import build_appliance
from parrot.app.state import ScreenName
from parrot.boards.test import TestBoard
from parrot.cli import main
from parrot.config import Config, validate
from parrot.events import ConversationLoaded, Heard, KeyEvent, LlmDone, LlmToken
from parrot.keys import Key, KeyAction


def make(tmp_path, board=None, backend="echo", **config):
    appliance = build_appliance(board or TestBoard(), Config(validate({"ui": {"splash_s": 0.02}, **config})),
                                tmp_path, backend=backend)
    appliance.advance(0.05)  # boot: the engine loads, the splash gives way to the menu
    return appliance


def press(appliance, label, seconds=0.08):
    appliance.hold(Key.from_label(label), seconds)
    appliance.advance(seconds + 0.12)


def keys(appliance, labels):
    for label in labels:
        press(appliance, label)


def ask(appliance, question="你好"):
    chat = appliance.app.screens[ScreenName.CHAT]
    chat.ask(question)
    appliance.advance(0.02)
    while chat.busy:
        appliance.tick()
    return chat


# --- the simulator is deterministic ---------------------------------------------------------------

def test_same_script_gives_byte_identical_recordings(tmp_path, monkeypatch):
    monkeypatch.setenv("PARROT_DATA_DIR", str(tmp_path / "data"))
    outputs = []
    for run in ("a", "b"):
        gif, frames = tmp_path / f"{run}.gif", tmp_path / f"{run}-frames"
        assert main(["sim", "--fresh", "--backend", "echo", "--keys", "_ D D 64426 D D ! _ * _", "--record", str(gif),
                     "--frames", str(frames), "--clock", "2026-11-29 09:30"]) == 0
        outputs.append((gif.read_bytes(), [p.read_bytes() for p in sorted(frames.glob("*.png"))]))
    assert outputs[0][0] == outputs[1][0], "the GIFs differ"
    assert outputs[0][1] == outputs[1][1] and len(outputs[0][1]) > 5


def test_virtual_time_streams_one_token_per_tick(tmp_path):
    appliance = make(tmp_path)
    chat = appliance.app.screens[ScreenName.CHAT]
    chat.ask("一二三四")
    before = appliance.clock.now()
    while chat.busy:
        appliance.tick()
    # progress, then "你说：一二三四" one character a tick, then done: time is the same on any machine
    assert round(appliance.clock.now() - before, 6) == round((1 + 7 + 1) * 0.01, 6)


# --- every setting does what it says -----------------------------------------------------------------

def test_key_repeat_setting(tmp_path):
    for repeat, moved in ((True, True), (False, False)):
        appliance = make(tmp_path / str(repeat))
        appliance.app.settings["key_repeat"] = repeat
        menu = appliance.app.screen
        assert menu.name is ScreenName.MENU
        press(appliance, "#", seconds=0.9)  # held past the long press: repeats follow when allowed
        assert menu.list.index == (4 if moved else 1), (repeat, menu.list.index)


def test_max_tokens_setting_and_config_cap(tmp_path):
    appliance = make(tmp_path, llm={"max_tokens": 256})
    appliance.app.settings["max_tokens"] = 128
    seen = []
    appliance.runtime.listeners.append(seen.append)
    chat = ask(appliance, "很" * 300)
    assert len(chat.turns[-1].answer) == 128, "the setting limits the answer"
    appliance.app.settings["max_tokens"] = 1024
    chat = ask(appliance, "很" * 300)
    assert len(chat.turns[-1].answer) == 256, "llm.max_tokens caps the setting"
    settings = appliance.app.screens[ScreenName.SETTINGS]
    row = next(s for s in settings.rows if s.key == "max_tokens")
    assert settings.options(row) == (128, 256) and settings.shown(row) == "256", "only what the cap allows is offered"


def test_contrast_applied_at_boot_and_when_changed(tmp_path):
    board = TestBoard()
    appliance = make(tmp_path, board)
    assert board.screen.contrast == appliance.app.settings["contrast"]
    keys(appliance, "3")  # settings
    keys(appliance, "3D")  # row 3: contrast, next value
    assert board.screen.contrast == appliance.app.settings["contrast"] != 160


def test_sim_board_panel_gets_the_contrast(tmp_path):
    from parrot.boards.sim import SimBoard

    board = SimBoard()
    make(tmp_path, board)
    assert board.oled_bus.contrast == 160  # the default setting, on the emulated controller


class FakeTts:
    name, sample_rate = "fake", 16000

    def synthesize(self, text, speed=1.0):
        return np.zeros(len(text) * 100, np.float32)


class MemoryAudioOut:
    def __init__(self):
        self.played = []

    def status(self):
        return None

    def play(self, pcm, rate):
        self.played.append(len(pcm))

    def stop(self):
        pass

    def busy(self):
        return False


class VoiceBoard(TestBoard):
    def __init__(self):
        super().__init__()
        self.out = MemoryAudioOut()

    def audio_out(self):
        return self.out


def test_speech_settings_hidden_without_a_voice(tmp_path):
    appliance = make(tmp_path)
    shown = [s.key for s in appliance.app.screens[ScreenName.SETTINGS].offered()]
    assert "speak_answers" not in shown and "voice_submit" not in shown and "contrast" in shown


def test_speak_answers_setting(tmp_path):
    for on in (True, False):
        board = VoiceBoard()
        appliance = build_appliance(board, Config(validate({})), tmp_path / str(on), backend="echo", tts=FakeTts())
        appliance.advance(0.05)
        assert "speak_answers" in [s.key for s in appliance.app.screens[ScreenName.SETTINGS].offered()]
        appliance.app.settings["speak_answers"] = on
        ask(appliance, "你好")
        appliance.advance(0.05)
        assert bool(board.out.played) is on
        assert board.out.played == ([len("你说：你好") * 100] if on else [])


def test_voice_submit_setting(tmp_path):
    for on in (True, False):
        appliance = make(tmp_path / str(on))
        appliance.app.settings["voice_submit"] = on
        appliance.post(Heard("今天天气"))
        appliance.advance(0.02)
        chat, editor = appliance.app.screens[ScreenName.CHAT], appliance.app.screens[ScreenName.INPUT].session.editor
        if on:
            assert chat.turns[-1].question == "今天天气" and editor.text == ""
        else:
            assert not chat.turns and editor.text == "今天天气" and appliance.app.screen.name is ScreenName.INPUT


def test_thinking_setting_and_ctrl_1(tmp_path):
    appliance = make(tmp_path)
    app = appliance.app
    keys(appliance, "1")  # 电子鹦鹉: the input screen
    assert app.screen.name is ScreenName.INPUT and app.settings["thinking"] is False
    effects = []
    appliance.runtime.carry_out = effects.append
    keys(appliance, "C1")
    assert app.settings["thinking"] is True and fx.SaveSettings(dict(app.settings)) in effects
    keys(appliance, "C0")  # Ctrl+0: the keys of the editor
    assert app.screen.name is ScreenName.HELP and app.screen.back_to is ScreenName.INPUT
    keys(appliance, "A")
    keys(appliance, "D")  # a sample question
    (ask_effect,) = [e for e in effects if isinstance(e, fx.AskLlm)]
    assert ask_effect.thinking is True


def test_thinking_folded_to_one_line_and_opened(tmp_path):
    appliance = make(tmp_path)
    app = appliance.app
    chat = app.screens[ScreenName.CHAT]
    app.status.model = "qwen3"
    chat.ask("你好")
    for piece in ("<think>", "用户在打招呼，", "我应该友好地回答。", "</think>", "\n\n你好！"):
        app.handle(LlmToken(chat.request, piece))
    app.handle(LlmDone(chat.request))
    assert chat.view.lines[1:] == ["答：〔思考16字 C〕", "你好！"]
    app.handle(KeyEvent(Key.C, KeyAction.PRESS))
    assert "用户在打招呼" in "".join(chat.view.lines)


# --- conversations -----------------------------------------------------------------------------

def test_conversations_survive_a_restart_and_continue(tmp_path):
    first = make(tmp_path)
    ask(first, "第一个问题")
    chat = first.app.screens[ScreenName.CHAT]
    first.app.handle(KeyEvent(Key.B, KeyAction.PRESS))  # a new conversation
    ask(first, "第二个问题")
    first.close()
    again = make(tmp_path)
    app = again.app
    keys(again, "4")  # 历史对话
    history = app.screen
    assert history.name is ScreenName.HISTORY and len(history.records) == 2
    assert history.records[0].first == "第二个问题", "newest first"
    frame = app.render().image
    assert frame.getbbox() is not None
    keys(again, "#D")  # open the older one
    chat = app.screens[ScreenName.CHAT]
    assert app.screen is chat and chat.turns[0].question == "第一个问题"
    ask(again, "接着问")
    again.close()
    third = make(tmp_path)
    oldest = min(third.app.history.values(), key=lambda e: e.started)
    record = json.loads((tmp_path / "conversations" / f"{oldest.id}.json").read_text("utf-8"))
    assert [t["q"] for t in record["turns"]] == ["第一个问题", "接着问"], "continued in the same file"
    keys(third, "4BB")  # delete the newest
    assert len(third.app.history) == 1
    third.close()
    assert len(list((tmp_path / "conversations").glob("*.json"))) == 1


def rebooted_after(tmp_path, *questions):
    """An appliance booted on a folder where `questions` were asked in one conversation."""
    first = make(tmp_path)
    for question in questions:
        ask(first, question)
    first.close()
    return make(tmp_path)


def test_the_app_keeps_only_the_history_index_and_reads_turns_when_opened(tmp_path):
    again = rebooted_after(tmp_path, "一个很长的问题" * 10, "第二问")
    app, chat = again.app, again.app.screens[ScreenName.CHAT]
    (entry,) = app.history.values()
    assert entry.first == ("一个很长的问题" * 10)[:40] and not hasattr(entry, "turns")
    keys(again, "4")
    app.handle(KeyEvent(Key.D, KeyAction.PRESS))  # open: the runtime reads the file
    assert app.screen is chat and chat.loading == entry.id and chat.view.lines == ["正在读取对话…"]
    again.advance(0.05)
    assert chat.loading is None and [t.question for t in chat.turns] == ["一个很长的问题" * 10, "第二问"]
    again.close()


def test_a_conversation_that_cannot_be_read_is_said_on_screen_and_left_as_it_is(tmp_path):
    again = rebooted_after(tmp_path, "你好")
    app, chat = again.app, again.app.screens[ScreenName.CHAT]
    (path,) = (tmp_path / "conversations").glob("*.json")
    path.write_bytes(b'{"id": "broken')  # damaged after boot (a failing flash card)
    keys(again, "4D")
    assert app.screen is chat and "".join(chat.view.lines) == "无法打开这个对话：文件已损坏" and not chat.turns
    ask(again, "新的问题")  # a new conversation: the damaged file is not overwritten
    again.advance(0.05)
    assert path.read_bytes() == b'{"id": "broken'
    assert len(list((tmp_path / "conversations").glob("*.json"))) == 2
    path.unlink()  # gone since boot
    keys(again, "A")  # back to the editor, then the menu, the history
    app.go(ScreenName.HISTORY)
    keys(again, "#D")
    assert app.screen is chat and "".join(chat.view.lines) == "无法打开这个对话：文件不见了"
    again.close()


def test_a_question_asked_while_a_conversation_is_read_starts_a_new_one(tmp_path):
    again = rebooted_after(tmp_path, "旧的问题")
    app, chat = again.app, again.app.screens[ScreenName.CHAT]
    (old,) = app.history
    app.go(ScreenName.HISTORY)
    app.handle(KeyEvent(Key.D, KeyAction.PRESS))
    chat.ask("新的问题")  # before the turns arrived
    while chat.busy:
        again.tick()
    assert [t.question for t in chat.turns] == ["新的问题"] and chat.conversation["id"] != old
    app.handle(ConversationLoaded(old, (("旧的问题", "x"),)))
    assert [t.question for t in chat.turns] == ["新的问题"], "the late turns are ignored"
    again.close()


def test_the_history_keeps_the_newest_conversations(tmp_path, monkeypatch):
    from parrot.app import core

    monkeypatch.setattr(core, "MAX_SAVED_CONVERSATIONS", 3)
    appliance = make(tmp_path)
    app, chat = appliance.app, appliance.app.screens[ScreenName.CHAT]
    for i in range(5):
        chat.new_conversation()
        appliance.board.clock.advance(60)  # a minute apart: ids and start times differ
        ask(appliance, f"问题{i}")
    assert sorted(e.first for e in app.history.values()) == ["问题2", "问题3", "问题4"]
    appliance.close()
    saved = [json.loads(p.read_text("utf-8"))["turns"][0]["q"] for p in (tmp_path / "conversations").glob("*.json")]
    assert sorted(saved) == ["问题2", "问题3", "问题4"], "the oldest files are deleted with their rows"
    monkeypatch.setattr(core, "MAX_SAVED_CONVERSATIONS", 2)  # fewer allowed than saved: trimmed at boot
    again = make(tmp_path)
    assert sorted(e.first for e in again.app.history.values()) == ["问题3", "问题4"]
    again.close()
    assert len(list((tmp_path / "conversations").glob("*.json"))) == 2


# --- honest states -----------------------------------------------------------------------------

def test_missing_model_says_how_to_fix_it(tmp_path, monkeypatch):
    monkeypatch.setenv("PARROT_DATA_DIR", str(tmp_path))  # no models here
    appliance = make(tmp_path, backend="llm")
    app = appliance.app
    assert app.status.model is None and "parrot models pull" in app.status.model_error
    keys(appliance, "1")  # 电子鹦鹉
    assert app.screen.name is ScreenName.NO_MODEL
    assert "parrot models pull qwen2.5-coder-0.5b" in " ".join(app.screen.view.lines)


def test_battery_percent_warning_and_safe_shutdown(tmp_path):
    board = TestBoard(battery_percent=50.0)
    appliance = make(tmp_path, board, battery={"poll_s": 1, "warn_percent": 20, "shutdown_percent": 5})
    app = appliance.app
    assert app.status.battery == 50.0
    board.battery.set(12.0)
    appliance.advance(1.0)
    assert app.status.battery_low and app.toast and "12%" in app.toast[0]
    board.battery.set(4.0)
    appliance.advance(1.0)
    assert app.screen.name is ScreenName.SHUTDOWN and board.power_offs == 1
    assert board.screen.on is False, "the panel goes dark after a safe power-off"


def test_shutdown_failure_is_shown(tmp_path):
    board = TestBoard(power_off_error="cannot shut down: 'poweroff' not found")
    appliance = make(tmp_path, board)
    app = appliance.app
    app.go(ScreenName.SHUTDOWN)
    app.handle(KeyEvent(Key.D, KeyAction.LONG))
    appliance.advance(0.05)
    assert app.screen.name is ScreenName.SHUTDOWN and app.screen.error and board.screen.on


def test_help_lists_the_keys_of_the_current_screen(tmp_path):
    appliance = make(tmp_path)
    app = appliance.app
    press(appliance, "0", seconds=0.6)  # long 0 on the menu
    assert app.screen.name is ScreenName.HELP and app.screen.back_to is ScreenName.MENU
    assert any("帮助" in line for line in app.screen.view.lines)
    keys(appliance, "A")
    assert app.screen.name is ScreenName.MENU


@pytest.mark.parametrize("name", list(ScreenName))
def test_every_screen_has_help(tmp_path, name):
    appliance = make(tmp_path)
    screen = appliance.app.screens[name]
    assert screen.title and screen.KEYS, name


@pytest.mark.slow
def test_real_model_recordings_are_byte_identical(tmp_path, monkeypatch):
    """`parrot sim --script demo/demo.script --record` twice with the registry model (seeded
    sampling, one token per tick of virtual time): identical files."""
    from pathlib import Path

    from parrot.llm.models import resolve_model

    try:
        resolve_model("qwen2.5-coder-0.5b")
    except Exception as e:
        pytest.fail(f"the slow set needs the registry model: {e}")
    script = Path(__file__).resolve().parents[1] / "demo" / "demo.script"
    gifs = []
    for run in ("a", "b"):
        gif = tmp_path / f"{run}.gif"
        assert main(["sim", "--fresh", "--script", str(script), "--record", str(gif), "--clock", "2026-11-29 09:30"]) == 0
        gifs.append(gif.read_bytes())
    assert gifs[0] == gifs[1]


# --- config keys the app reads ------------------------------------------------------------------

def test_ui_clock_24h(tmp_path):
    from datetime import datetime

    from parrot.ui.font import load_font

    big = load_font(16)
    wall = datetime(2026, 11, 29, 15, 30).timestamp()
    for h24, clock in ((True, "15:30"), (False, "下午3:30")):
        appliance = build_appliance(TestBoard(wall_start=wall), Config(validate({"ui": {"clock_24h": h24, "splash_s": 0}})),
                                    tmp_path / str(h24), backend="echo")
        appliance.tick()
        shown = np.asarray(appliance.app.render().image)
        probe = __import__("PIL.Image", fromlist=["Image"]).new("1", (big.text_width(clock), big.line_height))
        big.draw(probe, 0, 0, clock)
        want = np.asarray(probe)
        x = (128 - big.text_width(clock)) // 2
        assert np.array_equal(shown[16:16 + want.shape[0], x:x + want.shape[1]], want), clock


def test_ui_fps_limits_frames(tmp_path):
    counts = []
    for fps in (5, 20):
        board = TestBoard()
        appliance = build_appliance(board, Config(validate({"ui": {"fps": fps, "splash_s": 0}})), tmp_path / str(fps),
                                    backend="echo")
        appliance.advance(1.0)  # the splash animates (its clock): a frame whenever allowed
        counts.append(len(board.screen.frames))
    assert counts[0] in (5, 6) and counts[1] in (20, 21), counts


def test_ui_cursor_blink(tmp_path):
    for blink_ms in (200, 1000):
        appliance = make(tmp_path / str(blink_ms), ui={"cursor_blink_ms": blink_ms, "splash_s": 0.02})
        app = appliance.app
        app.go(ScreenName.INPUT)
        app.screen.blink_epoch = app.now
        states = []
        for i in range(10):
            app.now = app.screen.blink_epoch + i * 0.1 + 0.05
            states.append(bool(np.asarray(app.render().image)[16:24, 0].any()))
        flips = sum(a != b for a, b in zip(states, states[1:]))
        assert flips == (4 if blink_ms == 200 else 0), (blink_ms, states)


def test_llm_threads_and_context_reach_the_engine():
    from parrot.app.assemble import make_backend

    backend = make_backend("llm", Config(validate({"llm": {"threads": 3, "context": 1024}})))
    assert (backend.threads, backend.context) == (3, 1024)
    with pytest.raises(ValueError):
        make_backend("auto", Config(validate({})))


def test_device_board_display_keys(tmp_path):
    from parrot.boards.device import DeviceBoard, NoDisplay
    from parrot.display.fake_oled import FakeOledBus
    from PIL import Image

    assert isinstance(DeviceBoard(Config(validate({"display": {"driver": "none"}}))).display(), NoDisplay)
    image = Image.new("1", (128, 64))
    image.putpixel((0, 0), 1)
    for rotate, lit in ((0, (0, 0)), (2, (127, 63))):
        bus = FakeOledBus()
        display = DeviceBoard(Config(validate({"display": {"rotate": rotate}})), buses={"display": bus}).display()
        display.show(image)
        assert bus.image().getpixel(lit), rotate


def test_a_missing_command_module_is_an_error(monkeypatch, capsys):
    import parrot.cli

    monkeypatch.setattr(parrot.cli, "COMMAND_MODULES", parrot.cli.COMMAND_MODULES + ["parrot.nothing_here.cli"])
    assert parrot.cli.main(["config"]) == 1
    assert "broken install" in capsys.readouterr().err


def test_soak_bench_runs_through_the_composition_root(capsys):
    """`parrot bench soak` boots the appliance with build_appliance on a SimBoard (a short echo run)."""
    assert main(["bench", "soak", "--backend", "echo", "--keys", "300", "--warmup", "100", "--block", "100",
                 "--max-growth-mb", "1000"]) == 0
    assert "exceptions: 0" in capsys.readouterr().out


def test_arrows_point_down():
    """No part below the app imports it (the command aggregators excepted), the screens never
    import the core that drives them, and the runtime never looks into a screen."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "parrot"
    offenders = []
    for path in root.rglob("*.py"):
        rel = path.relative_to(root).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else \
                [a.name for a in node.names] if isinstance(node, ast.Import) else []
            for name in names:
                below_app = not rel.startswith("app/") and rel not in ("cli.py",) and not rel.startswith("bench/")
                if below_app and name.startswith("parrot.app"):
                    offenders.append(f"{rel} imports {name}")
                if rel.startswith("app/screens/") and name == "parrot.app.core":
                    offenders.append(f"{rel} imports the core")
    assert not offenders, offenders
    assert "screens" not in (root / "app" / "runtime.py").read_text(encoding="utf-8")
