"""Vocabulary-sized buffers freed by a re-rank or a generation go back to the system
(parrot/llm/heap.py): a loop like the re-ranker's leaves no resident growth once a Model exists."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from llm_engine_util import Spec, write_tiny  # noqa: E402

RERANK_LIKE = """
import sys, numpy as np
from parrot.bench.soak import rss_mb
if sys.argv[1] != "-":
    from parrot.llm import Model
    Model(sys.argv[1], threads=1, context=64).close()
base, keep = rss_mb(), []
# glibc raises its mmap threshold to the largest mmapped block freed (up to 32 MB): a re-rank's
# block of logits rows and temporaries does that; later blocks then come from the heap
warm = np.ones(30 << 20, np.uint8)
del warm
for i in range(8):
    rows = np.ones((10 + 4 * i, 151936), np.float32)  # a block of logits rows, larger each time
    keep.append(np.ones(20000 + i, np.uint8))        # a buffer made meanwhile, kept (above it)
    del rows
print(rss_mb() - base)
"""


def growth_mb(model: str) -> float:
    out = subprocess.run([sys.executable, "-c", RERANK_LIKE, model], capture_output=True, text=True, timeout=120, check=True)
    return float(out.stdout.split()[-1])


def test_a_model_keeps_freed_logits_blocks_from_staying_resident(tmp_path):
    if "glibc" not in " ".join(__import__("platform").libc_ver()):
        pytest.skip("the dynamic mmap threshold is glibc's")
    assert growth_mb("-") > 10, "without the fix the freed blocks stay resident (the test can fail)"
    tiny = write_tiny(tmp_path / "m.gguf", Spec(arch="qwen2"))
    assert growth_mb(str(tiny.path)) < 2
