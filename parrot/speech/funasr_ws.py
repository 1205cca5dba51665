"""A client of the FunASR runtime's websocket protocol (runtime/docs/websocket_protocol.md):
the router-sized board sends audio to a FunASR server on the LAN (or loopback).

Session: one JSON message {mode, wav_name, wav_format "pcm", audio_fs, is_speaking true,
chunk_size, itn}; then binary frames of 16-bit little-endian PCM; then {"is_speaking": false}.
The server answers JSON {mode, wav_name, text, is_final}: in 2pass mode "2pass-online"
pieces while audio flows (appended) and a "2pass-offline" text per sentence (which replaces
the online pieces of that sentence); in offline mode one "offline" text.
"""

from __future__ import annotations

import json
from typing import Iterator

import numpy as np

from parrot.audio.ports import CAPTURE_RATE
from parrot.errors import UserError
from parrot.speech.deps import need

CHUNK_SIZE = [5, 10, 5]  # FunASR's streaming latency setting: 10 x 60 ms = 600 ms chunks
SETTLE_S = 0.5  # 2pass: quiet this long after an offline text = nothing more is coming
FRAME = CAPTURE_RATE * 60 // 1000 * CHUNK_SIZE[1] // 10  # samples per binary frame (60 ms)


def pcm16(pcm: np.ndarray) -> bytes:
    return (np.clip(np.asarray(pcm, np.float32), -1, 1) * 32767).round().astype("<i2").tobytes()


class FunAsrWsClient:
    """Asr + StreamingAsr over a FunASR runtime server (ws://, or wss:// with its own cert)."""

    def __init__(self, url: str = "ws://127.0.0.1:10095", mode: str = "offline", *, timeout_s: float = 15.0) -> None:
        if mode not in ("offline", "2pass"):
            raise UserError(f"FunASR mode {mode!r}: use 'offline' or '2pass'")
        need("websockets", "the FunASR client")
        self.url, self.mode, self.timeout_s = url, mode, timeout_s
        self.name = f"funasr-ws {mode} ({url})"

    def _connect(self):
        import ssl

        from websockets.sync.client import connect

        options = {}
        if self.url.startswith("wss://"):  # FunASR's servers ship a self-signed certificate
            ctx = ssl.create_default_context()
            ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
            options["ssl"] = ctx
        try:
            return connect(self.url, open_timeout=self.timeout_s, close_timeout=1, max_size=None, **options)
        except (OSError, TimeoutError) as e:
            raise UserError(f"FunASR server {self.url}: cannot connect ({e})") from None
        except Exception as e:  # websockets' handshake errors (InvalidURI, InvalidHandshake, ...)
            raise UserError(f"FunASR server {self.url}: {type(e).__name__}: {e}") from None

    def transcribe(self, pcm: np.ndarray) -> str:
        text = ""
        for text, _final in self.stream(iter([np.asarray(pcm, np.float32)])):
            pass
        return text

    def stream(self, chunks: Iterator[np.ndarray]) -> Iterator[tuple[str, bool]]:
        state = _Transcript()
        with self._connect() as ws:  # closes the connection however we leave
            yield from self._session(ws, chunks, state)

    def _session(self, ws, chunks: Iterator[np.ndarray], state: "_Transcript") -> Iterator[tuple[str, bool]]:
        from websockets.exceptions import ConnectionClosed

        try:
            ws.send(json.dumps({
                "mode": self.mode, "wav_name": "parrot", "wav_format": "pcm", "audio_fs": CAPTURE_RATE,
                "is_speaking": True, "chunk_size": CHUNK_SIZE, "chunk_interval": 10, "itn": True,
            }))  # fmt: skip
            for chunk in chunks:
                data = pcm16(chunk)
                for i in range(0, len(data), FRAME * 2):
                    ws.send(data[i : i + FRAME * 2])
                if self.mode == "2pass":
                    while (msg := _recv(ws, 0)) is not None:  # partials that are already here
                        state.add(msg)
                yield state.text, False  # one answer per chunk: the caller paces the stream
            ws.send(json.dumps({"is_speaking": False}))
            settled = False  # a sentence's offline text came after the end flag
            while not state.final:
                msg = _recv(ws, SETTLE_S if settled else self.timeout_s)
                if msg is None:
                    if settled:  # servers that never say is_final: the last offline text is it
                        break
                    raise UserError(f"FunASR server {self.url}: no final text within {self.timeout_s:g} s")
                state.add(msg)
                settled = settled or msg.get("mode") == "2pass-offline"
            yield state.text, True
        except ConnectionClosed:
            raise UserError(f"FunASR server {self.url} closed the connection before the final text") from None
        except OSError as e:
            raise UserError(f"FunASR server {self.url}: {e}") from None


def _recv(ws, timeout: float) -> dict | None:
    try:
        raw = ws.recv(timeout=timeout)
    except TimeoutError:
        return None
    try:
        msg = json.loads(raw)
    except (TypeError, ValueError):
        return {}  # not a result (binary or garbage): ignore
    return msg if isinstance(msg, dict) else {}


class _Transcript:
    """Joins the server's messages into the text so far."""

    def __init__(self) -> None:
        self.done = ""  # sentences the offline pass has settled
        self.online = ""  # streaming pieces of the current sentence
        self.final = False

    @property
    def text(self) -> str:
        return self.done + self.online

    def add(self, msg: dict) -> bool:
        """Take one message; True if the text changed."""
        before = self.text
        text = str(msg.get("text", ""))
        mode = msg.get("mode", "")
        if mode in ("2pass-online", "online"):
            self.online += text
        elif mode in ("2pass-offline", "offline"):
            self.done += text
            self.online = ""
            self.final = self.final or mode == "offline"
        if msg.get("is_final"):
            self.final = True
        return self.text != before
