"""Help: the keys of the screen it was opened from (long 0 anywhere, Ctrl+0 while typing).
`*`/`#` scroll, any other key returns."""

from __future__ import annotations

from parrot.app.screens.base import Screen, draw_page, scroll_page, text_page
from parrot.app.state import ScreenName
from parrot.events import KeyEvent
from parrot.keys import KeyAction


class HelpScreen(Screen):
    name = ScreenName.HELP
    title = "帮助"
    KEYS = (("*#", "翻动"), ("其他键", "返回"))

    def __init__(self, app):
        super().__init__(app)
        self.about(self)

    def about(self, screen) -> None:
        """Show the keys of `screen`; leaving returns there."""
        self.back_to = screen.name
        self.of = screen.title
        self.view = text_page(self.app, "\n".join(f"{key} {meaning}" for key, meaning in screen.KEYS))

    def handle(self, event) -> None:
        if scroll_page(event, self.view):
            self.app.dirty = True
        elif isinstance(event, KeyEvent) and event.action is KeyAction.PRESS:
            self.app.go(self.back_to)

    def render(self, canvas, now: float) -> None:
        self.title_bar(canvas, f"按键：{self.of}")
        draw_page(canvas, self.view)
