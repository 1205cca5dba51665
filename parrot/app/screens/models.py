"""Choose model: installed models with their presets; D loads the highlighted one (the old one is
freed first) behind a loading indicator, A back."""

from __future__ import annotations

from parrot.app.core import ScreenName
from parrot.app.effects import LoadModel, ResetChat
from parrot.app.screens.base import BODY_TOP, ROW_H, PagedList, Screen, pressed
from parrot.keys import Key
from parrot.ui.canvas import HEIGHT, WIDTH


class ModelsScreen(Screen):
    name = ScreenName.MODELS

    def __init__(self, app):
        super().__init__(app)
        self.entries = []
        self.list = PagedList(per_page=3)  # the 4th row shows the highlighted model's details

    def enter(self, now: float) -> None:
        self.entries = self.app.deps.list_models()
        self.list.count = len(self.entries)
        self.list.index = min(self.list.index, max(0, self.list.count - 1))

    def handle(self, event) -> None:
        if self.list.handle_nav(event):
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

    def animates(self, now: float) -> bool:
        return self.app.status.model_loading is not None

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
            canvas.text(1, y, f"{mark}{entry.name}"[:21], fill=fill)
        # The highlighted model's details (size, preset sampling) on the last row.
        entry = self.entries[self.list.index]
        canvas.hline(0, HEIGHT - 13, WIDTH - 4)
        canvas.text(1, HEIGHT - 12, entry.detail if entry.present else f"未下载 {entry.detail}")
        if status.model_error:
            canvas.fill_rect(0, HEIGHT - 13, WIDTH, 13, fill=0)
            canvas.text(1, HEIGHT - 12, f"错误：{status.model_error}"[:24])
        canvas.scrollbar(WIDTH - 3, BODY_TOP, HEIGHT - BODY_TOP, self.list.count, self.list.per_page, first)
