"""Typed events posted to the app's single queue. Components never touch app state directly."""

from __future__ import annotations

from dataclasses import dataclass, field

from parrot.keys import Key, KeyAction


@dataclass(frozen=True)
class Event:
    pass


@dataclass(frozen=True)
class KeyEvent(Event):
    key: Key
    action: KeyAction


@dataclass(frozen=True)
class Tick(Event):
    """Periodic clock tick (monotonic seconds); drives blinking cursors, timeouts, clock."""

    now: float


@dataclass(frozen=True)
class BatteryReading(Event):
    percent: float | None  # None: no gauge present
    volts: float | None = None
    charging: bool | None = None


@dataclass(frozen=True)
class LlmLoaded(Event):
    """A load ended: `name` is loaded, or (error set) nothing is. A switch that failed and went
    back to the model loaded before says so in `failed`: that model could not be loaded
    (`error` says why) and `name`, the previous one, is loaded again."""

    name: str
    error: str | None = None
    failed: str | None = None


@dataclass(frozen=True)
class LlmProgress(Event):
    """Prefill progress, done/total prompt tokens."""

    request: int
    done: int
    total: int


@dataclass(frozen=True)
class LlmToken(Event):
    request: int
    text: str


@dataclass(frozen=True)
class LlmDone(Event):
    request: int
    aborted: bool = False
    error: str | None = None
    stats: dict = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class CandidatesReranked(Event):
    """The LLM's order of the T9 candidates of a RerankCandidates effect (same keys count)."""

    keys: int  # InputSession.keys_handled when the job was taken
    items: tuple  # parrot.ime.engine.Candidate, re-ordered


@dataclass(frozen=True)
class ConversationLoaded(Event):
    """A saved conversation's turns, read from its file: ((question, answer), ...); on a read
    failure `turns` is empty and `error` says why."""

    id: str
    turns: tuple = ()
    error: str | None = None


@dataclass(frozen=True)
class Quit(Event):
    reason: str = ""


@dataclass(frozen=True)
class ShutdownFailed(Event):
    """The board could not power off; the reason is shown."""

    reason: str


@dataclass(frozen=True)
class SpeechState(Event):
    """The speaker started or stopped speaking (the status bar's speech indicator)."""

    speaking: bool


@dataclass(frozen=True)
class Listening(Event):
    """Push-to-talk in progress: loudness 0..1 for the meter, seconds since the talk key went
    down, the text so far (engines that stream)."""

    level: float
    seconds: float
    partial: str = ""
    ended: bool = False  # hands-free: the VAD heard the end (or listening timed out)


@dataclass(frozen=True)
class NotHeard(Event):
    """Listening ended without text: too short, nothing heard, no microphone... (for a toast)."""

    reason: str


@dataclass(frozen=True)
class Heard(Event):
    """A finished transcript from speech input (the voice parts post it)."""

    text: str
