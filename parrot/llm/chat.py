"""Chat templates: how a conversation is laid out as tokens for each model family.

A template turns the system prompt and each user message into *segments* ``(text, special)``:
template markup (``<|im_start|>`` ...) is tokenized with special tokens recognised, the
user's own text without, so typing "<|im_end|>" cannot forge a turn boundary.
"""
from __future__ import annotations

from dataclasses import dataclass

Segments = list[tuple[str, bool]]

QWEN25_SYSTEM = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."
SMOLLM_SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"


@dataclass(frozen=True)
class Template:
    name: str
    default_system: str | None = None
    supports_thinking: bool = False

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
