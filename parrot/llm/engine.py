"""parrot.llm.Model: a GGUF model, its KV cache and the conversation kept in it.

The heavy lifting is C (parrot/llm/core, module ``_core``); this layer keeps the list of tokens
that are in the KV cache, so a new prompt only evaluates what differs from it (follow-up turns
prefill only their new tokens), lays out chat turns with the model's template, and drops the
oldest turns when the context is full.
"""
from __future__ import annotations

import codecs
import math
import os
import threading
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

import numpy as np

from ..errors import UserError
from . import _core
from .chat import JinjaTemplate, Template, chat_template, template_for
from .heap import keep_large_buffers_off_the_heap


class ModelError(UserError):
    """A model file that cannot be used (corrupt, unsupported architecture or type) or a misuse."""


_core.set_error_class(ModelError)

_INT32_MAX = 2**31 - 1


def printable(text: str) -> str:
    """text with control and other unprintable characters escaped (\\x7f), for messages."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


@dataclass(frozen=True)
class Sampling:
    temperature: float = 0.7  # <= 0: greedy
    top_k: int = 20  # 0: off
    top_p: float = 0.9  # 1: off
    min_p: float = 0.0  # 0: off
    repeat_penalty: float = 1.0  # 1: off
    repeat_last_n: int = 64
    seed: int | None = 0  # None: a fresh random seed per generation
    max_tokens: int = 256
    # Prompt lookup (exact speculative decoding): verify up to this many tokens copied from the
    # context per pass; 0 = plain decoding. Same output (greedy) or distribution (sampled).
    lookup: int = 0

    def __post_init__(self):
        # the C sampler takes 32-bit ints and floats: anything outside is a clear error here
        def bad(name, want):
            raise ModelError(f"sampling {name}={getattr(self, name)!r}: {want}")

        for name in ("temperature", "top_p", "min_p", "repeat_penalty"):
            if not isinstance(getattr(self, name), (int, float)) or not math.isfinite(getattr(self, name)):
                bad(name, "not a finite number")
        if not 0 <= self.temperature <= 100:
            bad("temperature", "must be from 0 to 100")
        if not 0 <= self.top_p <= 1:
            bad("top_p", "must be from 0 to 1")
        if not 0 <= self.min_p <= 1:
            bad("min_p", "must be from 0 to 1")
        if not 0 < self.repeat_penalty <= 100:
            bad("repeat_penalty", "must be above 0, at most 100")
        for name, lo in (("top_k", 0), ("repeat_last_n", 0), ("max_tokens", 1)):
            value = getattr(self, name)
            if not isinstance(value, int) or not lo <= value <= _INT32_MAX:
                bad(name, f"must be a whole number from {lo} to {_INT32_MAX}")
        if self.seed is not None and not isinstance(self.seed, int):
            bad("seed", "must be a whole number or None")


GREEDY = Sampling(temperature=0.0, top_k=0, top_p=1.0, min_p=0.0, repeat_penalty=1.0)

Progress = Callable[[int, int], None]


class Model:
    def __init__(self, path: str | os.PathLike, threads: int = 2, context: int = 2048, kernels: str | None = None):
        """kernels: an integer kernel set ("avx2", "portable", ...); None = the fastest this CPU runs."""
        keep_large_buffers_off_the_heap()  # logits rows and blocks: returned when freed (heap.py)
        self.path = os.fspath(path)
        if not 1 <= int(threads) <= 256:
            raise ModelError(f"threads={threads}: must be from 1 to 256")
        if not 1 <= int(context) <= _INT32_MAX:
            raise ModelError(f"context={context}: must be from 1 to {_INT32_MAX} tokens")
        try:
            self._c = _core.Model(self.path, int(threads), int(context), kernels)
        except ModelError as e:  # a corrupt file's bytes (names) may be in the message: no raw control codes
            raise ModelError(printable(str(e))) from None
        info = self._c.info()
        self.info = info
        self.arch: str = info["arch"]
        self.name: str = info["name"]
        self.n_vocab: int = info["n_vocab"]
        self.n_ctx: int = info["n_ctx"]
        self.n_layers: int = info["n_layers"]
        self.stop_ids: list[int] = info["stop_ids"]
        self.has_tokenizer = not info["tokenizer_error"]
        # the GGUF's own chat template; the hand-written one when it has none or it fails
        # (template_warning says why, for the caller to show)
        self.template: Template | JinjaTemplate
        self.template, self.template_warning = chat_template(
            self._meta_text("tokenizer.chat_template"), template_for(self.arch, self.name, self._has_token),
            bos_token=self._token_text(info["bos"]), eos_token=self._token_text(info["eos"]),
            strip_bos=bool(info["add_bos"]) and info["bos"] >= 0)
        self._cached: list[int] = []  # tokens whose K/V are in the cache, in order
        self._system: list[int] | None = None  # chat: system prompt tokens (with BOS)
        self._system_text: str | None = None
        self._turns: list[list[int]] = []  # chat: finished turns (user markup + answer + end)
        self._markup: list[int] = []  # chat: tokens of user markup each turn starts with
        self._busy = threading.Lock()
        self._abort_requested = False  # an abort() that may arrive before the C thread starts
        self.stats: dict = self._empty_stats()
        self.last_stop: str = ""

    # ------------------------------------------------------------------ basics

    @staticmethod
    def _empty_stats() -> dict:
        return dict(prefill_tokens=0, prefill_s=0.0, prefill_tps=0.0, decode_tokens=0, decode_s=0.0, decode_tps=0.0,
                    drafted=0, accepted=0, acceptance=0.0)

    def _has_token(self, text: str) -> bool:
        return self.has_tokenizer and self._c.token_id(text) >= 0

    def _meta_text(self, key: str) -> str | None:
        value = self._c.meta(key)
        return value if isinstance(value, str) else None

    def _token_text(self, token_id: int) -> str:
        if not self.has_tokenizer or token_id < 0:
            return ""
        return self._c.detokenize([token_id]).decode("utf-8", "replace")

    def close(self) -> None:
        self._c.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def reset(self) -> None:
        """Forgets the conversation and empties the KV cache."""
        self._c.truncate(0)
        self._cached = []
        self._system = None
        self._system_text = None
        self._turns = []
        self._markup = []

    def abort(self) -> None:
        """Stops a running generation within one token; safe to call from any thread. Also
        stops a generation created (chat()/generate() called) but not yet started."""
        self._abort_requested = True
        self._c.abort()

    def meta(self, key: str):
        return self._c.meta(key)

    # ------------------------------------------------------------------ tokens

    def tokenize(self, text: str, special: bool = True) -> list[int]:
        return self._c.tokenize(text, special)

    def detokenize(self, ids: Sequence[int]) -> str:
        return self._c.detokenize(list(ids)).decode("utf-8", "replace")

    def _segments(self, segs) -> list[int]:
        out: list[int] = []
        for text, special in segs:
            if text:
                out += self._c.tokenize(text, special)
        return out

    # ------------------------------------------------------------------ evaluation

    def eval(self, ids: Sequence[int], last_only: bool = False) -> np.ndarray:
        """Appends ids to the cache; returns float32 logits [len(ids), n_vocab] for every position
        (last_only: [1, n_vocab] for the last one, skipping the output matrix for the others)."""
        ids = [int(i) for i in ids]
        out = np.empty((1 if last_only and ids else len(ids), self.n_vocab), dtype=np.float32)
        if not self._busy.acquire(blocking=False):
            raise ModelError("model is busy generating")
        try:
            self._c.eval(ids, out)
            self._cached += ids
        finally:
            self._busy.release()
        return out

    @property
    def cached(self) -> list[int]:
        """The tokens whose K/V are in the cache, in order (a copy)."""
        return list(self._cached)

    def truncate(self, n: int) -> int:
        """Keeps the first n cached tokens: the next eval() continues after them. Returns how
        many were kept: fewer (0) when a sliding-window layer's ring no longer holds them."""
        n = max(0, min(int(n), len(self._cached)))
        if not self._busy.acquire(blocking=False):
            raise ModelError("model is busy generating")
        try:
            del self._cached[self._c.truncate(n):]
        finally:
            self._busy.release()
        return len(self._cached)

    def _reuse(self, full: list[int]) -> list[int]:
        """Keeps the longest cached prefix of `full`; returns the tokens still to evaluate
        (at least one: generation needs the logits of the last prompt token)."""
        n = 0
        for a, b in zip(self._cached, full):
            if a != b:
                break
            n += 1
        n = self._c.truncate(min(n, len(full) - 1))  # fewer when a sliding-window ring lost the window
        del self._cached[n:]
        return full[n:]

    def generate(self, prompt_ids: Sequence[int], sampling: Sampling | None = None,
                 on_progress: Progress | None = None) -> Iterator[str]:
        """Streams the continuation of prompt_ids as text pieces (never splitting a UTF-8
        character). prompt_ids is the whole context: a cached prefix is not evaluated again."""
        full = [int(i) for i in prompt_ids]
        if not full:
            raise ModelError("empty prompt")
        if len(full) >= self.n_ctx:
            raise ModelError(f"prompt of {len(full)} tokens does not fit the context of {self.n_ctx}")
        self._abort_requested = False
        return self._stream(full, sampling or Sampling(), on_progress, None)

    def _stream(self, full, s: Sampling, on_progress, done: Callable[[list[int]], None] | None) -> Iterator[str]:
        # a generator: nothing runs (and nothing is locked) until the caller starts iterating
        if self._abort_requested:  # abort() came between chat()/generate() and the first next()
            self.stats, self.last_stop = dict(self._empty_stats(), stop="abort"), "abort"
            if done:
                done([])
            return
        if not self._busy.acquire(blocking=False):
            raise ModelError("model is busy generating")
        try:
            new = self._reuse(full)
            seed = s.seed if s.seed is not None else int.from_bytes(os.urandom(8), "little")
            self._c.gen_start(new, self._cached, float(s.temperature), int(s.top_k), float(s.top_p),
                              float(s.min_p), float(s.repeat_penalty), int(s.repeat_last_n),
                              seed & 0xFFFFFFFFFFFFFFFF, int(s.max_tokens), int(s.lookup))
            if self._abort_requested:  # ... or while gen_start was being called
                self._c.abort()
        except BaseException:
            self._busy.release()
            raise
        generated: list[int] = []
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        reason = "abort"
        try:
            if on_progress:
                on_progress(0, len(new))
            while True:
                kind, value = self._c.gen_next()
                if kind == 1:
                    if on_progress:
                        on_progress(value, len(new))
                elif kind == 0:
                    generated.append(value)
                    text = decoder.decode(self._c.detokenize([value]))
                    if text:
                        yield text
                else:
                    reason = value
                    break
            tail = decoder.decode(b"", final=True)
            if tail:
                yield tail
        finally:
            self._c.abort()  # no-op if it already ended; stops it if the consumer quit early
            self._c.gen_join()
            seq = full + generated
            self._cached = seq[: self._c.n_past]
            st = self._c.stats()
            st["prefill_tps"] = st["prefill_tokens"] / st["prefill_s"] if st["prefill_s"] > 0 else 0.0
            st["decode_tps"] = st["decode_tokens"] / st["decode_s"] if st["decode_s"] > 0 else 0.0
            st["acceptance"] = st["accepted"] / st["drafted"] if st["drafted"] else 0.0
            st["stop"] = reason
            self.stats = st
            self.last_stop = reason
            self._busy.release()
            if done:
                done(generated)

    # ------------------------------------------------------------------ chat

    def chat(self, text: str, sampling: Sampling | None = None, system: str | None = None, thinking: bool = False,
             on_progress: Progress | None = None) -> Iterator[str]:
        """One conversation turn: streams the answer. The conversation (and its KV cache) is
        kept for the next turn; a different system prompt starts a new conversation."""
        self._abort_requested = False
        s = sampling or Sampling()
        t = self.template
        if self._system is None or system != self._system_text:
            self._begin(system)
        pre_ids, post_ids = self._user_markup(text, thinking)
        content = self._c.tokenize(text, False)
        reserve = max(1, min(s.max_tokens, self.n_ctx // 4))
        budget = self.n_ctx - reserve - len(self._system) - len(pre_ids) - len(post_ids)
        if budget < 1:
            raise ModelError(f"the context of {self.n_ctx} tokens is too small for this conversation")
        if len(content) > budget:  # a message longer than the context keeps its end
            content = content[-budget:]
        user_ids = pre_ids + content + post_ids
        # drop the oldest turns until the new one fits
        while self._turns and len(self._system) + sum(map(len, self._turns)) + len(user_ids) + reserve > self.n_ctx:
            self._turns.pop(0)
            self._markup.pop(0)
        full = self._system + self._fold(self._turns + [user_ids], self._markup + [len(pre_ids)])
        end_ids = self._segments(t.end_of_answer())

        def record(generated: list[int]) -> None:
            self._turns.append(user_ids + generated + end_ids)
            self._markup.append(len(pre_ids))

        return self._stream(full, s, on_progress, record)

    def restore(self, turns, system: str | None = None) -> None:
        """Make ((question, answer), ...) the conversation so far, as if chat() had produced it:
        the next chat() continues it (the KV cache is rebuilt by its prefill)."""
        self._begin(system)
        end_ids = self._segments(self.template.end_of_answer())
        for question, answer in turns:
            pre_ids, post_ids = self._user_markup(question, False)
            self._turns.append(pre_ids + self._c.tokenize(question, False) + post_ids
                               + self._c.tokenize(answer, False) + end_ids)
            self._markup.append(len(pre_ids))

    def _begin(self, system: str | None) -> None:
        """A new conversation under `system`: BOS and the system segments, no turns."""
        bos = [self.info["bos"]] if self.info["add_bos"] and self.info["bos"] >= 0 else []
        self._system = bos + self._segments(self.template.system(system))
        self._system_text = system
        self._turns = []
        self._markup = []

    def _user_markup(self, text: str, thinking: bool) -> tuple[list[int], list[int]]:
        """The token ids of a user turn's markup before and after its text."""
        pre, post = self.template.user(text, thinking)
        return self._segments(pre), self._segments(post)

    def _fold(self, turns: list[list[int]], markup: list[int]) -> list[int]:
        """The turns as the prompt lays them out after the system segments. A template that
        folds the system prompt into the first user turn (Gemma) ends the system segments with
        that turn's markup: the first turn kept, whichever it is now that older ones may have
        been dropped, goes without its own."""
        if not turns:
            return []
        first = turns[0][markup[0]:] if self.template.folds_system and self._system_text is not None else turns[0]
        return first + [i for turn in turns[1:] for i in turn]

    @property
    def history_tokens(self) -> int:
        """Tokens the conversation occupies (system + finished turns)."""
        return len(self._system or []) + len(self._fold(self._turns, self._markup))
