"""Safe shutdown: only a long press of D confirms (a bump must not power the box off); A cancels."""

from __future__ import annotations

from parrot.app.core import ScreenName
from parrot.app.effects import Shutdown
from parrot.app.screens.base import BODY_TOP, Screen, long_pressed, pressed
from parrot.keys import Key


class ShutdownScreen(Screen):
    name = ScreenName.SHUTDOWN

    def enter(self, now: float) -> None:
        self.confirmed = False

    def handle(self, event) -> None:
        if self.confirmed:
            return  # shutting down: ignore keys
        if long_pressed(event, Key.D):
            self.confirmed = True
            self.app.effect(Shutdown())
            self.app.dirty = True
        elif pressed(event, Key.A):
            self.app.go(ScreenName.MENU)

    def render(self, canvas, now: float) -> None:
        self.title_bar(canvas, "安全关机")
        lh = self.app.font.line_height
        if self.confirmed:
            canvas.text(4, BODY_TOP + lh, "正在关机…")
            canvas.text(4, BODY_TOP + 2 * lh, "请等待屏幕熄灭")
        else:
            canvas.text(4, BODY_TOP, "长按 D 确认关机")
            canvas.text(4, BODY_TOP + lh, "按 A 取消")
