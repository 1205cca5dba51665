"""The chat engine port. The app asks questions; a backend answers in a worker thread, posting
LlmProgress / LlmToken / LlmDone events. The real one drives parrot.llm; the echo one lets the
appliance run (and be tested) without a model."""

from __future__ import annotations

import threading
import time
from typing import Callable, Protocol

from parrot.events import Event, LlmDone, LlmLoaded, LlmProgress, LlmToken

Post = Callable[[Event], None]


class ChatBackend(Protocol):
    name: str | None

    def load(self, name: str, post: Post) -> None: ...  # blocking; posts LlmLoaded

    def ask(self, request: int, question: str, settings: dict, post: Post) -> None: ...  # blocking

    def abort(self) -> None: ...  # thread-safe

    def reset(self) -> None: ...

    def close(self) -> None: ...


class EchoBackend:
    """Answers by repeating the question, streamed character by character like a model would."""

    def __init__(self, delay_s: float = 0.03):
        self.name = "echo"
        self.delay_s = delay_s
        self._abort = threading.Event()

    def load(self, name: str, post: Post) -> None:
        self.name = name
        post(LlmLoaded(name))

    def ask(self, request: int, question: str, settings: dict, post: Post) -> None:
        self._abort.clear()
        answer = f"你说：{question}"
        post(LlmProgress(request, len(question), len(question)))
        start = time.monotonic()
        n = 0
        for ch in answer[: settings.get("max_tokens", 512)]:
            if self._abort.is_set():
                break
            if self.delay_s:
                time.sleep(self.delay_s)
            post(LlmToken(request, ch))
            n += 1
        elapsed = max(time.monotonic() - start, 1e-6)
        post(LlmDone(request, aborted=self._abort.is_set(), stats={"decode_tokens": n, "decode_tps": n / elapsed}))

    def abort(self) -> None:
        self._abort.set()

    def reset(self) -> None:
        pass

    def close(self) -> None:
        pass
