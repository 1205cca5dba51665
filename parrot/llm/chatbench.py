"""The chat benchmark: requests whose answers repeat their context (rewriting, correcting,
code editing, turning notes into a list) — the everyday cases where prompt lookup pays.

Each task is answered greedily twice from a fresh cache: plain decoding, then prompt lookup.
The texts must be identical; the figure is effective decode tokens/s over all tasks (tokens
produced / decoding time), and the share of draft tokens accepted."""

from __future__ import annotations

import dataclasses

TASKS: list[tuple[str, str]] = [
    ("rewrite-zh", "把下面这段话改写得更正式一些，保留所有信息，只输出改写后的段落：\n\n"
     "电子鹦鹉是个挺好玩的小盒子。它不用联网，按键就能打中文，问它问题它会在屏幕上回答，"
     "还会把答案念出来。电池能用一整天，充电用普通的USB线就行。"),
    ("fix-typos-en", "Fix the spelling mistakes in the text below and output the corrected text only:\n\n"
     "The parot is a smal offline asistant. It runs a languge model on a tiny bord, shows the "
     "answr on a little screan and reads it out loud. It needs no netwrok and the batery lasts a day."),
    ("code-edit", "Rename the function `mean` to `average`, add type hints, and output the whole code:\n\n"
     "def mean(xs):\n    total = 0\n    count = 0\n    for x in xs:\n        total += x\n"
     "        count += 1\n    if count == 0:\n        return 0\n    return total / count\n\n\n"
     "def spread(xs):\n    m = mean(xs)\n    return max(xs) - min(xs), m\n"),
    ("notes-to-list-zh", "把下面的会议记录整理成要点列表，每条一行，用原文的说法：\n\n"
     "周一上午开会。第一，键盘的按键手感要改进，下周出新样品。第二，屏幕亮度在户外不够，"
     "要换更亮的屏幕。第三，电池续航测试结果是十四个小时，达到目标。第四，语音识别在嘈杂环境下"
     "错误较多，需要加降噪。下次会议在周五下午。"),
]
MAX_TOKENS = 160


def run_chat_bench(path: str, threads: int, lookup: int, kernels: str | None = None) -> dict:
    from parrot.llm import GREEDY, Model

    plain_s = dataclasses.replace(GREEDY, max_tokens=MAX_TOKENS, lookup=0)
    spec_s = dataclasses.replace(plain_s, lookup=lookup)
    rows = []
    with Model(path, threads=threads, context=2048, kernels=kernels) as m:
        m.eval(m.tokenize("warm up", special=False))  # touches the weights once
        for name, text in TASKS:
            out = {}
            for label, s in (("plain", plain_s), ("lookup", spec_s)):
                m.reset()
                answer = "".join(m.chat(text, sampling=s))
                st = m.stats
                out[label] = (answer, st["decode_tokens"], st["decode_s"], st["drafted"], st["accepted"])
            rows.append({
                "task": name, "tokens": out["plain"][1], "identical": out["plain"][0] == out["lookup"][0],
                "plain_s": out["plain"][2], "lookup_s": out["lookup"][2],
                "drafted": out["lookup"][3], "accepted": out["lookup"][4],
            })
    tokens = sum(r["tokens"] for r in rows)
    return {
        "lookup": lookup, "tasks": rows, "tokens": tokens,
        "plain_tps": tokens / sum(r["plain_s"] for r in rows),
        "lookup_tps": tokens / sum(r["lookup_s"] for r in rows),
        "acceptance": sum(r["accepted"] for r in rows) / max(1, sum(r["drafted"] for r in rows)),
        "identical": all(r["identical"] for r in rows),
    }


def print_chat(c: dict, peer_decode_tps: float | None) -> None:
    print(f"chat benchmark ({len(c['tasks'])} tasks, greedy, up to {MAX_TOKENS} tokens each; prompt lookup "
          f"up to {c['lookup']} drafts per pass)")
    print(f"  {'task':18} {'tokens':>6} {'plain tok/s':>11} {'lookup tok/s':>12} {'accepted':>12} same text")
    for r in c["tasks"]:
        print(f"  {r['task']:18} {r['tokens']:6d} {r['tokens'] / r['plain_s']:11.1f} {r['tokens'] / r['lookup_s']:12.1f} "
              f"{r['accepted']:5d}/{r['drafted']:<6d} {'yes' if r['identical'] else 'NO'}")
    line = (f"  all: {c['tokens']} tokens, plain {c['plain_tps']:.1f} tok/s, prompt lookup {c['lookup_tps']:.1f} "
            f"tok/s ({c['lookup_tps'] / c['plain_tps']:.2f}x), {100 * c['acceptance']:.0f}% of drafts accepted, "
            f"text {'identical' if c['identical'] else 'DIFFERENT'}")
    print(line)
    if peer_decode_tps:
        print(f"  prompt lookup / llama.cpp plain decode (llama-bench tg median): "
              f"{c['lookup_tps'] / peer_decode_tps:.2f}x")


def run_in_child(path: str, threads: int, lookup: int, kernels: str | None = None) -> dict:
    """run_chat_bench in a fresh interpreter (like the other benchmark runs: nothing of this
    process's state, threads or memory, weighs on it)."""
    import json
    import subprocess
    import sys

    args = json.dumps({"path": path, "threads": threads, "lookup": lookup, "kernels": kernels})
    r = subprocess.run([sys.executable, "-m", "parrot.llm.chatbench", args], capture_output=True, text=True)
    if r.returncode != 0:
        from parrot.errors import UserError

        tail = " | ".join(r.stderr.strip().splitlines()[-3:])
        raise UserError(f"chat benchmark failed (exit status {r.returncode}): {tail}")
    return json.loads(r.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    import json
    import sys

    a = json.loads(sys.argv[1])
    print(json.dumps(run_chat_bench(a["path"], a["threads"], a["lookup"], a["kernels"])))
