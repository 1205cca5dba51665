"""The pure state machine: events in, screens / effects / frames out."""

import pytest

from parrot.app import effects as fx
from parrot.app.state import ScreenName
from parrot.app.assemble import build_appliance
from parrot.boards.test import TestBoard
from parrot.config import validate, Config
from parrot.events import BatteryReading, KeyEvent, LlmDone, LlmLoaded, LlmProgress, LlmToken, Tick
from parrot.keys import Key, KeyAction


@pytest.fixture
def appliance(tmp_path):
    config = Config(validate({"ui": {"splash_s": 1.0}}))
    appliance = build_appliance(TestBoard(), config, tmp_path, backend="echo")
    appliance.tick()  # the echo engine "loads"
    yield appliance
    appliance.close()


@pytest.fixture
def app(appliance):
    app = appliance.app
    app.take_effects()
    return app


def tap(app, *labels):
    for label in labels:
        key = Key.from_label(label)
        app.handle(KeyEvent(key, KeyAction.PRESS))
        app.handle(KeyEvent(key, KeyAction.RELEASE))


def long_tap(app, label):
    key = Key.from_label(label)
    for action in (KeyAction.PRESS, KeyAction.LONG, KeyAction.LONG_RELEASE):
        app.handle(KeyEvent(key, action))


def text_of(app):
    """Everything the frame shows, read back through the font: a cheap OCR for our own glyphs."""
    return app.render()


def test_splash_goes_to_menu_by_key_or_by_time(app):
    assert app.screen.name is ScreenName.SPLASH
    app.handle(Tick(0.5))
    assert app.screen.name is ScreenName.SPLASH
    app.handle(Tick(1.01))
    assert app.screen.name is ScreenName.MENU
    tap(app, "A")
    assert app.screen.name is ScreenName.SPLASH
    tap(app, "5")
    assert app.screen.name is ScreenName.MENU


def test_menu_moves_jumps_and_wraps(app):
    tap(app, "D")
    menu = app.screen
    assert menu.list.index == 0
    tap(app, "#", "#", "#", "#")
    assert menu.list.index == 4 and menu.list.page == 1  # item 5 is on page 2
    tap(app, "#", "#")
    assert menu.list.index == 0
    tap(app, "*")
    assert menu.list.index == 5
    tap(app, "*", "*", "*", "*", "*", "3")  # digit jumps within the current page: item 3 = settings
    assert app.screen.name is ScreenName.SETTINGS
    tap(app, "A")
    assert app.screen.name is ScreenName.MENU
    tap(app, "#", "#")
    tap(app, "D")
    assert app.screen.name is ScreenName.SHUTDOWN


def test_settings_change_is_saved_and_contrast_applied(app):
    tap(app, "D", "3")
    assert app.screen.name is ScreenName.SETTINGS
    app.take_effects()
    before = app.settings["contrast"]
    tap(app, "3")  # row 3 = contrast (the speech rows are hidden: no voice on this board)
    tap(app, "D")
    eff = app.take_effects()
    assert app.settings["contrast"] != before
    assert fx.SaveSettings(dict(app.settings)) in eff and fx.SetContrast(app.settings["contrast"]) in eff
    tap(app, "B")
    assert app.settings["contrast"] == before


def open_shutdown(app):
    tap(app, "D", "#", "#", "#", "#", "D")  # item 5, on the menu's second page


def test_shutdown_needs_a_long_press(app):
    open_shutdown(app)
    assert app.screen.name is ScreenName.SHUTDOWN
    tap(app, "D")
    assert fx.Shutdown() not in app.take_effects()
    long_tap(app, "D")
    assert fx.Shutdown() in app.take_effects()
    tap(app, "A")  # ignored once shutting down
    assert app.screen.name is ScreenName.SHUTDOWN


def test_shutdown_cancel(app):
    open_shutdown(app)
    tap(app, "A")
    assert app.screen.name is ScreenName.MENU


def test_question_answer_abort_and_reask(app):
    tap(app, "D", "1")
    assert app.screen.name is ScreenName.INPUT
    tap(app, "6", "4", "4", "2", "6")
    assert app.screen.session.candidates[0] == "你好"
    tap(app, "D")  # pick 你好
    assert app.screen.session.editor.text == "你好"
    app.take_effects()
    tap(app, "D")  # submit
    assert app.screen.name is ScreenName.CHAT
    chat = app.screen
    (ask,) = [e for e in app.take_effects() if isinstance(e, fx.AskLlm)]
    assert ask.question == "你好" and chat.busy
    app.handle(LlmProgress(ask.request, 3, 10))
    assert chat.status_text() == "读题30%"
    for piece in ["你", "好", "！"]:
        app.handle(LlmToken(ask.request, piece))
    assert chat.turns[-1].answer == "你好！"
    tap(app, "A")  # abort while answering
    assert fx.AbortLlm(ask.request) in app.take_effects()
    app.handle(LlmDone(ask.request, aborted=True, stats={"decode_tps": 12.5, "decode_tokens": 2}))
    assert not chat.busy and chat.status_text() == "已中止", "a rate from 2 tokens is noise: not shown"
    app.handle(LlmToken(ask.request, "late"))  # a late token of the old request changes nothing
    assert chat.turns[-1].answer == "你好！"
    tap(app, "D")  # re-ask
    (again,) = [e for e in app.take_effects() if isinstance(e, fx.AskLlm)]
    assert again.question == "你好" and again.request == ask.request + 1
    app.handle(LlmToken(ask.request, "stale"))
    assert chat.turns[-1].answer == ""
    app.handle(LlmToken(again.request, "你好呀"))
    app.handle(LlmDone(again.request, stats={"decode_tps": 9.5, "decode_tokens": 40}))
    assert chat.status_text() == "9.5t/s"
    saves = [e for e in app.take_effects() if isinstance(e, fx.SaveConversation)]
    assert saves and saves[-1].record["turns"][-1] == {"q": "你好", "a": "你好呀"}
    tap(app, "A")  # idle: A asks a new question
    assert app.screen.name is ScreenName.INPUT


def test_chat_scroll_unpins_and_repins(app):
    chat = app.screens[ScreenName.CHAT]
    chat.ask("长回答")
    for _ in range(40):
        app.handle(LlmToken(chat.request, "很长的回答文字。"))
    view = chat.view
    assert view.pinned_to_bottom and view.top == view.max_top > 0
    tap(app, "*", "*")
    top = view.top
    assert not view.pinned_to_bottom
    app.handle(LlmToken(chat.request, "更多文字更多文字更多文字"))
    assert view.top == top  # the user is reading: the view stays
    tap(app, *"#" * 50)
    assert view.pinned_to_bottom


def test_answer_keeps_streaming_while_on_another_screen(app):
    chat = app.screens[ScreenName.CHAT]
    chat.ask("问题")
    app.take_effects()
    app.go(ScreenName.MENU)  # look at the menu while it answers
    for piece in ("一", "二", "三"):
        app.handle(LlmToken(chat.request, piece))
    assert app.screen.name is ScreenName.MENU and chat.busy
    assert not any(isinstance(e, fx.AbortLlm) for e in app.take_effects())
    app.handle(LlmDone(chat.request))
    assert chat.turns[-1].answer == "一二三"
    app.go(ScreenName.CHAT)
    assert "答：一二三" in chat.view.lines


def test_long_a_leaves_and_aborts(app):
    chat = app.screens[ScreenName.CHAT]
    chat.ask("问题")
    long_tap(app, "A")
    assert app.screen.name is ScreenName.MENU
    assert fx.AbortLlm(chat.request) in app.take_effects()


def test_status_events(app):
    app.handle(BatteryReading(55.0))
    app.handle(LlmLoaded("qwen"))
    assert app.status.battery == 55.0 and app.status.model == "qwen"
    app.handle(BatteryReading(None))
    assert app.status.battery is None
    app.handle(LlmLoaded("broken", error="bad file"))
    assert app.status.model is None and app.status.model_error == "bad file"


def test_every_screen_renders(app):
    for name in ScreenName:
        app.go(name)
        image = app.render().image
        assert image.size == (128, 64) and image.getbbox() is not None, name


def test_ok_on_empty_editor_asks_a_sample_question(app):
    from parrot.app.state import SAMPLE_PROMPTS

    tap(app, "D", "1")
    app.take_effects()
    tap(app, "D")
    (ask,) = [e for e in app.take_effects() if isinstance(e, fx.AskLlm)]
    assert ask.question in SAMPLE_PROMPTS and app.screen.name is ScreenName.CHAT


def test_model_switch(app):
    from parrot.app.state import ModelEntry

    app.deps.list_models = lambda: [ModelEntry("a", "1MB", True), ModelEntry("b", "2MB", True), ModelEntry("c", "", False)]
    app.handle(LlmLoaded("a"))
    tap(app, "D", "2")
    assert app.screen.name is ScreenName.MODELS
    tap(app, "D")  # "a" is already loaded: nothing to do
    assert not app.take_effects()
    tap(app, "#", "#", "D")  # "c" is not downloaded
    assert not app.take_effects()
    tap(app, "*", "D")
    assert app.take_effects() == [fx.ResetChat(), fx.LoadModel("b")]
    assert app.status.model_loading == "b" and app.screen.animates(0.0)
    app.render()
    tap(app, "D")  # keys while loading do not start a second load
    assert not app.take_effects()
    app.handle(LlmLoaded("b"))
    assert app.status.model == "b" and app.status.model_loading is None
    app.render()
