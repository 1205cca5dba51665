"""Text input: the question editor with the T9 input method.

The keys belong to the input session (parrot.ime): it composes pinyin, picks candidates, moves
the cursor. This screen only draws its state and acts on the two outcomes that leave the editor:
SUBMIT (OK with nothing composing) sends the question to the chat, BACK (A on an empty editor)
returns to the menu.
"""

from __future__ import annotations

from parrot.app.core import SAMPLE_PROMPTS, ScreenName
from parrot.app.screens.base import BODY_TOP, Screen
from parrot.events import KeyEvent, Tick
from parrot.ui.canvas import HEIGHT, WIDTH
from parrot.ime.session import ITEM_PAD_PX
from parrot.ui.layout import cursor_position, wrap

TEXT_W = WIDTH - 5
CANDIDATE_PAD = ITEM_PAD_PX  # frame + gap around each candidate, as the session pages them
MODE_LABELS = {"PINYIN": "拼", "ENGLISH": "En", "DIGITS": "123"}


class InputScreen(Screen):
    name = ScreenName.INPUT

    def __init__(self, app):
        super().__init__(app)
        self.session = app.deps.new_input_session("")
        self.top = 0  # first text line shown
        self.blink_epoch = 0.0

    def enter(self, now: float) -> None:
        self.blink_epoch = now

    def handle(self, event) -> None:
        from parrot.ime.session import Outcome

        if isinstance(event, Tick):
            if self.session.multitap is not None:
                self.session.tick(event.now)
                self.app.dirty = True  # the countdown bar shrinks, or the letter was committed
            return
        if not isinstance(event, KeyEvent):
            return
        chat = self.app.screens[ScreenName.CHAT]
        outcome = self.session.handle(event, self.app.now)
        self.blink_epoch = self.app.now  # the cursor shows solid right after a key
        self.app.dirty = True
        if outcome is Outcome.SUBMIT:
            text = self.session.editor.text.strip()
            if not text:
                text = self.app.deps.rng.choice(SAMPLE_PROMPTS)  # nothing typed: a sample question
            if not chat.busy:
                self.session.editor.clear()
                self.top = 0
                chat.ask(text)
            elif chat.busy:
                self.app.go(ScreenName.CHAT)  # still answering: show it instead
        elif outcome is Outcome.BACK:
            self.app.go(ScreenName.CHAT if chat.turns else ScreenName.MENU)
        if self.session.pending_save:
            from parrot.app.effects import SaveUserDictionary

            self.app.effect(SaveUserDictionary())

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
        # Keep the cursor's line in view.
        self.top = max(min(self.top, cursor_line), cursor_line - rows + 1, 0)
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
                canvas.vline(1 + cursor_x, y, lh - 1)
        canvas.scrollbar(WIDTH - 3, BODY_TOP, bottom - BODY_TOP, max(len(lines), cursor_line + 1), rows, self.top)
        if self.composing():
            self.render_candidates(canvas, bottom)

    def render_candidates(self, canvas, y: int) -> None:
        s = self.session
        font = self.app.font
        lh = font.line_height
        canvas.hline(0, y - 1, WIDTH)
        # Pinyin row: the splits of the pending digits (the chosen one framed, inverted while
        # the row has focus); at its right the page counter and the 联想 tag.
        tag = " ".join(t for t in ("联想" if s.association and not s.digits else "",
                                   f"{s.page + 1}/{s.page_count}" if s.page_count > 1 else "") if t)
        right_limit = WIDTH - (font.text_width(tag) + 3 if tag else 0)
        x = 1
        focus = s.focus.name
        for i, split in enumerate(s.splits or ([s.digits] if s.digits else [])):
            w = font.text_width(split) + 3
            if x + w > right_limit:
                break
            if s.split_index == i or (s.split_index is None and i == 0 and focus == "SPLITS"):
                if focus == "SPLITS":
                    canvas.highlight(x - 1, y, w, lh, split)
                else:
                    canvas.rect(x - 1, y, w, lh)
                    canvas.text(x, y, split)
            else:
                canvas.text(x, y, split)
            x += w + 2
        if tag:
            canvas.text_right(WIDTH - 1, y, tag)
        # Candidate row: the whole width, numbered, the highlighted one inverted. The session
        # pages candidates with this same measure, so every one of a page is drawn.
        y += lh
        x = 1
        for i, cand in enumerate(s.candidates):
            label = f"{i + 1}{cand}"
            w = font.text_width(label) + CANDIDATE_PAD - 1
            if x + w > WIDTH:
                break
            if i == s.candidate_index and focus != "SPLITS":
                canvas.highlight(x - 1, y, w, lh, label)
            else:
                canvas.text(x, y, label)
            x += w + 1

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
