"""A cached registry model is checked before it is loaded (size always, sha256 once per change),
`parrot models verify` hashes everything, and a killed pull's leftovers are cleaned."""
from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time

import pytest

from parrot.cli import main
from parrot.errors import UserError
from parrot.llm import models
from test_llm_models_pull import _fake_registry, _random_bytes


@pytest.fixture
def pulled(tmp_path, monkeypatch):
    payload = _random_bytes(200_000, seed=5)
    entry, index = _fake_registry(tmp_path, payload, 2, name="tinyv")
    monkeypatch.setitem(models.REGISTRY, "tinyv", entry)
    monkeypatch.setenv("PARROT_DATA_DIR", str(tmp_path / "data"))
    path = models.pull_entry(entry, index_args=index, progress=False)
    return path, payload


def test_corrupted_cache_is_refused_on_load(pulled):
    path, payload = pulled
    assert models.resolve_model("tinyv") == path
    with open(path, "r+b") as f:  # one flipped byte in the middle, same size
        f.seek(100_000)
        f.write(bytes([payload[100_000] ^ 0xFF]))
    with pytest.raises(UserError, match=r"model 'tinyv' is corrupt: .*sha256 .*parrot models pull tinyv"):
        models.resolve_model("tinyv")
    path.write_bytes(payload[:-10])
    with pytest.raises(UserError, match="has 199990 bytes, the registry says 200000"):
        models.resolve_model("tinyv")


def test_the_hash_runs_once_per_change(pulled, monkeypatch):
    path, payload = pulled
    hashed = []
    real = models.sha256_of
    monkeypatch.setattr(models, "sha256_of", lambda p: hashed.append(p) or real(p))
    for _ in range(3):
        models.resolve_model("tinyv")
    assert hashed == []  # the pull recorded it
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 5_000_000_000))
    models.resolve_model("tinyv")
    models.resolve_model("tinyv")
    assert hashed == [path]


def test_chat_with_a_corrupted_default_style_name_is_one_line(pulled, capsys):
    path, _ = pulled
    path.write_bytes(b"\0" * 200_000)
    assert main(["chat", "-m", "tinyv", "hi"]) == 1
    err = capsys.readouterr().err
    assert "model 'tinyv' is corrupt" in err and "Traceback" not in err


def test_models_verify_command(pulled, capsys):
    path, payload = pulled
    assert main(["models", "verify", "tinyv"]) == 0
    assert "tinyv" in capsys.readouterr().out
    # a Q8_0 copy made by pull is recorded when written; a changed copy is caught
    q8 = path.parent / models.REGISTRY["tinyv"].q8_filename
    q8.write_bytes(b"q8 bytes")
    models.record_verified(q8, hashlib.sha256(b"q8 bytes").hexdigest())
    assert main(["models", "verify"]) == 0
    out = capsys.readouterr().out
    assert "tinyv-q8" in out and "ok" in out
    q8.write_bytes(b"q8 bytez")
    assert main(["models", "verify"]) == 1
    assert "tinyv-q8               corrupt" in capsys.readouterr().out
    with pytest.raises(UserError, match="is corrupt"):
        models.resolve_model("tinyv-q8")
    assert main(["models", "verify", "nope"]) == 1


PULL = """
import sys
from parrot.llm import models
from test_llm_models_pull import _fake_registry, _random_bytes
from pathlib import Path
entry, index = _fake_registry(Path(sys.argv[1]), _random_bytes(400_000, seed=9), 4, name="tinyk")
real = models._append_member
def slow_append(*a):
    n = real(*a)
    print("part", flush=True)
    import time; time.sleep(30)  # killed here, after the first part
    return n
models._append_member = slow_append
models.pull_entry(entry, Path(sys.argv[1]) / "models", index_args=index, progress=False)
"""


def test_killed_pull_leaves_nothing_the_next_pull_does_not_clean_or_resume(tmp_path):
    tests_dir = os.path.dirname(__file__)
    env = dict(os.environ, PYTHONPATH=tests_dir + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen([sys.executable, "-c", PULL, str(tmp_path)], stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout.readline().strip() == "part"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    dest = tmp_path / "models"
    left = sorted(p.name for p in dest.iterdir())
    assert any(n.startswith(".wheels-") for n in left)  # what a kill leaves
    (dest / ".tinyk.gguf.partial.json.abc123xy.tmp").write_text("{")  # an orphan of atomic_write

    entry, index = _fake_registry(tmp_path, _random_bytes(400_000, seed=9), 4, name="tinyk")
    path = models.pull_entry(entry, dest, index_args=index, progress=False)
    assert path.read_bytes() == _random_bytes(400_000, seed=9)
    assert sorted(p.name for p in dest.iterdir()) == [".pull.lock", ".tinyk.gguf.verified", "tinyk.gguf"]
