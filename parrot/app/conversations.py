"""Saved conversations on disk: one <id>.json per conversation in the data folder's
conversations/ (written atomically by the runtime).

The app keeps only the history index in memory (id, start time, first words: what the history
list shows); a conversation's turns are read from its file when the user opens it. The runtime
and the composition root call these; the pure app never does."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from parrot.app.state import SavedConversation

log = logging.getLogger(__name__)

CONVERSATIONS_DIR = "conversations"  # one <id>.json per conversation
LAST_START = 253402300799  # 9999-12-31: a later start time cannot be shown as a date


class ConversationUnreadable(ValueError):
    """The file is not a conversation record (or not JSON, or not UTF-8)."""


def conversation_path(data_dir: Path, conversation_id: str) -> Path:
    return Path(data_dir) / CONVERSATIONS_DIR / f"{conversation_id}.json"


def read_record(path: Path) -> dict:
    """The record in `path`: {"id", "started", "turns": [{"q", "a"}, ...]}. Raises OSError, or
    ConversationUnreadable saying what is wrong with it."""
    try:
        record = json.loads(path.read_bytes().decode("utf-8"))
    except ValueError as e:  # JSON and UTF-8 errors
        raise ConversationUnreadable(f"not a saved conversation ({e})") from None
    turns = record.get("turns") if isinstance(record, dict) else None
    if not (isinstance(turns, list) and record.get("id") == path.stem):
        raise ConversationUnreadable("not a saved conversation record")
    for turn in turns:
        if not (isinstance(turn, dict) and isinstance(turn.get("q"), str) and isinstance(turn.get("a"), str)):
            raise ConversationUnreadable("a turn of it is damaged")
    started = record.get("started", 0)
    if isinstance(started, bool) or not isinstance(started, (int, float)) or not 0 <= started <= LAST_START:
        raise ConversationUnreadable("its start time is damaged")  # (the history shows it as a date)
    return record


def read_turns(path: Path) -> tuple:
    """((question, answer), ...) of the conversation in `path` (see read_record for errors)."""
    return tuple((t["q"], t["a"]) for t in read_record(path)["turns"])


def read_index(folder: Path) -> list[SavedConversation]:
    """The history index of the saved conversations in `folder`; an unreadable file is left
    where it is and skipped with a warning, never fatal."""
    entries = []
    for path in sorted(Path(folder).glob("*.json")):
        try:
            entries.append(SavedConversation.of_record(read_record(path)))
        except (OSError, ValueError) as e:
            log.warning("conversation %s skipped: %s", path, e)
    return entries
