"""Which models stay in memory: a budget in MB (speech.memory_budget_mb; 0 = no limit) and
each engine's measured resident size (`parrot bench voice`). Asking for an engine that does
not fit unloads the least recently used others first: on a 512 MB router the ASR goes before
the LLM loads and comes back after; on a large board everything stays loaded.
"""

from __future__ import annotations

import gc
import threading
from dataclasses import dataclass
from typing import Any, Callable

from parrot.errors import UserError

# Resident memory (RSS growth, MB) of each default engine after loading it and running it
# once, measured by `parrot bench voice` on x86_64 (README: Voice); boards measure their own.
MEASURED_MB = {
    "asr": 156.0,  # whisper-base int8 (faster-whisper)
    "vad": 34.0,  # silero VAD (sherpa-onnx, onnxruntime)
    "llm": 401.0,  # qwen2.5-coder-0.5b Q4_K_M after a short answer (mmap pages touched)
    "tts": 123.0,  # the Baker voice (onnxruntime, FastSpeech2 + MB-MelGAN) after one sentence
}


@dataclass
class Resident:
    """An engine the manager can load and unload."""

    name: str
    size_mb: float
    load: Callable[[], Any]
    close: Callable[[Any], None] | None = None  # frees what garbage collection would not


class Residency:
    def __init__(self, budget_mb: float = 0, on_event: Callable[[str, str], None] | None = None) -> None:
        self.budget_mb = budget_mb
        self.on_event = on_event or (lambda state, name: None)
        self._engines: dict[str, Resident] = {}
        self._loaded: dict[str, Any] = {}  # name -> engine object, least recently used first
        self._lock = threading.RLock()

    def register(self, resident: Resident) -> None:
        if self.budget_mb and resident.size_mb > self.budget_mb:
            raise UserError(
                f"{resident.name} needs {resident.size_mb:.0f} MB, more than the whole memory budget "
                f"({self.budget_mb:.0f} MB, speech.memory_budget_mb)"
            )
        self._engines[resident.name] = resident

    @property
    def loaded(self) -> list[str]:
        return list(self._loaded)

    @property
    def used_mb(self) -> float:
        return sum(self._engines[n].size_mb for n in self._loaded)

    def get(self, name: str) -> Any:
        """The engine, loaded now if it is not (unloading others first if it would not fit)."""
        with self._lock:
            if name in self._loaded:
                self._loaded[name] = self._loaded.pop(name)  # most recently used
                return self._loaded[name]
            resident = self._engines[name]
            for other in self._evictions(resident.size_mb):
                self.unload(other)
            self.on_event("loading", name)
            self._loaded[name] = resident.load()
            self.on_event("ready", name)
            return self._loaded[name]

    def _evictions(self, need_mb: float) -> list[str]:
        """Least recently used first until `need_mb` fits, then keep back any of those that
        fit anyway (a small VAD need not leave for the LLM just because it was used first)."""
        if not self.budget_mb:
            return []
        size = {n: self._engines[n].size_mb for n in self._loaded}
        free = self.budget_mb - sum(size.values())
        chosen = []
        for name in self._loaded:
            if free >= need_mb:
                break
            chosen.append(name)
            free += size[name]
        for name in list(chosen):
            if free - size[name] >= need_mb:
                chosen.remove(name)
                free -= size[name]
        return chosen

    def unload(self, name: str) -> None:
        with self._lock:
            engine = self._loaded.pop(name, None)
            if engine is None:
                return
            self.on_event("unloading", name)
            close = self._engines[name].close
            if close:
                close(engine)
            del engine
            gc.collect()  # engines hold native memory that goes when the last reference does
