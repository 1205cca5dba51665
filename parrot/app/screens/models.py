"""Choose model: installed models with their presets; D loads the highlighted one (the old one is
freed first, and loaded again if the new one fails) behind a loading indicator, A back."""

from __future__ import annotations

from parrot.app.state import ScreenName
from parrot.app.effects import LoadModel, ResetChat
from parrot.app.screens.base import BODY_TOP, ROW_H, PagedList, Screen, draw_page, pressed, scroll_page, text_page
from parrot.keys import Key
from parrot.ui.canvas import HEIGHT, WIDTH


class ModelsScreen(Screen):
    name = ScreenName.MODELS
    title = "选择模型"
    KEYS = (("*#", "选择 / 翻动错误信息"), ("D", "加载"), ("A", "返回"))

    def __init__(self, app):
        super().__init__(app)
        self.entries = []
        self.list = PagedList(per_page=3)  # the 4th row shows the highlighted model's details
        self.dismissed_error: str | None = None  # a load error is shown until a key is pressed
        self.moved_at = 0.0  # the selected name starts scrolling from its beginning

    def enter(self, now: float) -> None:
        self.entries = self.app.deps.list_models()
        self.list.count = len(self.entries)
        self.list.index = min(self.list.index, max(0, self.list.count - 1))

    def handle(self, event) -> None:
        if self.showing_error():
            # The whole message, wrapped (an English one is long): */# scroll it, any other key hides it.
            if not scroll_page(event, self.error_page()) and pressed(event, *Key):
                self.dismissed_error = self.app.status.model_error
            self.app.dirty = True
            return
        if self.list.handle_nav(event):
            self.moved_at = self.app.now
            self.app.dirty = True
            return
        key = pressed(event, Key.A, Key.D)
        if key is Key.A:
            self.app.go(ScreenName.MENU)
        elif key is Key.D and self.entries and not self.app.status.model_loading:
            entry = self.entries[self.list.index]
            if not entry.present or entry.name == self.app.status.model:
                return
            chat = self.app.screens[ScreenName.CHAT]
            if chat.busy:
                return  # finish or abort the answer first
            self.app.status.model_loading = entry.name
            self.app.status.model = None
            chat.clear()
            self.app.effect(ResetChat())
            self.app.effect(LoadModel(entry.name))
            self.app.dirty = True

    def error_page(self):
        error = self.app.status.model_error
        if getattr(self, "_error_page", (None, None))[0] != error:
            self._error_page = (error, text_page(self.app, f"加载失败：{error}"))
        return self._error_page[1]

    def showing_error(self) -> bool:
        error = self.app.status.model_error
        return bool(error) and error != self.dismissed_error

    def animates(self, now: float) -> bool:
        # the loading bar, or a selected name too long for its row (it scrolls)
        if self.app.status.model_loading is not None:
            return True
        return bool(self.entries) and self.app.font.text_width(" " + self.entries[self.list.index].name) > WIDTH - 6

    def row_text(self, text: str, width: int, now: float) -> str:
        """The selected row scrolls a name that does not fit: one character every 0.3 s, a pause at each end."""
        font = self.app.font
        if font.text_width(text) <= width:
            return text
        hidden = 0
        while font.text_width(text[hidden:]) > width:
            hidden += 1
        steps = int(max(0.0, now - self.moved_at) / 0.3) % (hidden + 6)
        return text[max(0, min(hidden, steps - 3)):]

    def render(self, canvas, now: float) -> None:
        status = self.app.status
        self.title_bar(canvas, "选择模型", f"{self.list.index + 1}/{max(1, self.list.count)}" if self.entries else "")
        if status.model_loading:
            canvas.text(4, BODY_TOP + 4, "正在加载模型…")
            canvas.text(4, BODY_TOP + 18, status.model_loading[:20])
            phase = int(now * 4) % 4
            canvas.progress(8, HEIGHT - 12, WIDTH - 16, 8, (phase + 1) / 4)
            return
        if not self.entries:
            canvas.text(2, BODY_TOP, "没有模型")
            canvas.text(2, BODY_TOP + 13, "parrot models pull")
            return
        first = self.list.page * self.list.per_page
        for row, i in enumerate(range(first, min(first + self.list.per_page, self.list.count))):
            entry = self.entries[i]
            y = BODY_TOP + row * ROW_H
            selected = i == self.list.index
            if selected:
                canvas.fill_rect(0, y - 1, WIDTH - 4, ROW_H)
            fill = 0 if selected else 1
            mark = "*" if entry.name == status.model else " "
            text = f"{mark}{entry.name}"
            if selected:
                text = self.row_text(text, WIDTH - 6, now)
            canvas.text(1, y, text, fill=fill)
            canvas.fill_rect(WIDTH - 4, y - 1, 4, ROW_H, fill=0)  # nothing runs under the scrollbar
        # The highlighted model's details (size, preset sampling) on the last row.
        entry = self.entries[self.list.index]
        canvas.hline(0, HEIGHT - 13, WIDTH - 4)
        canvas.text(1, HEIGHT - 12, entry.detail if entry.present else f"未下载 {entry.detail}")
        if self.showing_error():
            canvas.fill_rect(0, BODY_TOP - 1, WIDTH, HEIGHT - BODY_TOP + 1, fill=0)
            draw_page(canvas, self.error_page())
        canvas.scrollbar(WIDTH - 3, BODY_TOP, HEIGHT - BODY_TOP, self.list.count, self.list.per_page, first)
