"""The OpenWrt package without the SDK: its procd init script run against a strict stub of
procd's shell API (tests/procd_stub.sh), and the files its Makefile would install laid out by
tools/cross/openwrt_stage.py (running the Makefile's own recipes) and checked."""
from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest


ROOT = Path(__file__).resolve().parents[1]
INIT = ROOT / "firmware" / "openwrt" / "parrot" / "files" / "parrot.init"
STUB = Path(__file__).parent / "procd_stub.sh"


def procd(tmp_path, action, script=INIT):
    log = tmp_path / "procd.log"
    log.unlink(missing_ok=True)
    result = subprocess.run(["sh", str(STUB), str(script), action], capture_output=True, text=True,
                            env={"PROCD_LOG": str(log), "PATH": "/usr/bin:/bin"}, timeout=30)
    calls = [line.split("\t") for line in log.read_text().splitlines()] if log.exists() else []
    return result, calls


def params(calls):
    return {c[1]: c[2:] for c in calls if c[0] == "param"}


def test_start_runs_parrot_with_its_config_under_procd(tmp_path):
    result, calls = procd(tmp_path, "start")
    assert result.returncode == 0, result.stderr
    p = params(calls)
    assert p["command"] == ["/usr/bin/parrot", "run", "--config", "/etc/parrot/config.toml"]
    env = dict(kv.split("=", 1) for kv in p["env"])
    assert env["PARROT_DATA_DIR"] == "/root/parrot" and env["PYTHONUNBUFFERED"] == "1"
    threshold, timeout, retry = map(int, p["respawn"])
    assert retry >= 1 and threshold >= timeout  # gives up instead of restarting forever
    assert p["file"] == ["/etc/parrot/config.toml"]  # procd reloads when the config changes
    assert p["stdout"] == ["1"] and p["stderr"] == ["1"]  # logread sees the app's messages
    assert ["cmd", "mkdir", "-p", "/root/parrot"] in calls
    kinds = [c[0] for c in calls]
    assert kinds.index("open_instance") < kinds.index("param") and kinds[-1] == "close_instance"


def test_reload_and_enable(tmp_path):
    result, calls = procd(tmp_path, "reload")
    assert result.returncode == 0, result.stderr
    assert [c for c in calls if c[0] == "action"] == [["action", "stop"], ["action", "start"]]
    installed = tmp_path / "parrot"  # its name in /etc/init.d
    installed.write_bytes(INIT.read_bytes())
    result, calls = procd(tmp_path, "enable", installed)
    assert result.returncode == 0 and calls == [["enable", "S99parrot", "K10parrot"]]


@pytest.mark.parametrize(
    "mistake,message",
    [
        ("procd_set_param respawn 3600 5", "respawn takes threshold timeout retry"),
        ("procd_set_param comand /usr/bin/parrot", "unknown procd parameter: comand"),
        ("procd_set_param env PARROT_DATA_DIR", "env entry is not KEY=VALUE"),
        ("procd_close_instance", "procd_close_instance without an instance"),
    ],
)
def test_the_stub_rejects_what_procd_would_drop(tmp_path, mistake, message):
    broken = tmp_path / "broken.init"
    text = INIT.read_text().replace("\tprocd_close_instance\n", f"\tprocd_close_instance\n\t{mistake}\n", 1)
    if mistake.startswith("procd_set_param"):
        text = INIT.read_text().replace("\tprocd_set_param stdout 1\n", f"\t{mistake}\n", 1)
    broken.write_text(text)
    result, _ = procd(tmp_path, "start", broken)
    assert result.returncode == 1 and message in result.stderr


@pytest.fixture(scope="module")
def staged(tmp_path_factory):
    stage = tmp_path_factory.mktemp("openwrt") / "stage"
    result = subprocess.run([sys.executable, str(ROOT / "tools/cross/openwrt_stage.py"), str(stage)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return stage / "root"


def test_package_places_the_app_its_data_and_service(staged):
    assert (staged / "etc/init.d/parrot").read_bytes() == INIT.read_bytes()
    assert (staged / "usr/share/parrot/fonts/wqy12.bin").is_file()  # sys.prefix/share: where the app looks
    site = staged / "usr/lib/python3.11/site-packages/parrot"
    assert (site / "cli.py").is_file() and not (site / "llm/core").exists()
    assert "from parrot.cli import main" in (staged / "usr/bin/parrot").read_text()


def test_router_config_picks_what_fits_and_the_lan_asr(staged):
    # validity of the keys: test_deploy_files.py::test_shipped_configs_load
    raw = tomllib.loads((staged / "etc/parrot/config.toml").read_text())
    assert raw["llm"]["model"] == "smollm2-135m"  # the model whose measured RSS fits 512 MB
    assert raw["speech"]["asr"] == "funasr-ws"  # no musl ASR engine: the server on the LAN
    assert raw["audio"]["driver"] == "none"  # until the feed packages the audio libraries
