"""About: version, model, credits; `*`/`#` scroll, A back."""

from __future__ import annotations

from parrot.app.core import ScreenName
from parrot.app.screens.base import BODY_TOP, Screen, pressed
from parrot.keys import Key
from parrot.ui.canvas import HEIGHT, WIDTH
from parrot.ui.layout import wrap


class AboutScreen(Screen):
    name = ScreenName.ABOUT

    def enter(self, now: float) -> None:
        self.top = 0
        lines = list(self.app.deps.about_lines)
        model = self.app.status.model or "(未加载)"
        text = "\n".join(lines + [f"模型：{model}"])
        self.lines = wrap(text, self.app.font, WIDTH - 5)

    def visible_rows(self) -> int:
        return (HEIGHT - BODY_TOP) // self.app.font.line_height

    def handle(self, event) -> None:
        key = pressed(event, Key.STAR, Key.HASH, Key.A, Key.D)
        if key in (Key.A, Key.D):
            self.app.go(ScreenName.MENU)
        elif key is not None:
            limit = max(0, len(self.lines) - self.visible_rows())
            self.top = max(0, min(limit, self.top + (-1 if key is Key.STAR else 1)))
            self.app.dirty = True

    def render(self, canvas, now: float) -> None:
        self.title_bar(canvas, "关于")
        lh = self.app.font.line_height
        rows = self.visible_rows()
        for i, line in enumerate(self.lines[self.top:self.top + rows]):
            canvas.text(1, BODY_TOP + i * lh, line)
        canvas.scrollbar(WIDTH - 3, BODY_TOP, HEIGHT - BODY_TOP, len(self.lines), rows, self.top)
