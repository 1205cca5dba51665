"""The chat engine port. The app asks questions; a backend answers as a stream of events
(LlmProgress / LlmToken / LlmDone; LlmLoaded for a load). The runtime pulls those streams: in a
worker thread on a real clock, one event per tick on a virtual one (deterministic recordings).
The real backend drives parrot.llm; the echo one (only when asked for: --backend echo) lets tests
and demos run without a model."""

from __future__ import annotations

import threading
from typing import Callable, Iterator, Protocol

from parrot.events import Event, LlmDone, LlmLoaded, LlmProgress, LlmToken

Post = Callable[[Event], None]


class ChatBackend(Protocol):
    name: str | None

    def load(self, name: str) -> Iterator[Event]:
        """Load a model (the old one is freed first); ends with LlmLoaded (error set on failure;
        a failed switch loads the old model again and says so: LlmLoaded.failed)."""

    def ask(self, request: int, question: str, max_tokens: int, thinking: bool, progress: Post) -> Iterator[Event]:
        """Answer: LlmToken events, then LlmDone. Prefill progress may come through `progress`
        (thread-safe) while the first token is being computed."""

    def rerank(self, keys: int, digits: str, candidates: tuple, engine) -> Iterator[Event]:
        """Re-rank the T9 sentences of `digits` by the model (parrot.ime.rerank.Reranker over
        the input session's `engine`): one CandidatesReranked, or nothing when there is no
        model to ask."""

    def abort(self) -> None:
        """Thread-safe: the running answer stops at the next token."""

    def reset(self) -> None:
        """Forget the conversation (and the KV cache)."""

    def restore(self, turns: tuple) -> None:
        """Take ((question, answer), ...) as the conversation so far (a saved one, continued)."""

    def close(self) -> None: ...


class EchoBackend:
    """Answers by repeating the question, one character per event, like a model streaming."""

    def __init__(self):
        self.name = "echo"
        self._abort = threading.Event()

    def load(self, name: str) -> Iterator[Event]:
        yield LlmLoaded("echo")

    def ask(self, request: int, question: str, max_tokens: int, thinking: bool, progress: Post) -> Iterator[Event]:
        self._abort.clear()
        answer = f"你说：{question}"
        yield LlmProgress(request, len(question), len(question))
        n = 0
        for ch in answer[:max_tokens]:
            if self._abort.is_set():
                break
            yield LlmToken(request, ch)
            n += 1
        yield LlmDone(request, aborted=self._abort.is_set(), stats={"decode_tokens": n})

    def rerank(self, keys: int, digits: str, candidates: tuple, engine) -> Iterator[Event]:
        return iter(())  # echo knows no language: the lattice's order stands

    def abort(self) -> None:
        self._abort.set()

    def reset(self) -> None:
        pass

    def restore(self, turns: tuple) -> None:
        pass  # echo has no context

    def close(self) -> None:
        pass
