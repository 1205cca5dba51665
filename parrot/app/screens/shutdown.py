"""Safe shutdown: only a long press of D confirms (a bump must not power the box off); A cancels.
An empty battery confirms by itself. If the board cannot power off, the reason is shown."""

from __future__ import annotations

from parrot.app.effects import Shutdown
from parrot.app.screens.base import BODY_TOP, Screen, long_pressed, pressed
from parrot.app.state import ScreenName
from parrot.keys import Key
from parrot.ui.canvas import WIDTH
from parrot.ui.layout import wrap


class ShutdownScreen(Screen):
    name = ScreenName.SHUTDOWN
    title = "安全关机"
    KEYS = (("长按D", "确认关机"), ("A", "取消"))

    def __init__(self, app):
        super().__init__(app)
        self.confirmed = False
        self.reason = ""
        self.error: str | None = None

    def enter(self, now: float) -> None:
        if self.error is None:
            self.confirmed = False
            self.reason = ""

    def confirm(self, reason: str = "") -> None:
        self.confirmed, self.reason, self.error = True, reason, None
        self.app.effect(Shutdown())
        self.app.dirty = True

    def failed(self, error: str) -> None:
        self.confirmed, self.error = False, error
        self.app.dirty = True

    def handle(self, event) -> None:
        if self.confirmed:
            return  # shutting down: ignore keys
        if long_pressed(event, Key.D):
            self.confirm()
        elif pressed(event, Key.A):
            self.error = None
            self.app.go(ScreenName.MENU)

    def render(self, canvas, now: float) -> None:
        self.title_bar(canvas, self.title)
        lh = self.app.font.line_height
        if self.confirmed:
            canvas.text(4, BODY_TOP, self.reason or "")
            canvas.text(4, BODY_TOP + lh, "正在关机…")
            canvas.text(4, BODY_TOP + 2 * lh, "请等待屏幕熄灭")
        elif self.error:
            for i, line in enumerate(wrap("关机失败：" + self.error, self.app.font, WIDTH - 2)[:3]):
                canvas.text(1, BODY_TOP + i * lh, line)
            canvas.text(1, BODY_TOP + 3 * lh, "按 A 返回")
        else:
            canvas.text(4, BODY_TOP, "长按 D 确认关机")
            canvas.text(4, BODY_TOP + lh, "按 A 取消")
