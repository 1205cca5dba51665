"""Per-family default settings: sampling, system prompt, thinking mode."""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from .engine import Sampling


@dataclass(frozen=True)
class Preset:
    name: str
    path: str | None = None  # model file; None = the configured/default location
    sampling: Sampling = field(default_factory=Sampling)
    system_prompt: str | None = None  # None = the template's default
    thinking: bool = False

    def with_path(self, path: str) -> "Preset":
        return replace(self, path=path)


# The model authors' recommended settings (generation_config.json / model cards).
QWEN3 = Preset("qwen3", sampling=Sampling(temperature=0.6, top_k=20, top_p=0.95, min_p=0.0, repeat_penalty=1.0,
                                          max_tokens=512))
QWEN3_THINKING = replace(QWEN3, name="qwen3-thinking", thinking=True,
                         sampling=replace(QWEN3.sampling, max_tokens=1024))
QWEN25 = Preset("qwen2.5", sampling=Sampling(temperature=0.7, top_k=20, top_p=0.8, min_p=0.0, repeat_penalty=1.05,
                                             max_tokens=512))
SMOLLM2 = Preset("smollm2", sampling=Sampling(temperature=0.2, top_k=0, top_p=0.9, min_p=0.0, repeat_penalty=1.0,
                                              max_tokens=256))

# Gemma 3 instruct's generation_config.json (top_k 64, top_p 0.95, temperature 1.0)
GEMMA3 = Preset("gemma3", sampling=Sampling(temperature=1.0, top_k=64, top_p=0.95, min_p=0.0, repeat_penalty=1.0,
                                            max_tokens=512))

PRESETS = {p.name: p for p in (QWEN3, QWEN3_THINKING, QWEN25, SMOLLM2, GEMMA3)}


def preset_for(arch: str, name: str = "") -> Preset:
    """Default preset for a loaded model (Model.arch, Model.name)."""
    lname = name.lower()
    if arch == "qwen3" or "qwen3" in lname:
        return QWEN3
    if arch == "qwen2" or "qwen2" in lname:
        return QWEN25
    if arch == "gemma3":
        return GEMMA3
    return SMOLLM2
