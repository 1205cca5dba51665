"""Text input: the question editor with the T9 input method.

The keys belong to the input session (parrot.ime): it composes pinyin, picks candidates, moves
the cursor. This screen only draws its state and acts on the two outcomes that leave the editor:
SUBMIT (OK with nothing composing) sends the question to the chat, BACK (A on an empty editor)
returns to the menu.
"""

from __future__ import annotations

from parrot.app.effects import RerankCandidates, SaveSettings, SaveUserDictionary
from parrot.app.screens.base import BODY_TOP, TEXT_W, Screen, fit
from parrot.app.state import SAMPLE_PROMPTS, ScreenName
from parrot.events import KeyEvent, Tick
from parrot.ime.session import ITEM_PAD_PX
from parrot.keys import Key, KeyAction
from parrot.ui.canvas import HEIGHT, WIDTH
from parrot.ui.layout import cursor_position, wrap

RERANK_IDLE_S = 0.4  # the keypad rests this long before the model re-orders the sentences
MARQUEE_HOLD_S = 1.0  # a candidate wider than the row rests this long at its start and at its end
MARQUEE_PX_S = 40  # and scrolls this fast in between (app clock: the same frames on any machine)
MODE_LABELS = {"PINYIN": "拼", "ENGLISH": "En", "DIGITS": "123"}


class InputScreen(Screen):
    name = ScreenName.INPUT
    title = "提问"
    KEYS = (("2-9", "拼音/字母"), ("D", "选字 / 发送"), ("A", "删除 / 返回"), ("B", "切换 拼 En 123"),
            ("*#", "选择 / 移动光标"), ("0", "翻页"), ("1", "分隔 / 标点"), ("C+数字", "选第N个"),
            ("C C", "选拼音"), ("C D", "换行"), ("C 1", "深度思考 开/关"), ("C 0", "帮助"), ("长按C", "按住说话"))

    def __init__(self, app):
        super().__init__(app)
        self.session = app.deps.new_input_session("")
        self.top = 0  # first text line shown
        self.blink_epoch = 0.0
        self.last_key = 0.0  # app time of the last key event
        self.rerank_asked: int | None = None  # keys_handled of the last re-rank asked for
        self.row_since = 0.0  # app time the candidate row last changed (a long one scrolls from its start)

    def enter(self, now: float) -> None:
        self.blink_epoch = now

    def handle(self, event) -> None:
        from parrot.ime.session import Outcome

        if isinstance(event, Tick):
            if self.session.multitap is not None:
                self.session.tick(event.now)
                self.app.dirty = True  # the countdown bar shrinks, or the letter was committed
            self.maybe_rerank(event.now)
            return
        if not isinstance(event, KeyEvent):
            return
        if self.screen_ctrl_key(event):
            return
        outcome = self.session.handle(event, self.app.now)
        self.last_key = self.row_since = self.app.now
        self.blink_epoch = self.app.now  # the cursor shows solid right after a key
        self.app.dirty = True
        if outcome is Outcome.SUBMIT:
            text = self.session.editor.text.strip()
            if not text:
                text = self.app.deps.rng.choice(SAMPLE_PROMPTS)  # nothing typed: a sample question
            self.submit(text)
        elif outcome is Outcome.BACK:
            chat = self.app.screens[ScreenName.CHAT]
            self.app.go(ScreenName.CHAT if chat.turns else ScreenName.MENU)
        if self.session.pending_save:
            user_dict = self.session.user_dict
            user_dict.pending_save = False
            self.app.effect(SaveUserDictionary(user_dict.to_json()))

    def maybe_rerank(self, now: float) -> None:
        """The keypad has rested with sentences showing, the model is loaded and not answering:
        ask it once to re-order them (in the model worker, never in the key path)."""
        app, s = self.app, self.session
        if (not app.deps.llm_rerank or app.screen is not self or not app.status.model or app.status.model_loading
                or now - self.last_key < RERANK_IDLE_S or self.rerank_asked == s.keys_handled
                or app.screens[ScreenName.CHAT].busy):
            return
        job = s.rerank_job()
        if job is None:
            return
        self.rerank_asked = job[0]
        app.effect(RerankCandidates(job[0], job[1], tuple(job[2]), s.engine))

    def on_reranked(self, event) -> None:
        """The model's order: shown if no key came since it was asked for (else dropped)."""
        if self.session.apply_rerank(event.keys, list(event.items)):
            self.row_since = self.app.now
            self.app.dirty = True

    def screen_ctrl_key(self, event: KeyEvent) -> bool:
        """Ctrl+1 (no candidate list open) toggles thinking; Ctrl+0 shows the keys. The rest of
        the Ctrl combinations belong to the input session."""
        s = self.session
        if not (s.ctrl_armed and event.action is KeyAction.PRESS and event.key in (Key.K0, Key.K1)):
            return False
        if event.key is Key.K1 and s.candidates:
            return False  # Ctrl+1 picks the first candidate
        s.ctrl_armed = False
        if event.key is Key.K1:
            settings = self.app.settings
            settings["thinking"] = not settings["thinking"]
            self.app.effect(SaveSettings(dict(settings)))
            self.app.show_toast("深度思考：" + ("开" if settings["thinking"] else "关"), 1.5)
        else:
            self.app.show_help()
        self.app.dirty = True
        return True

    def submit(self, text: str) -> None:
        chat = self.app.screens[ScreenName.CHAT]
        if chat.busy:
            self.app.go(ScreenName.CHAT)  # still answering: show it instead
            return
        self.session.editor.clear()
        self.top = 0
        chat.ask(text)

    def on_heard(self, text: str) -> None:
        """A transcript from speech input: sent at once (voice_submit) or put in the editor."""
        if not text.strip():
            return
        if self.app.settings["voice_submit"]:
            self.submit(text.strip())
        else:
            self.session.editor.insert(text.strip())
            self.app.go(ScreenName.INPUT)
        self.app.dirty = True

    def animates(self, now: float) -> bool:
        return True  # blinking cursor, multi-tap countdown

    # --- drawing --------------------------------------------------------------------------
    def composing(self) -> bool:
        s = self.session
        return bool(s.digits or s.candidates or s.symbol_picker is not None)

    def render(self, canvas, now: float) -> None:
        s = self.session
        font = self.app.font
        lh = font.line_height
        mode = MODE_LABELS.get(s.mode.name, s.mode.name)
        if s.mode.name == "ENGLISH" and s.uppercase:
            mode = "EN"
        if s.ctrl_armed:
            mode = "^" + mode  # C was pressed: the next key is a Ctrl combination
        self.title_bar(canvas, "提问", f"{mode} {len(s.editor.text)}")
        if s.symbol_picker is not None:
            canvas.clear()  # the picker has its own title bar
            self.render_symbols(canvas)
            return
        bottom = HEIGHT - (2 * lh if self.composing() else 0)
        rows = max(1, (bottom - BODY_TOP) // lh)
        editor = s.editor
        lines = wrap(editor.text, font, TEXT_W) or [""]
        cursor_line, cursor_x = cursor_position(editor.text, font, TEXT_W, editor.cursor)
        # Keep the cursor's line in view, and no blank rows under the text while earlier lines
        # are scrolled away (the candidate bar closing gives the editor its rows back).
        self.top = max(min(self.top, cursor_line, max(0, len(lines) - rows)), cursor_line - rows + 1, 0)
        for i, line in enumerate(lines[self.top:self.top + rows]):
            canvas.text(1, BODY_TOP + i * lh, line)
        if s.multitap is not None:
            char, deadline = s.multitap
            y = BODY_TOP + (cursor_line - self.top) * lh
            x = 1 + cursor_x
            canvas.highlight(x, y, font.text_width(char) + 2, lh, char)
            # countdown bar under the pending letter
            left = max(0.0, deadline - now)
            canvas.fill_rect(x, y + lh, int((font.text_width(char) + 2) * min(1.0, left / 1.0)), 1)
        elif int((now - self.blink_epoch) / self.app.deps.cursor_blink_s) % 2 == 0:
            y = BODY_TOP + (cursor_line - self.top) * lh
            if 0 <= cursor_line - self.top < rows:
                # In the blank column left of the next glyph's cell (text starts at x = 1),
                # so the bar never covers ink of the characters beside it.
                canvas.vline(cursor_x, y, lh - 1)
        canvas.scrollbar(WIDTH - 3, BODY_TOP, bottom - BODY_TOP, max(len(lines), cursor_line + 1), rows, self.top)
        if self.composing():
            self.render_candidates(canvas, bottom, now)

    def render_candidates(self, canvas, y: int, now: float) -> None:
        s = self.session
        font = self.app.font
        lh = font.line_height
        canvas.hline(0, y - 1, WIDTH)
        # Pinyin row: the splits of the pending digits (the chosen one framed, inverted while
        # the row has focus); at its right the page counter and the 联想 tag.
        tag = " ".join(t for t in ("联想" if s.association and not s.digits else "",
                                   f"{s.page + 1}/{s.page_count}" if s.page_count > 1 else "") if t)
        right_limit = WIDTH - (font.text_width(tag) + 3 if tag else 0)
        focus = s.focus.name
        splits = s.splits or ([s.digits] if s.digits else [])
        widths = [font.text_width(split) + 3 for split in splits]
        # Scroll the row so the chosen split is drawn (focus must be visible); the first one
        # drawn is cut to fit rather than dropped (a long pinyin never leaves the row blank).
        chosen = s.split_index or 0
        first = 0
        while first < chosen and 1 + sum(w + 2 for w in widths[first:chosen + 1]) > right_limit:
            first += 1
        x = 1
        for i in range(first, len(splits)):
            split, w = splits[i], widths[i]
            if x + w > right_limit:
                if i > first:
                    break
                split = fit(split, font, right_limit - x - 3)
                w = font.text_width(split) + 3
            if s.split_index == i or (s.split_index is None and i == 0 and focus == "SPLITS"):
                if focus == "SPLITS":
                    canvas.highlight(x - 1, y, w, lh, split)
                else:
                    canvas.rect(x - 1, y, w, lh)
                    canvas.text(x, y, split)
            else:
                canvas.text(x, y, split)
            x += w + 2
        if not s.digits and not s.splits and s.association:
            canvas.text(1, y, "C+数字 选词")  # the row is never blank: say how to pick
        if tag:
            canvas.text_right(WIDTH - 1, y, tag)
        # Candidate row: the whole width, numbered, the highlighted one inverted. The session
        # made the page from what fits this row (its measure is this font's), so all are drawn.
        y += lh
        x = 1
        for i, cand in enumerate(s.candidates):
            label = f"{i + 1}{cand}"
            w = font.text_width(label) + ITEM_PAD_PX - 1
            if x + w > WIDTH:  # a sentence wider than the row (alone on its page): it scrolls
                self.render_long_candidate(canvas, y, f"{i + 1}", cand, x + w - WIDTH, now,
                                           i == s.candidate_index and focus != "SPLITS")
                break
            if i == s.candidate_index and focus != "SPLITS":
                canvas.highlight(x - 1, y, w, lh, label)
            else:
                canvas.text(x, y, label)
            x += w + 1

    def render_long_candidate(self, canvas, y: int, number: str, text: str, overflow: int, now: float,
                              chosen: bool) -> None:
        """Its number stays put; the text rests, scrolls left until its end shows, rests, and
        starts over."""
        lh = self.app.font.line_height
        ink, paper = (0, 1) if chosen else (1, 0)
        travel = overflow / MARQUEE_PX_S
        t = (now - self.row_since) % (2 * MARQUEE_HOLD_S + travel)
        shift = round(min(travel, max(0.0, t - MARQUEE_HOLD_S)) * MARQUEE_PX_S)
        canvas.fill_rect(0, y, WIDTH, lh, fill=paper)
        number_end = canvas.text(1, y, number, fill=ink)
        canvas.text(number_end - shift, y, text, fill=ink)
        canvas.fill_rect(0, y, number_end, lh, fill=paper)  # the text slides under the number
        canvas.text(1, y, number, fill=ink)

    def render_symbols(self, canvas) -> None:
        """Two rows of five: the digit that picks each symbol, then the symbol (page n/N on top)."""
        picker = self.session.symbol_picker
        font = self.app.font
        lh = font.line_height
        self.title_bar(canvas, "符号", f"{picker.page + 1}/{picker.page_count}")
        cell_w, cell_h = WIDTH // 5, lh + 6
        for i, sym in enumerate(picker.page_items):
            row, col = divmod(i, 5)
            x, y = col * cell_w, BODY_TOP + 2 + row * cell_h
            label = str((i + 1) % 10)
            if i == picker.index:
                canvas.fill_rect(x, y - 1, cell_w - 1, lh + 2)
            fill = 0 if i == picker.index else 1
            canvas.text(x + 1, y, label, fill=fill)
            canvas.text(x + 1 + font.text_width(label) + 2, y, sym, fill=fill)
        canvas.text(1, HEIGHT - lh, "C翻页 D选中 A返回")
