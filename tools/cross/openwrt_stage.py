"""Lays out what the OpenWrt `parrot` package would install, by running the package Makefile's
own recipes (Build/Prepare, the Py3Package filespec and install) with the variables the SDK
gives them, then checks the result. The OpenWrt SDK is not in the registries; this covers
everything in the feed that does not need it.

    python tools/cross/openwrt_stage.py STAGE [--wheel WHEEL]

Without --wheel the Python files are installed from the prepared tree the way the SDK's
`installer` step would (fast: `make test` runs this); with --wheel (`make openwrt-stage`, a
wheel whose C core zig built for aarch64 musl) the wheel itself is unpacked. Exit status 1
and one line per problem if a check fails.
"""
from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FEED = ROOT / "firmware" / "openwrt"
PKG = FEED / "parrot"
PY_PKG_DIR = "/usr/lib/python3.11/site-packages"  # OpenWrt's $(PYTHON3_PKG_DIR)
# What the SDK's include/package.mk defines these as.
SDK_COMMANDS = {
    "INSTALL_DIR": "install -d -m0755",
    "INSTALL_BIN": "install -m0755",
    "INSTALL_CONF": "install -m0600",
    "INSTALL_DATA": "install -m0644",
    "CP": "cp -fpR",
    "FIND": "find",
}
# Packages the standard OpenWrt `packages` feed provides (lang/python); the rest must be in ours.
STANDARD_FEED = {"python3-light", "python3-asyncio", "python3-logging", "python3-ctypes", "python3-numpy",
                 "python3-pillow", "python3-setuptools", "python3-urllib", "python3-jinja2"}


def defines(makefile: str) -> dict[str, str]:
    return dict(re.findall(r"^define (\S+)\n(.*?)^endef", makefile, re.M | re.S))


def expand(line: str, variables: dict[str, str]) -> str:
    return re.sub(r"\$\((\w+)\)", lambda m: variables[m.group(1)], line)


def run_recipe(body: str, variables: dict[str, str], cwd: Path) -> None:
    """Each recipe line through sh, as make does ('-' prefix: errors ignored)."""
    for raw in body.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        ignore = line.startswith("-")
        cmd = expand(line.lstrip("-"), variables)
        result = subprocess.run(["sh", "-c", cmd], cwd=cwd, capture_output=True, text=True)
        if result.returncode and not ignore:
            raise SystemExit(f"openwrt_stage: recipe line failed: {cmd}\n{result.stderr.strip()}")


def install_like_installer(build_dir: Path, dest: Path) -> None:
    """What `python -m installer --destdir DEST --prefix /usr` puts down for the prepared tree
    (pure-Python files, data-files, console scripts); the C core comes only from a real wheel."""
    project = tomllib.loads((build_dir / "pyproject.toml").read_text())
    site = dest / PY_PKG_DIR.lstrip("/")
    shutil.copytree(build_dir / "parrot", site / "parrot", ignore=shutil.ignore_patterns("__pycache__"))
    for target, files in project["tool"]["setuptools"].get("data-files", {}).items():
        for name in files:
            src = build_dir / name
            if not src.is_file():
                raise SystemExit(f"openwrt_stage: data file {name} is not in the prepared tree (Build/Prepare misses it)")
            (dest / "usr" / target).mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / "usr" / target / src.name)
    write_scripts(project["project"]["scripts"], dest)


def write_scripts(scripts: dict[str, str], dest: Path) -> None:
    (dest / "usr/bin").mkdir(parents=True, exist_ok=True)
    for name, target in scripts.items():
        module, func = target.split(":")
        script = dest / "usr/bin" / name
        script.write_text(f"#!/usr/bin/python3\nimport sys\nfrom {module} import {func}\nsys.exit({func}())\n")
        script.chmod(0o755)


def install_wheel(wheel: Path, dest: Path) -> None:
    site = dest / PY_PKG_DIR.lstrip("/")
    with zipfile.ZipFile(wheel) as zf:
        for info in zf.infolist():
            parts = info.filename.split("/")
            if ".data" in parts[0] and parts[1] == "data":
                out = dest / "usr" / "/".join(parts[2:])
            elif ".data" in parts[0]:
                continue
            else:
                out = site / info.filename
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(zf.read(info))
    entry = zipfile.ZipFile(wheel).read(next(n for n in zipfile.ZipFile(wheel).namelist() if n.endswith("entry_points.txt")))
    scripts = dict(re.findall(r"^(\S+) = (\S+)$", entry.decode(), re.M))
    write_scripts(scripts, dest)


def apply_filespec(spec: str, install_dir: Path, root: Path) -> None:
    """python3-package.mk's filespec: '+|path' copies path from the install dir, '-|path' removes it."""
    for line in spec.split():
        mode, path = line.split("|", 1)
        path = path.replace("$(PYTHON3_PKG_DIR)", PY_PKG_DIR).lstrip("/")
        src, dst = install_dir / path, root / path
        if mode == "+":
            if src.is_dir():
                shutil.copytree(src, dst, dirs_exist_ok=True)
            elif src.exists():
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dst)
        elif mode == "-":
            shutil.rmtree(dst, ignore_errors=True) if dst.is_dir() else dst.unlink(missing_ok=True)


def check(root: Path, makefile: str, blocks: dict[str, str], with_core: bool) -> list[str]:
    problems = []
    init = root / "etc/init.d/parrot"
    if not init.is_file() or not init.stat().st_mode & 0o111:
        problems.append("/etc/init.d/parrot missing or not executable")
    else:
        if not init.read_text().startswith("#!/bin/sh /etc/rc.common"):
            problems.append("/etc/init.d/parrot does not start with '#!/bin/sh /etc/rc.common'")
        syntax = subprocess.run(["sh", "-n", str(init)], capture_output=True, text=True)
        if syntax.returncode:
            problems.append(f"init script: sh -n: {syntax.stderr.strip()}")
        for var in ("PROG", "CONFIG"):
            m = re.search(rf"^{var}=(\S+)", init.read_text(), re.M)
            if not m or not (root / m.group(1).lstrip("/")).exists():
                problems.append(f"init script {var}={m.group(1) if m else '?'} is not installed by the package")
    for conf in blocks.get("Package/parrot/conffiles", "").split():
        if not (root / conf.lstrip("/")).is_file():
            problems.append(f"conffile {conf} not installed")
    site = root / PY_PKG_DIR.lstrip("/") / "parrot"
    if not (site / "cli.py").is_file():
        problems.append(f"parrot not installed in {PY_PKG_DIR}")
    if (site / "llm" / "core").exists():
        problems.append("the C sources (parrot/llm/core) are shipped; the filespec should drop them")
    cores = list((site / "llm").glob("_core*.so"))
    if with_core:
        if len(cores) != 1:
            problems.append(f"expected one C core in parrot/llm, found {len(cores)}")
        else:
            info = subprocess.run(["file", "-b", str(cores[0])], capture_output=True, text=True).stdout
            if "ARM aarch64" not in info:
                problems.append(f"C core is not an aarch64 ELF: {info.strip()}")
            dynamic = subprocess.run(["readelf", "-d", str(cores[0])], capture_output=True, text=True).stdout
            needed = re.findall(r"\(NEEDED\).*\[(.+)\]", dynamic)
            if needed != ["libc.so"]:  # musl's libc; glibc's would be libc.so.6 (+ libm, libpthread)
                problems.append(f"C core links {needed}, not musl's libc.so alone")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    for target, files in project["tool"]["setuptools"].get("data-files", {}).items():
        for name in files:
            if not (root / "usr" / target / Path(name).name).is_file():
                problems.append(f"/usr/{target}/{Path(name).name} (a data file the app looks up) is not in the package")
    if not (root / "usr/bin/parrot").is_file():
        problems.append("/usr/bin/parrot missing")
    depends = " ".join(re.findall(r"DEPENDS:=((?:[^\n]*\\\n)*[^\n]*)", blocks.get("Package/parrot", "")))
    ours = {f"python3-{d.name.removeprefix('python-')}" for d in FEED.iterdir() if (d / "Makefile").is_file()}
    for dep in re.findall(r"\+(python3-[\w-]+)", depends):
        if dep not in ours | STANDARD_FEED:
            problems.append(f"DEPENDS {dep}: in neither this feed nor the standard packages feed")
    for req in project["project"]["dependencies"]:
        name = re.split(r"[<>=!~ ;\[]", req, maxsplit=1)[0].lower().replace(".", "-")
        pkg = f"python3-{name}"
        transitive = pkg == "python3-luma-core" and "+python3-luma-core" in (FEED / "python-luma-oled/Makefile").read_text()
        if f"+{pkg}" not in depends and not transitive:
            problems.append(f"runtime dependency {req} has no +{pkg} in DEPENDS")
    return problems


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("stage", type=Path)
    ap.add_argument("--wheel", type=Path, help="a built wheel (its C core for the router)")
    args = ap.parse_args()
    makefile = (PKG / "Makefile").read_text()
    blocks = defines(makefile)
    stage = args.stage.resolve()
    shutil.rmtree(stage, ignore_errors=True)
    build, install_dir, root = stage / "build", stage / "pkg-install", stage / "root"
    variables = dict(SDK_COMMANDS, PARROT_SRC=str(ROOT), PKG_BUILD_DIR=str(build),
                     PKG_INSTALL_DIR=str(install_dir), PYTHON3_PKG_DIR=PY_PKG_DIR)
    run_recipe(blocks["Build/Prepare"], variables, PKG)
    if args.wheel:
        install_wheel(args.wheel, install_dir)
    else:
        install_like_installer(build, install_dir)
    apply_filespec(blocks["Py3Package/parrot/filespec"], install_dir, root)
    run_recipe(blocks["Py3Package/parrot/install"], dict(variables, **{"1": str(root)}), PKG)
    problems = check(root, makefile, blocks, with_core=args.wheel is not None)
    for p in problems:
        print(f"openwrt_stage: {p}", file=sys.stderr)
    if not problems:
        size = sum(f.stat().st_size for f in root.rglob("*") if f.is_file())
        files = sum(1 for f in root.rglob("*") if f.is_file())
        print(f"openwrt_stage: ok: {files} files, {size / 1e6:.1f} MB in {root}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
