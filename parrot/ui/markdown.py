"""Markdown in a model's answer, drawn for a 1-bit 128x64 screen, as the answer streams in.

What the screen shows instead of the markup:
  **bold** *it* __x__ _y_ ~~z~~   the words, without the markers (a 12 px font has no bold)
  # Heading                        "Heading" on its own line
  - item / * item / + item         "▪ item", nested lists indented by two spaces a level
  1. item                          "1. item", indented the same way
  `code`                           "‹code›"
  ``` fenced block ```             each line of the block behind a bar: "|code"
  > quote                          "|quote"
  [text](url), ![alt](url)         "text", "alt"
  ---                              a line of "─"
  \\*                              "*" (an escaped marker is drawn as itself)

Streaming without jumps: the output is append-only. Text is fed as it arrives (any split,
down to one character) and each feed() returns only new screen text; nothing already returned
is ever taken back. A marker is decided from what is around it, not from whether a partner
arrives later: "**" before a word is dropped when it comes, the closing "**" when it comes; a
lone "**" with no partner is dropped too (the reader loses nothing). Only characters that are
still ambiguous are held back: a "*" until the next character (emphasis or "2*3"?), the start
of a line until its marker is known (list, heading, fence, rule), a "[" until "](url)" proves a
link (at most LINK_HOLD characters or the end of the line). So a closing ** never moves text
already drawn, and the held text is at most one short marker or one link's text.
"""

from __future__ import annotations

import re

BULLET = "▪ "
CODE_OPEN, CODE_CLOSE = "‹", "›"
BLOCK_BAR = "|"
RULE = "─" * 10  # 120 px of the 123 px text area
INDENT = "  "
LINK_HOLD = 80  # a "[" not closed as a link within this many characters is a plain "["
PUNCT = set("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")

# Start of a line: patterns that decide it (each must be followed by what ends the marker) ...
_HEADING = re.compile(r" {0,3}#{1,6}(?: +|(?=\n))")
_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})(?=[^`~])")
_RULE = re.compile(r" {0,3}([-*_])(?: *\1){2,} *\n")
_BULLET = re.compile(r"( *)[-*+] +(?=\S)")
_NUMBER = re.compile(r"( *)(\d{1,9}[.)]) +(?=\S)")
_QUOTE = re.compile(r" {0,3}> ?(?=[^ ])")
# ... and what could still become one of them with more characters (then: wait).
_MAYBE = re.compile(r" *|" r" {0,3}#{1,6}|" r" {0,3}(`{1,}|~{1,})|" r" {0,3}([-*_])(?: *\2)* *|" r" *[-*+] *|"
                    r" *\d{1,9}(?:[.)] *)?|" r" {0,3}> ?")
_CLOSE_FENCE_MAYBE = re.compile(r" {0,3}(`*|~*) *")
_INLINE_SPECIAL = re.compile(r"[\n\\`*_~\[!]")
_CODE_TEXT = re.compile(r"[^`\n]+")


class MarkdownStream:
    """Incremental markdown -> screen text. feed(piece) -> new text; finish() -> the rest."""

    def __init__(self):
        self._hold = ""  # raw text not yet decided
        self._line_start = True
        self._fence = ""  # the open code fence ("```"), "" outside a code block
        self._fence_info = False  # dropping the rest of a fence line
        self._code_run = 0  # inline code: length of the opening backtick run, 0 when outside
        self._prev = "\n"  # last raw character decided (for emphasis flanking)

    def feed(self, text: str) -> str:
        self._hold += text
        return self._run(final=False)

    def finish(self) -> str:
        """End of the answer: whatever was held is decided now (an open "[" is a "[")."""
        out = self._run(final=True)
        if self._code_run:
            out += CODE_CLOSE
            self._code_run = 0
        return out

    # ------------------------------------------------------------------------------------

    def _run(self, final: bool) -> str:
        out = []
        while self._hold:
            step = self._step(self._hold, final)
            if step is None:
                break  # needs more text
            used, shown = step
            if used:
                self._prev = self._hold[used - 1]
            self._hold = self._hold[used:]
            out.append(shown)
        return "".join(out)

    def _step(self, b: str, final: bool):
        """Decides a prefix of b: (characters used, text shown), or None to wait for more."""
        if self._fence_info:
            end = b.find("\n")
            if end < 0:
                return len(b), ""
            self._fence_info = False
            self._line_start = True
            return end + 1, ""
        if self._fence:
            return self._code_line(b, final)
        if self._line_start:
            return self._line_marker(b, final)
        return self._inline(b, final)

    def _line_marker(self, b: str, final: bool):
        m = _HEADING.match(b)
        if m:
            return self._enter_inline(m.end(), "")
        m = _FENCE.match(b)
        if m:
            self._fence, self._fence_info = m.group(1), True
            return m.end(), ""
        m = _RULE.match(b)
        if m:
            return m.end(), RULE + "\n"  # the line stays at a line start
        m = _BULLET.match(b)
        if m:
            return self._enter_inline(m.end(), self._indent(m.group(1)) + BULLET)
        m = _NUMBER.match(b)
        if m:
            return self._enter_inline(m.end(), self._indent(m.group(1)) + m.group(2) + " ")
        m = _QUOTE.match(b)
        if m:
            return self._enter_inline(m.end(), BLOCK_BAR)
        if not final and _MAYBE.fullmatch(b):
            return None
        return self._enter_inline(0, "")

    def _enter_inline(self, used: int, shown: str):
        self._line_start = False
        return used, shown

    @staticmethod
    def _indent(spaces: str) -> str:
        return INDENT * min(len(spaces) // 2, 3)

    def _code_line(self, b: str, final: bool):
        if self._line_start:
            end = b.find("\n")
            line = b if end < 0 else b[:end]
            closing = re.fullmatch(r" {0,3}(`{3,}|~{3,}) *", line)
            if closing and closing.group(1)[0] == self._fence[0] and len(closing.group(1)) >= len(self._fence):
                if end < 0 and not final:
                    return None  # "```" could still be followed by more text
                self._fence = ""
                self._line_start = True
                return (len(b) if end < 0 else end + 1), ""
            if end < 0 and not final and _CLOSE_FENCE_MAYBE.fullmatch(line):
                return None
            self._line_start = False
            return 0, BLOCK_BAR
        end = b.find("\n")
        if end < 0:
            return len(b), b
        self._line_start = True
        return end + 1, b[: end + 1]

    def _inline(self, b: str, final: bool):
        c = b[0]
        if c == "\n":
            self._line_start = True
            shown = "\n"
            if self._code_run:  # inline code does not run past its line
                shown, self._code_run = CODE_CLOSE + "\n", 0
            return 1, shown
        if c == "`":
            n = _run_length(b, 0)
            if n == len(b) and not final:
                return None
            if not self._code_run:
                self._code_run = n
                return n, CODE_OPEN
            if n == self._code_run:
                self._code_run = 0
                return n, CODE_CLOSE
            return n, b[:n]
        if self._code_run:  # inside `code` every other character is itself
            m = _CODE_TEXT.match(b)
            return m.end(), m.group()
        if c == "\\":
            if len(b) < 2:
                return None if not final else (1, "\\")
            return (2, b[1]) if b[1] in PUNCT else (1, "\\")
        if c in "*_~":
            n = _run_length(b, 0)
            if n == len(b) and not final:
                return None  # the next character decides
            after = b[n] if n < len(b) else "\n"
            return n, ("" if _is_emphasis(c, n, self._prev, after) else b[:n])
        if c == "!":
            if len(b) < 2:
                return None if not final else (1, "!")
            if b[1] != "[":
                return 1, "!"
            link = self._link(b, 1, final)
            if link is None:
                return None
            return (1, "!") if link is False else link
        if c == "[":
            link = self._link(b, 0, final)
            if link is None:
                return None
            return (1, "[") if link is False else link
        m = _INLINE_SPECIAL.search(b, 1)
        end = m.start() if m else len(b)
        return end, b[:end]

    def _link(self, b: str, at: int, final: bool):
        """b[at] == "[": (used, shown) for a whole [text](url), False if it is not one, None
        to wait. The link's text is put back in front of what is held, to be drawn as text."""
        close = _closing(b, "]", at + 1, at, final)
        if close is None or close is False:
            return close
        if close + 1 >= len(b):
            return None if not final else False
        if b[close + 1] != "(":
            return False
        end = _closing(b, ")", close + 2, at, final)
        if end is None or end is False:
            return end
        # The text is decided by the next steps; nothing is shown for the brackets and url.
        self._hold = b[at + 1: close] + b[end + 1:]
        return 0, ""


def _closing(b: str, ch: str, start: int, at: int, final: bool):
    """Index of ch in b from start on the same line; False when it cannot come (end of the
    line or of the answer, or held too long since b[at]), None when it may still come."""
    found = b.find(ch, start)
    newline = b.find("\n", start)
    if found >= 0 and not (0 <= newline < found):
        return found
    if newline >= 0 or final or len(b) - at > LINK_HOLD:
        return False
    return None


def _run_length(b: str, i: int) -> int:
    j = i
    while j < len(b) and b[j] == b[i]:
        j += 1
    return j - i


def _is_emphasis(c: str, n: int, before: str, after: str) -> bool:
    """A run of *, _ or ~ is a marker unless it stands between spaces ("2 * 3"), inside a word
    for _ (snake_case) or a number for * (2*3), or is a single ~ (约~5)."""
    if c == "~" and n < 2:
        return False
    left = not after.isspace()  # can open
    right = not before.isspace()  # can close
    if not (left or right):
        return False
    if c == "_" and before.isalnum() and after.isalnum():
        return False
    if c == "*" and before.isdigit() and after.isdigit():
        return False
    return True


def render_markdown(text: str, final: bool = True) -> str:
    """The whole text at once: the same as streaming it. final=False: an answer still arriving
    (what is held stays held, exactly as the stream shows it so far)."""
    md = MarkdownStream()
    return md.feed(text) + (md.finish() if final else "")
