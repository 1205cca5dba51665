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
