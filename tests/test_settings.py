import json

from parrot.app.settings import SETTINGS, cycle, defaults, load_settings, save_settings


def test_roundtrip_and_cycle(tmp_path):
    path = tmp_path / "settings.json"
    values = defaults()
    values["contrast"] = cycle("contrast", values["contrast"])
    save_settings(path, values)
    assert load_settings(path) == values
    assert not [p for p in tmp_path.iterdir() if p.name != "settings.json"]  # no temp files left


def test_bad_or_stale_values_fall_back(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"contrast": 7, "nope": 1, "thinking": True}))
    values = load_settings(path)
    assert values["contrast"] == defaults()["contrast"] and values["thinking"] is True and "nope" not in values
    path.write_text("{broken")
    assert load_settings(path) == defaults()


def test_cycle_wraps_both_ways():
    s = SETTINGS[0]
    assert cycle(s.key, s.values[-1]) == s.values[0]
    assert cycle(s.key, s.values[0], -1) == s.values[-1]
