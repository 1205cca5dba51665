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
