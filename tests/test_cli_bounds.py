"""Bad numbers, bad text and bad files on every command line: a one-line error naming the
value (argparse exit 2 or UserError exit 1), never an internal error (exit 70)."""
from __future__ import annotations

import builtins
import sys
from pathlib import Path

import pytest

from parrot.cli import main

sys.path.insert(0, str(Path(__file__).parent))
from llm_engine_util import Spec, write_tiny  # noqa: E402

HUGE = "99999999999999999999"

# (argv, the value the message must name)
BAD_ARGS = [
    (["chat", "--min-p", "2", "--top-p", "1", "--max-tokens", "8", "hi"], "'2'"),
    (["chat", "--ctx", HUGE, "hi"], HUGE),
    (["chat", "--max-tokens", HUGE, "hi"], HUGE),
    (["chat", "--top-k", HUGE, "hi"], HUGE),
    (["chat", "--top-k", "-3", "hi"], "'-3'"),
    (["chat", "--temp", "nan", "hi"], "'nan'"),
    (["chat", "--top-p", "inf", "hi"], "'inf'"),
    (["chat", "--repeat-penalty", "0", "hi"], "'0'"),
    (["chat", "--threads", "0", "hi"], "'0'"),
    (["chat", "--seed", "-1", "hi"], "'-1'"),
    (["chat", "\udcff\udcfe"], "0xff"),
    (["chat", "--system", "\udcc3", "hi"], "0xc3"),
    (["render", "x", "-o", "x.png", "--width", "0"], "'0'"),
    (["render", "x", "-o", "x.png", "--scale", "5000"], "'5000'"),
    (["render", "\udcff", "-o", "x.png"], "0xff"),
    (["sim", "--battery", "nan"], "'nan'"),
    (["sim", "--battery", "1e309"], "'1e309'"),
    (["sim", "--battery", "101"], "'101'"),
    (["sim", "--exit-after", "-1"], "'-1'"),
    (["sim", "--exit-after", "inf"], "'inf'"),
    (["sim", "--keys", "\udcff"], "0xff"),
    (["keypad", "--fake", "--seconds", "nan"], "'nan'"),
    (["keypad", "--fake", "--port", HUGE], HUGE),
    (["keypad", "--fake", "--address", "0x1000"], "'0x1000'"),
    (["battery", "--fake", "--address", "zz"], "'zz'"),
    (["ime", "keys", "-n", HUGE, "64426"], HUGE),
    (["ime", "keys", "\udcff"], "0xff"),
    (["bench", "ime", "--keys", "0"], "'0'"),
    (["bench", "display", "--chars-per-token", HUGE], HUGE),
    (["bench", "llm", "--gen", HUGE], HUGE),
    (["say", "--speed", "nan", "hi"], "'nan'"),
    (["say", "--volume", "1e309", "hi"], "'1e309'"),
    (["say", "\udcff"], "0xff"),
    (["bench", "tts", "--repeat", "0"], "'0'"),
]


@pytest.mark.parametrize("argv,named", BAD_ARGS, ids=[" ".join(a).encode("ascii", "replace").decode() for a, _ in BAD_ARGS])
def test_bad_argument_is_a_named_usage_error(argv, named, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert named in err and "internal error" not in err and "Traceback" not in err


def test_good_arguments_still_parse():
    from parrot.cli import build_parser

    args = build_parser().parse_args(["keypad", "--fake", "--address", "0x27", "--port", "1", "--seconds", "0.5"])
    assert (args.address, args.port, args.seconds) == (0x27, 1, 0.5)
    args = build_parser().parse_args(["chat", "--temp", "0", "--top-p", "1", "--min-p", "0.05", "--seed", "7", "hi"])
    assert (args.temp, args.top_p, args.min_p, args.seed) == (0.0, 1.0, 0.05, 7)
    assert build_parser().parse_args(["sim", "--battery", "none"]).battery == "none"


def test_sim_script_not_utf8_is_named(tmp_path, capsys):
    script = tmp_path / "bad.script"
    script.write_bytes(b"press 1\nwait \xff\xfe\n")
    with pytest.raises(SystemExit) as exc:
        main(["sim", "--script", str(script)])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and str(script) in err and "0xff at offset 13" in err


def test_config_with_deep_nesting_or_nan_is_a_config_error(tmp_path, capsys):
    for body, named in (("[ui]\nsplash_s = nan\n", "ui.splash_s"), ("[ui]\nsplash_s = inf\n", "ui.splash_s"),
                        ("[ui]\nsplash_s = " + "[" * 50000 + "\n", "nested too deeply"),
                        ("[ui]\nsplash_s = 1.0 \xff\n", "config file")):
        cfg = tmp_path / "c.toml"
        cfg.write_bytes(body.encode("utf-8", "surrogateescape") if "\xff" not in body else b"[ui]\nsplash_s = \xff\n")
        assert main(["config", "--config", str(cfg)]) == 1
        err = capsys.readouterr().err
        assert named in err and "internal error" not in err, err


def test_chat_repl_survives_invalid_utf8_input(tmp_path, monkeypatch, capsys):
    t = write_tiny(tmp_path / "m.gguf", Spec(arch="qwen2"))
    lines = iter(["\udcff\udcfe", "ok", ""])

    def fake_input(prompt=""):
        line = next(lines)
        if line == "ok":  # a strict-decoding terminal raises instead of escaping
            raise UnicodeDecodeError("utf-8", b"\xfe", 0, 1, "invalid start byte")
        return line

    monkeypatch.setattr(builtins, "input", fake_input)
    assert main(["chat", "-m", str(t.path), "--max-tokens", "2", "--ctx", "128"]) == 0
    err = capsys.readouterr().err
    assert "the input is not valid UTF-8 (byte 0xff at character 0)" in err
    assert "the input is not valid UTF-8 (byte 0xfe)" in err
