#!/bin/sh
# Checks a cross-built wheel: its platform tag, and that the C core inside is an ELF for the
# target machine (a host-built .so slipping in would import-fail only on the board).
#   check_wheel.sh WHEEL ARCH        ARCH: aarch64 | x86_64 ...
set -eu
wheel="$1" arch="$2"
case "$(basename "$wheel")" in
*-linux_"$arch".whl) ;;
*) echo "check_wheel.sh: $wheel is not tagged linux_$arch" >&2; exit 1 ;;
esac
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
python3 -m zipfile -e "$wheel" "$tmp"
set -- "$tmp"/parrot/llm/_core*.so
[ "$#" = 1 ] && [ -f "$1" ] || { echo "check_wheel.sh: expected one parrot/llm/_core*.so in $wheel" >&2; exit 1; }
want="$(echo "$arch" | sed 's/aarch64/ARM aarch64/; s/x86_64/x86-64/')"
file -b "$1" | grep -q "$want" || { echo "check_wheel.sh: $(basename "$1") is $(file -b "$1")" >&2; exit 1; }
case "$(basename "$1")" in
*"$arch"*) ;;
*) echo "check_wheel.sh: extension name $(basename "$1") does not name $arch" >&2; exit 1 ;;
esac
ls "$tmp"/parrot-*.data/data/share/parrot/fonts/wqy12.bin >/dev/null
echo "check_wheel.sh: $(basename "$wheel"): $(basename "$1"): $(file -b "$1" | cut -d, -f1-2)"
