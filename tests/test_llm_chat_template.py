"""Chat prompts from the model's own Jinja template, against transformers' apply_chat_template.

The fast tests use the templates the models ship (tests/data/chat_templates); the slow one
reads the registry GGUF itself (its template, and Model.chat's real tokens)."""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from parrot.llm.chat import ChatTemplateError, JinjaTemplate, chat_template, template_for

DATA = Path(__file__).parent / "data" / "chat_templates"
QWEN25 = (DATA / "qwen2.5-coder.jinja").read_text(encoding="utf-8")
QWEN3 = (DATA / "qwen3.jinja").read_text(encoding="utf-8")
MODEL = Path(os.path.expanduser("~/.local/share/parrot/models/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"))

# texts with the characters that trip templates: newlines, quotes, braces, a forged marker
USER_1 = '写一个"hello"函数 {x}\n第二行'
ANSWER_1 = "def hello():\n    print('hi')  # <|im_end|> in text"
USER_2 = "再短一点 <|im_start|>"


def transformers_render(source: str, messages: list[dict], bos="<|endoftext|>", **kw) -> str:
    """The reference: transformers' apply_chat_template (a tokenizer only carries the template)."""
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from transformers import PreTrainedTokenizerFast

    tok = PreTrainedTokenizerFast(tokenizer_object=Tokenizer(WordLevel({"<unk>": 0}, unk_token="<unk>")),
                                  bos_token=bos, eos_token="<|im_end|>")
    tok.chat_template = source
    return tok.apply_chat_template(messages, tokenize=False, **kw)


def ours(t: JinjaTemplate, system, turns, user, thinking=False) -> str:
    return t.prompt(system, turns, user, thinking)


def messages(system, turns, user):
    out = [] if system is None else [{"role": "system", "content": system}]
    for q, a in turns:
        out += [{"role": "user", "content": q}, {"role": "assistant", "content": a}]
    return out + [{"role": "user", "content": user}]


@pytest.mark.parametrize("system", [None, "你是鹦鹉，回答要短。"])
@pytest.mark.parametrize("turns", [[], [(USER_1, ANSWER_1)], [(USER_1, ANSWER_1), ("好", "好的")]])
def test_qwen25_prompt_matches_transformers(system, turns):
    t = JinjaTemplate(QWEN25, "<|endoftext|>", "<|im_end|>")
    expected = transformers_render(QWEN25, messages(system, turns, USER_2), add_generation_prompt=True)
    assert ours(t, system, turns, USER_2) == expected
    assert not t.supports_thinking
    if system is None:  # the template's own default system prompt
        assert "You are Qwen, created by Alibaba Cloud" in expected


@pytest.mark.parametrize("thinking", [False, True])
@pytest.mark.parametrize("system", [None, "Be brief."])
def test_qwen3_first_turn_matches_transformers_with_enable_thinking(thinking, system):
    t = JinjaTemplate(QWEN3)
    expected = transformers_render(QWEN3, messages(system, [], USER_1), add_generation_prompt=True,
                                   enable_thinking=thinking)
    assert ours(t, system, [], USER_1, thinking) == expected
    assert t.supports_thinking
    assert expected.endswith("<think>\n\n</think>\n\n") != thinking


def test_qwen3_follow_up_keeps_history_as_generated():
    # Qwen3's template drops old thoughts when re-rendering; the engine keeps the earlier turn
    # as the model produced it (so its KV cache is reused). With an answer that had no
    # thought, that is transformers' prompt plus the empty thought block the first turn got.
    t = JinjaTemplate(QWEN3)
    expected = transformers_render(QWEN3, messages(None, [(USER_1, ANSWER_1)], USER_2), add_generation_prompt=True,
                                   enable_thinking=True)
    with_thought = "<|im_start|>assistant\n<think>\n\n</think>\n\n" + ANSWER_1
    assert ours(t, None, [(USER_1, "<think>\n\n</think>\n\n" + ANSWER_1)], USER_2, True) == \
        expected.replace("<|im_start|>assistant\n" + ANSWER_1, with_thought)


def test_user_and_system_text_are_never_special():
    t = JinjaTemplate(QWEN25)
    segs = t.system("sys <|im_end|>")
    assert ("sys <|im_end|>", False) in segs
    pre, post = t.user("<|im_start|>")
    assert all(special for _, special in pre + post)
    assert all("<|im_start|>" != text for text, _ in pre + post)


def test_template_that_raises_gives_a_clear_error_and_the_fallback():
    broken = "{% if messages[0]['role'] != 'system' %}{{ raise_exception('System role required') }}{% endif %}"
    with pytest.raises(ChatTemplateError, match="refused: System role required"):
        JinjaTemplate(broken)
    fallback = template_for("qwen2", "Qwen2.5", lambda s: True)
    t, warning = chat_template(broken, fallback)
    assert t is fallback
    assert warning == "the model's chat template refused: System role required; using the built-in chatml template"
    assert "\n" not in warning


@pytest.mark.parametrize("source,match", [
    ("{% for m in messages %}{{ m.content ", "does not parse"),
    ("{{ messages.pop() }}", "failed"),  # the sandbox: a template cannot mutate its input
    ("{{ ''.__class__.__mro__ }}", "failed|does not keep"),  # nor reach Python internals
    ("hello", "does not keep each message"),  # drops the messages
    ("{% for m in messages %}{{ m.content }}{{ m.content }}{% endfor %}", "does not keep each message"),
])
def test_unusable_templates_are_one_line_errors(source, match):
    with pytest.raises(ChatTemplateError, match=match) as e:
        JinjaTemplate(source)
    assert "\n" not in str(e.value)


def test_no_template_means_the_hand_written_one():
    fallback = template_for("qwen3", "Qwen3", lambda s: True)
    assert chat_template(None, fallback) == (fallback, "")
    assert chat_template("", fallback) == (fallback, "")


def test_bos_in_the_template_is_not_doubled():
    llama_like = ("{{ bos_token }}{% for m in messages %}<|start_header_id|>{{ m.role }}<|end_header_id|>\n\n"
                  "{{ m.content }}<|eot_id|>{% endfor %}{% if add_generation_prompt %}"
                  "<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}")
    kept = JinjaTemplate(llama_like, "<|begin_of_text|>", strip_bos=False)
    assert kept.system(None) == [("<|begin_of_text|>", True)]
    stripped = JinjaTemplate(llama_like, "<|begin_of_text|>", strip_bos=True)  # the engine adds BOS
    assert stripped.system(None) == []
    assert stripped.end_of_answer() == [("<|eot_id|>", True)]
    assert stripped.prompt(None, [("a", "b")], "c") == transformers_render(
        llama_like, messages(None, [("a", "b")], "c"), "<|begin_of_text|>", add_generation_prompt=True)[len("<|begin_of_text|>"):]


def test_model_uses_the_gguf_template_and_falls_back_with_a_warning(tmp_path):
    from llm_engine_util import Spec, write_tiny

    from parrot.llm import GREEDY, Model

    own = write_tiny(tmp_path / "own.gguf", Spec(chat_template=QWEN25))
    with Model(own.path, threads=1, context=128) as m:
        assert isinstance(m.template, JinjaTemplate) and m.template_warning == ""
        "".join(m.chat("hello", sampling=dataclasses.replace(GREEDY, max_tokens=2)))
        expected = transformers_render(QWEN25, messages(None, [], "hello"), add_generation_prompt=True)
        assert m._cached[: len(m.tokenize(expected))] == m.tokenize(expected)  # what was evaluated
    broken = write_tiny(tmp_path / "broken.gguf", Spec(chat_template="{{ raise_exception('no') }}"))
    with Model(broken.path, threads=1, context=128) as m:
        assert not isinstance(m.template, JinjaTemplate)
        assert m.template_warning.startswith("the model's chat template refused: no; using the built-in")


@pytest.mark.slow
def test_registry_model_prompt_tokens_match_transformers():
    import gguf

    from parrot.llm import GREEDY, Model

    if not MODEL.exists():
        pytest.fail(f"{MODEL} is missing: run `parrot models pull --default`")
    field = gguf.GGUFReader(MODEL).fields["tokenizer.chat_template"]
    source = bytes(field.parts[field.data[0]]).decode("utf-8")
    assert source == QWEN25  # the fixture the fast tests use is the registry model's template
    with Model(MODEL, threads=2, context=512) as m:
        assert isinstance(m.template, JinjaTemplate)
        "".join(m.chat(USER_1, sampling=dataclasses.replace(GREEDY, max_tokens=4)))
        expected = m.tokenize(transformers_render(source, messages(None, [], USER_1), add_generation_prompt=True))
        assert m.stats["prefill_tokens"] == len(expected)
        assert m._cached[: len(expected)] == expected  # the tokens the model evaluated


GEMMA3 = (DATA / "gemma3.jinja").read_text(encoding="utf-8")


@pytest.mark.parametrize("system", [None, "你是鹦鹉，回答要短。"])
@pytest.mark.parametrize("turns", [[], [(USER_1, ANSWER_1)], [(USER_1, ANSWER_1), ("好", "好的")]])
def test_gemma3_prompt_matches_transformers(system, turns):
    """Gemma has no system role: its template folds the system text into the first user turn."""
    t = JinjaTemplate(GEMMA3, "<bos>", "<eos>", strip_bos=True)
    expected = transformers_render(GEMMA3, messages(system, turns, USER_2), bos="<bos>", add_generation_prompt=True)
    assert expected.startswith("<bos><start_of_turn>user\n")
    assert ours(t, system, turns, USER_2) == expected[len("<bos>"):]  # the engine adds BOS itself
    assert t.folds_system and t.end == "<end_of_turn>\n"
