"""Our converted GGUF files in llama.cpp (the format's reference consumer), against transformers.

Runs only where llama-cpp-python is importable, here or in the interpreter named by
$PARROT_PEER_PYTHON (it is never a dependency); skipped otherwise.
"""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest

import llm_tiny
from parrot.llm.bench import _peer_python

if _peer_python() is None:  # decided before importing torch: a skip should cost nothing
    pytest.skip("llama-cpp-python not importable (set PARROT_PEER_PYTHON to an interpreter that has it)",
                allow_module_level=True)

torch = pytest.importorskip("torch")

_SCRIPT = r"""
import json, sys
import numpy as np
from llama_cpp import Llama
a = json.loads(sys.argv[1])
out = {}
for path in a["paths"]:
    llm = Llama(model_path=path, n_ctx=128, n_threads=2, logits_all=True, verbose=False)
    llm.eval(a["ids"][path])
    out[path] = np.asarray(llm.scores[: len(a["ids"][path])], dtype=np.float32).tolist()
    tokens = llm.tokenize(a["text"].encode(), add_bos=False, special=True)
    out[path + ":tokens"] = tokens
print(json.dumps(out))
"""

TEXT = "你好，电子鹦鹉! The parrot says 42."


@pytest.fixture(scope="module")
def llama_cpp_results():
    python = _peer_python()
    cases = [(arch, t) for arch in llm_tiny.ARCHS for t in ("f32", "q8_0")]
    paths = {str(llm_tiny.tiny_gguf(arch, t)): (arch, t) for arch, t in cases}
    ids = {p: llm_tiny.tiny_hf_tokenizer(arch).encode(TEXT) for p, (arch, _) in paths.items()}
    args = json.dumps({"paths": list(paths), "ids": ids, "text": TEXT})
    result = subprocess.run([python, "-c", _SCRIPT, args], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    return paths, ids, json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("out_type,tolerance", [("f32", 1e-3), ("q8_0", 5e-2)])
@pytest.mark.parametrize("arch", llm_tiny.ARCHS)
def test_llama_cpp_logits_match_transformers(llama_cpp_results, arch, out_type, tolerance):
    paths, ids, results = llama_cpp_results
    path = str(llm_tiny.tiny_gguf(arch, out_type))
    got = np.array(results[path], dtype=np.float32)
    with torch.no_grad():
        ref = llm_tiny.tiny_reference(arch)(torch.tensor([ids[path]])).logits[0].numpy()
    err = float(np.abs(got - ref).max() / np.abs(ref).max())
    print(f"llama.cpp {arch} {out_type}: max rel logit error {err:.2e}")
    assert err < tolerance


@pytest.mark.parametrize("arch", llm_tiny.ARCHS)
def test_llama_cpp_tokenizes_like_transformers(llama_cpp_results, arch):
    """Our tokenizer metadata (pre-tokenizer name, token types, merges) read by llama.cpp."""
    _, ids, results = llama_cpp_results
    path = str(llm_tiny.tiny_gguf(arch, "q8_0"))
    assert results[path + ":tokens"] == ids[path]
