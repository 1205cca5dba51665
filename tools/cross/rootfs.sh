#!/usr/bin/env bash
# An arm64 Debian 12 root filesystem (the RK3588 / Raspberry Pi OS path) built here with
# mmdebstrap, run under qemu-user through binfmt_misc, and parrot installed into it exactly as
# on a board: deploy/install.sh from the aarch64 wheel.
#
#   rootfs.sh base   DIR              debootstrap-equivalent (cached: skipped if DIR exists)
#   rootfs.sh install DIR WHEEL       copy the checkout + wheel in, run deploy/install.sh
#   rootfs.sh check  DIR              what install.sh wrote: user, groups, udev rule, unit
#   rootfs.sh demo   DIR MODEL        parrot sim --script demo/demo.script --record demo.gif
#   rootfs.sh tests  DIR [PYTEST ARGS] the fast tests against the installed parrot
set -euo pipefail

SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
# What a stock Debian/Armbian board has, plus what install.sh says it needs.
PACKAGES=python3,python3-venv,python3-dev,build-essential,systemd,systemd-sysv,udev,kmod,passwd,ca-certificates

step() { printf '\n== %s  (%s)\n' "$*" "$(date -u +%H:%M:%S)"; }

# Mount what a chroot needs; unmount on exit even when a step fails.
MOUNTED=()
enter() {
	local root="$1"
	for m in proc sys dev dev/pts; do
		mountpoint -q "$root/$m" && continue
		case "$m" in
		proc) mount -t proc proc "$root/proc" ;;
		sys) mount --rbind /sys "$root/sys" && mount --make-rslave "$root/sys" ;;
		dev) mount --bind /dev "$root/dev" ;;
		dev/pts) mount --bind /dev/pts "$root/dev/pts" ;;
		esac
		MOUNTED=("$root/$m" "${MOUNTED[@]}")
	done
	cp -L /etc/resolv.conf "$root/etc/resolv.conf"
	# pip in the chroot trusts what this machine trusts (a TLS-inspecting proxy's CA included)
	cp -L /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
}
leave() {
	for m in "${MOUNTED[@]}"; do umount -l "$m" 2>/dev/null || true; done
}
trap leave EXIT

in_root() {
	local root="$1"
	shift
	chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		LANG=C.UTF-8 "$@"
}

cmd="${1:?usage: rootfs.sh base|install|check|demo|tests DIR ...}"
ROOT="${2:?rootfs directory}"
shift 2
"$SRC/tools/cross/binfmt.sh" aarch64

case "$cmd" in
base)
	if [ -x "$ROOT/usr/bin/python3" ]; then
		echo "rootfs.sh: $ROOT exists, reusing it (rm -rf it to rebuild)"
		exit 0
	fi
	step "mmdebstrap bookworm arm64 -> $ROOT"
	rm -rf "$ROOT.tmp"
	mmdebstrap --arch=arm64 --variant=minbase --include="$PACKAGES" bookworm "$ROOT.tmp" "$MIRROR"
	mv "$ROOT.tmp" "$ROOT"
	in_root "$ROOT" uname -m
	in_root "$ROOT" python3 -V
	;;
install)
	WHEEL="${1:?aarch64 wheel}"
	enter "$ROOT"
	step "copy the checkout and $(basename "$WHEEL") into $ROOT/root/parrot"
	rm -rf "$ROOT/root/parrot"
	mkdir -p "$ROOT/root/parrot/dist"
	git -C "$SRC" ls-files -z | (cd "$SRC" && xargs -0 cp --parents -t "$ROOT/root/parrot")
	cp "$WHEEL" "$ROOT/root/parrot/dist/"
	step "deploy/install.sh --wheel (inside the arm64 rootfs, under qemu)"
	in_root "$ROOT" /root/parrot/deploy/install.sh --wheel "/root/parrot/dist/$(basename "$WHEEL")"
	step "install.sh again (an update: keeps the config, re-installs the wheel)"
	in_root "$ROOT" /root/parrot/deploy/install.sh --wheel "/root/parrot/dist/$(basename "$WHEEL")"
	;;
check)
	enter "$ROOT"
	step "what install.sh left"
	in_root "$ROOT" id parrot
	in_root "$ROOT" sh -c 'id -nG parrot | tr " " "\n" | grep -qx i2c && id -nG parrot | tr " " "\n" | grep -qx audio'
	in_root "$ROOT" cat /etc/udev/rules.d/60-parrot-i2c.rules
	in_root "$ROOT" udevadm verify /etc/udev/rules.d/60-parrot-i2c.rules 2>/dev/null ||
		echo "(udevadm verify needs systemd >= 254; bookworm has 252)"
	in_root "$ROOT" systemctl is-enabled parrot.service
	in_root "$ROOT" systemd-analyze verify /etc/systemd/system/parrot.service
	echo "systemd-analyze verify: ok"
	in_root "$ROOT" /opt/parrot/venv/bin/python -c 'import platform, parrot.llm._core as c; print(platform.machine(), c.__file__)'
	;;
demo)
	MODEL="${1:?model .gguf}"
	enter "$ROOT"
	mkdir -p "$ROOT/var/lib/parrot/models"
	cp "$MODEL" "$ROOT/var/lib/parrot/models/"
	# every instruction is emulated: short answers, and the script's real-time limit for an
	# answer (wait-for llm-done) raised from minutes to an hour
	printf '[llm]\nthreads = 2\nmax_tokens = 24\ncontext = 512\n' >"$ROOT/root/demo-config.toml"
	sed 's/^wait-for llm-done [0-9]*$/wait-for llm-done 3600/' "$SRC/demo/demo.script" >"$ROOT/root/demo.script"
	step "parrot sim --script demo/demo.script --record demo.gif (model $(basename "$MODEL"), max_tokens 24)"
	in_root "$ROOT" sh -c "cd /root/parrot && PARROT_DATA_DIR=/var/lib/parrot /opt/parrot/venv/bin/parrot sim --fresh \
		--config /root/demo-config.toml --model /var/lib/parrot/models/$(basename "$MODEL") \
		--script /root/demo.script --record /root/demo.gif"
	ls -l "$ROOT/root/demo.gif"
	;;
tests)
	enter "$ROOT"
	step "pytest $* (installed parrot, tests from the checkout, under qemu)"
	# run from a copy of tests/ only, so `import parrot` is the installed wheel, not the source
	rm -rf "$ROOT/root/parrot-tests" && mkdir -p "$ROOT/root/parrot-tests"
	cp -r "$ROOT/root/parrot/tests" "$ROOT/root/parrot/pyproject.toml" "$ROOT/root/parrot-tests/"
	# The wheel's test extra (pytest, gguf, pypinyin, jieba...) and HF tokenizers (a reference
	# the tokenizer tests compare against), fetched by this machine's pip for aarch64 (pip's
	# TLS under emulation is slow and flaky), installed in the chroot from that directory only.
	wheel="$(cd "$ROOT" && ls root/parrot/dist/parrot-*.whl)"
	pip="$SRC/build/cross/venv/bin/pip"
	rm -rf "$ROOT/root/wheels"
	for req in $(python3 -c "import tomllib; print(' '.join(tomllib.load(open('$SRC/pyproject.toml', 'rb'))['project']['optional-dependencies']['test']))") tokenizers setuptools wheel; do
		"$pip" download -q -d "$ROOT/root/wheels" --python-version 3.11 --implementation cp --only-binary=:all: \
			--platform manylinux2014_aarch64 --platform manylinux_2_28_aarch64 --platform linux_aarch64 "$req" 2>/dev/null ||
			"$pip" download -q -d "$ROOT/root/wheels" --no-deps --no-binary=:all: "$req" # sdist only (jieba)
	done
	in_root "$ROOT" /opt/parrot/venv/bin/pip install --quiet --no-index --find-links /root/wheels "/$wheel[test]" tokenizers
	in_root "$ROOT" sh -c "cd /root/parrot-tests && /opt/parrot/venv/bin/python -m pytest -q -p no:cacheprovider $*"
	;;
*)
	echo "rootfs.sh: unknown command $cmd" >&2
	exit 2
	;;
esac
