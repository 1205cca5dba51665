"""IME: key press -> candidates latency over a long random session, dictionary load time and memory.

The session types random dictionary words key by key (pinyin digits, sometimes stopping
early), and mixes in what people do between them: pick with OK or C + N, turn pages,
move the highlight, delete, narrow with the pinyin row, 联想 picks, punctuation. Each
key press is timed from the press event to the updated candidate state (press and release
handled, as the input screen does), so the figure is what the user waits for.
"""

from __future__ import annotations

import gc
import os
import random
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from parrot.cliargs import int_range
from parrot.events import KeyEvent
from parrot.keys import Key, KeyAction

LOAD_REPEATS = 5
SENTENCE_KEYS = 25  # the digit strings of the sentence phase: whole sentences typed as one
SENTENCE_STRINGS = 200
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")


def add_arguments(parser) -> None:
    parser.add_argument("--keys", type=int_range(1, 10**8), default=20000, help="key presses in the random session (default 20000)")
    parser.add_argument("--seed", type=int_range(0, 2**64 - 1), default=1, help="random seed (default 1)")
    parser.add_argument("--sentences", type=int_range(0, 10**6), default=SENTENCE_STRINGS,
                        help=f"{SENTENCE_KEYS}-key digit strings typed key by key (default {SENTENCE_STRINGS})")
    parser.add_argument("--dict", type=Path, help="dictionary file (default: the shipped one)")


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE_BYTES / 2**20


def cold_load_s(path) -> float:
    """A fresh interpreter: import the IME and load the dictionary (what the app pays once)."""
    code = ("import time; t = time.perf_counter(); from parrot.ime.dictionary import load_dictionary; "
            f"load_dictionary({str(path)!r} if {bool(path)} else None); print(time.perf_counter() - t)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


class RandomTypist:
    """Drives an InputSession with a plausible random mix of keys and times each press."""

    def __init__(self, session, dictionary, rng: random.Random):
        self.session = session
        self.dict = dictionary
        self.rng = rng
        self.now = 0.0
        self.latencies_ns: list[int] = []
        self.cpu_ns: list[int] = []  # CPU time of this thread: excludes waiting for a busy CPU

    def press(self, label: str, long: bool = False) -> None:
        key = Key.from_label(label)
        self.now += 0.25
        actions = (KeyAction.PRESS, KeyAction.LONG, KeyAction.LONG_RELEASE) if long else (KeyAction.PRESS, KeyAction.RELEASE)
        start, cpu_start = time.perf_counter_ns(), time.thread_time_ns()
        for action in actions:
            self.session.handle(KeyEvent(key, action), self.now)
        self.cpu_ns.append(time.thread_time_ns() - cpu_start)
        self.latencies_ns.append(time.perf_counter_ns() - start)

    def random_word_digits(self) -> str:
        from parrot.ime.t9 import letters_to_digits

        entry = self.rng.randrange(len(self.dict))
        digits = letters_to_digits("".join(self.dict.reading(entry)))
        if self.rng.random() < 0.4:  # stop inside the last syllable, or type initials only
            digits = digits[: self.rng.randint(1, len(digits))]
        return digits

    def one_piece(self) -> None:
        r = self.rng.random()
        s = self.session
        if r < 0.04:
            self.press("1")  # punctuation
            return
        if r < 0.08 and s.association and s.candidates:
            self.press("C")
            self.press(str(self.rng.randint(1, len(s.candidates))))
            return
        for d in self.random_word_digits():
            self.press(d)
        action = self.rng.random()
        if action < 0.1:
            self.press("A")
        elif action < 0.2:
            self.press("0")
        elif action < 0.25 and s.splits:
            self.press("C")
            self.press("C")
            for _ in range(self.rng.randint(1, 3)):
                self.press("#")
            self.press("D")
        elif action < 0.3:
            self.press("#")
        if s.candidates and self.rng.random() < 0.5:
            self.press("C")
            self.press(str(self.rng.randint(1, len(s.candidates))))
        else:
            self.press("D")
        while s.digits and self.rng.random() < 0.7:
            self.press("D")
        if s.digits:
            self.press("A", long=True)
        if len(s.editor.text) > 200:
            self.press("A", long=True)

    def run(self, presses: int) -> None:
        while len(self.latencies_ns) < presses:
            self.one_piece()

    def sentence_digits(self) -> str:
        """SENTENCE_KEYS digits of random dictionary words typed one after the other."""
        from parrot.ime.t9 import letters_to_digits

        digits = ""
        while len(digits) < SENTENCE_KEYS:
            digits += letters_to_digits("".join(self.dict.reading(self.rng.randrange(len(self.dict)))))
        return digits[:SENTENCE_KEYS]

    def run_sentences(self, count: int) -> None:
        """Type `count` 25-key strings key by key (each press timed), then clear them."""
        for _ in range(count):
            for d in self.sentence_digits():
                self.press(d)
            self.press("A", long=True)


def _sorted_ms(values_ns: list[int]) -> list[float]:
    return sorted(ns / 1e6 for ns in values_ns)


def _p99(sorted_ms: list[float]) -> float:
    return sorted_ms[min(len(sorted_ms) - 1, int(len(sorted_ms) * 0.99))]


def run(args) -> int:
    from parrot.ime.dictionary import UserDictionary, load_dictionary
    from parrot.ime.editor import Editor
    from parrot.ime.session import InputSession

    load_times = []
    for _ in range(LOAD_REPEATS):
        t = time.perf_counter()
        load_dictionary(args.dict)
        load_times.append(time.perf_counter() - t)
    gc.collect()  # the timing copies (word caches hold cycles) must not count as memory
    rss_before = rss_mb()
    dictionary = load_dictionary(args.dict)
    rss_loaded = rss_mb()
    session = InputSession(Editor(max_len=400), dictionary, UserDictionary(None))
    typist = RandomTypist(session, dictionary, random.Random(args.seed))
    typist.run(args.keys)
    rss_after = rss_mb()
    lat_ms, cpu_ms = _sorted_ms(typist.latencies_ns), _sorted_ms(typist.cpu_ns)
    # Whole sentences as one digit string: every press extends the lattice by one key.
    typist.latencies_ns, typist.cpu_ns = [], []
    typist.run_sentences(args.sentences)
    sent_ms, sent_cpu_ms = _sorted_ms(typist.latencies_ns), _sorted_ms(typist.cpu_ns)
    rss_sentences = rss_mb()
    size = os.path.getsize(dictionary.path)
    print(f"dictionary: {dictionary.path} ({size / 2**20:.2f} MiB, {len(dictionary):,} entries)")
    print(f"load (in process, mmap + index): median {statistics.median(load_times) * 1000:.1f} ms")
    print(f"load (fresh interpreter, incl. imports): {cold_load_s(args.dict) * 1000:.0f} ms")
    print(f"key press -> candidates over {len(lat_ms):,} presses (wall clock): median {statistics.median(lat_ms):.3f} ms, "
          f"p99 {_p99(lat_ms):.3f} ms, max {lat_ms[-1]:.3f} ms")
    print(f"  same, CPU time of the key handler: median {statistics.median(cpu_ms):.3f} ms, "
          f"p99 {_p99(cpu_ms):.3f} ms, max {cpu_ms[-1]:.3f} ms  (wall > CPU: the machine was busy; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
    print(f"{SENTENCE_KEYS}-key digit strings typed key by key ({args.sentences} strings, {len(sent_ms):,} presses incl. "
          f"clearing): wall clock median {statistics.median(sent_ms):.3f} ms, p99 {_p99(sent_ms):.3f} ms, "
          f"max {sent_ms[-1]:.3f} ms; CPU time median {statistics.median(sent_cpu_ms):.3f} ms, "
          f"p99 {_p99(sent_cpu_ms):.3f} ms")
    print(f"memory: RSS {rss_before:.1f} MiB before load, {rss_loaded:.1f} after, {rss_after:.1f} after the session "
          f"{rss_sentences:.1f} after the sentences (dictionary + session {rss_sentences - rss_before:.1f} MiB; peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.1f} MiB)")
    return 0
