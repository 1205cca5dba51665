"""The FunASR websocket client against local servers that speak the documented protocol
(FunASR runtime/docs/websocket_protocol.md), one of them running the real Whisper engine on
the PCM it receives; and servers that drop the connection or never answer."""

from __future__ import annotations

import time

import numpy as np
import pytest
from speech_clips import CLIPS, clip, model_dir

from parrot.errors import UserError
from parrot.speech.text import cer

websockets = pytest.importorskip("websockets")
from funasr_server import CHUNK, ProtocolServer  # noqa: E402

from parrot.speech.funasr_ws import FunAsrWsClient  # noqa: E402


def stats(pcm: np.ndarray) -> str:
    return f"n={pcm.size} rms={np.sqrt(np.mean(pcm**2)):.3f}"


@pytest.fixture
def server(request):
    s = ProtocolServer(stats, getattr(request, "param", "ok"))
    yield s
    s.close()


def test_offline_mode_sends_the_documented_first_message_and_pcm16(server):
    x = (0.5 * np.sin(np.arange(24000) / 7)).astype(np.float32)
    text = FunAsrWsClient(server.url, "offline").transcribe(x)
    assert text == stats(np.round(x * 32767) / 32768)
    first = server.first
    assert first["mode"] == "offline" and first["is_speaking"] is True and first["wav_format"] == "pcm"
    assert first["audio_fs"] == 16000 and first["chunk_size"] == [5, 10, 5] and "wav_name" in first


def test_2pass_yields_partials_then_the_offline_text(server):
    chunks = [np.full(CHUNK, 0.1, np.float32) for _ in range(3)]
    client = FunAsrWsClient(server.url, "2pass")

    def slow_chunks():
        for c in chunks:
            yield c
            time.sleep(0.1)  # let the server's partial arrive before the next chunk

    results = list(client.stream(slow_chunks()))
    partials = [t for t, final in results if not final and t]
    assert len(results) == 4 and not any(f for _, f in results[:-1])  # one answer per chunk, then the final
    assert partials and partials[0].startswith("<1>")
    text, final = results[-1]
    assert final and text == stats(np.full(3 * CHUNK, round(0.1 * 32767) / 32768))  # online pieces replaced


@pytest.mark.parametrize("server", ["no_is_final"], indirect=True)
def test_server_that_never_says_is_final_still_ends(server):
    assert FunAsrWsClient(server.url, "2pass").transcribe(np.full(4000, 0.2, np.float32)).startswith("n=4000")


@pytest.mark.parametrize("server", ["drop"], indirect=True)
def test_server_dropping_the_connection_is_a_clear_error_without_hanging(server):
    t = time.monotonic()
    with pytest.raises(UserError, match="closed the connection"):
        FunAsrWsClient(server.url, "offline").transcribe(np.full(48000, 0.2, np.float32))
    assert time.monotonic() - t < 5


@pytest.mark.parametrize("server", ["silent"], indirect=True)
def test_server_that_never_answers_times_out(server):
    with pytest.raises(UserError, match="no final text within 1 s"):
        FunAsrWsClient(server.url, "offline", timeout_s=1).transcribe(np.zeros(1600, np.float32))


def test_no_server_listening():
    with pytest.raises(UserError, match="cannot connect"):
        FunAsrWsClient("ws://127.0.0.1:9", "offline", timeout_s=2).transcribe(np.zeros(1600, np.float32))


def test_real_speech_through_a_server_running_the_default_engine():
    from parrot.speech.whisper import WhisperAsr

    pytest.importorskip("faster_whisper")
    whisper = WhisperAsr(model_dir("whisper-base"))
    s = ProtocolServer(whisper.transcribe)
    try:
        name = "BAC009S0764W0121.wav"
        text = FunAsrWsClient(s.url, "offline").transcribe(clip(name))
        assert cer(CLIPS[name], text) <= 0.15, text
    finally:
        s.close()
