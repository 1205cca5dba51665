# Quick start: `make run` (simulator demo -> demo.gif) and `make test`.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv run test build clean fonts test-c fuzz

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

test: build test-c
	$(BIN)/python -m pytest -q

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

fonts:
	$(BIN)/python tools/build_font_atlas.py

clean:
	rm -rf $(VENV) build *.egg-info parrot/llm/_core*.so
