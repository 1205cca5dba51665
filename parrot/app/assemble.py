"""The composition root: the one function that builds the appliance from a Board and the config.

`parrot run` (DeviceBoard), `parrot sim` (SimBoard) and the tests (TestBoard) all call
build_appliance(); nothing else wires the app. Everything the pure app needs from files and
fonts is read here, once, and handed in through AppDeps.
"""

from __future__ import annotations

import functools
import logging
import random
from pathlib import Path

from parrot import __version__
from parrot.app.backends import ChatBackend, EchoBackend
from parrot.app.core import App
from parrot.app.conversations import CONVERSATIONS_DIR, read_index
from parrot.app.runtime import SETTINGS_FILE, USER_DICT_FILE, Runtime
from parrot.app.settings import load_settings
from parrot.app.state import AppDeps, ModelEntry, ScreenName
from parrot.app.voice import Voice
from parrot.boards import Board
from parrot.config import Config
from parrot.events import BatteryReading, Event
from parrot.keys import Key

log = logging.getLogger(__name__)

ABOUT = [
    f"电子鹦鹉 parrot {__version__}",
    "离线中文语音助手",
    "键盘：T9拼音输入",
    "字体：文泉驿点阵宋体",
    "全部在本机运行，不联网。",
]


@functools.lru_cache(maxsize=1)
def shipped_dictionary():
    """The T9 dictionary is read-only and shared by every session in the process."""
    from parrot.ime.dictionary import load_dictionary

    return load_dictionary()


def make_input_session_factory(data_dir: Path, font):
    from parrot.ime.dictionary import UserDictionary
    from parrot.ime.editor import Editor
    from parrot.ime.session import InputSession
    from parrot.ui.canvas import WIDTH

    dictionary = shipped_dictionary()
    user_dict = UserDictionary(data_dir / USER_DICT_FILE)

    def new_session(text: str = ""):
        # The session pages candidates by what the input screen can draw in one row.
        return InputSession(Editor(text), dictionary, user_dict, measure=font.text_width, bar_width_px=WIDTH)

    return new_session


def list_models() -> list[ModelEntry]:
    from parrot.llm.models import list_models as registry_models
    from parrot.llm.presets import PRESETS

    entries = []
    for m in registry_models():
        preset = PRESETS.get(m.preset)
        sampling = f" T{preset.sampling.temperature:g} p{preset.sampling.top_p:g}" if preset else ""
        entries.append(ModelEntry(m.name, f"{m.size / 1e6:.0f}MB{sampling}", m.present))
    return entries


def resolve_with_family(name: str):
    """Model name or path -> (GGUF path, preset family name or None to decide from the model)."""
    from parrot.llm.models import Q8_SUFFIX, REGISTRY, resolve_model

    path = resolve_model(name)
    base = name[: -len(Q8_SUFFIX)] if name.endswith(Q8_SUFFIX) else name
    return path, (REGISTRY[base].preset if base in REGISTRY else None)


def make_backend(kind: str, config: Config) -> ChatBackend:
    """'llm' runs the configured model with the C core; 'echo' (tests, demos: asked for by
    name, never a silent fallback) repeats the question."""
    if kind == "echo":
        return EchoBackend()
    if kind != "llm":
        raise ValueError(f"unknown backend {kind!r}")
    from parrot.app.llm_backend import LlmBackend

    return LlmBackend(resolve_with_family, threads=config.llm.threads, context=config.llm.context)


class Appliance:
    """The app, its runtime and the board's parts, wired. Real time: `await run()`. Virtual time
    (headless simulator, tests): `tick()` / `advance(s)`, `hold(key, s)`, then read the board."""

    def __init__(self, board: Board, config: Config, app: App, runtime: Runtime):
        from parrot.keypad.poller import KeypadPoller
        from parrot.keypad.wiring import tracker_from_config

        self.board, self.config, self.app, self.runtime = board, config, app, runtime
        self.clock = board.clock
        keypad = board.keypad()
        self.keypad = keypad
        self.poller = None
        if keypad is not None:
            self.poller = KeypadPoller(keypad, tracker_from_config(config["keypad"]), runtime.post,
                                       interval_s=config.keypad.poll_ms / 1000, clock=self.clock.now,
                                       read_in_thread=not self.clock.virtual)
        self.gauge = board.gauge()
        self.tick_s = config.keypad.poll_ms / 1000  # one keypad poll per tick of virtual time
        self.next_battery = self.clock.now()

    # --- driving --------------------------------------------------------------------------
    def post(self, event: Event) -> None:
        self.runtime.post(event)

    async def run(self) -> None:
        """Until Quit: the runtime's loop with the keypad poller, gauge and the board's own tasks."""
        from parrot.power.battery import BatteryMonitor

        tasks = [self.poller.run()] if self.poller else []
        if self.gauge is not None:
            tasks.append(BatteryMonitor(self.gauge, self.post, interval_s=float(self.config.battery.poll_s)).run())
        tasks += self.board.tasks(self.post)
        await self.runtime.run(tasks)

    def tick(self) -> None:
        """Virtual time: one keypad poll interval passes."""
        now = self.clock.advance(self.tick_s)
        if self.poller:
            self.poller.poll_once()
        if self.gauge is not None and now >= self.next_battery - 1e-9:
            reading = self.gauge.read()
            self.post(reading if reading is not None else BatteryReading(percent=None))
            self.next_battery = now + float(self.config.battery.poll_s)
        self.runtime.step(now)

    def advance(self, seconds: float) -> None:
        end = self.clock.now() + seconds
        while self.clock.now() < end - 1e-9 and not self.runtime.stopped:
            self.tick()

    def hold(self, key: Key | None, seconds: float) -> None:
        """Virtual time: `key` is held from now for `seconds` (the board's scripted keypad)."""
        self.keypad.set_held(key, self.clock.now(), seconds)

    # --- what a script may wait for -------------------------------------------------------
    @property
    def stopped(self) -> bool:
        return self.runtime.stopped

    @property
    def screen(self) -> str:
        return self.app.screen.name.value

    @property
    def screen_names(self) -> list[str]:
        return [name.value for name in ScreenName]

    @property
    def answering(self) -> bool:
        return self.app.screens[ScreenName.CHAT].busy

    def close(self, wait: bool = True) -> None:
        if self.poller:
            self.poller.close()
        self.runtime.close(wait=wait)
        self.board.close()


def asr_llm_swap_needed(config: Config) -> bool:
    """Whether the memory budget cannot hold the ASR and the LLM at once (measured sizes;
    a model other than the measured default counts by its file size)."""
    from parrot.speech.residency import MEASURED_MB

    budget = config.speech.memory_budget_mb
    if not budget:
        return False
    llm_mb = MEASURED_MB["llm"]
    try:
        from parrot.llm.models import DEFAULT_MODEL, resolve_model

        if config.llm.model != DEFAULT_MODEL:
            llm_mb = resolve_model(config.llm.model).stat().st_size / 1e6
    except Exception:  # UserError / OSError: a model that is not there needs no room
        pass
    return MEASURED_MB["asr"] + MEASURED_MB["vad"] + llm_mb > budget


def build_appliance(board: Board, config: Config, data_dir: Path, backend: str = "llm", seed: int | None = None,
                    on_frame=None, tts=None, asr=None, vad=None) -> Appliance:
    """The appliance on `board`: settings, learned words and conversations from `data_dir`,
    the chat engine `backend` ('llm' or 'echo'), speech engines if any (None: the board's voice
    is silent). `seed` fixes the sample-prompt choice (deterministic recordings)."""
    from parrot.ui.font import load_font

    data_dir = Path(data_dir)
    font = load_font(12)
    try:
        big_font = load_font(16)
    except Exception:  # the 16 px atlas is optional; the clock then uses the text font
        big_font = None
    voice = Voice(board.audio_in(), board.audio_out(), tts=tts, asr=asr, speed=config.tts.speed,
                  volume=config.tts.volume, threaded=not board.clock.virtual, vad=vad, clock=board.clock.now,
                  min_speech_s=config.speech.min_speech_s, max_listen_s=config.speech.max_listen_s,
                  hands_free=config.speech.hands_free)
    ui, battery = config.ui, config.battery
    deps = AppDeps(
        new_input_session=make_input_session_factory(data_dir, font),
        font=font,
        big_font=big_font,
        list_models=list_models,
        about_lines=ABOUT,
        clock_24h=ui.clock_24h,
        splash_s=ui.splash_s,
        cursor_blink_s=ui.cursor_blink_ms / 1000,
        wall=board.clock.wall,
        rng=random.Random(seed),
        model=config.llm.model if backend == "llm" else "echo",
        max_tokens=config.llm.max_tokens,
        llm_rerank=config.llm.rerank,
        conversations=read_index(data_dir / CONVERSATIONS_DIR),
        can_speak=voice.can_speak,
        can_listen=voice.can_listen,
        cannot_listen=voice.cannot_listen,
        hands_free=config.speech.hands_free,
        battery_warn_percent=battery.warn_percent,
        battery_shutdown_percent=battery.shutdown_percent,
    )
    app = App(deps, load_settings(data_dir / SETTINGS_FILE), now=board.clock.now())
    display = board.display()
    try:
        runtime = Runtime(app, display, make_backend(backend, config), data_dir, board.clock,
                          power_off=board.power_off, voice=voice, fps=ui.fps, on_frame=on_frame,
                          swap_asr_llm=voice.can_listen and asr_llm_swap_needed(config))
        appliance = Appliance(board, config, app, runtime)
    except Exception:
        display.close()
        raise
    runtime.start()
    return appliance
