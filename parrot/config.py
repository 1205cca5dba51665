"""The appliance's configuration: one TOML file, every key declared here with its default and doc.

Search order (first found wins): `--config FILE`, `$XDG_CONFIG_HOME/parrot/config.toml`
(~/.config/parrot/config.toml), `/etc/parrot/config.toml`. No file = all defaults.
An unknown key or a bad value stops start-up with a message naming the key.
"""

from __future__ import annotations

import math
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from parrot.errors import ConfigError


@dataclass(frozen=True)
class Option:
    default: Any
    doc: str
    choices: tuple = ()
    min: float | None = None
    max: float | None = None


# section -> key -> Option. The README's config table is generated from this (parrot config --doc).
SCHEMA: dict[str, dict[str, Option]] = {
    "display": {
        "driver": Option("ssd1306", "OLED controller, or 'none' for no display", ("ssd1306", "sh1106", "ssd1309", "none")),
        "port": Option(1, "I2C bus number (/dev/i2c-N)", min=0, max=255),
        "address": Option(0x3C, "I2C address of the OLED (0x3C or 0x3D)", min=0x03, max=0x77),
        "rotate": Option(0, "0, or 2 to turn the picture 180 degrees (panel mounted upside down)", (0, 2)),
        "partial_updates": Option(True, "send only the 8-row pages that changed"),
    },
    "keypad": {
        "driver": Option("seed", "'seed' = the seed's module at 0x27, 'pcf8574' = 4x4 matrix on an expander, 'none'", ("seed", "pcf8574", "none")),
        "port": Option(1, "I2C bus number", min=0, max=255),
        "address": Option(0x27, "I2C address of the keypad module / expander", min=0x03, max=0x77),
        "layout": Option("123A456B789C*0#D", "key label for index 0..15 (16 characters)"),
        "row_pins": Option([0, 1, 2, 3], "pcf8574: expander pins P0-P7 wired to rows 1-4"),
        "column_pins": Option([4, 5, 6, 7], "pcf8574: expander pins wired to columns 1-4"),
        "poll_ms": Option(10, "poll interval in milliseconds", min=1, max=200),
        "debounce_ms": Option(20, "a state must be stable this long to count", min=0, max=200),
        "long_press_ms": Option(400, "hold time that makes a long press", min=100, max=3000),
        "repeat_ms": Option(150, "auto-repeat interval after a long press", min=30, max=2000),
    },
    "battery": {
        "enabled": Option(True, "read a MAX17048-style gauge (absent gauge = no icon)"),
        "port": Option(1, "I2C bus number", min=0, max=255),
        "address": Option(0x36, "I2C address of the gauge", min=0x03, max=0x77),
        "poll_s": Option(30, "seconds between readings", min=1, max=3600),
        "warn_percent": Option(15, "below this charge the status bar warns once (0 = never)", min=0, max=100),
        "shutdown_percent": Option(5, "below this charge (not charging) the box shuts down safely (0 = never)", min=0, max=100),
    },
    "power": {
        "shutdown_command": Option(["poweroff"], "command run (after sync) by safe shutdown"),
    },
    "llm": {
        "model": Option("qwen2.5-coder-0.5b", "model name (see `parrot models list`) or a GGUF path"),
        "threads": Option(4, "threads for the LLM core", min=1, max=64),
        "context": Option(2048, "context length in tokens (clamps the model's)", min=128, max=32768),
        "max_tokens": Option(512, "longest answer in tokens", min=1, max=32768),
        "rerank": Option(True, "re-order the T9 sentence candidates with the model when the keypad rests"),
    },
    "audio": {
        "driver": Option("sounddevice", "'sounddevice' (PortAudio) or 'none' (text only)", ("sounddevice", "none")),
        "input_device": Option("", "PortAudio input device name or index ('' = the default)"),
        "output_device": Option("", "PortAudio output device name or index ('' = the default)"),
    },
    "speech": {
        "asr": Option("whisper", "ASR engine", ("whisper", "sherpa", "funasr-ws", "funasr", "none")),
        "asr_model": Option("", "whisper: '' = the registry's whisper-base, or a CTranslate2 directory; sherpa/funasr: the model directory"),
        "sherpa_kind": Option("auto", "sherpa: model kind ('auto' = from the directory name)",
                              ("auto", "sense_voice", "paraformer", "whisper", "transducer", "streaming_transducer", "streaming_paraformer")),
        "beam_size": Option(1, "whisper beam size (1 = greedy: faster, same text on our clips)", min=1, max=10),
        "threads": Option(2, "threads for the ASR engine", min=1, max=64),
        "language": Option("zh", "language code given to the ASR"),
        "funasr_url": Option("ws://127.0.0.1:10095", "funasr-ws: the FunASR runtime server"),
        "funasr_mode": Option("offline", "funasr-ws: 'offline' (one final text) or '2pass' (partials too)", ("offline", "2pass")),
        "vad_model": Option("", "Silero VAD ONNX ('' = the registry's silero-vad)"),
        "hands_free": Option(False, "a long press of C starts listening and the VAD ends it (no need to hold C)"),
        "end_silence_s": Option(0.8, "hands-free: this much silence after speech ends listening", min=0.2, max=5.0),
        "min_speech_s": Option(0.3, "less speech than this is 'nothing heard'", min=0.05, max=5.0),
        "max_listen_s": Option(30.0, "listening stops after this long", min=1.0, max=300.0),
        "memory_budget_mb": Option(0, "RAM for resident models; when the ASR and the LLM do not fit, they take turns (0 = no limit)", min=0, max=1 << 20),
    },
    "tts": {
        "engine": Option("baker", "voice: 'baker' (default Mandarin voice, `parrot tts pull`), 'espeak' (tiny, robotic), 'sherpa' (a sherpa-onnx model directory)", ("baker", "espeak", "sherpa")),
        "voice_dir": Option("", "baker: the converted voice's directory ('' = the data directory's voices/baker)"),
        "model_dir": Option("", "sherpa: the model directory (vits, matcha, kokoro or MeloTTS)"),
        "sherpa_kind": Option("auto", "sherpa: model kind, 'auto' tells it by the files", ("auto", "vits", "matcha", "kokoro")),
        "espeak_voice": Option("cmn-latn-pinyin", "espeak: 'cmn-latn-pinyin' (we supply pinyin) or 'cmn' (espeak reads hanzi)", ("cmn-latn-pinyin", "cmn")),
        "fallback": Option(True, "when the configured voice cannot load, speak with espeak and say why"),
        "speed": Option(1.0, "speaking speed, 1.0 = the voice's own", min=0.5, max=2.0),
        "volume": Option(1.0, "gain applied to the voice (clipped at full scale)", min=0.0, max=4.0),
        "threads": Option(1, "threads for the voice's neural network (1: the LLM keeps the other cores while both run)", min=1, max=16),
    },
    "ui": {
        "clock_24h": Option(True, "24-hour clock on the splash screen"),
        "splash_s": Option(1.5, "seconds the splash stays before the menu (0 = wait for a key)", min=0, max=60),
        "cursor_blink_ms": Option(500, "text cursor blink half-period", min=100, max=5000),
        "fps": Option(20, "most frames per second sent to the display", min=1, max=60),
    },
}


class Config:
    """Validated configuration: `cfg.display.port`, `cfg["keypad"]["layout"]`."""

    def __init__(self, values: dict[str, dict[str, Any]], source: Path | None = None):
        self._values = values
        self.source = source

    def __getitem__(self, section: str) -> dict[str, Any]:
        return self._values[section]

    def __getattr__(self, section: str):
        try:
            return _Section(self._values[section])
        except KeyError:
            raise AttributeError(section) from None

    def as_dict(self) -> dict[str, dict[str, Any]]:
        return {s: dict(v) for s, v in self._values.items()}


class _Section:
    def __init__(self, values: dict[str, Any]):
        self.__dict__.update(values)


def _check(section: str, key: str, opt: Option, value: Any) -> Any:
    name = f"{section}.{key}"
    want = type(opt.default)
    if want is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if want is list:
        item = type(opt.default[0])
        if not isinstance(value, list) or not value or not all(type(v) is item for v in value):
            raise ConfigError(f"config key {name}: expected a non-empty list of {item.__name__}s, got {value!r}")
        return value
    if type(value) is not want:
        raise ConfigError(f"config key {name}: expected {want.__name__}, got {type(value).__name__} {value!r}")
    if want is float and not math.isfinite(value):  # TOML allows nan and inf; no setting means them
        raise ConfigError(f"config key {name}: {value!r} is not a finite number")
    if opt.choices and value not in opt.choices:
        raise ConfigError(f"config key {name}: {value!r} is not one of {', '.join(map(repr, opt.choices))}")
    if opt.min is not None and value < opt.min or opt.max is not None and value > opt.max:
        raise ConfigError(f"config key {name}: {value!r} is outside {opt.min}..{opt.max}")
    if name == "keypad.layout":
        from parrot.keys import Key

        if len(value) != 16 or len(set(value.upper())) != 16:
            raise ConfigError(f"config key {name}: needs 16 distinct key labels, got {value!r}")
        try:
            [Key.from_label(c) for c in value]
        except ValueError as e:
            raise ConfigError(f"config key {name}: {e}") from None
    return value


def validate(raw: dict[str, Any]) -> dict[str, dict[str, Any]]:
    values = {s: {k: o.default for k, o in keys.items()} for s, keys in SCHEMA.items()}
    for section, table in raw.items():
        if section not in SCHEMA:
            raise ConfigError(f"unknown config section [{section}] (known: {', '.join(SCHEMA)})")
        if not isinstance(table, dict):
            raise ConfigError(f"config [{section}] must be a table")
        for key, value in table.items():
            opt = SCHEMA[section].get(key)
            if opt is None:
                raise ConfigError(f"unknown config key {section}.{key} (known: {', '.join(SCHEMA[section])})")
            values[section][key] = _check(section, key, opt, value)
    return values


def search_path() -> list[Path]:
    xdg = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return [Path(xdg) / "parrot" / "config.toml", Path("/etc/parrot/config.toml")]


def load_config(path: str | os.PathLike | None = None) -> Config:
    """Load and validate; `path` (from --config) must exist, the search path may be empty."""
    if path is not None:
        candidates = [Path(path)]
        if not candidates[0].is_file():
            raise ConfigError(f"config file {path} not found")
    else:
        candidates = [p for p in search_path() if p.is_file()]
    if not candidates:
        return Config(validate({}))
    source = candidates[0]
    try:
        raw = tomllib.loads(source.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"config file {source}: {e}") from None
    except RecursionError:  # tomllib recurses per nested [ or {
        raise ConfigError(f"config file {source}: arrays or tables nested too deeply") from None
    except OSError as e:
        raise ConfigError(f"config file {source}: {e.strerror}") from None
    return Config(validate(raw), source)


def doc_markdown() -> str:
    """Markdown table of every key, its default and meaning."""
    rows = ["| key | default | meaning |", "|---|---|---|"]
    for section, keys in SCHEMA.items():
        for key, opt in keys.items():
            d = opt.default
            shown = hex(d) if key == "address" else repr(d).replace("'", '"')
            if isinstance(d, bool):
                shown = str(d).lower()
            rows.append(f"| `{section}.{key}` | `{shown}` | {opt.doc} |")
    return "\n".join(rows)
