"""The C core's own test driver (tests/c/core_test.c), built natively and run: GGUF reader,
dequantization, tokenizer and greedy generation without Python, against the `gguf` package,
HF tokenizers and the numpy reference (tests/c/core_fixture.py). The same driver runs on the
boards' CPUs under qemu in `make test-cross` (aarch64 glibc and musl)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_core_test_driver_passes(tmp_path):
    if shutil.which("make") is None or shutil.which(os.environ.get("CC", "cc")) is None:
        pytest.skip("needs make and a C compiler")
    # the target takes the core's source list from tools/cross/targets.mk (setup.py's glob)
    venv_bin = Path(sys.executable).parent
    result = subprocess.run(
        ["make", "-s", "test-core-c", f"CROSS_DIR={tmp_path}", f"BIN={venv_bin}", "STAMP="],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count(" greedy: ") >= 4  # both tiny models, integer and f32 kernel sets
    assert ", 0 failed" in result.stdout
