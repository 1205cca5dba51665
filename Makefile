# Quick start: `make run` (simulator demo -> demo.gif) and `make test`.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv run test build clean fonts peer

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

test: build
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
