"""`parrot ime eval --sentences FILE`: whole sentences typed as one digit string.

Each line of FILE is a sentence of hanzi. Its reading comes from pypinyin (an outside
reference, not our dictionary: no tones, u-umlaut as v), the digits are the reading on the
keypad with no separators, and the engine's first candidate for those digits is compared
with the line: exact-sentence accuracy, and character accuracy = 1 - (edit distance / length)
over the whole file. pypinyin is a test/build dependency, imported only here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

from parrot.ime.engine import Candidate, Engine
from parrot.ime.t9 import is_hanzi, letters_to_digits
from parrot.textdiff import edit_distance


class SentenceFileError(ValueError):
    """A line the keypad cannot type (no hanzi, or a reading outside a-z)."""


@dataclass
class SentenceResult:
    sentence: str
    digits: str
    first: str  # the engine's first candidate ("" if none), after re-ranking if any
    lattice_first: str = ""  # the first candidate before re-ranking
    rerank_s: float = 0.0  # seconds the re-ranking took (wall clock)
    rerank_cpu_s: float = 0.0  # CPU seconds of this process meanwhile (all its threads)
    rerank_tokens: int = 0  # tokens the LLM evaluated for it (latency on a board = these / its rate)

    @property
    def exact(self) -> bool:
        return self.first == self.sentence

    @property
    def errors(self) -> int:
        return edit_distance(self.first, self.sentence)


@dataclass
class SentenceReport:
    results: list[SentenceResult] = field(default_factory=list)

    @property
    def exact_rate(self) -> float:
        return sum(r.exact for r in self.results) / len(self.results) if self.results else 0.0

    @property
    def char_accuracy(self) -> float:
        chars = sum(len(r.sentence) for r in self.results)
        return 1.0 - sum(r.errors for r in self.results) / chars if chars else 0.0

    def before(self) -> SentenceReport:
        """The same sentences scored on the first candidate before re-ranking."""
        return SentenceReport([SentenceResult(r.sentence, r.digits, r.lattice_first) for r in self.results])



def read_sentences(text: str) -> list[str]:
    """Non-empty lines, surrounding blanks dropped; every character must be hanzi."""
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        bad = sorted({c for c in line if not is_hanzi(c)})
        if bad:
            raise SentenceFileError(f"line {n}: only hanzi can be typed as one digit string, found {''.join(bad)!r}")
        out.append(line)
    if not out:
        raise SentenceFileError("no sentences in the file")
    return out


def sentence_digits(sentence: str) -> str:
    """The keys for a sentence: pypinyin's toneless reading (ü as v), no separators."""
    from pypinyin import Style, lazy_pinyin

    reading = lazy_pinyin(sentence, style=Style.NORMAL, v_to_u=False)
    letters = "".join(reading)
    if not (letters.isascii() and letters.isalpha()):
        raise SentenceFileError(f"{sentence}: pypinyin gives no keypad reading ({' '.join(reading)})")
    return letters_to_digits(letters.lower())


Reranker = Callable[[str, list[Candidate]], list[Candidate]]  # (keys, candidates shown) -> new list


def evaluate_sentences(engine: Engine, sentences: list[str], rerank: Reranker | None = None) -> SentenceReport:
    """rerank: what the app does to the engine's candidates when the keypad rests
    (rerank.Reranker); its time is kept per sentence. `engine` is the app's (default search)."""
    report = SentenceReport()
    for sentence in sentences:
        digits = sentence_digits(sentence)
        cands = engine.candidates(digits)
        lattice_first = cands[0].text if cands else ""
        took = cpu = 0.0
        tokens = 0
        if rerank is not None:
            counted = getattr(rerank, "scorer", None)  # rerank.Reranker: its LlmScorer counts tokens
            tokens = getattr(counted, "evaluated", 0)
            started, cpu_started = time.perf_counter(), time.process_time()
            cands = rerank(digits, cands)
            took, cpu = time.perf_counter() - started, time.process_time() - cpu_started
            tokens = getattr(counted, "evaluated", 0) - tokens
        report.results.append(SentenceResult(sentence, digits, cands[0].text if cands else "", lattice_first, took, cpu, tokens))
    return report
