"""SIGKILL at random points of the history and user-dictionary saves, 100 times: every file
is always complete JSON, and nothing that was committed (saved before the kill) is lost.
The next start also removes the temp files the kills left."""
from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import textwrap
import time

KILLS = 100


def chinese(n: int) -> str:
    return "".join("零一二三四五六七八九"[int(d)] for d in str(n))

# The app's own write paths: UserDictionary.save() and atomic_write of history.json. A line
# "committed N" is printed only after both saves of entry N returned.
WRITER = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    from parrot.ime.dictionary import UserDictionary
    from parrot.storage import atomic_write

    DIGITS = "零一二三四五六七八九"
    READINGS = ("ling", "yi", "er", "san", "si", "wu", "liu", "qi", "ba", "jiu")

    def word(n):  # a distinct real word per entry: 12 -> 一二 (yi er)
        return "".join(DIGITS[int(d)] for d in str(n)), tuple(READINGS[int(d)] for d in str(n))

    folder = Path(sys.argv[1])
    words = UserDictionary(folder / "user_dict.json", capacity=100000)
    history_path = folder / "history.json"
    history = json.loads(history_path.read_text("utf-8")) if history_path.exists() else []
    n = len(history)
    print("ready", flush=True)
    while True:
        words.learn(*word(n))
        history.append({"q": f"问题 {n}", "a": "回答" * (n % 50)})
        words.save()
        atomic_write(history_path, json.dumps(history, ensure_ascii=False, indent=1))
        print(f"committed {n}", flush=True)
        n += 1
""")


def test_sigkill_during_saves_never_corrupts_or_loses_a_committed_entry(tmp_path):
    rng = random.Random(2024)
    committed = -1
    for _ in range(KILLS):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path)], stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.0, 0.05))  # somewhere inside a save (they follow each other)
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate()
        lines = [ln for ln in out.splitlines() if ln.startswith("committed ")]
        if lines:
            committed = int(lines[-1].split()[1])

        history = json.loads((tmp_path / "history.json").read_text("utf-8")) if committed >= 0 else []
        words = json.loads((tmp_path / "user_dict.json").read_text("utf-8"))["words"] if committed >= 0 else []
        have_q = {h["q"] for h in history}
        have_w = {w[0] for w in words}
        lost = [n for n in range(committed + 1) if f"问题 {n}" not in have_q or chinese(n) not in have_w]
        assert not lost, f"committed entries lost: {lost[:5]}"
    assert committed >= KILLS // 2  # the writer did get work done between the kills
    assert not list(tmp_path.glob("*.corrupt-*"))  # never a file the loader had to set aside
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    from parrot.storage import claim_data_dir, release_data_dir

    claim_data_dir(tmp_path)  # the next start
    release_data_dir(tmp_path)
    print(f"{KILLS} kills, {committed + 1} entries committed and kept, {len(leftovers)} orphan temp file(s) cleaned")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".lock", "history.json", "user_dict.json"], leftovers
