"""Main menu: 4 items a page with an n/N counter; `*`/`#` move, D enters, digits jump, A back."""

from __future__ import annotations

from parrot.app.state import ScreenName
from parrot.app.screens.base import PagedList, Screen, pressed
from parrot.keys import Key

ITEMS = (
    ("电子鹦鹉", ScreenName.INPUT),
    ("选择模型", ScreenName.MODELS),
    ("设置", ScreenName.SETTINGS),
    ("历史对话", ScreenName.HISTORY),
    ("安全关机", ScreenName.SHUTDOWN),
    ("关于", ScreenName.ABOUT),
)


class MenuScreen(Screen):
    name = ScreenName.MENU
    title = "主菜单"
    KEYS = (("*#", "选择"), ("1-4", "打开第N项"), ("D", "打开"), ("A", "开机画面"), ("长按0", "帮助"))

    def __init__(self, app):
        super().__init__(app)
        self.list = PagedList(count=len(ITEMS))

    def handle(self, event) -> None:
        if self.list.handle_nav(event):
            self.app.dirty = True
            return
        key = pressed(event, Key.D, Key.A, Key.K1, Key.K2, Key.K3, Key.K4)
        if key is Key.D:
            self.open(ITEMS[self.list.index][1])
        elif key is Key.A:
            self.app.go(ScreenName.SPLASH)
        elif key is not None and self.list.jump(key.digit):
            self.open(ITEMS[self.list.index][1])

    def open(self, name: ScreenName) -> None:
        if name is ScreenName.INPUT and self.app.status.model is None and not self.app.status.model_loading:
            name = ScreenName.NO_MODEL  # asking needs a model: say so, and how to get one
        self.app.go(name)

    def render(self, canvas, now: float) -> None:
        self.title_bar(canvas, "主菜单", f"{self.list.index + 1}/{len(ITEMS)}")
        self.list.render(canvas, [f"{i + 1}.{label}" if i < 9 else label for i, (label, _) in enumerate(ITEMS)])
