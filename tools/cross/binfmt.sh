#!/bin/sh
# Lets this x86_64 machine run aarch64 programs by name (needed to chroot into an arm64 rootfs):
# mounts binfmt_misc if a fresh container has not, and registers qemu-user-static's aarch64
# handler (flag F: the interpreter is opened now, so it works inside the chroot too).
set -eu
BINFMT=/proc/sys/fs/binfmt_misc
[ -e "$BINFMT/register" ] || mount -t binfmt_misc binfmt_misc "$BINFMT"
for arch in "$@"; do
	[ -e "$BINFMT/qemu-$arch" ] || cat "/usr/lib/binfmt.d/qemu-$arch.conf" >"$BINFMT/register"
	grep -q '^flags:.*F' "$BINFMT/qemu-$arch" || {
		echo "binfmt.sh: qemu-$arch is registered without flag F (is qemu-user-binfmt installed instead of qemu-user-static?)" >&2
		exit 1
	}
done
