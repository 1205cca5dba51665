"""FunASR in process: `funasr.AutoModel` on a local model directory (config.yaml + model.pt
+ ...), never a hub download. Needs torch, so it is for the bigger boards; the router uses
the websocket client instead."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from parrot.errors import UserError
from parrot.speech.deps import need
from parrot.speech.vad import Segment

REQUIRED = ("config.yaml", "model.pt")


class FunAsrLocal:
    """Asr over a FunASR ASR model; `segments()` over a FunASR VAD model (fsmn-vad)."""

    def __init__(self, directory: str | Path, *, threads: int = 2) -> None:
        need("funasr", "the in-process FunASR engine", "funasr torch")
        directory = Path(directory)
        if not directory.is_dir():
            raise UserError(f"FunASR model directory {directory}: not a directory")
        missing = [f for f in REQUIRED if not (directory / f).is_file()]
        if missing:
            raise UserError(f"FunASR model directory {directory}: missing {', '.join(missing)}")
        import torch
        from funasr import AutoModel

        torch.set_num_threads(threads)
        logging.getLogger("funasr").setLevel(logging.WARNING)
        try:
            # A local path is used as is; disable_update keeps funasr from asking PyPI/a hub.
            self._model = AutoModel(model=str(directory), device="cpu", disable_update=True, disable_pbar=True, log_level="ERROR")
        except Exception as e:  # funasr raises bare Exceptions/AssertionErrors for bad configs
            raise UserError(f"FunASR model {directory}: {type(e).__name__}: {e}") from None
        self.is_vad = "vad" in str(getattr(self._model, "kwargs", {}).get("model", "")).lower()
        self.name = f"funasr ({directory.name})"

    def _run(self, pcm: np.ndarray) -> list[dict]:
        return self._model.generate(input=np.asarray(pcm, np.float32), disable_pbar=True)

    def transcribe(self, pcm: np.ndarray) -> str:
        if self.is_vad:
            raise UserError(f"{self.name} is a voice-activity model, not speech recognition")
        if np.asarray(pcm).size == 0:
            return ""
        from parrot.speech.text import to_simplified

        return to_simplified("".join(str(r.get("text", "")) for r in self._run(pcm)).replace(" ", "").strip())

    def segments(self, pcm: np.ndarray) -> list[Segment]:
        """Speech segments (VAD models): FunASR reports [start_ms, end_ms] pairs."""
        out = []
        for r in self._run(pcm):
            for start_ms, end_ms in r.get("value", []):
                out.append(Segment(int(start_ms) * 16, int(end_ms) * 16))
        return out
