"""History: saved conversations, newest first, each with its date and first words. `*`/`#`
move, D opens (and continues) one, B twice deletes it, A back. The list is the app's history
index; the chat screen reads the opened conversation's turns from its file."""

from __future__ import annotations

import time

from parrot.app.screens.base import BODY_TOP, PagedList, Screen, pressed
from parrot.app.state import SavedConversation, ScreenName
from parrot.keys import Key


def summary(entry: SavedConversation) -> str:
    """'11-29 09:30 first words of the first question'."""
    when = time.strftime("%m-%d %H:%M", time.localtime(entry.started))
    return f"{when} {entry.first}"


class HistoryScreen(Screen):
    name = ScreenName.HISTORY
    title = "历史对话"
    KEYS = (("*#", "选择"), ("D", "打开并继续"), ("B B", "删除"), ("A", "返回"))

    def __init__(self, app):
        super().__init__(app)
        self.list = PagedList()
        self.records: list[SavedConversation] = []
        self.confirm_delete = False

    def enter(self, now: float) -> None:
        self.records = sorted(self.app.history.values(), key=lambda r: (r.started, r.id), reverse=True)
        self.list.count = len(self.records)
        self.list.index = 0
        self.confirm_delete = False

    def handle(self, event) -> None:
        if self.list.handle_nav(event):
            self.confirm_delete = False
            self.app.dirty = True
            return
        key = pressed(event, Key.A, Key.B, Key.D)
        if key is Key.A:
            self.app.go(ScreenName.MENU)
        elif key is Key.D and self.records:
            chat = self.app.screens[ScreenName.CHAT]
            if not chat.busy:
                chat.open(self.records[self.list.index].id)
                self.app.go(ScreenName.CHAT)
        elif key is Key.B and self.records:
            if not self.confirm_delete:
                self.confirm_delete = True
            else:
                self.app.forget_conversation(self.records[self.list.index].id)
                self.enter(self.app.now)
        self.app.dirty = True

    def render(self, canvas, now: float) -> None:
        self.title_bar(canvas, self.title, f"{self.list.index + 1}/{self.list.count}" if self.records else "")
        if not self.records:
            canvas.text(2, BODY_TOP, "还没有对话")
            return
        self.list.render(canvas, [summary(r) for r in self.records])
        if self.confirm_delete:
            canvas.notice("再按 B 删除这个对话")
