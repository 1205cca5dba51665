"""Speaking in the appliance: with speak_answers on, the answer is spoken while it streams
(real espeak-ng voice, the simulator's recording speaker on the board's virtual clock); the
status bar shows the speech indicator; A stops the voice and the generation at once."""

from __future__ import annotations

import numpy as np
import pytest

from parrot.app.assemble import build_appliance
from parrot.app.state import ScreenName
from parrot.audio.sim import RecordingOut
from parrot.boards.test import TestBoard
from parrot.config import Config, validate
from parrot.keys import Key
from parrot.speech.tts_espeak import EspeakTts

QUESTION = "今天天气很好，我们一起去公园散步吧。然后去吃饭，好不好？"


class SpeakingBoard(TestBoard):
    def __init__(self):
        super().__init__()
        self.out = RecordingOut(self.clock.now, rate=22050)

    def audio_out(self):
        return self.out


@pytest.fixture
def appliance(tmp_path):
    board = SpeakingBoard()
    app = build_appliance(board, Config(validate({"ui": {"splash_s": 0.02}})), tmp_path, backend="echo", tts=EspeakTts())
    app.advance(0.05)
    app.board_out = board.out
    yield app
    app.close()


def speaker_icon_shown(appliance) -> bool:
    from parrot.ui.icons import ICONS

    icon = np.array(ICONS["speaking"]).astype(bool)
    appliance.app.render()
    title = np.array(appliance.app.canvas.image.convert("1")).astype(bool)[2:9]
    h, w = icon.shape
    # the icon is drawn inverse (dark on the light title bar): look for its pixels anywhere in the bar
    return any(np.array_equal(~title[:, x : x + w], icon) for x in range(0, title.shape[1] - w))


def test_answer_spoken_while_streaming_with_indicator(appliance):
    chat = appliance.app.screens[ScreenName.CHAT]
    chat.ask(QUESTION)
    spoke_while_busy = False
    while chat.busy:
        appliance.tick()
        spoke_while_busy |= chat.busy and appliance.board_out.busy()
    assert spoke_while_busy, "the first sentence plays before the answer is complete"
    assert appliance.app.status.speaking and speaker_icon_shown(appliance)
    while appliance.board_out.busy():
        appliance.advance(0.1)
    appliance.tick()
    assert not appliance.app.status.speaking and not speaker_icon_shown(appliance)
    said = appliance.runtime.voice.speaker.spoken
    assert said == ["你说：今天天气很好", "我们一起去公园散步吧。", "然后去吃饭，好不好？"]
    assert appliance.board_out.samples().size / 22050 > 3


def test_a_stops_speech_and_generation(appliance):
    chat = appliance.app.screens[ScreenName.CHAT]
    chat.ask(QUESTION * 3)
    while not appliance.board_out.busy():
        appliance.tick()
    assert chat.busy
    key_down = appliance.clock.now()
    appliance.hold(Key.A, 0.08)  # a short press: it is acted on at the press (after debounce)
    appliance.advance(0.1)
    assert not appliance.board_out.busy(), "silent within 100 ms of the key"
    assert not chat.busy and chat.turns[-1].aborted, "generation stopped within 100 ms of the key"
    assert len(chat.turns[-1].answer) < len("你说：" + QUESTION * 3)
    appliance.advance(0.3)
    heard = appliance.board_out.samples()
    assert heard.size and not heard[int((key_down + 0.1) * 22050) :].any(), "nothing played after the key"
    assert not appliance.app.status.speaking


SCRIPT = """wait 1.0
press D
press 1
type 64426D
type 111
wait 0.5
press D
wait-for llm-done 60
wait 2
"""


def test_sim_wav_out_records_the_spoken_answer(tmp_path, monkeypatch):
    """`parrot sim --wav-out` with the default voice: the same bytes every run, and the real
    ASR hears the answer in them."""
    from parrot.cli import main
    from parrot.speech.voices import check_voice, voice_dir

    from speech_clips import model_dir

    whisper, voice = model_dir("whisper-base"), voice_dir()  # before the data directory moves
    if check_voice(voice):
        pytest.skip("the Baker voice is not pulled (parrot tts pull)")
    monkeypatch.setenv("PARROT_DATA_DIR", str(tmp_path / "data"))  # settings, history: throw-away
    (tmp_path / "q.script").write_text(SCRIPT, encoding="utf-8")
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[tts]\nvoice_dir = "{voice}"\nfallback = false\n', encoding="utf-8")
    wavs = []
    for run in ("a", "b"):
        out = tmp_path / f"{run}.wav"
        assert main(["sim", "--fresh", "--backend", "echo", "--config", str(cfg), "--script", str(tmp_path / "q.script"),
                     "--wav-out", str(out)]) == 0
        wavs.append(out.read_bytes())
    assert wavs[0] == wavs[1], "the recording differs between runs"
    from parrot.audio.wav import read_wav

    pcm, rate = read_wav(tmp_path / "a.wav")
    assert rate == 24000 and pcm.size / rate > 1.5 and np.abs(pcm).max() > 0.05
    from parrot.speech.whisper import WhisperAsr

    heard = WhisperAsr(whisper).transcribe(read_wav(tmp_path / "a.wav", 16000)[0])
    assert "你说" in heard and "你好" in heard, heard
