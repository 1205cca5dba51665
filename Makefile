# Quick start: `make run` (simulator demo -> demo.gif) and `make test`.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv run test build clean fonts peer test-arm-kernels

$(STAMP): pyproject.toml setup.py
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test,reference]'
	touch $(STAMP)

venv: $(STAMP)

# Rebuild the C core in place after editing parrot/llm/core/*.c
build: $(STAMP)
	$(BIN)/python setup.py -q build_ext --inplace

run: build
	$(BIN)/parrot models pull --default || true
	$(BIN)/parrot sim --fresh --script demo/demo.script --record demo.gif

test: build test-arm-kernels
	$(BIN)/python -m pytest -q

fonts:
	$(BIN)/python tools/build_font_atlas.py

clean:
	rm -rf $(VENV) build *.egg-info parrot/llm/_core*.so

# llama.cpp's own llama-bench/llama-quantize as a benchmark peer (not a runtime dependency):
# `make peer PEER_DIR=/some/dir`; `parrot bench llm` finds it through PARROT_PEER_DIR.
PEER_DIR ?= build/peer
peer:
	PEER_DIR=$(PEER_DIR) PY=$(BIN)/python nice -n 10 sh tools/build_peer.sh

# The integer kernels on aarch64, cross-compiled and run under qemu user mode: once on a CPU with
# the dot-product extension (cortex-a76), once without (cortex-a53). A few seconds once the
# cross tools are installed (the first run installs them).
ARM_CC ?= aarch64-linux-gnu-gcc
ARM_KERNELS = build/arm/kernels_test
test-arm-kernels:
	@command -v $(ARM_CC) >/dev/null && command -v qemu-aarch64 >/dev/null || \
	  (apt-get update -q && apt-get install -y -q -o DPkg::Lock::Timeout=600 gcc-aarch64-linux-gnu qemu-user)
	mkdir -p build/arm
	$(ARM_CC) -O2 -std=c11 -Wall -Werror -Iparrot/llm/core tests/c/kernels_test.c parrot/llm/core/kernels*.c \
	  parrot/llm/core/quant.c -lm -o $(ARM_KERNELS)
	for cpu in cortex-a76 cortex-a53; do \
	  qemu-aarch64 -cpu $$cpu -L /usr/aarch64-linux-gnu $(ARM_KERNELS) > build/arm/$$cpu.txt; rc=$$?; \
	  echo "$$cpu: $$(tr '\n' ' ' < build/arm/$$cpu.txt)"; [ $$rc -eq 0 ] || exit 1; done
	grep -q "sets on this CPU: dotprod neon portable" build/arm/cortex-a76.txt
	grep -q "sets on this CPU: neon portable" build/arm/cortex-a53.txt

# Cross builds and emulated targets (issue 13): see tools/cross/targets.mk
include tools/cross/targets.mk
