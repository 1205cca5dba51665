"""User settings: changed on the device's settings screen, persisted in the data directory.

Unlike the config file (installation facts: buses, addresses), these are preferences a user
changes with the keys. Each setting has a fixed list of values the screen cycles through.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from parrot.storage import atomic_write

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Setting:
    key: str
    label: str
    values: tuple
    default: object
    needs: str = ""  # "speak" / "listen": offered only where the board can (see parrot.app.voice)

    def show(self, value) -> str:
        if isinstance(value, bool):
            return "开" if value else "关"
        return str(value)


SETTINGS = (
    Setting("speak_answers", "朗读回答", (True, False), True, needs="speak"),
    Setting("thinking", "深度思考", (False, True), False),
    Setting("max_tokens", "回答长度", (128, 256, 512, 1024), 512),
    Setting("contrast", "屏幕亮度", (32, 96, 160, 255), 160),
    Setting("voice_submit", "语音直接发送", (True, False), True, needs="listen"),
    Setting("key_repeat", "按键连发", (True, False), True),
)
BY_KEY = {s.key: s for s in SETTINGS}


def defaults() -> dict:
    return {s.key: s.default for s in SETTINGS}


def load_settings(path: Path) -> dict:
    """Saved values over defaults; unknown keys and values no longer allowed are dropped."""
    values = defaults()
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return values
    except (OSError, ValueError) as e:
        log.warning("settings file %s unreadable (%s); using defaults", path, e)
        return values
    if isinstance(saved, dict):
        for key, value in saved.items():
            if key in BY_KEY and value in BY_KEY[key].values:
                values[key] = value
    return values


def save_settings(path: Path, values: dict) -> None:
    atomic_write(path, json.dumps(values, ensure_ascii=False, indent=1, sort_keys=True))


def cycle(key: str, value, step: int = 1, options: tuple | None = None):
    """The next (step 1) or previous (-1) value of a setting, among `options` (default: all)."""
    options = options or BY_KEY[key].values
    i = options.index(value) if value in options else 0
    return options[(i + step) % len(options)]
