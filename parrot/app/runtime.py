"""The loop around the pure app: one inbox of events, effects carried out by adapters, frames
pushed to the display. The device, the interactive simulator and the scripted simulator all
use this same Runtime; they differ only in adapters and in who calls step() with what time.
"""

from __future__ import annotations

import asyncio
import json
import logging
import queue
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

from parrot.app import effects as fx
from parrot.app.backends import ChatBackend
from parrot.app.core import App
from parrot.app.settings import save_settings
from parrot.events import Event, LlmDone, Quit, Tick
from parrot.storage import atomic_write

log = logging.getLogger(__name__)


class Runtime:
    def __init__(self, app: App, display, backend: ChatBackend, data_dir: Path,
                 shutdown: Callable[[], str | None] | None = None, fps: float = 20.0,
                 on_frame: Callable[[float], None] | None = None):
        self.app = app
        self.display = display
        self.backend = backend
        self.data_dir = Path(data_dir)
        self.shutdown = shutdown
        self.min_frame_gap = 1.0 / fps
        self.on_frame = on_frame
        self.inbox: queue.SimpleQueue[Event] = queue.SimpleQueue()
        # One thread for the model (questions and loads run in order), one for file I/O.
        self.llm_worker = ThreadPoolExecutor(1, thread_name_prefix="parrot-llm")
        self.io_worker = ThreadPoolExecutor(1, thread_name_prefix="parrot-io")
        self.last_frame = float("-inf")
        self.stopped = False
        self.listeners: list[Callable[[Event], None]] = []  # e.g. the script runner's wait-for

    # --- inbox ----------------------------------------------------------------------------
    def post(self, event: Event) -> None:
        """Thread-safe: drivers and workers call this."""
        self.inbox.put(event)

    def step(self, now: float) -> None:
        """Handle what has arrived, carry out effects, and draw if needed."""
        self._dispatch(Tick(now))
        while True:
            try:
                event = self.inbox.get_nowait()
            except queue.Empty:
                break
            if isinstance(event, Quit):
                self.stopped = True
                continue
            self._dispatch(event)
        if self.app.wants_frame and now - self.last_frame >= self.min_frame_gap - 1e-9:
            self.app.render()
            self.display.show(self.app.canvas.image)
            self.last_frame = now
            if self.on_frame:
                self.on_frame(now)

    def _dispatch(self, event: Event) -> None:
        self.app.handle(event)
        for listener in self.listeners:
            listener(event)
        for effect in self.app.take_effects():
            self.carry_out(effect)

    # --- effects --------------------------------------------------------------------------
    def carry_out(self, effect: fx.Effect) -> None:
        if isinstance(effect, fx.AskLlm):
            self.llm_worker.submit(self._guarded_ask, effect.request, effect.question, dict(self.app.settings))
        elif isinstance(effect, fx.AbortLlm):
            self.backend.abort()
        elif isinstance(effect, fx.ResetChat):
            self.llm_worker.submit(self._guarded, self.backend.reset)
        elif isinstance(effect, fx.LoadModel):
            self.llm_worker.submit(self._guarded, self.backend.load, effect.name, self.post)
        elif isinstance(effect, fx.SaveSettings):
            self.io_worker.submit(self._guarded, save_settings, self.data_dir / "settings.json", effect.values)
        elif isinstance(effect, fx.SaveHistory):
            text = json.dumps([{"q": q, "a": a} for q, a in effect.turns], ensure_ascii=False, indent=1)
            self.io_worker.submit(self._guarded, atomic_write, self.data_dir / "history.json", text)
        elif isinstance(effect, fx.SaveUserDictionary):
            from parrot.app.core import ScreenName

            # Serialize here, on the loop thread that mutates it; only the write goes to the worker.
            user_dict = self.app.screens[ScreenName.INPUT].session.user_dict
            if user_dict.pending_save and user_dict.path is not None:
                text = user_dict.to_json()
                user_dict.pending_save = False
                self.io_worker.submit(self._guarded, atomic_write, user_dict.path, text)
        elif isinstance(effect, fx.SetContrast):
            if hasattr(self.display, "contrast"):
                self._guarded(self.display.contrast, effect.level)
        elif isinstance(effect, fx.Shutdown):
            self.io_worker.submit(self._do_shutdown)
        else:
            log.error("no handler for effect %r", effect)

    def _guarded_ask(self, request: int, question: str, settings: dict) -> None:
        try:
            self.backend.ask(request, question, settings, self.post)
        except Exception as e:  # an engine failure is shown in the chat, never kills the app
            log.exception("answering failed")
            self.post(LlmDone(request, error=str(e) or type(e).__name__))

    def _guarded(self, fn, *args) -> None:
        try:
            fn(*args)
        except Exception:
            log.exception("%s failed", getattr(fn, "__name__", fn))

    def _do_shutdown(self) -> None:
        # Settle pending writes first (they are queued on this same worker before us).
        error = self.shutdown() if self.shutdown else None
        if error:
            log.error("shutdown: %s", error)

    # --- running in real time -------------------------------------------------------------
    async def run(self, tasks: list = (), tick_s: float = 0.02, clock=time.monotonic) -> None:
        running = [asyncio.ensure_future(t) for t in tasks]
        try:
            while not self.stopped:
                self.step(clock())
                await asyncio.sleep(tick_s)
                for t in running:
                    if t.done() and t.exception() is not None:
                        raise t.exception()
        finally:
            for t in running:
                t.cancel()
            await asyncio.gather(*running, return_exceptions=True)

    def close(self, wait: bool = True) -> None:
        self.backend.abort()
        self.llm_worker.shutdown(wait=wait, cancel_futures=True)
        self.io_worker.shutdown(wait=True)  # never drop a pending atomic save
        self.backend.close()
        self.display.close()
