"""Text layout for the OLED: line wrapping to a pixel width, and a scrolling text view.

Wrapping rules (`wrap`, `wrap_spans`):
  * "\\n" ends a line; empty lines are kept ("a\\n\\nb" -> ["a", "", "b"]; "a\\n" -> ["a", ""]).
  * A line may break between any two full-width characters (hanzi, kana, full-width
    punctuation), and at spaces. A run of half-width non-space characters (a Latin word,
    a number, "hello," or "(3.14)") is kept whole when it fits on a line; a run wider than
    a whole line starts where it is and is cut at the last character that fits.
  * Kinsoku (CJK line-breaking rules): no line starts with closing punctuation (。，、；：
    ？！）」』】〉》…— ,.;:?!)]} ...) and none ends with opening punctuation (（「『【〈《“‘
    ([{ ...). Such characters are glued to their neighbour, so when "。" does not fit at the
    end of a line, the character before it moves down with it (no overhang past the width).
    Only a glued run wider than a whole line is cut regardless (rare: e.g. "……——……").
  * Spaces where a line breaks stay at the end of the previous line and are not counted
    towards its width; `wrap` drops trailing spaces from the lines it returns.

`TextView` keeps wrapped lines for a scrolling area and on `append` re-wraps only from the
start of the second-to-last line: text added at the end can only grow the last unbreakable
run, which at most pulls that run back onto the line before (when it became too wide for
any line) -- so streaming an answer token by token costs O(line), not O(text).
"""

from __future__ import annotations

import bisect
from typing import Protocol

# Characters that must not start a line (closing punctuation, marks that belong to the
# character before them). Full-width and half-width.
NO_LINE_START = frozenset(
    "。，、；：？！）」』】〉》〕〗〙〛｝］｠｣．…‥—～·・ー々〃ゝゞヽヾ"
    "’”"
    "ぁぃぅぇぉっゃゅょゎゕゖァィゥェォッャュョヮヵヶ"
    ",.;:?!)]}%"
    "％‰℃°′″"
)
# Characters that must not end a line (opening punctuation).
NO_LINE_END = frozenset("（「『【〈《〔〖〘〚｛［｟｢‘“" "([{" "￥＄")

SPACES = " \t"


class Measure(Protocol):
    """What layout needs from a font (parrot.ui.font.BitmapFont provides it)."""

    def text_width(self, text: str) -> int: ...

    def is_wide(self, ch: str) -> bool: ...


def wrap(text: str, font: Measure, width: int) -> list[str]:
    """Wrap text to lines no wider than `width` pixels (see the module docstring for the rules)."""
    return [text[start:end].rstrip(SPACES) for start, end in wrap_spans(text, font, width)]


def wrap_spans(text: str, font: Measure, width: int, start: int = 0) -> list[tuple[int, int]]:
    """Like wrap(), as (start, end) offsets into text, from offset `start` on. A line's span
    includes the spaces its break consumed and excludes its "\\n"; an editor can map a cursor
    offset to a line with these."""
    if width <= 0:
        raise ValueError(f"wrap width must be positive, got {width}")
    spans: list[tuple[int, int]] = []
    pos = start
    while True:
        newline = text.find("\n", pos)
        paragraph_end = len(text) if newline < 0 else newline
        _wrap_paragraph(text, pos, paragraph_end, font, width, spans)
        if newline < 0:
            return spans
        pos = newline + 1


def cursor_position(text: str, font: Measure, width: int, cursor: int) -> tuple[int, int]:
    """(line index, x in pixels) of a text cursor placed before text[cursor], in the lines
    wrap(text, font, width) returns. At a soft line break the cursor belongs to the start of
    the next line; after a final "\\n" it is at the start of the (empty) last line. Wrapping
    text[:cursor] separately is not the same: kinsoku can move characters across the break."""
    if not 0 <= cursor <= len(text):
        raise ValueError(f"cursor {cursor} outside text of length {len(text)}")
    spans = wrap_spans(text, font, width)
    line = bisect.bisect_right([start for start, _end in spans], cursor) - 1
    start, end = spans[line]
    x = font.text_width(text[start:min(cursor, end)])
    return line, min(x, width)  # spaces consumed by a break do not push the cursor off screen


def _clusters(text: str, start: int, end: int, font: Measure):
    """Yield (start, end, is_space) for the unbreakable pieces of text[start:end]: space runs,
    and runs of text that must stay together (a single wide character or a half-width run,
    plus whatever kinsoku glues to it)."""
    i = start
    while i < end:
        ch = text[i]
        if ch in SPACES:
            j = i + 1
            while j < end and text[j] in SPACES:
                j += 1
            yield i, j, True
            i = j
            continue
        j = _unit_end(text, i, end, font)
        # Glue the next unit on while a break between them is forbidden.
        while j < end and text[j] not in SPACES and (text[j] in NO_LINE_START or text[j - 1] in NO_LINE_END):
            j = _unit_end(text, j, end, font)
        yield i, j, False
        i = j


def _unit_end(text: str, i: int, end: int, font: Measure) -> int:
    """End of the unit starting at i: one wide character, or a run of half-width non-spaces."""
    if font.is_wide(text[i]):
        return i + 1
    j = i + 1
    while j < end and text[j] not in SPACES and not font.is_wide(text[j]):
        j += 1
    return j


def _wrap_paragraph(text: str, start: int, end: int, font: Measure, width: int, spans: list) -> None:
    """Greedy fill of one paragraph (no newlines inside) into spans."""
    line_start = start
    x = 0  # width of the current line, up to its last non-space cluster
    pending_spaces = 0  # width of spaces after that, counted only if more text follows
    has_text = False
    for c_start, c_end, is_space in _clusters(text, start, end, font):
        w = font.text_width(text[c_start:c_end])
        if is_space:
            if has_text:
                pending_spaces += w
            else:
                x += w  # indentation at the start of a paragraph
            continue
        if x + pending_spaces + w <= width:
            x += pending_spaces + w
            pending_spaces = 0
            has_text = True
            continue
        if has_text and w <= width:  # break before this cluster; its preceding spaces stay behind
            spans.append((line_start, c_start))
            line_start, x, pending_spaces = c_start, w, 0
            continue
        # Wider than a whole line (or than what indentation leaves): cut it where it
        # overflows, starting right here rather than leaving a short line behind.
        x += pending_spaces
        pending_spaces = 0
        for pos in range(c_start, c_end):
            adv = font.text_width(text[pos])
            if x + adv > width and (has_text or x > 0):
                spans.append((line_start, pos))
                line_start, x = pos, 0
            x += adv
            has_text = True
    spans.append((line_start, end))


class TextView:
    """A scrolling, wrapped text area: the chat transcript, a streamed answer, a long message.

    `rows` is how many lines the area shows. While `pinned_to_bottom`, the view follows new
    text; scrolling up unpins it, scrolling back down to the last line pins it again.
    """

    def __init__(self, font: Measure, width: int, rows: int, text: str = ""):
        if rows <= 0:
            raise ValueError(f"rows must be positive, got {rows}")
        self.font = font
        self.width = width
        self.rows = rows
        self.top = 0  # index of the first visible line
        self.pinned_to_bottom = True
        self._text = ""
        self._spans: list[tuple[int, int]] = []
        self.lines: list[str] = []
        self.set_text(text)

    # --- content ------------------------------------------------------------------------

    @property
    def text(self) -> str:
        return self._text

    @property
    def total_lines(self) -> int:
        return len(self.lines)

    def set_text(self, text: str) -> None:
        """Replace everything (keeps the scroll position where possible)."""
        self._text = text
        self._spans = wrap_spans(text, self.font, self.width)
        self.lines = [text[s:e].rstrip(SPACES) for s, e in self._spans]
        self._follow()

    def clear(self) -> None:
        self.top = 0
        self.pinned_to_bottom = True
        self.set_text("")

    def append(self, more: str) -> None:
        """Add text at the end (a streamed token). Only the last two lines are wrapped again."""
        if not more:
            return
        self._text += more
        keep = max(0, len(self._spans) - 2)  # lines before these cannot change (see module doc)
        restart = self._spans[keep][0]
        del self._spans[keep:]
        del self.lines[keep:]
        new_spans = wrap_spans(self._text, self.font, self.width, restart)
        self._spans.extend(new_spans)
        self.lines.extend(self._text[s:e].rstrip(SPACES) for s, e in new_spans)
        self._follow()

    def set_width(self, width: int) -> None:
        """Re-wrap everything for a new width."""
        self.width = width
        self.set_text(self._text)

    # --- scrolling ----------------------------------------------------------------------

    @property
    def max_top(self) -> int:
        return max(0, len(self.lines) - self.rows)

    def scroll(self, delta_lines: int) -> None:
        """Scroll by delta lines (negative = towards the beginning), clamped to the text."""
        self.top = min(max(self.top + delta_lines, 0), self.max_top)
        self.pinned_to_bottom = self.top >= self.max_top

    def scroll_to_end(self) -> None:
        self.top = self.max_top
        self.pinned_to_bottom = True

    def visible(self, n_lines: int | None = None) -> list[str]:
        """The lines in view (at most n_lines; default `rows`). Passing n_lines resizes the area."""
        if n_lines is not None and n_lines != self.rows:
            if n_lines <= 0:
                raise ValueError(f"n_lines must be positive, got {n_lines}")
            self.rows = n_lines
            self._follow()
        return self.lines[self.top : self.top + self.rows]

    def _follow(self) -> None:
        if self.pinned_to_bottom:
            self.top = self.max_top
        else:  # the user is reading further up: stay there
            self.top = min(self.top, self.max_top)

    def __repr__(self) -> str:
        return f"<TextView {self.total_lines} lines, top {self.top}, rows {self.rows}, pinned {self.pinned_to_bottom}>"
