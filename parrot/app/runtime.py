"""The loop around the pure app: one inbox of events, effects carried out by ports, frames
pushed to the display. The device, the interactive simulator and the scripted simulator all
use this same Runtime; they differ only in the Board's adapters and clock.

On a real clock the model's work runs in a worker thread and file writes in another. On a
virtual clock (headless simulator, tests) both happen in the loop thread, the model's one event
per tick: the same script gives the same frames on any machine.
"""

from __future__ import annotations

import asyncio
import json
import logging
import queue
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Iterator

from parrot.app import effects as fx
from parrot.app.backends import ChatBackend
from parrot.app.conversations import ConversationUnreadable, conversation_path, read_turns
from parrot.app.core import App
from parrot.app.settings import save_settings
from parrot.app.voice import Voice
from parrot.clock import Clock
from parrot.events import ConversationLoaded, Event, LlmDone, LlmLoaded, NotHeard, Quit, ShutdownFailed, SpeechState, Tick
from parrot.storage import atomic_write

log = logging.getLogger(__name__)

# Files in the data directory.
SETTINGS_FILE = "settings.json"
USER_DICT_FILE = "user_dict.json"

Job = Iterator[Event]
OnError = Callable[[Exception], Event | None]


class ThreadedJobs:
    """Real time: jobs run one after another in a worker thread; their events are posted as they come."""

    def __init__(self, post: Callable[[Event], None], name: str):
        self.post = post
        self.pool = ThreadPoolExecutor(1, thread_name_prefix=name)

    def submit(self, job: Job, on_error: OnError) -> None:
        self.pool.submit(self._drain, job, on_error)

    def _drain(self, job: Job, on_error: OnError) -> None:
        try:
            for event in job:
                self.post(event)
        except Exception as e:  # an engine or disk failure is shown, never kills the app
            log.exception("background job failed")
            event = on_error(e)
            if event is not None:
                self.post(event)

    def step(self) -> None:
        pass

    def close(self, wait: bool) -> None:
        self.pool.shutdown(wait=wait, cancel_futures=not wait)


class SteppedJobs(ThreadedJobs):
    """Virtual time: the loop pulls one event of the current job per tick, in its own thread."""

    def __init__(self, post: Callable[[Event], None], name: str):
        self.post = post
        self.jobs: deque[tuple[Job, OnError]] = deque()

    def submit(self, job: Job, on_error: OnError) -> None:
        self.jobs.append((job, on_error))

    def step(self) -> None:
        while self.jobs:
            job, on_error = self.jobs[0]
            try:
                self.post(next(job))
                return
            except StopIteration:
                self.jobs.popleft()  # finished: the next job starts in this same tick
            except Exception as e:
                log.exception("background job failed")
                self.jobs.popleft()
                event = on_error(e)
                if event is not None:
                    self.post(event)
                return

    def run_all(self) -> None:
        while self.jobs:
            self.step()

    def close(self, wait: bool) -> None:
        if wait:
            self.run_all()
        for job, _ in self.jobs:
            job.close()
        self.jobs.clear()


TIMING_STATS = ("prefill_s", "decode_s", "prefill_tps", "decode_tps")


def without_timings(job: Job) -> Job:
    """On a virtual clock the wall-clock speed of the model is not shown: it would differ from
    run to run, and the same script must give the same frames (token counts stay)."""
    for event in job:
        if isinstance(event, LlmDone) and any(k in event.stats for k in TIMING_STATS):
            stats = {k: v for k, v in event.stats.items() if k not in TIMING_STATS}
            event = LlmDone(event.request, event.aborted, event.error, stats)
        yield event


def call(fn, *args) -> Job:
    """A plain call as a job with no events."""
    fn(*args)
    return
    yield


class Runtime:
    def __init__(self, app: App, display, backend: ChatBackend, data_dir: Path, clock: Clock,
                 power_off: Callable[[], str | None] | None = None, voice: Voice | None = None,
                 fps: float = 20.0, on_frame: Callable[[float], None] | None = None, swap_asr_llm: bool = False):
        self.app = app
        self.display = display
        self.backend = backend
        self.data_dir = Path(data_dir)
        self.clock = clock
        self.power_off = power_off
        self.voice = voice or Voice()
        self.min_frame_gap = 1.0 / fps
        self.on_frame = on_frame
        self.inbox: queue.SimpleQueue[Event] = queue.SimpleQueue()
        jobs = SteppedJobs if clock.virtual else ThreadedJobs
        # One queue for the model (questions and loads run in order), one for files, one for speech.
        self.llm = jobs(self.post, "parrot-llm")
        self.io = jobs(self.post, "parrot-io")
        self.speech = jobs(self.post, "parrot-speech")
        self.last_frame = float("-inf")
        self.stopped = False
        self.listeners: list[Callable[[Event], None]] = []  # e.g. the script runner's wait-for
        # Memory budget too small for the ASR and the LLM together (speech.memory_budget_mb):
        # the LLM is freed when listening starts and loaded again (with the conversation) before
        # the next question; the ASR is freed at the end of each recognition.
        self.swap_asr_llm = swap_asr_llm
        self.llm_evicted: str | None = None  # the model freed for the ASR

    # --- inbox ----------------------------------------------------------------------------
    def post(self, event: Event) -> None:
        """Thread-safe: drivers and workers call this."""
        self.inbox.put(event)

    def start(self) -> None:
        """Carry out what the app asked for at boot (contrast, model load)."""
        for effect in self.app.take_effects():
            self.carry_out(effect)

    def step(self, now: float) -> None:
        """Handle what has arrived, carry out effects, and draw if needed."""
        self._dispatch(Tick(now))
        for event in self.voice.listen_poll():  # the microphone, while the talk key is held
            self.post(event)
        for jobs in (self.llm, self.io, self.speech):
            jobs.step()
        while True:
            try:
                event = self.inbox.get_nowait()
            except queue.Empty:
                break
            if isinstance(event, Quit):
                self.stopped = True
                continue
            self._dispatch(event)
        speaking = self.voice.speaking
        if speaking != self.app.status.speaking:  # the status bar's speech indicator
            self._dispatch(SpeechState(speaking))
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
            if self.llm_evicted:  # back from listening on a small board: the model first
                name, self.llm_evicted = self.llm_evicted, None
                self.llm.submit(self.backend.load(name), lambda e: LlmLoaded(name, error=str(e)))
                self.llm.submit(call(self.backend.restore, effect.history), _logged)
            job = self.backend.ask(effect.request, effect.question, effect.max_tokens, effect.thinking, self.post)
            if self.clock.virtual:
                job = without_timings(job)
            self.llm.submit(job, lambda e: LlmDone(effect.request, error=str(e) or type(e).__name__))
        elif isinstance(effect, fx.AbortLlm):
            self.backend.abort()
        elif isinstance(effect, fx.ResetChat):
            self.llm.submit(call(self.backend.reset), _logged)
        elif isinstance(effect, fx.RestoreChat):
            self.llm.submit(call(self.backend.restore, effect.turns), _logged)
        elif isinstance(effect, fx.RerankCandidates):
            self.llm.submit(self.backend.rerank(effect.keys, effect.digits, effect.candidates, effect.engine), _logged)
        elif isinstance(effect, fx.LoadModel):
            self.llm.submit(self.backend.load(effect.name), lambda e: LlmLoaded(effect.name, error=str(e)))
        elif isinstance(effect, fx.SaveSettings):
            self.io.submit(call(save_settings, self.data_dir / SETTINGS_FILE, effect.values), _logged)
        elif isinstance(effect, fx.SaveConversation):
            text = json.dumps(effect.record, ensure_ascii=False, indent=1)
            self.io.submit(call(atomic_write, self.conversation_path(effect.id), text), _logged)
        elif isinstance(effect, fx.LoadConversation):
            self.io.submit(self._load_conversation(effect.id), lambda e: ConversationLoaded(effect.id, error=str(e)))
        elif isinstance(effect, fx.DeleteConversation):
            self.io.submit(call(self.conversation_path(effect.id).unlink, True), _logged)
        elif isinstance(effect, fx.SaveUserDictionary):
            self.io.submit(call(atomic_write, self.data_dir / USER_DICT_FILE, effect.text), _logged)
        elif isinstance(effect, fx.SetContrast):
            self.display.set_contrast(effect.level)
        elif isinstance(effect, fx.Speak):
            self.speech.submit(call(self.voice.say, effect.text), _logged)
        elif isinstance(effect, fx.SpeakStream):
            self.voice.stream(effect.text, effect.end)
        elif isinstance(effect, fx.StopSpeaking):
            self.voice.hush()
        elif isinstance(effect, fx.StartListening):
            if self.swap_asr_llm and self.app.status.model and not self.llm_evicted:
                self.llm_evicted = self.app.status.model
                self.backend.abort()
                self.llm.submit(call(self.backend.close), _logged)  # queued: runs before the ASR loads
            for event in self.voice.listen_start():
                self.post(event)
        elif isinstance(effect, fx.StopListening):
            # Recognition takes seconds: the speech worker runs it (stepped on a virtual clock).
            self.speech.submit(self.voice.listen_stop(unload_after=self.swap_asr_llm),
                               lambda e: NotHeard(str(e) or type(e).__name__))
        elif isinstance(effect, fx.Shutdown):
            # Queued behind the pending writes on the same file queue: they settle first.
            self.io.submit(self._shut_down(), lambda e: ShutdownFailed(str(e)))
        else:
            log.error("no handler for effect %r", effect)

    def conversation_path(self, conversation_id: str) -> Path:
        return conversation_path(self.data_dir, conversation_id)

    def _load_conversation(self, conversation_id: str) -> Job:
        """Read a saved conversation's turns for the chat screen; a failure is said on screen."""
        path = self.conversation_path(conversation_id)
        try:
            turns = read_turns(path)
        except FileNotFoundError:
            log.warning("conversation %s: %s is gone", conversation_id, path)
            yield ConversationLoaded(conversation_id, error="文件不见了")
        except ConversationUnreadable as e:
            log.warning("conversation %s: %s is %s; left as it is", conversation_id, path, e)
            yield ConversationLoaded(conversation_id, error="文件已损坏")
        except OSError as e:
            log.warning("conversation %s: reading %s failed: %s", conversation_id, path, e)
            yield ConversationLoaded(conversation_id, error=f"读取失败（{e.strerror or e}）")
        else:
            yield ConversationLoaded(conversation_id, turns)

    def _shut_down(self) -> Job:
        error = self.power_off() if self.power_off else "no way to power off on this board"
        if error:
            log.error("shutdown: %s", error)
            yield ShutdownFailed(error)
            return
        self.display.power(False)

    # --- running in real time -------------------------------------------------------------
    async def run(self, tasks: list = (), tick_s: float = 0.02) -> None:
        running = [asyncio.ensure_future(t) for t in tasks]
        try:
            while not self.stopped:
                self.step(self.clock.now())
                await asyncio.sleep(tick_s)
                for t in running:
                    if t.done() and not t.cancelled() and t.exception() is not None:
                        raise t.exception()
        finally:
            for t in running:
                t.cancel()
            await asyncio.gather(*running, return_exceptions=True)

    def close(self, wait: bool = True) -> None:
        self.backend.abort()
        self.llm.close(wait=wait)
        self.speech.close(wait=False)
        self.io.close(wait=True)  # never drop a pending atomic save
        self.voice.close()
        self.backend.close()
        self.display.close()


def _logged(error: Exception) -> None:
    return None  # already logged by the job queue; nothing to show
