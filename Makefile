# Quick start: `make run` (simulator demo -> demo.gif) and `make test`.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv run test build clean fonts audio-deps

$(STAMP): pyproject.toml setup.py
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[speech,test,reference]'
	touch $(STAMP)

venv: $(STAMP)

# Rebuild the C core in place after editing parrot/llm/core/*.c
build: $(STAMP)
	$(BIN)/python setup.py -q build_ext --inplace

run: build
	$(BIN)/parrot models pull --default || true
	$(BIN)/parrot tts pull --quiet || true
	$(BIN)/parrot sim --fresh --script demo/demo.script --record demo.gif

test: build
	$(BIN)/parrot models pull --speech --quiet || true
	$(BIN)/parrot tts pull --quiet || true
	$(BIN)/python -m pytest -q

# PortAudio for the sounddevice microphone/speaker (Debian); the app runs text-only without it.
audio-deps:
	apt-get update
	apt-get install -y -o DPkg::Lock::Timeout=600 libportaudio2

fonts:
	$(BIN)/python tools/build_font_atlas.py

clean:
	rm -rf $(VENV) build *.egg-info parrot/llm/_core*.so
