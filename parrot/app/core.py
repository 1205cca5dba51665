"""The appliance's brain in the middle: a state machine over named screens.

Pure: it takes events (keys, ticks, LLM tokens, battery readings) and produces a new state,
effects for the runtime to carry out, and frames when asked to render. No I/O, no threads,
no clock of its own (time comes in with each event; fonts, models and saved data come in with
AppDeps), so every behaviour is unit-testable.
"""

from __future__ import annotations

import logging

from parrot.app.effects import DeleteConversation, Effect, LoadModel, SetContrast, Shutdown, StartListening, StopListening, StopSpeaking
from parrot.app.screens import build_screens
from parrot.app.state import CANNOT_LISTEN_TEXT, NOT_HEARD_TEXT, TALK_KEY_LABEL, ListenView
from parrot.app.state import MAX_SAVED_CONVERSATIONS, SavedConversation
from parrot.app.state import SAMPLE_PROMPTS, AppDeps, ModelEntry, ScreenName, Status  # noqa: F401 (re-exported)
from parrot.events import (BatteryReading, CandidatesReranked, ConversationLoaded, Event, Heard, KeyEvent, Listening, NotHeard, SpeechState, LlmDone, LlmLoaded,
                           LlmProgress, LlmToken, ShutdownFailed, Tick)
from parrot.keys import Key, KeyAction
from parrot.ui.canvas import HEIGHT, WIDTH, Canvas

log = logging.getLogger(__name__)


class App:
    def __init__(self, deps: AppDeps, settings: dict, now: float = 0.0):
        self.deps = deps
        self.settings = dict(settings)
        self.status = Status(tts_ready=deps.can_speak, asr_ready=deps.can_listen)
        self.effects: list[Effect] = []
        self.dirty = True
        self.now = now
        self.canvas = Canvas(deps.font)
        self.font = deps.font
        self.big_font = deps.big_font or deps.font
        # The history index by id (read at boot, kept up to date as answers are saved); the
        # turns stay on disk until a conversation is opened.
        self.history: dict[str, SavedConversation] = {c.id: c for c in deps.conversations}
        self.screens = build_screens(self)
        self.screen = self.screens[ScreenName.SPLASH]
        self._swallow = None  # key whose remaining events (release, long...) are dropped
        self.toast: tuple[str, float] | None = None  # (text, until)
        self.listening: ListenView | None = None  # push-to-talk in progress
        self.screen.enter(now)
        self.trim_history()
        # Boot: the panel takes the user's contrast, the configured model loads behind the splash.
        self.effect(SetContrast(self.settings["contrast"]))
        if deps.model:
            self.status.model_loading = deps.model
            self.effect(LoadModel(deps.model))

    # --- driving --------------------------------------------------------------------------
    def handle(self, event: Event) -> None:
        if isinstance(event, Tick):
            self.now = event.now
        if isinstance(event, BatteryReading):
            self.on_battery(event)
            return
        if isinstance(event, ShutdownFailed):
            self.screens[ScreenName.SHUTDOWN].failed(event.reason)
            self.go(ScreenName.SHUTDOWN)
            return
        if isinstance(event, LlmLoaded):
            self.status.model_loading = None
            self.status.model = event.name if event.error is None or event.failed else None
            # a failed switch (the model before is loaded again): the models screen says both
            self.status.model_error = f"{event.failed}：{event.error}（仍在使用 {event.name}）" if event.failed else event.error
            self.dirty = True
        # Every screen that cares about LLM traffic gets it even when not visible
        # (an answer keeps streaming while the user looks at the menu).
        if isinstance(event, (LlmToken, LlmProgress, LlmDone)):
            self.screens[ScreenName.CHAT].on_llm(event)
            return
        if isinstance(event, SpeechState):
            self.status.speaking = event.speaking
            self.dirty = True
            return
        if isinstance(event, Listening):
            if self.listening is not None and not self.listening.recognising:
                self.listening = ListenView(event.level, event.seconds, event.partial)
                if event.ended:  # hands-free end of speech, or the time limit
                    self.listening.recognising = True
                    self.effect(StopListening())
                self.dirty = True
            return
        if isinstance(event, NotHeard):
            self.listening = None
            self.show_toast(NOT_HEARD_TEXT.get(event.reason, event.reason))
            return
        if isinstance(event, Heard):
            self.listening = None
            self.screens[ScreenName.INPUT].on_heard(event.text)
            return
        if isinstance(event, KeyEvent):
            self.on_key(event)
            return
        if isinstance(event, CandidatesReranked):
            self.screens[ScreenName.INPUT].on_reranked(event)
            return
        if isinstance(event, ConversationLoaded):
            self.screens[ScreenName.CHAT].on_loaded(event)
            return
        self.screen.handle(event)

    def on_key(self, event: KeyEvent) -> None:
        log.debug("%s %s on %s", event.key.value, event.action.value, self.screen.name.value)
        if self.on_talk_key(event):
            return
        if event.action is KeyAction.REPEAT and not self.settings["key_repeat"]:
            return  # the 按键连发 setting: a held key acts once
        if event.action is KeyAction.PRESS:
            self._swallow = None
        elif event.key is self._swallow:
            return  # the rest of a key press that already took us to this screen
        before = self.screen
        if event.action is KeyAction.LONG and event.key is Key.K0 and self.screen.name not in (ScreenName.INPUT, ScreenName.HELP):
            self.show_help()  # long 0: the keys of this screen (Ctrl+0 on the input screen)
        else:
            self.screen.handle(event)
        if self.screen is not before:
            self._swallow = event.key

    def on_talk_key(self, event: KeyEvent) -> bool:
        """Push-to-talk: holding C past the long-press time listens (speech stops: barge-in),
        letting go recognises. While listening every other key is ignored. True = handled."""
        talk = event.key.value == TALK_KEY_LABEL
        if self.listening is not None:
            if self.deps.hands_free:
                return True  # the VAD ends it; letting go of C changes nothing
            if talk and event.action is KeyAction.LONG_RELEASE and not self.listening.recognising:
                self.listening.recognising = True
                self.effect(StopListening())
                self.dirty = True
            return True
        if not (talk and event.action is KeyAction.LONG):
            return False
        if self.screen.name not in (ScreenName.INPUT, ScreenName.MENU):
            return False  # (on the chat screen a C press folds the thinking: A goes to the editor)
        if not self.status.asr_ready:
            self.screens[ScreenName.INPUT].session.ctrl_armed = False
            why = self.deps.cannot_listen
            short = next((zh for prefix, zh in CANNOT_LISTEN_TEXT.items() if why.startswith(prefix)), why)
            self.show_toast(f"不能语音输入：{short or '没有麦克风'}")
            return True
        self.screens[ScreenName.INPUT].session.ctrl_armed = False  # the C press was not a Ctrl
        self.listening = ListenView()
        self.effect(StopSpeaking())
        self.effect(StartListening())
        self.dirty = True
        return True

    def on_battery(self, reading: BatteryReading) -> None:
        status = self.status
        status.battery, status.charging = reading.percent, reading.charging
        self.dirty = True
        if reading.percent is None or reading.charging:
            status.battery_low = False
            return
        deps = self.deps
        if reading.percent < deps.battery_shutdown_percent and self.screen.name is not ScreenName.SHUTDOWN:
            log.warning("battery at %.0f %%: shutting down", reading.percent)
            self.go(ScreenName.SHUTDOWN)
            self.screens[ScreenName.SHUTDOWN].confirm(reason="电量耗尽")
            return
        low = reading.percent < deps.battery_warn_percent
        if low and not status.battery_low:
            self.show_toast(f"电量低 {reading.percent:.0f}%，请充电")
        status.battery_low = low

    # --- the history index -------------------------------------------------------------------
    def remember_conversation(self, entry: SavedConversation) -> None:
        """A conversation was saved: it is in the history (the oldest makes room)."""
        self.history[entry.id] = entry
        self.trim_history(keep=entry.id)

    def forget_conversation(self, conversation_id: str) -> None:
        """Out of the history and off the disk."""
        if self.history.pop(conversation_id, None) is not None:
            self.effect(DeleteConversation(conversation_id))

    def trim_history(self, keep: str | None = None) -> None:
        excess = len(self.history) - MAX_SAVED_CONVERSATIONS
        if excess <= 0:
            return
        oldest = sorted((e for e in self.history.values() if e.id != keep), key=lambda e: (e.started, e.id))
        for entry in oldest[:excess]:
            log.info("history full (%d): the oldest conversation %s is deleted", MAX_SAVED_CONVERSATIONS, entry.id)
            self.forget_conversation(entry.id)

    def show_toast(self, text: str, seconds: float = 3.0) -> None:
        """A one-line notice over whatever screen is shown, for a few seconds."""
        self.toast = (text, self.now + seconds)
        self.dirty = True

    def show_help(self) -> None:
        self.screens[ScreenName.HELP].about(self.screen)
        self.go(ScreenName.HELP)

    def take_effects(self) -> list[Effect]:
        out, self.effects = self.effects, []
        return out

    def effect(self, effect: Effect) -> None:
        self.effects.append(effect)

    def go(self, name: ScreenName) -> None:
        if self.screen.name is not name:
            self.screen.leave()
            self.screen = self.screens[name]
            self.screen.enter(self.now)
        self.dirty = True

    def render(self) -> Canvas:
        self.canvas.clear()
        self.screen.render(self.canvas, self.now)
        if self.listening is not None:
            self.render_listening(self.listening)
        if self.toast is not None:
            text, until = self.toast
            if self.now < until:
                self.canvas.notice(text)
            else:
                self.toast = None
        self.dirty = False
        return self.canvas

    def render_listening(self, view: ListenView) -> None:
        """A panel over the lower part of the screen: what is heard, the meter, the seconds."""
        c, lh = self.canvas, self.font.line_height
        top = HEIGHT - 2 * lh - 8
        c.fill_rect(0, top, WIDTH, HEIGHT - top, fill=0)
        c.rect(0, top, WIDTH, HEIGHT - top)
        if view.recognising:
            c.text(3, top + 2, "识别中…")
        else:
            c.text(3, top + 2, "正在听")
            c.text_right(WIDTH - 3, top + 2, f"{view.seconds:.1f}s")
            c.progress(44, top + 4, WIDTH - 44 - 30, lh - 6, view.level)
        partial = view.partial
        while partial and self.font.text_width(partial) > WIDTH - 6:
            partial = partial[1:]  # the newest words stay in view
        c.text(3, top + 4 + lh, partial or ("按住C说话，松开发送" if not view.recognising else ""))

    @property
    def wants_frame(self) -> bool:
        """True when something changed, or the screen animates (clock, cursor blink)."""
        return self.dirty or self.toast is not None or self.screen.animates(self.now)


__all__ = ["App", "AppDeps", "ModelEntry", "ScreenName", "Status", "SAMPLE_PROMPTS", "Shutdown"]
