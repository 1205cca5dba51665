import pytest

from parrot.config import SCHEMA, doc_markdown, load_config, validate
from parrot.errors import ConfigError


def test_defaults_without_file(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    cfg = load_config(None)
    assert cfg.source is None or not str(cfg.source).startswith(str(tmp_path))
    assert cfg.display.address == 0x3C
    assert cfg.keypad.layout == "123A456B789C*0#D"


def test_search_path_xdg(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    (tmp_path / "parrot").mkdir()
    (tmp_path / "parrot" / "config.toml").write_text("[display]\naddress = 0x3D\ndriver = 'sh1106'\n")
    cfg = load_config(None)
    assert cfg.display.address == 0x3D and cfg.display.driver == "sh1106"
    assert cfg.source == tmp_path / "parrot" / "config.toml"


@pytest.mark.parametrize(
    "toml, words",
    [
        ("[display]\nadress = 1\n", ["display.adress"]),
        ("[dispaly]\n", ["[dispaly]"]),
        ("[display]\ndriver = 'st7735'\n", ["display.driver", "st7735"]),
        ("[keypad]\npoll_ms = 0\n", ["keypad.poll_ms"]),
        ("[keypad]\nlayout = '123'\n", ["keypad.layout"]),
        ("[keypad]\nlayout = '123A456B789C*0#X'\n", ["keypad.layout"]),
        ("[battery]\nenabled = 'yes'\n", ["battery.enabled", "bool"]),
        ("[power]\nshutdown_command = 'poweroff'\n", ["power.shutdown_command"]),
        ("[keypad]\nrow_pins = ['a']\n", ["keypad.row_pins"]),
        ("[display\n", ["config file"]),
    ],
)
def test_bad_config_names_the_key(tmp_path, toml, words):
    path = tmp_path / "c.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError) as e:
        load_config(path)
    for w in words:
        assert w in str(e.value)


def test_explicit_missing_file():
    with pytest.raises(ConfigError, match="not found"):
        load_config("/nonexistent/parrot.toml")


def test_int_accepted_for_float_and_doc_lists_every_key():
    assert validate({"ui": {"splash_s": 2}})["ui"]["splash_s"] == 2.0
    doc = doc_markdown()
    for section, keys in SCHEMA.items():
        for key in keys:
            assert f"`{section}.{key}`" in doc


def test_cli_config_error_is_one_line(tmp_path, capsys):
    from parrot.cli import main

    path = tmp_path / "c.toml"
    path.write_text("[keypad]\nlong_press_ms = 5\n")
    assert main(["config", "--config", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "keypad.long_press_ms" in err and "Traceback" not in err


def test_unwritable_output_is_one_line(tmp_path, capsys):
    from parrot.cli import main

    assert main(["render", "hi", "-o", str(tmp_path / "no" / "such" / "dir" / "x.png")]) == 0  # parents are made
    assert main(["render", "hi", "-o", "/proc/parrot-test.png"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("parrot: ") and err.count("\n") == 1 and "Traceback" not in err
