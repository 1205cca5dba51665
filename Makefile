# Quick start: `make run` (simulator demo -> demo.gif) and `make test`.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Two stamps: running installs the app and its voice, never torch or transformers (README:
# virtualenv sizes); the tests add pytest and the outside references the engine is checked against.
RUN_STAMP := $(VENV)/.installed-run
TEST_STAMP := $(VENV)/.installed-test

.PHONY: venv run test build clean fonts peer test-quants audio-deps test-c fuzz test-arm-kernels browser-deps ime-deps web web-screenshot

$(RUN_STAMP): pyproject.toml setup.py
	$(PY) -m venv $(VENV)
	# `make build` runs setup.py with the virtualenv's own setuptools: the version the build
	# needs (pyproject's build-system), not the old one `venv` seeds (it rejects license = "MIT")
	$(BIN)/pip install -q --upgrade pip 'setuptools>=77'
	$(BIN)/pip install -q -e '.[speech,web]'
	touch $(RUN_STAMP)

$(TEST_STAMP): $(RUN_STAMP)
	$(BIN)/pip install -q -e '.[speech,web,test,reference]'
	touch $(TEST_STAMP)

venv: $(RUN_STAMP)

# Rebuild the C core in place after editing parrot/llm/core/*.c
build: $(RUN_STAMP)
	$(BIN)/python setup.py -q build_ext --inplace

run: build
	$(BIN)/parrot models pull --default
	$(BIN)/parrot tts pull --quiet
	$(BIN)/parrot sim --fresh --script demo/demo.script --record demo.gif --wav-out demo.wav
	# the voice demo: a question spoken (by the default voice) into the microphone while C is held
	$(BIN)/parrot models pull --speech --quiet
	$(BIN)/parrot say "北京是中国的首都吗？" -o demo-question.wav
	$(BIN)/parrot sim --fresh --script demo/voice.script --wav-in demo-question.wav --wav-out demo-voice.wav --record demo-voice.gif

test: $(TEST_STAMP) build test-c test-arm-kernels browser-deps ime-deps
	$(BIN)/parrot models pull --speech --quiet
	$(BIN)/parrot tts pull --quiet
	$(BIN)/python -m pytest -q

# PortAudio for the sounddevice microphone/speaker (Debian); the app runs text-only without it.
audio-deps:
	apt-get update
	apt-get install -y -o DPkg::Lock::Timeout=600 libportaudio2

# The C sampler under AddressSanitizer + UndefinedBehaviorSanitizer (a few seconds).
SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
test-c:
	mkdir -p build/c-tests
	$(CC) -std=c11 -g -O1 $(SAN) -Iparrot/llm/core tests/c/sample_test.c parrot/llm/core/sample.c -lm -o build/c-tests/sample_test
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 build/c-tests/sample_test

# Long fuzzing of every outside input (GGUF, tokenizer, config, scripts, keypad bytes); what it
# finds is saved under tests/data/fuzz/regressions/ and replayed by make test.
FUZZ_MINUTES ?= 10
fuzz: build
	$(BIN)/python tools/fuzz.py --minutes $(FUZZ_MINUTES)

# Debian's chromium for the web simulator's browser test (Playwright drives it; its own browser
# download needs the network). Other jobs may hold the dpkg lock: wait for it.
CHROMIUM ?= /usr/bin/chromium
browser-deps:
	@test -x $(CHROMIUM) || { apt-get -o DPkg::Lock::Timeout=600 update -q && \
	  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends chromium; }

# libime's language model (the source of parrot/ime/data/sentence.lm) and KenLM's build_binary
# (libime_slm_build_binary), the outside reference for tools/kenlm_reader.py in the tests.
ime-deps:
	@test -x /usr/bin/libime_slm_build_binary && ls /usr/lib/*/libime/zh_CN.lm >/dev/null 2>&1 || \
	  { apt-get -o DPkg::Lock::Timeout=600 update -q && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 \
	    install -y -q --no-install-recommends libime-bin libime-data-language-model; }

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

# llama.cpp's own llama-bench/llama-quantize as a benchmark peer (not a runtime dependency):
# `make peer PEER_DIR=/some/dir`; `parrot bench llm` finds it through PARROT_PEER_DIR.
PEER_DIR ?= build/peer
peer:
	PEER_DIR=$(PEER_DIR) PY=$(BIN)/python nice -n 10 sh tools/build_peer.sh

# The low-bit files of issue 14 (Q2_K, Q3_K_S, IQ4_NL, IQ4_XS), made by llama.cpp's llama-quantize
# from the registry model into ~/.local/share/parrot/models/test-quants (not the repository), then
# their slow tests (greedy answers, agreement with llama.cpp's llama-completion). Needs `make peer`.
test-quants: build
	PEER_DIR=$(PEER_DIR) PARROT=$(BIN)/parrot sh tools/make_test_quants.sh
	PARROT_PEER_DIR=$(PEER_DIR) $(BIN)/python -m pytest -q -m slow tests/test_llm_quants_real.py

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
