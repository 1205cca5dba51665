"""Shared pieces of every screen: the title bar and a paged, selectable list."""

from __future__ import annotations

from dataclasses import dataclass

from parrot.events import Event, KeyEvent
from parrot.keys import Key, KeyAction
from parrot.ui.canvas import HEIGHT, WIDTH, Canvas
from parrot.ui.layout import TextView

TITLE_H = 12  # inverse title bar; the body starts right below it
BODY_TOP = TITLE_H + 2  # a blank row so a highlighted first row does not merge with the bar
ROW_H = 12  # list rows: 4 per page under the title bar
TEXT_W = WIDTH - 5  # body text: room for the scrollbar


def pressed(event: Event, *keys: Key) -> Key | None:
    """The key of a short press (or auto-repeat) among `keys`, else None."""
    if isinstance(event, KeyEvent) and event.action in (KeyAction.PRESS, KeyAction.REPEAT) and event.key in keys:
        return event.key
    return None


def released(event: Event, *keys: Key) -> Key | None:
    """The key of a short press, seen at its release: for keys whose long press means more."""
    if isinstance(event, KeyEvent) and event.action is KeyAction.RELEASE and event.key in keys:
        return event.key
    return None


def long_pressed(event: Event, *keys: Key) -> Key | None:
    if isinstance(event, KeyEvent) and event.action is KeyAction.LONG and event.key in keys:
        return event.key
    return None


class Screen:
    name = None  # a ScreenName
    title = ""  # what the title bar (and the help screen) calls it
    KEYS: tuple = ()  # (key, what it does) pairs: the help screen lists them

    def __init__(self, app):
        self.app = app

    def enter(self, now: float) -> None:
        pass

    def leave(self) -> None:
        pass

    def handle(self, event: Event) -> None:
        pass

    def render(self, canvas: Canvas, now: float) -> None:
        pass

    def animates(self, now: float) -> bool:
        """Does the picture change with time alone (clock, blinking cursor, spinner)?"""
        return False

    def title_bar(self, canvas: Canvas, title: str, right: str = "") -> None:
        """Inverse bar: title on the left; right text, speaking and busy icons, battery percent and icon on
        the right (the percent only where it fits beside the rest)."""
        canvas.fill_rect(0, 0, WIDTH, TITLE_H)
        canvas.text(1, 0, title, fill=0)
        x = WIDTH - 1
        status = self.app.status
        if status.battery is not None:
            x -= 13
            _inverse_battery(canvas, x, 2, status.battery)
            x -= 2
            percent = f"{status.battery:.0f}%"
            gap = canvas.font.text_width(" ")  # so "拼 7" and "80%" never read as "780%"
            room = x - 2 - canvas.font.text_width(title) - (canvas.font.text_width(right) + gap if right else 0)
            if canvas.font.text_width(percent) <= room:
                x -= canvas.font.text_width(percent)
                canvas.text(x, 0, percent, fill=0)
                x -= gap
        if status.model_loading:
            x -= 7
            _inverse_icon(canvas, "busy", x, 2)
            x -= 2
        if status.speaking:
            x -= 7
            _inverse_icon(canvas, "speaking", x, 2)
            x -= 2
        if right:
            w = canvas.font.text_width(right)
            canvas.text(x - w, 0, right, fill=0)


def fit(text: str, font, width: int) -> str:
    """The text, cut to `width` pixels with "…" when it is wider."""
    if font.text_width(text) <= width:
        return text
    while text and font.text_width(text + "…") > width:
        text = text[:-1]
    return text + "…"


def text_page(app, text: str) -> TextView:
    """A read-only page of wrapped text under the title bar, shown from its first line."""
    view = TextView(app.font, TEXT_W, (HEIGHT - BODY_TOP) // app.font.line_height, text)
    view.top, view.pinned_to_bottom = 0, False
    return view


def scroll_page(event: Event, view: TextView) -> bool:
    """`*`/`#` scroll a page by a line; True when they did."""
    key = pressed(event, Key.STAR, Key.HASH)
    if key:
        view.scroll(-1 if key is Key.STAR else 1)
    return key is not None


def draw_page(canvas: Canvas, view: TextView, top: int = BODY_TOP) -> None:
    lh = canvas.font.line_height
    for i, line in enumerate(view.visible()):
        canvas.text(1, top + i * lh, line)
    canvas.scrollbar(WIDTH - 3, top, HEIGHT - top, view.total_lines, view.rows, view.top)


def _inverse_icon(canvas: Canvas, name: str, x: int, y: int) -> None:
    from parrot.ui.icons import ICONS

    canvas.image.paste(0, (x, y), ICONS[name])


def _inverse_battery(canvas: Canvas, x: int, y: int, percent: float) -> None:
    canvas.fill_rect(x, y, 11, 7, fill=0)
    canvas.fill_rect(x + 1, y + 1, 9, 5, fill=1)
    canvas.fill_rect(x + 11, y + 2, 2, 3, fill=0)
    canvas.fill_rect(x + 2, y + 2, round(7 * max(0.0, min(100.0, percent)) / 100), 3, fill=0)


@dataclass
class PagedList:
    """Selection over items shown `per_page` at a time: `*`/`#` move, digits jump to n-th on the page."""

    count: int = 0
    per_page: int = 4
    index: int = 0

    @property
    def page(self) -> int:
        return self.index // self.per_page

    @property
    def pages(self) -> int:
        return max(1, -(-self.count // self.per_page))

    def move(self, delta: int) -> None:
        if self.count:
            self.index = (self.index + delta) % self.count

    def jump(self, digit: int) -> bool:
        """Digit 1..per_page selects that row of the current page; returns True if it exists."""
        target = self.page * self.per_page + digit - 1
        if 1 <= digit <= self.per_page and target < self.count:
            self.index = target
            return True
        return False

    def handle_nav(self, event: Event) -> bool:
        key = pressed(event, Key.STAR, Key.HASH)
        if key:
            self.move(-1 if key is Key.STAR else 1)
            return True
        return False

    def render(self, canvas: Canvas, labels: list[str], top: int = BODY_TOP, values: list[str] | None = None) -> None:
        first = self.page * self.per_page
        for row, i in enumerate(range(first, min(first + self.per_page, self.count))):
            y = top + row * ROW_H
            if i == self.index:
                canvas.fill_rect(0, y - 1, WIDTH - 4, ROW_H)
            fill = 0 if i == self.index else 1
            value_w = canvas.font.text_width(values[i]) + 4 if values else 0
            canvas.text(2, y, fit(labels[i], canvas.font, WIDTH - 8 - value_w), fill=fill)
            if values:
                canvas.text(WIDTH - 2 - value_w, y, values[i], fill=fill)
        canvas.scrollbar(WIDTH - 3, top - 1, HEIGHT - top + 1, self.count, self.per_page, first)
