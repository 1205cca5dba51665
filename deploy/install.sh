#!/usr/bin/env bash
# Install parrot as a systemd service on Debian / Armbian / Raspberry Pi OS.
#
#   sudo deploy/install.sh            install or update (safe to run again)
#   sudo deploy/install.sh --wheel F  install the prebuilt wheel F (no compiler needed on the
#                                     board; `make wheel-aarch64` builds one for arm64)
#   deploy/install.sh --dry-run       print what would be done, change nothing
#
# What it does: a system user "parrot" (groups i2c, audio), a udev rule giving the i2c
# group /dev/i2c-*, a virtualenv in /opt/parrot/venv with this checkout installed in it,
# /etc/parrot/config.toml (only if there is none: an existing one is never touched),
# a polkit rule letting the service power the box off, and the parrot.service unit, enabled.
set -euo pipefail

SOURCE_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PREFIX="${PARROT_PREFIX:-/opt/parrot}"
CONFIG_DIR="${PARROT_CONFIG_DIR:-/etc/parrot}"
UNIT_DIR="${PARROT_UNIT_DIR:-/etc/systemd/system}"
UDEV_RULE="${PARROT_UDEV_RULE:-/etc/udev/rules.d/60-parrot-i2c.rules}"
POLKIT_RULE="${PARROT_POLKIT_RULE:-/etc/polkit-1/rules.d/60-parrot-poweroff.rules}"
SERVICE_USER=parrot
STATE_DIR=/var/lib/parrot
MIN_PYTHON=3.11
PYTHON="${PYTHON:-python3}"

DRY_RUN=0
ENABLE=1
WHEEL=""

say() { printf '%s\n' "$*"; }
die() {
	printf 'install.sh: %s\n' "$*" >&2
	exit 1
}

usage() {
	sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
	echo
	echo "options: --dry-run  print actions only    --no-enable  do not enable the unit"
	echo "         --wheel FILE  install a prebuilt wheel instead of building the checkout"
}

while [ $# -gt 0 ]; do
	case "$1" in
	--dry-run | -n) DRY_RUN=1 ;;
	--no-enable) ENABLE=0 ;;
	--wheel)
		[ $# -ge 2 ] || die "--wheel needs a file"
		WHEEL="$2"
		shift
		;;
	-h | --help)
		usage
		exit 0
		;;
	*)
		echo "install.sh: unknown option '$1' (try --help)" >&2
		exit 2
		;;
	esac
	shift
done

# True when systemd is the running init (not in a chroot or an image being built): only then
# can udev and systemd be told to reload; otherwise what is written takes effect at boot.
systemd_running() { [ -d /run/systemd/system ]; }

# Run a command, or only show it in dry-run mode.
run() {
	if [ "$DRY_RUN" = 1 ]; then
		printf '+ %s\n' "$*"
	else
		"$@"
	fi
}

# Write stdin to a file only when the content differs (keeps re-runs quiet and idempotent).
put_file() {
	local path="$1" mode="$2" content
	content="$(cat)"
	if [ -f "$path" ] && [ "$(cat "$path")" = "$content" ]; then
		return 1
	fi
	if [ "$DRY_RUN" = 1 ]; then
		printf '+ write %s (mode %s)\n' "$path" "$mode"
	else
		install -d "$(dirname "$path")"
		printf '%s\n' "$content" >"$path"
		chmod "$mode" "$path"
	fi
}

check_prerequisites() {
	[ -f "$SOURCE_DIR/pyproject.toml" ] || die "run me from a parrot checkout (no pyproject.toml in $SOURCE_DIR)"
	command -v "$PYTHON" >/dev/null || die "$PYTHON not found: apt-get install python3"
	"$PYTHON" -c "import sys; sys.exit(sys.version_info < tuple(map(int, '$MIN_PYTHON'.split('.'))))" ||
		die "parrot needs Python >= $MIN_PYTHON ($("$PYTHON" -V 2>&1) found)"
	"$PYTHON" -c "import venv, ensurepip" 2>/dev/null ||
		die "Python venv support missing: apt-get install python3-venv"
	if [ -n "$WHEEL" ]; then
		[ -f "$WHEEL" ] || die "no such wheel: $WHEEL"
		WHEEL="$(cd "$(dirname "$WHEEL")" && pwd)/$(basename "$WHEEL")"
	fi
	if [ "$DRY_RUN" = 0 ] && [ "$(id -u)" != 0 ]; then
		die "must run as root (sudo $0), or use --dry-run"
	fi
}

setup_user() {
	getent group i2c >/dev/null || run groupadd --system i2c
	if ! id -u "$SERVICE_USER" >/dev/null 2>&1; then
		run useradd --system --home-dir "$STATE_DIR" --no-create-home \
			--shell /usr/sbin/nologin --groups i2c,audio "$SERVICE_USER"
	else
		run usermod --append --groups i2c,audio "$SERVICE_USER"
	fi
}

setup_udev() {
	if put_file "$UDEV_RULE" 0644 <<'RULE'; then
# parrot: the i2c group may use the I2C buses (keypad, OLED, battery gauge)
SUBSYSTEM=="i2c-dev", GROUP="i2c", MODE="0660"
RULE
		if systemd_running; then
			run udevadm control --reload-rules
			run udevadm trigger --subsystem-match=i2c-dev
		else
			say "systemd not running (chroot or image build): the udev rule applies from the next boot"
		fi
	fi
	# i2c-dev creates /dev/i2c-N; load it now and at every boot
	put_file /etc/modules-load.d/parrot-i2c.conf 0644 <<<"i2c-dev" || true
	run modprobe i2c-dev || say "warning: could not load i2c-dev (no I2C on this kernel?)"
}

setup_venv() {
	if [ ! -x "$PREFIX/venv/bin/python" ]; then
		run install -d "$PREFIX"
		run "$PYTHON" -m venv "$PREFIX/venv"
	fi
	run "$PREFIX/venv/bin/pip" install --quiet --upgrade pip
	if [ -n "$WHEEL" ]; then
		# prebuilt C core; --force-reinstall: a rebuilt wheel keeps the same version number
		run "$PREFIX/venv/bin/pip" install --quiet --upgrade --force-reinstall --no-deps "$WHEEL"
		run "$PREFIX/venv/bin/pip" install --quiet "$WHEEL"
	else
		# builds the C core for this CPU; needs a compiler (apt-get install build-essential python3-dev)
		run "$PREFIX/venv/bin/pip" install --quiet --upgrade "$SOURCE_DIR"
	fi
	if [ -f "$SOURCE_DIR/README.md" ]; then
		run install -m 0644 "$SOURCE_DIR/README.md" "$PREFIX/README.md"
	fi
}

setup_config() {
	if [ -e "$CONFIG_DIR/config.toml" ]; then
		say "keeping existing $CONFIG_DIR/config.toml"
	else
		run install -D -m 0644 "$SOURCE_DIR/deploy/config.toml" "$CONFIG_DIR/config.toml"
	fi
}

setup_poweroff_permission() {
	# lets the service's "safe shutdown" run `systemctl poweroff` without being root
	put_file "$POLKIT_RULE" 0644 <<RULE || true
// parrot: the appliance's safe-shutdown menu item may power the machine off
polkit.addRule(function(action, subject) {
    if ((action.id == "org.freedesktop.login1.power-off" ||
         action.id == "org.freedesktop.login1.power-off-multiple-sessions") &&
        subject.user == "$SERVICE_USER") {
        return polkit.Result.YES;
    }
});
RULE
}

setup_unit() {
	# the unit names /opt/parrot; follow PARROT_PREFIX if it was changed
	if sed "s#/opt/parrot#$PREFIX#g" "$SOURCE_DIR/deploy/parrot.service" | put_file "$UNIT_DIR/parrot.service" 0644; then
		if systemd_running; then run systemctl daemon-reload; fi
	fi
	if [ "$ENABLE" = 1 ]; then
		run systemctl enable parrot.service
		say "parrot.service enabled; start it now with: systemctl start parrot"
	fi
}

main() {
	check_prerequisites
	[ "$DRY_RUN" = 1 ] && say "dry run: nothing will be changed"
	setup_user
	setup_udev
	setup_venv
	setup_config
	setup_poweroff_permission
	setup_unit
	say "parrot installed in $PREFIX (config: $CONFIG_DIR/config.toml)"
}

main
