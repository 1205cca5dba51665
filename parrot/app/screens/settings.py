"""Settings: `*`/`#` pick a row, D (or #-long) next value, B previous value, A back. Saved at once.
Speech settings are listed only where the board can speak / listen."""

from __future__ import annotations

from parrot.app.effects import SaveSettings, SetContrast
from parrot.app.screens.base import PagedList, Screen, pressed
from parrot.app.settings import SETTINGS, cycle
from parrot.app.state import ScreenName
from parrot.keys import Key


class SettingsScreen(Screen):
    name = ScreenName.SETTINGS
    title = "设置"
    KEYS = (("*#", "选择"), ("1-4", "选第N行"), ("D", "下一个值"), ("B", "上一个值"), ("A", "返回"))

    def __init__(self, app):
        super().__init__(app)
        self.list = PagedList()
        self.enter(app.now)

    def offered(self) -> list:
        status = self.app.status
        can = {"": True, "speak": status.tts_ready, "listen": status.asr_ready}
        return [s for s in SETTINGS if can[s.needs]]

    def enter(self, now: float) -> None:
        self.rows = self.offered()
        self.list.count = len(self.rows)
        self.list.index = min(self.list.index, self.list.count - 1)

    def handle(self, event) -> None:
        if self.list.handle_nav(event):
            self.app.dirty = True
            return
        key = pressed(event, Key.A, Key.B, Key.D, Key.K1, Key.K2, Key.K3, Key.K4)
        if key is Key.A:
            self.app.go(ScreenName.MENU)
        elif key in (Key.D, Key.B):
            self.change(1 if key is Key.D else -1)
        elif key is not None and self.list.jump(key.digit):
            self.app.dirty = True

    def options(self, setting) -> tuple:
        """The values offered: answer lengths only up to the installation's llm.max_tokens."""
        if setting.key == "max_tokens":
            cap = self.app.deps.max_tokens
            return tuple(v for v in setting.values if v <= cap) or (min(setting.values),)
        return setting.values

    def shown(self, setting) -> str:
        value = self.app.settings[setting.key]
        if setting.key == "max_tokens":
            value = min(value, max(self.options(setting)))  # what answers really get
        return setting.show(value)

    def change(self, step: int) -> None:
        setting = self.rows[self.list.index]
        values = self.app.settings
        values[setting.key] = cycle(setting.key, values[setting.key], step, self.options(setting))
        self.app.effect(SaveSettings(dict(values)))
        if setting.key == "contrast":
            self.app.effect(SetContrast(values["contrast"]))
        self.app.dirty = True

    def render(self, canvas, now: float) -> None:
        self.title_bar(canvas, self.title, f"{self.list.index + 1}/{len(self.rows)}")
        self.list.render(canvas, [s.label for s in self.rows], values=[self.shown(s) for s in self.rows])
