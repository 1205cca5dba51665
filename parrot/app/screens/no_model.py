"""No usable model: says which, why, and the command that fixes it, instead of pretending to
chat. Shown when the user wants to ask a question and no model is loaded."""

from __future__ import annotations

from parrot.app.screens.base import Screen, draw_page, pressed, scroll_page, text_page
from parrot.app.state import ScreenName
from parrot.keys import Key


class NoModelScreen(Screen):
    name = ScreenName.NO_MODEL
    title = "没有模型"
    KEYS = (("D", "选择模型"), ("A", "返回"), ("*#", "翻动"))

    def enter(self, now: float) -> None:
        name = self.app.deps.model or "?"
        reason = self.app.status.model_error or f"模型 {name} 没有加载。"
        fix = "" if "parrot models pull" in reason else f"在电脑上运行：parrot models pull {name}"
        self.view = text_page(self.app, "\n".join(t for t in (reason, fix) if t))

    def handle(self, event) -> None:
        if scroll_page(event, self.view):
            self.app.dirty = True
            return
        key = pressed(event, Key.A, Key.D)
        if key is Key.A:
            self.app.go(ScreenName.MENU)
        elif key is Key.D:
            self.app.go(ScreenName.MODELS)

    def render(self, canvas, now: float) -> None:
        self.title_bar(canvas, self.title)
        draw_page(canvas, self.view)
