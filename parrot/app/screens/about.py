"""About: version, model, credits; `*`/`#` scroll, A back."""

from __future__ import annotations

from parrot.app.screens.base import Screen, draw_page, pressed, scroll_page, text_page
from parrot.app.state import ScreenName
from parrot.keys import Key


class AboutScreen(Screen):
    name = ScreenName.ABOUT
    title = "关于"
    KEYS = (("*#", "翻动"), ("A/D", "返回"))

    def enter(self, now: float) -> None:
        model = self.app.status.model or "(未加载)"
        self.view = text_page(self.app, "\n".join(list(self.app.deps.about_lines) + [f"模型：{model}"]))

    def handle(self, event) -> None:
        if scroll_page(event, self.view):
            self.app.dirty = True
        elif pressed(event, Key.A, Key.D):
            self.app.go(ScreenName.MENU)

    def render(self, canvas, now: float) -> None:
        self.title_bar(canvas, self.title)
        draw_page(canvas, self.view)
