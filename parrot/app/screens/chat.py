"""Chat: the conversation view. The answer streams in and the view follows it unless the user
scrolled up. A aborts a running answer; when idle A asks a new question, D re-asks the last one,
B starts a new conversation, C opens/folds the model's thinking, long A returns to the menu.
`*`/`#` scroll. Each conversation is saved in a file of its own after every answer; one opened
from the history is shown when the runtime has read its turns (ConversationLoaded)."""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass, field

from parrot.app.effects import (AbortLlm, AskLlm, LoadConversation, ResetChat, RestoreChat, SaveConversation, SpeakStream,
                                StopSpeaking)
from parrot.app.screens.base import BODY_TOP, TEXT_W, Screen, long_pressed, pressed, released
from parrot.app.state import SavedConversation, ScreenName
from parrot.events import ConversationLoaded, LlmDone, LlmProgress, LlmToken
from parrot.keys import Key
from parrot.ui.canvas import HEIGHT, WIDTH
from parrot.ui.layout import TextView
from parrot.ui.markdown import MarkdownStream, render_markdown

MIN_RATE_TOKENS = 8  # a tokens/s figure from fewer tokens (an early abort) is noise: not shown
THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
LOADING_TEXT = "正在读取对话…"


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


def split_thinking(answer: str) -> tuple[str | None, str]:
    """(thinking or None, the answer proper). Qwen3 puts its reasoning in <think>...</think> first;
    while it is still thinking, the answer proper is empty."""
    stripped = answer.lstrip()
    if not stripped.startswith(THINK_OPEN):
        return None, answer
    body = stripped[len(THINK_OPEN):]
    if THINK_CLOSE not in body:
        return body.strip(), ""
    think, rest = body.split(THINK_CLOSE, 1)
    return think.strip(), rest.lstrip("\n")


def shown_answer(answer: str, expanded: bool, final: bool = True) -> str:
    """The answer as drawn: the thinking folded to one line (or opened) above the answer, its
    markdown drawn for the 1-bit screen (final=False: still streaming, as the stream shows it)."""
    think, rest = split_thinking(answer)
    rest = render_markdown(rest, final)
    if think is None:
        return rest
    if expanded:
        return f"〔思考〕{render_markdown(think, final)}\n〔回答〕{rest}"
    return f"〔思考{len(think)}字 C〕\n{rest}"  # one line: C opens it


def conversation_id(started: float) -> str:
    return time.strftime("%Y%m%d-%H%M%S", time.localtime(started))


class ChatScreen(Screen):
    name = ScreenName.CHAT
    title = "对话"
    KEYS = (("A", "停止 / 再提问"), ("长按A", "主菜单"), ("D", "重问上一题"), ("B", "新对话"),
            ("C", "展开/收起思考"), ("*#", "上下翻"), ("长按0", "帮助"))

    def __init__(self, app):
        super().__init__(app)
        self.phase = Phase.IDLE
        self.request = 0
        self.progress = (0, 0)
        self.abort_press = False  # the A that aborted: its release must not also act
        self.spoken = 0  # characters of the current answer proper handed to the voice
        self.speaking_request = False  # the current answer is being spoken as it streams
        self.new_conversation()

    @property
    def rows(self) -> int:
        return (HEIGHT - BODY_TOP) // self.app.font.line_height

    # --- conversations --------------------------------------------------------------------
    def new_conversation(self) -> None:
        self.turns: list[Turn] = []
        self.conversation: dict | None = None  # {"id", "started"}: made at the first question
        self.loading: str | None = None  # the id of a saved conversation being read
        self.expanded = False
        self.view = TextView(self.app.font, TEXT_W, self.rows)

    def clear(self) -> None:
        """Start afresh (a new model: the old conversation's context is gone)."""
        self.new_conversation()

    def open(self, conversation_id: str) -> None:
        """Continue a saved conversation: its turns are read from its file (on_loaded)."""
        self.new_conversation()
        self.loading = conversation_id
        self.view.set_text(LOADING_TEXT)
        self.app.effect(ResetChat())  # the model forgets the conversation that was on screen
        self.app.effect(LoadConversation(conversation_id))

    def on_loaded(self, event: ConversationLoaded) -> None:
        """The turns of the conversation being opened: shown, and given to the model as context."""
        if event.id != self.loading:
            return  # the user moved on (a new question, another conversation)
        self.loading = None
        if event.error is not None:
            self.view.set_text(f"无法打开这个对话：{event.error}")
            self.app.dirty = True
            return
        entry = self.app.history.get(event.id)
        started = entry.started if entry else self.app.deps.wall(self.app.now)
        self.conversation = {"id": event.id, "started": started}
        self.turns = [Turn(q, a) for q, a in event.turns]
        self.refill()
        self.app.effect(RestoreChat(tuple(event.turns)))
        self.app.dirty = True

    def new_id(self, started: float) -> str:
        """The start time, made unique among the saved ones (two in one second)."""
        base = conversation_id(started)
        taken = self.app.history
        n = 1
        while (candidate := base if n == 1 else f"{base}-{n}") in taken:
            n += 1
        return candidate

    def transcript(self) -> str:
        parts = []
        for i, turn in enumerate(self.turns):
            streaming = self.busy and i == len(self.turns) - 1
            text = f"问：{turn.question}\n答：{shown_answer(turn.answer, self.expanded, not streaming)}"
            if turn.error:
                text += f"\n[错误：{turn.error}]"
            parts.append(text)
        return "\n".join(parts)

    def refill(self) -> None:
        pinned = self.view.pinned_to_bottom
        self.view.set_text(self.transcript())
        if pinned:
            self.view.scroll_to_end()

    # --- asking ---------------------------------------------------------------------------
    def ask(self, question: str) -> None:
        if self.phase is not Phase.IDLE:
            return  # one answer at a time; the input screen only submits when idle
        if self.app.status.model is None:
            self.app.go(ScreenName.NO_MODEL)  # say so, and how to fix it
            return
        if not self.turns:
            self.new_conversation()  # (a conversation still being read, or a read error: a new one)
        self.request += 1
        self.turns.append(Turn(question))
        if self.conversation is None:
            started = self.app.deps.wall(self.app.now)
            self.conversation = {"id": self.new_id(started), "started": started}
        self.phase = Phase.PREFILL
        self.progress = (0, 0)
        self.view.append(("\n" if len(self.turns) > 1 else "") + f"问：{question}\n答：")
        self.markdown = MarkdownStream()  # the answer's markdown, drawn for the 1-bit screen
        self.view.scroll_to_end()
        settings = self.app.settings
        max_tokens = min(int(settings["max_tokens"]), self.app.deps.max_tokens)
        history = tuple((t.question, t.answer) for t in self.turns[:-1])
        self.app.effect(AskLlm(self.request, question, max_tokens, bool(settings["thinking"]), history))
        if self.app.status.speaking:
            self.app.effect(StopSpeaking())  # the previous answer's voice gives way
        self.spoken = 0
        self.speaking_request = bool(settings["speak_answers"]) and self.app.status.tts_ready
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
            shown = self.markdown.feed(event.text)
            start = turn.answer.lstrip()
            if start.startswith(THINK_OPEN) or THINK_OPEN.startswith(start):
                self.refill()  # a thinking part (or what may start one) is drawn folded
            else:
                self.view.append(shown)  # plain text: only the end is wrapped again
            self.speak_more(turn)
        elif isinstance(event, LlmDone):
            self.phase = Phase.IDLE
            turn.aborted, turn.error, turn.stats = event.aborted, event.error, dict(event.stats)
            self.refill()
            self.save()
            if not event.error and not event.aborted:
                self.speak_more(turn, end=True)
            self.speaking_request = False
        self.app.dirty = True

    def speak_more(self, turn: Turn, end: bool = False) -> None:
        """Hand the voice what the answer proper (not its thinking) gained since last time."""
        if not self.speaking_request:
            return
        start = turn.answer.lstrip()
        proper = "" if THINK_OPEN.startswith(start) else split_thinking(turn.answer)[1]
        more = proper[self.spoken:]
        if more or (end and self.spoken):
            self.spoken = len(proper)
            self.app.effect(SpeakStream(more, end=end))

    def stop_speaking(self) -> None:
        self.speaking_request = False
        self.app.effect(StopSpeaking())

    def save(self) -> None:
        record = dict(self.conversation, turns=[{"q": t.question, "a": t.answer} for t in self.turns])
        self.app.remember_conversation(SavedConversation.of_record(record))
        self.app.effect(SaveConversation(record["id"], record))

    # --- keys -----------------------------------------------------------------------------
    def handle(self, event) -> None:
        if pressed(event, Key.A) and self.busy:
            # Abort at the press, not the release: the user wants it to stop now.
            self.app.effect(AbortLlm(self.request))
            self.stop_speaking()
            self.abort_press = True
            return
        if released(event, Key.A) and self.abort_press:
            self.abort_press = False
            return
        if long_pressed(event, Key.A):
            if self.busy:
                self.app.effect(AbortLlm(self.request))
            self.stop_speaking()
            self.app.go(ScreenName.MENU)
            return
        key = released(event, Key.A) or pressed(event, Key.B, Key.C, Key.D, Key.STAR, Key.HASH)
        if key is Key.A:
            self.stop_speaking()
            self.app.go(ScreenName.INPUT)
        elif key is Key.D and not self.busy and self.turns:
            self.ask(self.turns[-1].question)
        elif key is Key.B and not self.busy:
            self.stop_speaking()
            self.new_conversation()
            self.app.effect(ResetChat())
            self.app.go(ScreenName.INPUT)
        elif key is Key.C:
            self.expanded = not self.expanded
            self.refill()
        elif key in (Key.STAR, Key.HASH):
            self.view.scroll(-1 if key is Key.STAR else 1)
        self.app.dirty = True

    # --- drawing --------------------------------------------------------------------------
    def status_text(self) -> str:
        if self.phase is Phase.PREFILL:
            done, total = self.progress
            return f"读题{100 * done // total}%" if total else "读题"
        if self.phase is Phase.STREAMING:
            return "回答中"
        if self.turns:
            last = self.turns[-1]
            if last.error:
                return "出错"
            tag = "已中止" if last.aborted else ""
            tps = last.stats.get("decode_tps")
            if tps and last.stats.get("decode_tokens", 0) >= MIN_RATE_TOKENS:
                return f"{tag} {tps:.1f}t/s".strip()
            return tag
        return ""

    def render(self, canvas, now: float) -> None:
        self.title_bar(canvas, "鹦鹉", self.status_text())
        lh = self.app.font.line_height
        lines = self.view.visible()
        for i, line in enumerate(lines):
            canvas.text(1, BODY_TOP + i * lh, line)
        if self.phase is Phase.PREFILL and self.progress[1]:
            # Under the last line of text, never over it (the title bar shows the percent too).
            y = BODY_TOP + len(lines) * lh + 1
            if y + 5 <= HEIGHT:
                canvas.progress(8, y, WIDTH - 16, 5, self.progress[0] / self.progress[1])
        canvas.scrollbar(WIDTH - 3, BODY_TOP, HEIGHT - BODY_TOP, self.view.total_lines, self.rows, self.view.top)
        if not self.turns and not lines:
            canvas.text(4, BODY_TOP + lh, "按 A 开始提问")
