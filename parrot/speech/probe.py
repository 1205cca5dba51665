"""Load a user-supplied ONNX model in a child process first: onnxruntime (inside sherpa-onnx)
aborts the whole process on some models (exit 255), which must not take the appliance down.

The child builds the engine exactly as the app will and runs it on half a second of silence.
`python -m parrot.speech.probe '{json}'` is the child's entry point.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from parrot.errors import UserError

PROBE_TIMEOUT_S = 120
_passed: set[str] = set()  # specs (with file sizes and times) already probed in this process


def _fingerprint(spec: dict) -> str:
    paths = sorted(p for p in _paths(spec))
    stats = [(p, os.stat(p).st_size, os.stat(p).st_mtime_ns) for p in paths if os.path.exists(p)]
    return json.dumps([spec, stats], sort_keys=True)


def _paths(spec: dict):
    yield from spec.get("files", {}).values()
    if "model" in spec:
        yield spec["model"]


def probe_in_child(what: str, spec: dict) -> None:
    """Raise UserError if building `what` ("asr", "vad" or "tts") from `spec` fails or kills the child."""
    key = _fingerprint({"what": what, **spec})
    if key in _passed:
        return
    cmd = [sys.executable, "-m", "parrot.speech.probe", json.dumps({"what": what, **spec})]
    name = spec.get("model") or os.path.dirname(next(iter(spec.get("files", {}).values()), "")) or what
    try:
        result = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=PROBE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise UserError(f"{name}: loading the model took over {PROBE_TIMEOUT_S} s in a test process; refused") from None
    if result.returncode != 0:
        lines = [ln.strip() for ln in result.stderr.splitlines() if ln.strip()]
        why = lines[-1] if lines else "no message"
        how = f"killed by signal {-result.returncode}" if result.returncode < 0 else f"exit status {result.returncode}"
        raise UserError(f"{name}: the model failed to load in a test process ({how}: {why}); refused")
    _passed.add(key)


def _child(spec: dict) -> None:
    import numpy as np

    silence = np.zeros(8000, np.float32)
    if spec["what"] == "tts":
        from parrot.speech.tts_sherpa import SherpaTts

        SherpaTts(spec["model"], spec["kind"], threads=1, check=False).synthesize("你好")
        return
    if spec["what"] == "vad":
        from parrot.speech.vad import SileroVad

        SileroVad(spec["model"]).segments(silence)
    else:
        from parrot.speech.sherpa_asr import build_recognizer, decode

        recognizer = build_recognizer(spec["kind"], spec["files"], 1, spec.get("language", "zh"))
        decode(recognizer, spec["kind"], silence)


if __name__ == "__main__":
    _child(json.loads(sys.argv[1]))
