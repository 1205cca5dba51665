"""The text being edited: a string and a cursor. No display concerns."""

from __future__ import annotations

DEFAULT_MAX_LEN = 512  # characters; a prompt for a small on-device model


class Editor:
    def __init__(self, text: str = "", max_len: int = DEFAULT_MAX_LEN):
        self.max_len = max_len
        self.text = text[:max_len]
        self.cursor = len(self.text)

    def insert(self, s: str) -> int:
        """Insert at the cursor (cut to fit max_len); returns how many characters went in."""
        s = s[: max(0, self.max_len - len(self.text))]
        self.text = self.text[: self.cursor] + s + self.text[self.cursor :]
        self.cursor += len(s)
        return len(s)

    def backspace(self) -> bool:
        if self.cursor == 0:
            return False
        self.text = self.text[: self.cursor - 1] + self.text[self.cursor :]
        self.cursor -= 1
        return True

    def move(self, delta: int) -> None:
        self.cursor = min(len(self.text), max(0, self.cursor + delta))

    def clear(self) -> None:
        self.text, self.cursor = "", 0

    def before_cursor(self, n: int) -> str:
        """Up to n characters left of the cursor (context for association)."""
        return self.text[max(0, self.cursor - n) : self.cursor]

    def copy(self) -> "Editor":
        e = Editor(self.text, self.max_len)
        e.cursor = self.cursor
        return e
