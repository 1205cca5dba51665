"""The composition root: builds the app with the adapters for the device or the simulator."""

from __future__ import annotations

import functools
import logging
import random
from dataclasses import dataclass
import time
from pathlib import Path

from parrot import __version__
from parrot.app.backends import EchoBackend
from parrot.app.core import App, AppDeps, ModelEntry
from parrot.app.settings import load_settings
from parrot.config import Config
from parrot.app.effects import LoadModel
from parrot.app.runtime import Runtime
from parrot.events import LlmLoaded

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


def make_input_session_factory(data_dir: Path):
    from parrot.ime.dictionary import UserDictionary
    from parrot.ime.editor import Editor
    from parrot.ime.session import InputSession

    dictionary = shipped_dictionary()
    user_dict = UserDictionary(data_dir / "user_dict.json")

    from parrot.ui.canvas import WIDTH
    from parrot.ui.font import load_font

    font = load_font(12)

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


def build_app(config: Config, data_dir: Path, now: float, wall_clock_base: float | None = None,
              seed: int | None = None) -> App:
    ui = config.ui
    local_time = None
    if wall_clock_base is not None:
        # Simulated time: the splash clock starts at wall_clock_base and follows the sim clock.
        local_time = lambda t: time.localtime(wall_clock_base + t - now)  # noqa: E731
    deps = AppDeps(
        new_input_session=make_input_session_factory(data_dir),
        list_models=list_models,
        about_lines=ABOUT,
        clock_24h=ui.clock_24h,
        splash_s=ui.splash_s,
        cursor_blink_s=ui.cursor_blink_ms / 1000,
        local_time=local_time,
        rng=random.Random(seed),
    )
    return App(deps, load_settings(data_dir / "settings.json"), now=now)


@dataclass
class Device:
    """The appliance assembled for real hardware: the runtime plus the pollers that feed it."""

    runtime: Runtime
    parts: list  # objects with `async run()` and `close()`

    async def run(self) -> None:
        await self.runtime.run([part.run() for part in self.parts])

    def close(self) -> None:
        for part in self.parts:
            part.close()
        self.runtime.close(wait=False)


def build_device(config: Config, backend_kind: str, data_dir: Path, buses: dict | None = None) -> Device:
    """OLED, keypad and battery gauge from the config. `buses` ({"display"|"keypad"|"battery":
    smbus-like}) replaces the real I2C buses, for tests and bring-up without hardware."""
    from parrot.display import MultiDisplay
    from parrot.display.oled import open_oled
    from parrot.keypad.wiring import battery_from_config, keypad_from_config

    buses = buses or {}
    d = config.display
    if d.driver == "none":
        display = MultiDisplay()
    else:
        display = open_oled(d.driver, d.port, d.address, rotate=d.rotate, contrast=d.contrast,
                            partial=d.partial_updates, bus=buses.get("display"))
    runtime = make_runtime(config, build_app(config, data_dir, now=time.monotonic()), display, backend_kind, data_dir)
    parts = []
    try:
        keypad = keypad_from_config(config["keypad"], runtime.post, bus=buses.get("keypad"))
        battery = battery_from_config(config["battery"], runtime.post, bus=buses.get("battery"))
    except Exception:
        display.close()
        raise
    parts += [p for p in (keypad, battery) if p is not None]
    return Device(runtime, parts)


def make_runtime(config: Config, app: App, display, backend_kind: str, data_dir: Path,
                 dry_run_shutdown: bool = False, on_frame=None) -> Runtime:
    """The runtime around the app, with the model loading behind the splash (as on the device)."""
    from parrot.keypad.wiring import shutdown_from_config

    runtime = Runtime(app, display, make_backend(backend_kind, config), data_dir,
                      shutdown=shutdown_from_config(config["power"], dry_run=dry_run_shutdown).run,
                      fps=config.ui.fps, on_frame=on_frame)
    if backend_kind == "llm":
        app.status.model_loading = config.llm.model
        runtime.carry_out(LoadModel(config.llm.model))
    else:
        runtime.post(LlmLoaded("echo"))
    return runtime


def make_backend(kind: str, config: Config):
    """'echo' repeats the question; 'llm' runs the configured model with the C core."""
    if kind == "echo":
        return EchoBackend()
    from parrot.app.llm_backend import LlmBackend
    return LlmBackend(resolve_with_family, threads=config.llm.threads, context=config.llm.context)


def default_backend_kind(config: Config) -> str:
    try:
        from parrot.llm.models import resolve_model

        resolve_model(config.llm.model)
        return "llm"
    except Exception as e:  # no engine or no model yet: the appliance still works, it echoes
        log.info("no model (%s): chat echoes", e)
        return "echo"
