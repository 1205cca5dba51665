"""Settings: `*`/`#` pick a row, D (or #-long) next value, B previous value, A back. Saved at once."""

from __future__ import annotations

from parrot.app.core import ScreenName
from parrot.app.effects import SaveSettings, SetContrast
from parrot.app.screens.base import PagedList, Screen, pressed
from parrot.app.settings import SETTINGS, cycle
from parrot.keys import Key


class SettingsScreen(Screen):
    name = ScreenName.SETTINGS

    def __init__(self, app):
        super().__init__(app)
        self.list = PagedList(count=len(SETTINGS))

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

    def change(self, step: int) -> None:
        setting = SETTINGS[self.list.index]
        values = self.app.settings
        values[setting.key] = cycle(setting.key, values[setting.key], step)
        self.app.effect(SaveSettings(dict(values)))
        if setting.key == "contrast":
            self.app.effect(SetContrast(values["contrast"]))
        self.app.dirty = True

    def render(self, canvas, now: float) -> None:
        self.title_bar(canvas, "设置", f"{self.list.index + 1}/{len(SETTINGS)}")
        values = self.app.settings
        self.list.render(canvas, [s.label for s in SETTINGS], values=[s.show(values[s.key]) for s in SETTINGS])
