"""Deployment files: scripts parse, the unit is complete, device trees compile, configs load."""

import configparser
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
INSTALL_SH = ROOT / "deploy" / "install.sh"
UNIT = ROOT / "deploy" / "parrot.service"
OPENWRT_PKG = ROOT / "firmware" / "openwrt" / "parrot"
DTS_DIR = ROOT / "firmware" / "dts"
CONFIGS = [ROOT / "deploy" / "config.toml", OPENWRT_PKG / "files" / "config.toml"]


@pytest.mark.parametrize(
    "shell,script", [("bash", INSTALL_SH), ("sh", OPENWRT_PKG / "files" / "parrot.init")], ids=["install", "init"]
)
def test_scripts_parse(shell, script):
    result = subprocess.run([shell, "-n", str(script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert os.access(script, os.X_OK), f"{script} is not executable"


def test_install_script_is_strict():
    text = INSTALL_SH.read_text()
    assert "set -euo pipefail" in text
    assert text.startswith("#!/usr/bin/env bash")


def dry_run(tmp_path, *args):
    env = dict(
        os.environ,
        PYTHON=sys.executable,
        PARROT_PREFIX=str(tmp_path / "opt"),
        PARROT_CONFIG_DIR=str(tmp_path / "etc"),
        PARROT_UNIT_DIR=str(tmp_path / "units"),
        PARROT_UDEV_RULE=str(tmp_path / "udev" / "60-parrot-i2c.rules"),
        PARROT_POLKIT_RULE=str(tmp_path / "polkit" / "60-parrot.rules"),
    )
    return subprocess.run(["bash", str(INSTALL_SH), *args], capture_output=True, text=True, env=env, timeout=60)


def test_install_dry_run_prints_actions_and_changes_nothing(tmp_path):
    result = dry_run(tmp_path, "--dry-run")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert f"-m venv {tmp_path / 'opt' / 'venv'}" in out
    assert f"pip install --quiet --upgrade {ROOT}" in out
    assert f"config.toml {tmp_path / 'etc' / 'config.toml'}" in out
    assert "systemctl enable parrot.service" in out
    assert sorted(os.listdir(tmp_path)) == []  # nothing created


def test_install_keeps_an_existing_config(tmp_path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "config.toml").write_text("# mine\n")
    result = dry_run(tmp_path, "--dry-run", "--no-enable")
    assert result.returncode == 0, result.stderr
    assert "keeping existing" in result.stdout
    assert "install -D -m 0644" not in result.stdout
    assert "systemctl enable" not in result.stdout
    assert (tmp_path / "etc" / "config.toml").read_text() == "# mine\n"


def test_install_from_a_prebuilt_wheel(tmp_path):
    wheel = tmp_path / "parrot-0.1.0-cp311-cp311-linux_aarch64.whl"
    wheel.write_bytes(b"PK")  # dry run: only its path is used
    result = dry_run(tmp_path, "--dry-run", "--wheel", str(wheel))
    assert result.returncode == 0, result.stderr
    assert f"pip install --quiet --upgrade --force-reinstall --no-deps {wheel}" in result.stdout
    assert f"pip install --quiet --upgrade {ROOT}" not in result.stdout  # the checkout is not built
    missing = dry_run(tmp_path, "--dry-run", "--wheel", str(tmp_path / "nope.whl"))
    assert missing.returncode == 1 and "no such wheel" in missing.stderr


def test_install_rejects_unknown_option(tmp_path):
    result = dry_run(tmp_path, "--frobnicate")
    assert result.returncode == 2
    assert "unknown option" in result.stderr


def read_unit():
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read_string(UNIT.read_text())
    return parser


def test_unit_has_required_keys():
    unit = read_unit()
    assert unit["Unit"]["Description"]
    assert unit["Service"]["ExecStart"].split()[1:3] == ["run", "--config"]
    assert unit["Service"]["ExecStart"].startswith("/opt/parrot/venv/bin/parrot")
    assert unit["Service"]["Restart"] == "on-failure"
    assert unit["Service"]["User"] == "parrot"
    assert unit["Install"]["WantedBy"] == "multi-user.target"


def test_unit_hardening_still_allows_i2c_and_audio():
    text = UNIT.read_text()
    device_allow = re.findall(r"^DeviceAllow=(.*)$", text, re.M)
    assert "char-i2c rw" in device_allow and "char-alsa rw" in device_allow
    unit = read_unit()["Service"]
    assert unit["DevicePolicy"] == "closed"
    assert set(unit["SupplementaryGroups"].split()) >= {"i2c", "audio"}
    assert unit["ProtectSystem"] == "strict" and unit["NoNewPrivileges"] == "yes"
    assert not re.search(r"^MemoryDenyWriteExecute=", text, re.M)  # breaks libffi callbacks


def test_unit_verifies_with_systemd(tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze not installed")
    unit = tmp_path / "parrot.service"
    # verify wants ExecStart to exist: stand in /bin/true for the venv's script
    unit.write_text(re.sub(r"^ExecStart=\S+", "ExecStart=/bin/true", UNIT.read_text(), flags=re.M))
    result = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60)
    problems = [line for line in result.stderr.splitlines() if "parrot.service" in line and "Unknown" in line]
    assert problems == []


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    text = re.sub(r"//[^\n]*", "", text)
    return re.sub(r'"[^"]*"', '""', text)


@pytest.mark.parametrize("name", ["parrot-i2c-gpio.dtsi", "rk3588-parrot-i2c.dts"])
def test_dts_braces_balance(name):
    text = strip_comments((DTS_DIR / name).read_text())
    depth = 0
    for char in text:
        depth += {"{": 1, "}": -1}.get(char, 0)
        assert depth >= 0
    assert depth == 0
    assert text.count("<") == text.count(">")


def need_dtc():
    if shutil.which("dtc") is None:
        pytest.skip("dtc not installed (apt-get install device-tree-compiler)")


def test_rk3588_overlay_compiles(tmp_path):
    need_dtc()
    result = subprocess.run(
        ["dtc", "-@", "-I", "dts", "-O", "dtb", "-o", str(tmp_path / "o.dtbo"), str(DTS_DIR / "rk3588-parrot-i2c.dts")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "Warning" not in result.stderr, result.stderr


def test_ipq6018_dtsi_compiles_into_a_board(tmp_path):
    need_dtc()
    if shutil.which("cpp") is None:
        pytest.skip("cpp not installed")
    # A minimal "board" with the IPQ6018 pin controller label, and the two GPIO flags the
    # .dtsi takes from the kernel's dt-bindings/gpio/gpio.h (same values).
    bindings = tmp_path / "include" / "dt-bindings" / "gpio"
    bindings.mkdir(parents=True)
    (bindings / "gpio.h").write_text("#define GPIO_ACTIVE_HIGH 0\n#define GPIO_OPEN_DRAIN 6\n")
    board = tmp_path / "board.dts"
    board.write_text(
        "/dts-v1/;\n"
        "/ {\n"
        "\t#address-cells = <1>;\n"
        "\t#size-cells = <1>;\n"
        "\ttlmm: pinctrl@1000000 {\n"
        "\t\treg = <0x1000000 0x300000>;\n"
        "\t\tgpio-controller;\n"
        "\t\t#gpio-cells = <2>;\n"
        "\t};\n"
        "};\n"
        '#include "parrot-i2c-gpio.dtsi"\n'
    )
    pre = subprocess.run(
        ["cpp", "-nostdinc", "-undef", "-x", "assembler-with-cpp", "-I", str(tmp_path / "include"), "-I", str(DTS_DIR)]
        + [str(board), "-o", str(tmp_path / "board.pp.dts")],
        capture_output=True,
        text=True,
    )
    assert pre.returncode == 0, pre.stderr
    out = tmp_path / "board.dtb"
    compile_command = ["dtc", "-I", "dts", "-O", "dtb", "-o", str(out), str(tmp_path / "board.pp.dts")]
    result = subprocess.run(compile_command, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "Warning" not in result.stderr, result.stderr
    decompiled = subprocess.run(["dtc", "-I", "dtb", "-O", "dts", str(out)], capture_output=True, text=True).stdout
    assert decompiled.count('compatible = "i2c-gpio"') == 2
    for gpio in ("gpio29", "gpio30", "gpio31", "gpio32"):
        assert gpio in decompiled


def test_openwrt_package_makefile():
    makefile = (OPENWRT_PKG / "Makefile").read_text()
    assert re.search(r"^PKG_NAME:=parrot$", makefile, re.M)
    depends = " ".join(re.findall(r"\bDEPENDS:=((?:[^\n]*\\\n)*[^\n]*)", makefile))
    for dep in ("+python3-light", "+python3-numpy", "+kmod-i2c-gpio", "+kmod-usb-audio", "+python3-smbus2"):
        assert dep in depends
    assert "./files/parrot.init" in makefile and "./files/config.toml" in makefile
    assert "$(eval $(call BuildPackage,parrot))" in makefile
    # make recipes inside define blocks must be tab-indented
    for block in re.findall(r"^define (?:Build/Prepare|Py3Package/parrot/install)\n(.*?)^endef", makefile, re.M | re.S):
        for line in block.splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                assert line.startswith("\t"), repr(line)


@pytest.mark.parametrize("dep", ["smbus2", "luma-core", "luma-oled", "cbor2"])
def test_openwrt_dependency_makefiles(dep):
    makefile = (ROOT / "firmware" / "openwrt" / f"python-{dep}" / "Makefile").read_text()
    assert re.search(r"^PKG_HASH:=[0-9a-f]{64}$", makefile, re.M)
    assert f"$(eval $(call BuildPackage,python3-{dep}))" in makefile
    for required in re.findall(r"\+(python3-(?:smbus2|luma-core|cbor2))", makefile):
        assert (ROOT / "firmware" / "openwrt" / required.replace("python3-", "python-")).is_dir()


@pytest.mark.parametrize("path", CONFIGS, ids=["debian", "openwrt"])
def test_shipped_configs_load(path):
    raw = tomllib.loads(path.read_text())
    assert raw["keypad"]["address"] == 0x27 and raw["battery"]["address"] == 0x36
    from parrot.config import validate

    validate(raw)  # raises ConfigError on an unknown key or a bad value
