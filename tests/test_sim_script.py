import pytest

from parrot.errors import UserError
from parrot.keys import Key
from parrot.sim.script import LONG_S, Hold, Snap, Wait, WaitFor, parse_keys, parse_script


def test_keys_compact_form():
    steps = parse_keys("6 4+0_!D#")
    holds = [s for s in steps if isinstance(s, Hold)]
    assert [h.key for h in holds] == [Key.K6, Key.K4, Key.K0, Key.D, Key.HASH]
    assert holds[2].seconds == LONG_S
    assert Wait(0.5) in steps and WaitFor("llm-done") in steps


def test_script_file():
    steps = parse_script("# hi\npress 6 4\nlong 0\nhold A 1.5\nwait 2\nwait-for llm-done 60\nwait-for screen chat\nsnap x\npress #\n")
    holds = [s for s in steps if isinstance(s, Hold)]
    assert holds[0].key is Key.K6 and holds[3] == Hold(Key.A, 1.5) and holds[-1].key is Key.HASH
    assert WaitFor("llm-done", timeout_s=60.0) in steps and WaitFor("screen", "chat", 30.0) in steps
    assert Snap("x") in steps


@pytest.mark.parametrize("bad", ["press X", "jump 3", "wait soon", "long", "+"])
def test_bad_script_lines_name_the_line(bad):
    with pytest.raises(UserError):
        if bad == "+":
            parse_keys(bad)
        else:
            parse_script("wait 1\n" + bad, "demo.script")


# --- hardening: times are finite and in range, snap names cannot leave the frames folder


@pytest.mark.parametrize("line", ["wait nan", "wait -1", "wait inf", "wait 1e309", "hold A 0", "hold A nan",
                                  "wait-for llm-done -5", "wait-for screen chat nan", "wait 99999999"])
def test_bad_seconds_are_named(line):
    with pytest.raises(UserError, match=r"script:1: .* seconds is out of range|is not a number"):
        parse_script(line)


@pytest.mark.parametrize("name", ["../../x", "../x", "/tmp/x", "a/b", ".hidden", "..", "x" * 200, "a\\b", ""])
def test_snap_names_stay_inside_the_frames_folder(name):
    with pytest.raises(UserError, match="plain file name"):
        parse_script(f"snap '{name}'")


def test_plain_snap_names_are_kept():
    assert parse_script("snap question-1.v2") == [Snap("question-1.v2")]
