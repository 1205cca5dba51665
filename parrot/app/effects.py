"""What the pure app asks the outside world to do. Each effect carries everything it means, so
the runtime carries it out with a port call and never looks into the app's screens."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Effect:
    pass


@dataclass(frozen=True)
class AskLlm(Effect):
    request: int
    question: str
    max_tokens: int
    thinking: bool = False
    # the conversation so far, (question, answer) pairs: what a model reloaded on a small
    # memory budget is given back before it answers
    history: tuple = ()


@dataclass(frozen=True)
class AbortLlm(Effect):
    request: int


@dataclass(frozen=True)
class ResetChat(Effect):
    """Forget the conversation (and the model's KV cache)."""


@dataclass(frozen=True)
class RestoreChat(Effect):
    """Give the model a saved conversation's turns as its context (after ResetChat)."""

    turns: tuple  # ((question, answer), ...)


@dataclass(frozen=True)
class RerankCandidates(Effect):
    """The keypad rests with sentence candidates showing: let the model re-order them
    (posts CandidatesReranked, or nothing where there is no model to ask)."""

    keys: int  # the input session's keys_handled: a key since makes the answer stale
    digits: str  # the digits being composed (the re-ranker searches them again, wider)
    candidates: tuple  # parrot.ime.engine.Candidate, in the lattice's order
    engine: object  # the session's parrot.ime.engine.Engine: its dictionary and the user's words


@dataclass(frozen=True)
class LoadModel(Effect):
    name: str


@dataclass(frozen=True)
class SaveSettings(Effect):
    values: dict


@dataclass(frozen=True)
class SaveConversation(Effect):
    """Write one conversation (a file of its own, named by its id)."""

    id: str
    record: dict  # {"id", "started" (epoch s), "turns": [{"q", "a"}, ...]}


@dataclass(frozen=True)
class LoadConversation(Effect):
    """Read a saved conversation's turns (posts ConversationLoaded)."""

    id: str


@dataclass(frozen=True)
class DeleteConversation(Effect):
    id: str


@dataclass(frozen=True)
class SaveUserDictionary(Effect):
    text: str  # the learned words, serialized (user_dict.json)


@dataclass(frozen=True)
class SetContrast(Effect):
    level: int


@dataclass(frozen=True)
class Speak(Effect):
    """Say this text aloud (the speak_answers setting); null where the board has no voice."""

    text: str


@dataclass(frozen=True)
class SpeakStream(Effect):
    """More of the answer being written, to be spoken as it comes (cut into sentences by the
    voice); end=True: the answer is complete, say what is left."""

    text: str
    end: bool = False


@dataclass(frozen=True)
class StopSpeaking(Effect):
    """Barge-in: silence now and forget what was queued."""


@dataclass(frozen=True)
class StartListening(Effect):
    """The talk key is held: open the microphone (barge-in has already stopped speech)."""


@dataclass(frozen=True)
class StopListening(Effect):
    """The talk key came up: recognise what was heard (posts Heard or NotHeard)."""


@dataclass(frozen=True)
class Shutdown(Effect):
    """Settle pending writes, turn the panel off, power off."""
