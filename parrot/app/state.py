"""The app's vocabulary shared by the core and its screens: screen names, what the status bar
shows, and what the app is given by the composition root (AppDeps). No behaviour here."""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass, field
from typing import Callable


class ScreenName(enum.Enum):
    SPLASH = "splash"
    MENU = "menu"
    INPUT = "input"
    CHAT = "chat"
    MODELS = "models"
    SETTINGS = "settings"
    ABOUT = "about"
    SHUTDOWN = "shutdown"
    HISTORY = "history"
    HELP = "help"
    NO_MODEL = "no_model"


@dataclass
class Status:
    """What the status bar and splash show."""

    battery: float | None = None  # percent; None = no gauge
    charging: bool | None = None
    model: str | None = None  # loaded model name
    model_loading: str | None = None
    model_error: str | None = None
    asr_ready: bool = False  # the board can listen (mic + ASR engine)
    tts_ready: bool = False  # the board can speak (speaker + TTS engine)
    speaking: bool = False  # the speaker is saying an answer now
    battery_low: bool = False  # below battery.warn_percent: warned once until it rises again


@dataclass
class ListenView:
    """Push-to-talk on screen: the meter, the seconds held, the text so far."""

    level: float = 0.0
    seconds: float = 0.0
    partial: str = ""
    recognising: bool = False  # the key is up, the engine is working


# Hold C (the seed's old push-to-talk key) to talk: a short C press stays Ctrl.
TALK_KEY_LABEL = "C"
CANNOT_LISTEN_TEXT = {"no speech recognition": "没有语音识别", "no sound card": "没有声卡", "PortAudio": "没有声卡驱动",
                      "audio off": "音频已关闭", "no microphone": "没有麦克风"}
NOT_HEARD_TEXT = {"too short": "太短了，请按住C说话", "nothing heard": "没有听到声音", "no words recognised": "没听清，请再说一遍"}


@dataclass(frozen=True)
class SavedConversation:
    """One row of the history index: what the history list shows. The turns stay in the
    conversation's file until it is opened (LoadConversation)."""

    id: str
    started: float  # seconds since the epoch
    first: str  # the first question's first words

    @classmethod
    def of_record(cls, record: dict) -> "SavedConversation":
        """The index row of a conversation record {"id", "started", "turns": [{"q", "a"}, ...]}."""
        turns = record["turns"]
        return cls(record["id"], float(record.get("started", 0)), turns[0]["q"][:FIRST_WORDS] if turns else "")


FIRST_WORDS = 40  # characters of the first question kept in the index (a list row shows ~20)
# The history keeps the newest conversations; the oldest is deleted when one more is saved
# (like a phone's call log), so neither the index nor the data folder grows without end.
MAX_SAVED_CONVERSATIONS = 100


@dataclass
class ModelEntry:
    name: str
    detail: str  # one line: size / preset summary
    present: bool = True


@dataclass
class AppDeps:
    """What the app is given by the composition root (parrot.app.assemble): everything it reads
    but does not own. No file, font or clock I/O happens inside the app; it all comes in here."""

    new_input_session: Callable  # (initial_text: str) -> parrot.ime.session.InputSession
    font: object  # parrot.ui.font.BitmapFont, 12 px: the text font
    big_font: object = None  # 16 px for the splash clock (None: the text font)
    list_models: Callable[[], list[ModelEntry]] = lambda: []
    about_lines: list[str] = field(default_factory=list)
    clock_24h: bool = True
    splash_s: float = 1.5
    cursor_blink_s: float = 0.5
    wall: Callable[[float], float] = lambda t: t  # clock time -> seconds since the epoch (the Board's clock)
    rng: random.Random = field(default_factory=random.Random)  # picks a sample prompt; seeded in tests
    model: str = ""  # llm.model: loaded at boot
    max_tokens: int = 512  # llm.max_tokens: the longest answer the installation allows
    llm_rerank: bool = True  # llm.rerank: the model re-orders T9 sentences when the keypad rests
    conversations: list = field(default_factory=list)  # the history index read at boot (SavedConversation)
    can_speak: bool = False  # the Board's voice: hides the speech settings when False
    can_listen: bool = False
    cannot_listen: str = ""  # why not (no microphone, no ASR engine): shown when C is held
    hands_free: bool = False  # speech.hands_free: a long C starts listening, the VAD ends it
    battery_warn_percent: float = 15.0
    battery_shutdown_percent: float = 5.0


# OK on an empty editor asks one of these (the seed's "random preset prompt").
SAMPLE_PROMPTS = (
    "你好，请介绍一下你自己。",
    "给我讲一个关于鹦鹉的小故事。",
    "为什么天空是蓝色的？",
    "用三句话介绍一下长城。",
    "写一首关于春天的短诗。",
    "怎样才能睡个好觉？",
)
