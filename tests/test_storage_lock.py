"""Two processes on one data folder: the second is refused with a clear message, so neither
overwrites the other's words (before the lock, 147 of 150 learned words were lost)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from parrot.storage import DataDirBusy, claim_data_dir, release_data_dir

# A writer like the app: load the user dictionary, then learn and save one word per stdin line.
WRITER = textwrap.dedent("""
    import sys
    from parrot.errors import UserError
    from parrot.ime.dictionary import UserDictionary
    try:
        d = UserDictionary(sys.argv[1])
    except UserError as e:
        print("refused:", e, flush=True)
        sys.exit(1)
    print("ready", flush=True)
    for line in sys.stdin:
        word = line.strip()
        d.learn(word, ("ni",))
        d.save()
        print("saved", flush=True)
""")


def start_writer(path):
    return subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_two_writers_lose_nothing(tmp_path):
    path = tmp_path / "user_dict.json"
    a = start_writer(path)
    assert a.stdout.readline().strip() == "ready"
    b = start_writer(path)
    first = b.stdout.readline().strip()
    writers = [a] if first.startswith("refused") else [a, b]
    if first.startswith("refused"):
        assert f"in use by another parrot (pid {a.pid})" in first and "PARROT_DATA_DIR" in first
        assert b.wait(timeout=30) == 1
    written = []
    for i in range(150):
        w = writers[i % len(writers)]
        word = f"词{i}"
        w.stdin.write(word + "\n")
        w.stdin.flush()
        assert w.stdout.readline().strip() == "saved"
        written.append(word)
    for w in writers:
        w.stdin.close()
        assert w.wait(timeout=30) == 0
    kept = {entry[0] for entry in json.loads(path.read_text("utf-8"))["words"]}
    assert not set(written) - kept, f"{len(set(written) - kept)} of {len(written)} learned words lost"


def test_lock_is_dropped_when_the_holder_dies(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", "import sys,time; from parrot.storage import claim_data_dir;"
                               "claim_data_dir(sys.argv[1]); print('held', flush=True); time.sleep(60)", str(tmp_path)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(DataDirBusy, match=str(holder.pid)):
            claim_data_dir(tmp_path)
    finally:
        holder.kill()
        holder.wait()
    assert claim_data_dir(tmp_path) == tmp_path.resolve()
    assert claim_data_dir(tmp_path) == tmp_path.resolve()  # the same process may claim again
    release_data_dir(tmp_path)


def test_claim_removes_orphan_temp_files_only(tmp_path):
    (tmp_path / ".history.json.k3j_x9ab.tmp").write_text("half")
    (tmp_path / "history.json").write_text("[]")
    (tmp_path / "notes.tmp").write_text("mine")
    (tmp_path / "conversations").mkdir()
    (tmp_path / "conversations" / ".c1.json.a8d_3kq0.tmp").write_text("half")
    (tmp_path / "models").mkdir()  # a pull may be writing there: its own lock, its own cleaning
    (tmp_path / "models" / ".state.json.zz91_ab3.tmp").write_text("live")
    claim_data_dir(tmp_path)
    release_data_dir(tmp_path)
    assert sorted(os.listdir(tmp_path)) == [".lock", "conversations", "history.json", "models", "notes.tmp"]
    assert os.listdir(tmp_path / "conversations") == []
    assert os.listdir(tmp_path / "models") == [".state.json.zz91_ab3.tmp"]


def test_second_sim_on_the_same_folder_is_refused(tmp_path):
    env = dict(os.environ, PARROT_DATA_DIR=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "cfg"))
    holder = subprocess.Popen([sys.executable, "-c", "import sys,time; from parrot.storage import claim_data_dir;"
                               "claim_data_dir(sys.argv[1]); print('held', flush=True); time.sleep(60)", str(tmp_path)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        r = subprocess.run([sys.executable, "-m", "parrot", "sim", "--headless", "--backend", "echo", "--keys", "1"],
                           env=env, capture_output=True, text=True, timeout=120)
    finally:
        holder.kill()
        holder.wait()
    assert r.returncode == 1, r.stderr
    assert f"is in use by another parrot (pid {holder.pid})" in r.stderr and "Traceback" not in r.stderr
