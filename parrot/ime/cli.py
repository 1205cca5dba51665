"""`parrot ime keys DIGITS` and `parrot ime eval FILE`."""

from __future__ import annotations

import os
import time
from pathlib import Path

from parrot.cliargs import int_range, utf8_text
from parrot.errors import UserError


def register(sub) -> None:
    p = sub.add_parser("ime", help="T9 pinyin input method: look up keys, measure key presses")
    isub = p.add_subparsers(dest="ime_command", metavar="SUBCOMMAND")

    k = isub.add_parser("keys", help="print the pinyin splits and first candidates for a key string")
    k.add_argument("digits", type=utf8_text, help="keys 2-9, with 1 as syllable separator (e.g. 64426)")
    k.add_argument("-n", "--count", type=int_range(0, 100000), default=20, help="candidates to print (default 20)")
    k.add_argument("--dict", type=Path, help="dictionary file (default: the shipped one)")
    k.set_defaults(func=cmd_keys)

    e = isub.add_parser("eval", help="type a text through the IME and report key presses per character")
    e.add_argument("file", type=Path, nargs="?", help="UTF-8 text (Chinese prose with punctuation)")
    e.add_argument("--sentences", type=Path, metavar="FILE",
                   help="one sentence of hanzi a line: type each as one digit string (pypinyin's reading) and "
                        "print exact-sentence and character accuracy of the first candidate")
    e.add_argument("--show-errors", action="store_true", help="with --sentences: print every wrong first candidate")
    e.add_argument("--llm", nargs="?", const="qwen2.5-coder-0.5b", metavar="MODEL",
                   help="with --sentences: re-rank the sentence candidates with this LLM (GGUF path or registry "
                        "name; default qwen2.5-coder-0.5b) and print the figures before and after, and the latency")
    e.add_argument("--top-k", type=int_range(2, 64), default=None, help="with --llm: candidates re-ranked")
    e.add_argument("--threads", type=int_range(1, 256), default=2, help="with --llm: CPU threads (default 2)")
    e.add_argument("--no-baseline", action="store_true", help="skip the seed-style baseline")
    e.add_argument("--dict", type=Path, help="dictionary file (default: the shipped one)")
    e.set_defaults(func=cmd_eval)
    p.set_defaults(func=lambda args: p.print_help() or 2)


def _load(path):
    from parrot.ime.dictfile import DictFileError
    from parrot.ime.dictionary import load_dictionary

    try:
        return load_dictionary(path)
    except (OSError, DictFileError) as e:
        raise UserError(f"cannot load the IME dictionary: {e}") from None


def cmd_keys(args) -> int:
    from parrot.ime.engine import Engine, parse_keys

    keys = args.digits.replace("'", "1")
    if not keys or any(c not in "123456789" for c in keys):
        raise UserError("keys must be digits 2-9 (1 separates syllables)")
    engine = Engine(_load(args.dict))
    started = time.perf_counter()
    cands = engine.candidates(keys)
    elapsed_ms = (time.perf_counter() - started) * 1000
    plain = parse_keys(keys)[0]
    splits = engine.splits(cands, len(plain))
    print(f"keys    {keys}")
    print("splits  " + " / ".join("'".join(s) for s in splits))
    for n, c in enumerate(cands[: args.count], 1):
        covers = "" if c.consumed == len(plain) else f"  (covers {c.consumed} of {len(plain)} keys)"
        print(f"{n:3d}. {c.text}  {' '.join(c.reading)}  [{c.kind.value}]{covers}")
    print(f"({elapsed_ms:.2f} ms)")
    return 0


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"cannot read {path}: {e}") from None


def cmd_eval_sentences(args) -> int:
    from parrot.ime.engine import Engine
    from parrot.ime.sentence_eval import SentenceFileError, evaluate_sentences, read_sentences

    try:
        sentences = read_sentences(_read_text(args.sentences))
        engine = Engine(_load(args.dict))  # the app's search; the re-ranker searches wider
        reranker = _llm_reranker(args, engine) if args.llm is not None else None
        started = time.perf_counter()
        report = evaluate_sentences(engine, sentences, reranker)
    except SentenceFileError as e:
        raise UserError(f"{args.sentences}: {e}") from None
    except ImportError as e:
        raise UserError(f"--sentences needs pypinyin (pip install pypinyin==0.55.0): {e}") from None
    elapsed = time.perf_counter() - started
    if args.show_errors:
        for r in report.results:
            if not r.exact:
                print(f"  {r.sentence}  ->  {r.first or '(nothing)'}  ({r.digits})")
    chars = sum(len(r.sentence) for r in report.results)
    exact = sum(r.exact for r in report.results)
    print(f"sentences: {args.sentences} ({len(report.results)} lines, {chars} characters)")
    print(f"first candidate exact: {exact}/{len(report.results)} = {report.exact_rate:.1%}")
    print(f"character accuracy:    {report.char_accuracy:.1%}")
    if reranker is not None:
        before = report.before()
        took = sorted(r.rerank_s for r in report.results)
        print(f"before re-ranking:     exact {before.exact_rate:.1%}, characters {before.char_accuracy:.1%} "
              f"(the first candidate the app shows before it)")
        print(f"re-rank latency:       median {_pct(took, 50) * 1000:.0f} ms, p95 {_pct(took, 95) * 1000:.0f} ms "
              f"a sentence (top {reranker.k}, {args.threads} threads, load average {os.getloadavg()[0]:.1f} "
              f"on {os.cpu_count()} CPUs)")
        cpu = sorted(r.rerank_cpu_s for r in report.results)
        print(f"re-rank CPU time:      median {_pct(cpu, 50) * 1000:.0f} ms, p95 {_pct(cpu, 95) * 1000:.0f} ms a sentence "
              f"(all threads; wall clock on an idle machine is about this / threads)")
        tokens = sorted(r.rerank_tokens for r in report.results)
        print(f"re-rank LLM tokens:    median {_pct(tokens, 50)}, p95 {_pct(tokens, 95)} a sentence "
              f"(a few at a time: on a board, at least tokens / its prefill rate seconds)")
    print(f"({elapsed:.1f} s, {elapsed / len(report.results) * 1000:.1f} ms a sentence)")
    return 0


def _pct(values: list[float], p: float) -> float:
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def _llm_reranker(args, engine):
    """The app's re-ranker (the wider search over `engine`'s dictionary) for `--llm MODEL`."""
    from parrot.ime import rerank
    from parrot.llm.engine import Model
    from parrot.llm.models import resolve_model

    model = Model(str(resolve_model(args.llm)), threads=args.threads, context=512)
    return rerank.Reranker(rerank.LlmScorer(model), engine, args.top_k or rerank.TOP_K)


def cmd_eval(args) -> int:
    from parrot.ime.evaluate import CATEGORIES, EvalError, evaluate

    if args.sentences is not None:
        if args.file is not None:
            raise UserError("give either a prose FILE or --sentences FILE, not both")
        return cmd_eval_sentences(args)
    if args.file is None:
        raise UserError("give a prose FILE (or --sentences FILE)")
    if args.llm is not None or args.top_k is not None:
        raise UserError("--llm and --top-k go with --sentences FILE")
    try:
        text = args.file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"cannot read {args.file}: {e}") from None
    if not text:
        raise UserError(f"{args.file} is empty")
    dictionary = _load(args.dict)
    started = time.perf_counter()
    try:
        result = evaluate(dictionary, text, baseline=not args.no_baseline)
    except EvalError as e:
        raise UserError(str(e)) from None
    elapsed = time.perf_counter() - started
    print(f"text: {args.file} ({len(text)} characters)")
    header = f"{'':10s} {'KSPC':>6s} " + " ".join(f"{c:>10s}" for c in CATEGORIES) + f" {'keys':>7s}  reproduced"
    print(header)
    rows = [("ours", result.ours, result.text_ok)]
    if result.baseline is not None:
        rows.append(("baseline", result.baseline, result.baseline_ok))
    for name, tally, ok in rows:
        parts = " ".join(f"{tally.breakdown()[c]:10.3f}" for c in CATEGORIES)
        print(f"{name:10s} {tally.kspc:6.3f} {parts} {tally.keys:7d}  {'yes' if ok else 'NO'}")
    if result.ratio is not None:
        print(f"ratio ours/baseline: {result.ratio:.3f}")
    print(f"({elapsed:.1f} s)")
    return 0 if result.text_ok and (result.baseline is None or result.baseline_ok) else 1
