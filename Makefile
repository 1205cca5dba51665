# Quick start: `make run` (simulator demo -> demo.gif) and `make test`.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv run test build clean fonts

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

# Cross builds and emulated targets (issue 13): see tools/cross/targets.mk
include tools/cross/targets.mk
