# Quick start: `make run` (simulator demo -> demo.gif) and `make test`.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Two stamps: running needs only the runtime dependencies (about 120 MB of virtualenv);
# the tests add pytest and the outside references (torch, transformers: about 1.2 GB).
RUN_STAMP := $(VENV)/.installed-run
TEST_STAMP := $(VENV)/.installed-test

.PHONY: venv run test build clean fonts browser-deps web web-screenshot

$(RUN_STAMP): pyproject.toml setup.py
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e .
	touch $(RUN_STAMP)

$(TEST_STAMP): $(RUN_STAMP)
	$(BIN)/pip install -q -e '.[test,reference]'
	touch $(TEST_STAMP)

venv: $(RUN_STAMP)

# Rebuild the C core in place after editing parrot/llm/core/*.c
build: $(RUN_STAMP)
	$(BIN)/python setup.py -q build_ext --inplace

run: build
	$(BIN)/parrot models pull --default || true
	$(BIN)/parrot sim --fresh --script demo/demo.script --record demo.gif

test: $(TEST_STAMP) build browser-deps
	$(BIN)/python -m pytest -q

# Debian's chromium for the web simulator's browser test (Playwright drives it; its own browser
# download needs the network). Other jobs may hold the dpkg lock: wait for it.
CHROMIUM ?= /usr/bin/chromium
browser-deps:
	@test -x $(CHROMIUM) || { apt-get -o DPkg::Lock::Timeout=600 update -q && \
	  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends chromium; }

# The web simulator on http://127.0.0.1:8128 (loopback only)
web: build
	$(BIN)/parrot web

# docs/web-sim.png, taken by the browser test
web-screenshot: $(TEST_STAMP) build browser-deps
	PARROT_WEB_SCREENSHOT=docs/web-sim.png $(BIN)/python -m pytest -q tests/test_web_browser.py

fonts:
	$(BIN)/python tools/build_font_atlas.py

clean:
	rm -rf $(VENV) build *.egg-info parrot/llm/_core*.so
