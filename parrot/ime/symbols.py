"""Punctuation: the paged symbol picker (long-press 0) and the quick list on key 1."""

from __future__ import annotations

# Chinese full-width punctuation first (what prose needs), then ASCII.
CHINESE_SYMBOLS = list("，。？！、：；“”‘’（）《》【】…—·～「」『』〈〉") + ["……", "——"] + list("￥℃°×÷±№")
ASCII_SYMBOLS = list(".,?!:;'\"()[]{}<>-_+=*/\\@#$%^&|~`") + [" "]
SYMBOLS = CHINESE_SYMBOLS + ASCII_SYMBOLS

# Key 1 with nothing composing in pinyin mode: the marks prose uses most, in that order.
QUICK_PUNCTUATION = ["，", "。", "？", "！", "、", "：", "；", "“", "”", "……", "（", "）", "《", "》"]

PAGE_SIZE = 10  # digits 1-9 and 0 pick the 1st-10th item of a page


class SymbolPicker:
    """A paged list; `.index` is the highlighted item on the current page."""

    def __init__(self, items: list[str] = SYMBOLS, page_size: int = PAGE_SIZE):
        self.items = list(items)
        self.page_size = page_size
        self.page = 0
        self.index = 0

    @property
    def page_count(self) -> int:
        return (len(self.items) + self.page_size - 1) // self.page_size

    @property
    def page_items(self) -> list[str]:
        start = self.page * self.page_size
        return self.items[start : start + self.page_size]

    def move(self, delta: int) -> None:
        """Move the highlight, crossing page boundaries (wrapping at the ends)."""
        flat = (self.page * self.page_size + self.index + delta) % len(self.items)
        self.page, self.index = divmod(flat, self.page_size)

    def next_page(self) -> None:
        self.page = (self.page + 1) % self.page_count
        self.index = 0

    def highlighted(self) -> str:
        return self.page_items[self.index]

    def item_for_digit(self, digit: int) -> str | None:
        """Digit 1-9 -> items 1-9 of the page, 0 -> the 10th."""
        slot = (digit - 1) % self.page_size
        items = self.page_items
        return items[slot] if slot < len(items) else None

    def locate(self, symbol: str) -> tuple[int, int] | None:
        """(page, slot) of a symbol, for the simulated user."""
        if symbol not in self.items:
            return None
        return divmod(self.items.index(symbol), self.page_size)
