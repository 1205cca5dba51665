"""Chat: the conversation view. The answer streams in and the view follows it unless the user
scrolled up. A aborts a running answer; when idle A asks a new question, D re-asks the last one,
long A returns to the menu. `*`/`#` scroll."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from parrot.app.core import ScreenName
from parrot.app.effects import AbortLlm, AskLlm, SaveHistory
from parrot.app.screens.base import BODY_TOP, Screen, long_pressed, pressed, released
from parrot.events import LlmDone, LlmProgress, LlmToken
from parrot.keys import Key
from parrot.ui.canvas import HEIGHT, WIDTH
from parrot.ui.layout import TextView
from parrot.ui.markdown import MarkdownStream

TEXT_W = WIDTH - 5  # room for the scrollbar


class Phase(enum.Enum):
    IDLE = "idle"
    PREFILL = "prefill"
    STREAMING = "streaming"


@dataclass
class Turn:
    question: str
    answer: str = ""
    aborted: bool = False
    error: str | None = None
    stats: dict = field(default_factory=dict)


class ChatScreen(Screen):
    name = ScreenName.CHAT

    def __init__(self, app):
        super().__init__(app)
        self.turns: list[Turn] = []
        self.phase = Phase.IDLE
        self.request = 0
        self.progress = (0, 0)
        self.abort_press = False  # the A that aborted: its release must not also act
        self.clear()

    @property
    def rows(self) -> int:
        return (HEIGHT - BODY_TOP) // self.app.font.line_height

    # --- asking ---------------------------------------------------------------------------
    def ask(self, question: str) -> None:
        if self.phase is not Phase.IDLE:
            return  # one answer at a time; the input screen only submits when idle
        self.request += 1
        self.turns.append(Turn(question))
        self.phase = Phase.PREFILL
        self.progress = (0, 0)
        self.view.append(("\n" if len(self.turns) > 1 else "") + f"问：{question}\n答：")
        self.markdown = MarkdownStream()  # the answer's markdown, drawn for the 1-bit screen
        self.view.scroll_to_end()
        self.app.effect(AskLlm(self.request, question))
        self.app.go(ScreenName.CHAT)

    @property
    def busy(self) -> bool:
        return self.phase is not Phase.IDLE

    # --- LLM traffic (arrives even when another screen is shown) --------------------------
    def on_llm(self, event) -> None:
        if event.request != self.request or not self.turns or self.phase is Phase.IDLE:
            return  # a late event of an earlier or finished (aborted) request
        turn = self.turns[-1]
        if isinstance(event, LlmProgress):
            self.progress = (event.done, event.total)
        elif isinstance(event, LlmToken):
            self.phase = Phase.STREAMING
            turn.answer += event.text
            self.view.append(self.markdown.feed(event.text))
        elif isinstance(event, LlmDone):
            self.phase = Phase.IDLE
            turn.aborted, turn.error, turn.stats = event.aborted, event.error, dict(event.stats)
            self.view.append(self.markdown.finish())
            if event.error:
                self.view.append(f"\n[错误：{event.error}]")
            self.app.effect(SaveHistory(tuple((t.question, t.answer) for t in self.turns)))
        self.app.dirty = True

    def clear(self) -> None:
        self.turns.clear()
        self.view = TextView(self.app.font, TEXT_W, self.rows)

    # --- keys -----------------------------------------------------------------------------
    def handle(self, event) -> None:
        if pressed(event, Key.A) and self.busy:
            # Abort at the press, not the release: the user wants it to stop now.
            self.app.effect(AbortLlm(self.request))
            self.abort_press = True
            return
        if released(event, Key.A) and self.abort_press:
            self.abort_press = False
            return
        if long_pressed(event, Key.A):
            if self.busy:
                self.app.effect(AbortLlm(self.request))
            self.app.go(ScreenName.MENU)
            return
        key = released(event, Key.A) or pressed(event, Key.D, Key.STAR, Key.HASH)
        if key is Key.A:
            if self.busy:
                self.app.effect(AbortLlm(self.request))
            else:
                self.app.go(ScreenName.INPUT)
        elif key is Key.D and not self.busy and self.turns:
            self.ask(self.turns[-1].question)
        elif key in (Key.STAR, Key.HASH):
            self.view.scroll(-1 if key is Key.STAR else 1)
            self.app.dirty = True

    # --- drawing --------------------------------------------------------------------------
    def status_text(self) -> str:
        if self.phase is Phase.PREFILL:
            done, total = self.progress
            return f"读题{100 * done // total}%" if total else "读题…"
        if self.phase is Phase.STREAMING:
            return "回答中"
        if self.turns:
            last = self.turns[-1]
            if last.error:
                return "出错"
            tps = last.stats.get("decode_tps")
            tag = "已中止 " if last.aborted else ""
            return f"{tag}{tps:.1f}t/s" if tps else tag.strip()
        return ""

    def render(self, canvas, now: float) -> None:
        self.title_bar(canvas, "鹦鹉", self.status_text())
        lh = self.app.font.line_height
        rows = self.rows
        lines = self.view.visible()
        for i, line in enumerate(lines):
            canvas.text(1, BODY_TOP + i * lh, line)
        if self.phase is Phase.PREFILL and self.progress[1]:
            canvas.progress(8, HEIGHT - 8, WIDTH - 16, 7, self.progress[0] / self.progress[1])
        canvas.scrollbar(WIDTH - 3, BODY_TOP, HEIGHT - BODY_TOP, self.view.total_lines, rows, self.view.top)
        if not self.turns:
            canvas.text(4, BODY_TOP + lh, "按 A 开始提问")
