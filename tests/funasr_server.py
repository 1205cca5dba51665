"""A local server speaking the FunASR runtime's websocket protocol
(runtime/docs/websocket_protocol.md) for the client tests; `behaviour` picks a fault."""

from __future__ import annotations

import json
import socket
import threading
import time

import numpy as np
from websockets.sync.server import serve

CHUNK = 9600  # samples in one 600 ms streaming chunk (chunk_size [5, 10, 5])


class ProtocolServer:
    """A FunASR runtime stand-in. `recognise(pcm) -> text` is its ASR; `behaviour` picks a fault."""

    def __init__(self, recognise, behaviour: str = "ok") -> None:
        self.recognise, self.behaviour = recognise, behaviour
        self.first: dict | None = None
        self.received = 0
        self.server = serve(self.handle, "127.0.0.1", 0)
        self.url = f"ws://127.0.0.1:{self.server.socket.getsockname()[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def handle(self, ws) -> None:
        self.first = json.loads(ws.recv())
        mode = self.first["mode"]
        audio = bytearray()
        sent_online = 0
        for msg in ws:
            if isinstance(msg, bytes):
                audio += msg
                self.received = len(audio) // 2
                if self.behaviour == "drop" and self.received > 16000:
                    ws.socket.shutdown(socket.SHUT_RDWR)  # the server process dies mid-utterance
                    return
                while mode == "2pass" and len(audio) // 2 - sent_online >= CHUNK:
                    sent_online += CHUNK
                    ws.send(json.dumps({"mode": "2pass-online", "wav_name": self.first["wav_name"], "text": f"<{sent_online // CHUNK}>", "is_final": False}))
                continue
            if json.loads(msg).get("is_speaking") is False:
                if self.behaviour == "silent":
                    time.sleep(5)
                    return
                pcm = np.frombuffer(bytes(audio), "<i2").astype(np.float32) / 32768
                out_mode = "offline" if mode == "offline" else "2pass-offline"
                ws.send(json.dumps({"mode": out_mode, "wav_name": self.first["wav_name"], "text": self.recognise(pcm),
                                    "is_final": self.behaviour != "no_is_final", "timestamp": "[[0,100]]"}))
                if self.behaviour != "no_is_final":
                    return
        return

    def close(self) -> None:
        self.server.shutdown()
