"""The appliance's brain in the middle: a state machine over named screens.

Pure: it takes events (keys, ticks, LLM tokens, battery readings) and produces a new state,
effects for the runtime to carry out, and frames when asked to render. No I/O, no threads,
no clock of its own (time comes in with each event), so every behaviour is unit-testable.
"""

from __future__ import annotations

import enum
import logging
import random
from dataclasses import dataclass, field
from typing import Callable

from parrot.app.effects import Effect
from parrot.events import BatteryReading, Event, KeyEvent, LlmDone, LlmLoaded, LlmProgress, LlmToken, Tick
from parrot.keys import KeyAction
from parrot.ui.canvas import Canvas

log = logging.getLogger(__name__)


class ScreenName(enum.Enum):
    SPLASH = "splash"
    MENU = "menu"
    INPUT = "input"
    CHAT = "chat"
    MODELS = "models"
    SETTINGS = "settings"
    ABOUT = "about"
    SHUTDOWN = "shutdown"


@dataclass
class Status:
    """What the status bar and splash show."""

    battery: float | None = None  # percent; None = no gauge
    charging: bool | None = None
    model: str | None = None  # loaded model name
    model_loading: str | None = None
    model_error: str | None = None
    asr_ready: bool = False
    tts_ready: bool = False


@dataclass
class ModelEntry:
    name: str
    detail: str  # one line: size / preset summary
    present: bool = True


@dataclass
class AppDeps:
    """Things the app reads but does not own (injected so tests can vary them)."""

    new_input_session: Callable  # (initial_text: str) -> parrot.ime.session.InputSession
    list_models: Callable[[], list[ModelEntry]] = lambda: []
    about_lines: list[str] = field(default_factory=list)
    clock_24h: bool = True
    splash_s: float = 1.5
    cursor_blink_s: float = 0.5
    local_time: Callable[[float], tuple] | None = None  # wall clock for the splash (None = time.localtime)
    rng: random.Random = field(default_factory=random.Random)  # picks a sample prompt; seeded in tests


# OK on an empty editor asks one of these (the seed's "random preset prompt").
SAMPLE_PROMPTS = (
    "你好，请介绍一下你自己。",
    "给我讲一个关于鹦鹉的小故事。",
    "为什么天空是蓝色的？",
    "用三句话介绍一下长城。",
    "写一首关于春天的短诗。",
    "怎样才能睡个好觉？",
)


def _big_font(fallback):
    from parrot.ui.font import load_font

    try:
        return load_font(16)
    except Exception:  # the 16 px atlas is optional; the clock then uses the text font
        return fallback


class App:
    def __init__(self, deps: AppDeps, settings: dict, now: float = 0.0, font=None):
        from parrot.app.screens import build_screens

        self.deps = deps
        self.settings = dict(settings)
        self.status = Status()
        self.effects: list[Effect] = []
        self.dirty = True
        self.now = now
        self.canvas = Canvas(font)
        self.font = self.canvas.font
        self.big_font = _big_font(self.font)
        self.screens = build_screens(self)
        self.screen = self.screens[ScreenName.SPLASH]
        self._swallow = None  # key whose remaining events (release, long...) are dropped
        self.screen.enter(now)

    # --- driving --------------------------------------------------------------------------
    def handle(self, event: Event) -> None:
        if isinstance(event, Tick):
            self.now = event.now
        if isinstance(event, BatteryReading):
            self.status.battery, self.status.charging = event.percent, event.charging
            self.dirty = True
            return
        if isinstance(event, LlmLoaded):
            self.status.model_loading = None
            self.status.model = event.name if event.error is None else None
            self.status.model_error = event.error
            self.dirty = True
        # Every screen that cares about LLM traffic gets it even when not visible
        # (an answer keeps streaming while the user looks at the menu).
        if isinstance(event, (LlmToken, LlmProgress, LlmDone)):
            self.screens[ScreenName.CHAT].on_llm(event)
            return
        if isinstance(event, KeyEvent):
            log.debug("%s %s on %s", event.key.value, event.action.value, self.screen.name.value)
            if event.action is KeyAction.PRESS:
                self._swallow = None
            elif event.key is self._swallow:
                return  # the rest of a key press that already took us to this screen
            before = self.screen
            self.screen.handle(event)
            if self.screen is not before:
                self._swallow = event.key
            return
        self.screen.handle(event)

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
        self.dirty = False
        return self.canvas

    @property
    def wants_frame(self) -> bool:
        """True when something changed, or the screen animates (clock, cursor blink)."""
        return self.dirty or self.screen.animates(self.now)
