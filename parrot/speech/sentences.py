"""Cutting a streamed answer into speakable pieces as its tokens arrive. Pure, no I/O.

A piece ends at a sentence stop (。！？；!?; a '.' that ends a sentence, a line break), or at
a pause (，、：,:) once it is long enough to be worth a breath: the first piece comes out early
so the voice starts while the model is still writing. Pieces too short to say on their own
("好。") wait and are merged with the next; an overlong run without punctuation is cut at a
space or, failing that, anywhere. finish() flushes what is left.
"""

from __future__ import annotations

from parrot.speech.speakable import speakable

_STOPS = set("。！？；!?;…\n")
_PAUSES = set("，、：,:")
_CLOSERS = set("”’\"')）】」』")  # stay with the sentence they close
_FENCE = "```"
_ABBREVIATIONS = {"mr", "mrs", "ms", "dr", "prof", "vs", "st", "no", "fig", "e.g", "i.e"}


def _spoken_length(text: str) -> int:
    """Characters a voice will say: hanzi count one each, a latin word counts its letters."""
    return sum(1 for c in text if c.isalnum())


class SentenceCutter:
    """feed(delta) -> pieces now complete; finish() -> the rest. One cutter per answer."""

    def __init__(self, min_chars: int = 4, pause_chars: int = 10, first_pause_chars: int = 5, max_chars: int = 80) -> None:
        self.min_chars = min_chars  # a piece shorter than this waits for the next one
        self.pause_chars = pause_chars  # cut at a comma only once this long
        self.first_pause_chars = first_pause_chars  # the first piece sooner: the voice starts early
        self.max_chars = max_chars  # no punctuation for this long: cut anyway
        self._raw = ""  # text not yet cut
        self._held = ""  # a cut piece too short to say alone
        self._at_line_start = True
        self._in_code = False
        self._dropping = False  # the next piece is code: not read aloud
        self._pieces = 0  # pieces given out so far

    def feed(self, delta: str) -> list[str]:
        self._raw += delta
        out: list[str] = []
        while (cut := self._next_cut()) is not None:
            piece, self._raw = self._raw[:cut], self._raw[cut:]
            self._emit(piece, out, final=False)
        return out

    def finish(self) -> list[str]:
        out: list[str] = []
        if self._raw and not self._in_code:  # an unclosed code block is not read either
            self._emit(self._raw, out, final=True)
        self._raw = ""
        if self._held:
            out.append(self._held)
            self._held = ""
        return out

    # -- internals ---------------------------------------------------------------------------

    def _next_cut(self) -> int | None:
        """Index just past the next cut point in _raw, or None to wait for more text."""
        raw = self._raw
        fence = raw.find(_FENCE)
        if self._in_code:
            if fence < 0:
                return None
            self._in_code, self._dropping = False, True
            return fence + len(_FENCE)
        text_end = len(raw) if fence < 0 else fence
        for i in range(text_end):
            c = raw[i]
            last = i + 1 >= len(raw)
            if c in _STOPS or c == "." and self._ends_sentence(i):
                return self._past_closers(i + 1)
            if c == "." and last:
                return None  # '3.' may yet become '3.5'
            if c in _PAUSES and _spoken_length(raw[:i]) >= (self.pause_chars if self._pieces else self.first_pause_chars):
                if c in ",:" and raw[i - 1 : i].isdigit() and (last or raw[i + 1].isdigit()):
                    if last:
                        return None  # '1,' may yet become '1,000'
                    continue  # 1,000 or 10:30
                return self._past_closers(i + 1)
        if fence == 0:  # a code block opens: dropped up to its end (code is not read aloud)
            self._in_code, self._dropping = True, True
            return len(_FENCE)
        if fence > 0:
            return fence  # what came before the code block is a piece
        return self._overlong_cut(raw)

    def _overlong_cut(self, raw: str) -> int | None:
        """No punctuation for max_chars: cut at the last space before the limit, else at it."""
        count = 0
        for i, c in enumerate(raw):
            count += c.isalnum()
            if count > self.max_chars:
                space = raw.rfind(" ", 0, i)
                return space + 1 if space > i // 2 else i
        return None

    def _ends_sentence(self, i: int) -> bool:
        """A '.' ends a sentence before a space or a hanzi, but not in 3.5, e.g, or a '1. ' marker."""
        raw = self._raw
        after = raw[i + 1 : i + 2]
        if not after or after.isdigit():
            return False
        word = raw[:i].rsplit(None, 1)[-1] if raw[:i].strip() else ""
        if "." in word or word.lower() in _ABBREVIATIONS:
            return False  # e.g. / i.e. / Mr. / Dr.
        if self._at_line_start and raw[:i].strip().isdigit():
            return False  # '1. ' starting a list item
        return after.isspace() or not after.isascii()

    def _past_closers(self, i: int) -> int:
        while i < len(self._raw) and (self._raw[i] in _CLOSERS or self._raw[i] in _STOPS - {"\n"}):
            i += 1
        return i

    def _emit(self, piece: str, out: list[str], *, final: bool) -> None:
        at_start = self._at_line_start
        if self._dropping:  # a code fence or the code inside it
            self._dropping = False
            return
        self._at_line_start = piece.endswith("\n")
        text = speakable(piece, at_line_start=at_start)
        if not text:
            return
        if self._held:
            text = _join(self._held, text)
            self._held = ""
        if _spoken_length(text) < self.min_chars and not final:
            self._held = text
            return
        out.append(text)
        self._pieces += 1


def _join(left: str, right: str) -> str:
    """A held short piece and the next: a pause between them where the text had none."""
    if left[-1] in _STOPS | _PAUSES | set(".，。"):
        return left + ("" if not left[-1].isascii() else " ") + right
    if left[-1].isascii() and right[0].isascii():
        return left + ", " + right
    return left + "，" + right


def cut_text(text: str, **kwargs) -> list[str]:
    """A whole text at once (parrot say): the same pieces streaming would give."""
    cutter = SentenceCutter(**kwargs)
    return cutter.feed(text) + cutter.finish()
