"""Splash: clock, battery and which engines are ready; any key (or a short wait) opens the menu."""

from __future__ import annotations

import time

from parrot.app.state import ScreenName
from parrot.app.screens.base import Screen
from parrot.events import KeyEvent, Tick
from parrot.keys import Key, KeyAction
from parrot.ui.canvas import WIDTH

WEEKDAYS = "一二三四五六日"


class SplashScreen(Screen):
    name = ScreenName.SPLASH
    title = "开机画面"
    KEYS = (("任意键", "主菜单"),)

    def enter(self, now: float) -> None:
        self.entered = now

    def handle(self, event) -> None:
        if isinstance(event, KeyEvent) and event.action is KeyAction.PRESS and event.key is not Key.K0:
            self.app.go(ScreenName.MENU)
        elif isinstance(event, Tick) and self.app.deps.splash_s > 0 and event.now - self.entered >= self.app.deps.splash_s:
            self.app.go(ScreenName.MENU)

    def animates(self, now: float) -> bool:
        return True  # the clock

    def render(self, canvas, now: float) -> None:
        deps, status = self.app.deps, self.app.status
        t = time.localtime(deps.wall(now))
        hour, minute = t.tm_hour, t.tm_min
        if deps.clock_24h:
            clock = f"{hour:02d}:{minute:02d}"
        else:
            clock = f"{'上午' if hour < 12 else '下午'}{(hour - 1) % 12 + 1}:{minute:02d}"
        canvas.text(1, 0, f"{t.tm_mon}月{t.tm_mday}日 周{WEEKDAYS[t.tm_wday]}")
        if status.battery is not None:
            canvas.battery(WIDTH - 14, 2, status.battery)
            canvas.text_right(WIDTH - 16, 0, f"{status.battery:.0f}%")
        big = self.app.big_font
        big.draw(canvas.image, (WIDTH - big.text_width(clock)) // 2, 16, clock)
        canvas.text((WIDTH - canvas.font.text_width("电子鹦鹉")) // 2, 34, "电子鹦鹉")
        # Readiness row: model, speech in (mic), speech out (speaker).
        y = 51
        x = 1
        if status.model:
            x += canvas.icon("llm", x, y + 2) + 2
            canvas.text(x, y, "就绪")
        elif status.model_loading:
            x += canvas.icon("busy", x, y + 2) + 2
            canvas.text(x, y, "加载中")
        else:
            x += canvas.icon("llm", x, y + 2) + 2
            canvas.text(x, y, "无模型" if not status.model_error else "模型错误")
        x = 84
        if status.asr_ready:
            canvas.icon("mic", x, y + 2)
        if status.tts_ready:
            canvas.icon("speaker", x + 10, y + 2)
