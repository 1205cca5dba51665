"""`parrot keypad` / `parrot battery` bring-up commands, run against the fake devices."""

import argparse
import re

import pytest

from parrot.keypad import cli


def run(argv, monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))  # no user config: defaults
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    cli.register(sub)
    args = parser.parse_args(argv)
    return args.func(args)


def test_keypad_fake_demo_prints_exactly_the_scripted_events(monkeypatch, tmp_path, capsys):
    assert run(["keypad", "--fake"], monkeypatch, tmp_path) == 0
    out = capsys.readouterr().out
    events = [list(m) for m in re.findall(r"^\s*[\d.]+s\s+(\S+)\s+(\S+)$", out, re.M)]
    assert events == [
        ["1", "press"],
        ["1", "release"],
        ["D", "press"],
        ["D", "long"],
        ["D", "repeat"],  # held 0.8 s: LONG at 0.4, repeats at 0.55 and 0.70
        ["D", "repeat"],
        ["D", "long_release"],
        ["*", "press"],
        ["*", "release"],
    ]
    assert "5 failed reads" in out


def test_battery_fake(monkeypatch, tmp_path, capsys):
    assert run(["battery", "--fake"], monkeypatch, tmp_path) == 0
    assert capsys.readouterr().out.strip() == "80.0 %  3.900 V  not charging"


def test_battery_wrong_address_is_a_message(monkeypatch, tmp_path, capsys):
    assert run(["battery", "--fake", "--address", "0x37"], monkeypatch, tmp_path) == 1
    assert "no battery gauge answering at 0x37" in capsys.readouterr().out


def test_missing_bus_is_a_user_error(monkeypatch, tmp_path):
    from parrot.errors import DeviceError

    with pytest.raises(DeviceError):
        run(["keypad", "--port", "250", "--seconds", "0"], monkeypatch, tmp_path)
