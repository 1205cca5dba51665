"""What the pure app asks the outside world to do. The runtime carries these out with adapters."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Effect:
    pass


@dataclass(frozen=True)
class AskLlm(Effect):
    request: int
    question: str


@dataclass(frozen=True)
class AbortLlm(Effect):
    request: int


@dataclass(frozen=True)
class ResetChat(Effect):
    """Forget the conversation (and the model's KV cache)."""


@dataclass(frozen=True)
class LoadModel(Effect):
    name: str


@dataclass(frozen=True)
class SaveSettings(Effect):
    values: dict


@dataclass(frozen=True)
class SaveHistory(Effect):
    turns: tuple  # ((question, answer), ...)


@dataclass(frozen=True)
class SaveUserDictionary(Effect):
    pass


@dataclass(frozen=True)
class SetContrast(Effect):
    level: int


@dataclass(frozen=True)
class Shutdown(Effect):
    pass
