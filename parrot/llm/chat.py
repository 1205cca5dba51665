"""Chat templates: how a conversation is laid out as tokens.

The GGUF's own ``tokenizer.chat_template`` (Jinja) is used when it has one; the hand-written
templates per model family are the fallback for files without one (or with a broken one).

A template turns the system prompt and each user message into *segments* ``(text, special)``:
template markup (``<|im_start|>`` ...) is tokenized with special tokens recognised, the
user's own text without, so typing "<|im_end|>" cannot forge a turn boundary.
"""
from __future__ import annotations

import datetime
import json
from dataclasses import dataclass

from ..errors import UserError

Segments = list[tuple[str, bool]]

QWEN25_SYSTEM = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."
SMOLLM_SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"


@dataclass(frozen=True)
class Template:
    name: str
    default_system: str | None = None
    supports_thinking: bool = False
    folds_system = False  # see JinjaTemplate

    def system(self, text: str | None) -> Segments:
        text = self.default_system if text is None else text
        if not text:
            return []
        if self.name == "llama3":
            return [("<|start_header_id|>system<|end_header_id|>\n\n", True), (text, False), ("<|eot_id|>", True)]
        if self.name == "plain":
            return [(text + "\n\n", False)]
        return [("<|im_start|>system\n", True), (text, False), ("<|im_end|>\n", True)]

    def user(self, text: str, thinking: bool = False) -> tuple[Segments, Segments]:
        """(markup before the user's text, markup after it up to where the answer starts)."""
        if self.name == "llama3":
            return ([("<|start_header_id|>user<|end_header_id|>\n\n", True)],
                    [("<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n", True)])
        if self.name == "plain":
            return [("User: ", False)], [("\nAssistant:", False)]
        after = "<|im_end|>\n<|im_start|>assistant\n"
        if self.supports_thinking and not thinking:
            # Qwen3's "enable_thinking=False": an empty thought block, so the answer starts directly
            after += "<think>\n\n</think>\n\n"
        return [("<|im_start|>user\n", True)], [(after, True)]

    def end_of_answer(self) -> Segments:
        """Closes an assistant answer in the history (the stop token itself is never evaluated)."""
        if self.name == "llama3":
            return [("<|eot_id|>", True)]
        if self.name == "plain":
            return [("\n", False)]
        return [("<|im_end|>\n", True)]


def template_for(arch: str, name: str, has_token) -> Template:
    """Picks the template from the architecture and vocabulary. has_token(str) -> bool."""
    if arch == "qwen3":
        return Template("chatml", None, supports_thinking=True)
    if arch == "qwen2":
        return Template("chatml", QWEN25_SYSTEM)
    if has_token("<|im_start|>"):  # SmolLM2 and other ChatML-style llama models
        return Template("chatml", SMOLLM_SYSTEM if "smol" in name.lower() else None)
    if has_token("<|start_header_id|>"):
        return Template("llama3")
    return Template("plain")


# ---------------------------------------------------------------------------------------------
# The GGUF's own template (tokenizer.chat_template): Jinja, rendered as transformers and
# llama.cpp render it, in a sandbox (a model file is untrusted input).

class ChatTemplateError(UserError):
    """A chat template that cannot be rendered or cannot be split into turns."""


# Stand-ins for the texts the template wraps. Rendering with them and cutting the result at
# them gives the markup around each text, so the texts themselves are tokenized without special
# tokens (typing "<|im_end|>" still cannot forge a turn) and the turns can be cached one by one.
_SYSTEM, _USER1, _ANSWER, _USER2 = "PaRrOtSySx7", "PaRrOtUsEr1x7", "PaRrOtAnSwErx7", "PaRrOtUsEr2x7"


def _environment():
    from jinja2.ext import loopcontrols
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])

    def tojson(value, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def raise_exception(message):
        raise ChatTemplateError(f"the model's chat template refused: {message}")

    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda fmt: datetime.datetime.now().strftime(fmt)
    return env


class JinjaTemplate:
    """The model's own chat template, cut into the pieces Model.chat lays out as tokens.

    A finished turn stays in the KV cache as it was generated (user markup, the answer, its
    end markup); a template that rewrites earlier turns (Qwen3 drops old thoughts) is rendered
    exactly for the new turn, the history kept as the model saw it — as llama.cpp's cache does.
    """

    name = "gguf"

    def __init__(self, source: str, bos_token: str = "", eos_token: str = "", strip_bos: bool = False):
        self.source = source
        self.bos_token, self.eos_token, self.strip_bos = bos_token, eos_token, strip_bos
        try:
            self._compiled = _environment().from_string(source)
        except Exception as e:  # jinja2.TemplateSyntaxError and friends
            raise ChatTemplateError(f"the model's chat template does not parse: {_one_line(e)}") from None
        self._cache: dict = {}
        # Every piece is computed now, so a template that fails fails at load, not mid-chat.
        self.end = self._end_of_answer()
        self.supports_thinking = self._post(True) != self._post(False)
        self.default_system = None
        self._system_and_pre(None)
        # Gemma has no system role: its template writes the system text at the start of the first
        # user turn, so that turn's user markup is part of the system segments (Model.chat).
        try:
            self.folds_system = self._system_and_pre(_SYSTEM)[1] == ""
        except ChatTemplateError:  # a template that refuses system prompts says so when given one
            self.folds_system = False

    # ---- rendering

    def render(self, messages: list[dict], add_generation_prompt: bool, **extra) -> str:
        try:
            text = self._compiled.render(messages=messages, add_generation_prompt=add_generation_prompt,
                                         bos_token=self.bos_token, eos_token=self.eos_token, **extra)
        except ChatTemplateError:
            raise
        except Exception as e:
            raise ChatTemplateError(f"the model's chat template failed: {_one_line(e)}") from None
        if self.strip_bos and self.bos_token and text.startswith(self.bos_token):
            text = text[len(self.bos_token):]  # the engine adds BOS itself (add_bos)
        return text

    def _cut(self, text: str, marks: list[str]) -> list[str]:
        """text split at each mark, in order, each mark exactly once."""
        parts = []
        for mark in marks:
            if text.count(mark) != 1:
                raise ChatTemplateError("the model's chat template does not keep each message once and unchanged")
            head, text = text.split(mark)
            parts.append(head)
        return parts + [text]

    @staticmethod
    def _messages(system: str | None, *turns: tuple[str, str]) -> list[dict]:
        msgs = [] if system is None else [{"role": "system", "content": system}]
        return msgs + [{"role": role, "content": content} for role, content in turns]

    def _post(self, thinking: bool) -> str:
        key = ("post", thinking)
        if key not in self._cache:
            text = self.render(self._messages(None, ("user", _USER1)), True, enable_thinking=thinking)
            self._cache[key] = self._cut(text, [_USER1])[1]
        return self._cache[key]

    def _end_of_answer(self) -> str:
        # After an answer comes its end markup, then the next user's markup: the end is what
        # follows the answer when it is the last message, as long as a following turn starts with it.
        last = self._cut(self.render(self._messages(None, ("user", _USER1), ("assistant", _ANSWER)), False),
                         [_USER1, _ANSWER])[2]
        between = self._between_turns()
        end = last if between.startswith(last) else ""
        return end

    def _between_turns(self) -> str:
        if "between" not in self._cache:
            text = self.render(self._messages(None, ("user", _USER1), ("assistant", _ANSWER), ("user", _USER2)), True)
            self._cache["between"] = self._cut(text, [_USER1, _ANSWER, _USER2])[2]
        return self._cache["between"]

    def _system_and_pre(self, system: str | None) -> tuple[str, str]:
        """(everything before the first user text, the user markup that any turn starts with)."""
        key = ("system", system)
        if key not in self._cache:
            first = self._cut(self.render(self._messages(system, ("user", _USER1)), True), [_USER1])[0]
            if system is not None:
                self._cut(first, [system])  # the system text appears once, before the user's
            pre = self._between_turns()[len(self.end):]
            if system is not None and not first.endswith(pre):
                head = self._system_and_pre(None)[0]
                if first.startswith(head + pre) and first.index(system) >= len(head + pre):
                    self._cache[key] = first, ""  # folded into the first user turn (Gemma)
                    return self._cache[key]
            if not first.endswith(pre):
                raise ChatTemplateError("the model's chat template lays out the first turn unlike the others")
            self._cache[key] = first[: len(first) - len(pre)], pre
        return self._cache[key]

    # ---- the Template interface Model.chat uses

    def system(self, text: str | None) -> Segments:
        if text is None:
            head, _ = self._system_and_pre(None)
            return [(head, True)] if head else []
        head, _ = self._system_and_pre(_SYSTEM)
        before, after = self._cut(head, [_SYSTEM])
        return [(s, special) for s, special in ((before, True), (text, False), (after, True)) if s]

    def user(self, text: str, thinking: bool = False) -> tuple[Segments, Segments]:
        _, pre = self._system_and_pre(None)
        return [(pre, True)], [(self._post(thinking), True)]

    def end_of_answer(self) -> Segments:
        return [(self.end, True)] if self.end else []

    def prompt(self, system: str | None, turns: list[tuple[str, str]], user: str, thinking: bool = False) -> str:
        """The whole prompt text as Model.chat lays it out (for tests and `parrot llm`)."""
        out = "".join(s for s, _ in self.system(system))
        pre, post = self.user(user, thinking)
        for i, (question, answer) in enumerate([*turns, (user, None)]):
            out += ("" if i == 0 and system is not None and self.folds_system else pre[0][0]) + question + post[0][0]
            if answer is not None:
                out += answer + self.end
        return out


def _one_line(e: Exception) -> str:
    return " ".join(str(e).split()) or type(e).__name__


def chat_template(source: str | None, fallback: Template, bos_token: str = "", eos_token: str = "",
                  strip_bos: bool = False) -> tuple[Template | JinjaTemplate, str]:
    """The model's own template if it has one that works, else the hand-written fallback;
    with a one-line warning saying why the fallback was taken ("" when it was not)."""
    if not source:
        return fallback, ""
    try:
        return JinjaTemplate(source, bos_token, eos_token, strip_bos), ""
    except ChatTemplateError as e:
        return fallback, f"{e}; using the built-in {fallback.name} template"
