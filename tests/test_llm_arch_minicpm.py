"""MiniCPM (GGUF architecture minicpm): a llama whose embeddings are multiplied by scale_emb,
each branch's output (attention, FFN) by scale_depth / sqrt(layers) before it joins the residual
stream, and logits divided by hidden_size / dim_model_base (muP); MiniCPM 4 adds longrope.

transformers has no MiniCPM modeling code (the checkpoints need remote code, which is not fetched
here), so the outside reference is transformers' LlamaForCausalLM carrying the same weights with
the scales folded in (embeddings x scale_emb, o_proj and down_proj x the branch scale, an untied
lm_head / the logit scale): the same network, computed by transformers. The MiniCPM checkpoint
itself is the tiny Llama's weights under a MiniCPMForCausalLM config.json, converted by `parrot
convert` and by llama.cpp's own converter (which stores the scales as metadata, not in the
weights); llama.cpp itself (llama-completion) is the second reference for greedy text."""
from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

import llm_tiny
from llm_tiny import engine_logits, rel

torch = pytest.importorskip("torch")

from parrot.llm import Model  # noqa: E402
from parrot.llm.convert import convert  # noqa: E402
from parrot.llm.gguf_info import format_inspection, inspect_path, read_header  # noqa: E402

# not MiniCPM-2B's values (12, 1.4, 256 / hidden), which llama.cpp assumes for files without the
# keys: a reader that ignored the keys would fail here
SCALES = {"scale_emb": 10.0, "scale_depth": 1.2, "dim_model_base": 32}  # hidden 64: logits / 2
# as the other archs' f32 files (the KV cache is f16); a missing scale moves the logits far more
TOLERANCE = 1e-3
PROMPT = "你好，电子鹦鹉! The parrot says 42. 北京 上海 广州 深圳 成都 杭州 南京 武汉 西安 重庆 2024年10月1日"
# MiniCPM-2B style: tied embeddings (no lm_head in the checkpoint), plain RoPE;
# MiniCPM 4 style: an own lm_head, longrope factors (max_position_embeddings = the original, as shipped)
VARIANTS = ("2b", "4")


def _longrope(head_dim: int) -> dict:
    gen = np.random.default_rng(4)
    return {"rope_type": "longrope", "rope_theta": 10000.0, "original_max_position_embeddings": 256,
            "short_factor": (1 + 3 * gen.random(head_dim // 2)).round(3).tolist(),
            "long_factor": (1 + 30 * gen.random(head_dim // 2)).round(3).tolist()}


def make_checkpoint(out: Path, variant: str) -> Path:
    """The tiny Llama's weights under a MiniCPMForCausalLM config.json (as openbmb ships them)."""
    from safetensors.numpy import load_file, save_file

    src = llm_tiny.tiny_model("llama").hf_dir
    shutil.copytree(src, out)
    cfg = json.loads((out / "config.json").read_text())
    for key in ("model_type", "rope_scaling", "rope_parameters", "tie_word_embeddings", "dtype", "torch_dtype"):
        cfg.pop(key, None)
    cfg.update(SCALES, architectures=["MiniCPMForCausalLM"], model_type="minicpm", rope_theta=10000.0)
    if variant == "2b":
        weights = load_file(out / "model.safetensors")
        del weights["lm_head.weight"]  # tie_word_embeddings left at its default (true), as MiniCPM-2B
        save_file(weights, out / "model.safetensors", metadata={"format": "pt"})
    else:
        cfg["tie_word_embeddings"] = False
        cfg["rope_scaling"] = _longrope(cfg["hidden_size"] // cfg["num_attention_heads"])
    (out / "config.json").write_text(json.dumps(cfg, indent=1))
    return out


def folded_reference(hf_dir: Path, *, scales: bool = True, rope_scaling: bool = True):
    """transformers' LlamaForCausalLM with MiniCPM's scales folded into the weights (float32)."""
    import transformers
    from safetensors.numpy import load_file

    cfg = json.loads((hf_dir / "config.json").read_text())
    w = {k: torch.from_numpy(v.astype(np.float32)) for k, v in load_file(hf_dir / "model.safetensors").items()}
    embd = w["model.embed_tokens.weight"]
    head = w.get("lm_head.weight", embd)
    if scales:
        branch = cfg["scale_depth"] / math.sqrt(cfg["num_hidden_layers"])
        w["lm_head.weight"] = head / (cfg["hidden_size"] / cfg["dim_model_base"])
        w["model.embed_tokens.weight"] = embd * cfg["scale_emb"]
        for name in list(w):
            if name.endswith(("self_attn.o_proj.weight", "mlp.down_proj.weight")):
                w[name] = w[name] * branch
    else:
        w["lm_head.weight"] = head.clone()
    rope = cfg.get("rope_scaling") if rope_scaling else None
    config = transformers.LlamaConfig(
        vocab_size=cfg["vocab_size"], hidden_size=cfg["hidden_size"], intermediate_size=cfg["intermediate_size"],
        num_hidden_layers=cfg["num_hidden_layers"], num_attention_heads=cfg["num_attention_heads"],
        num_key_value_heads=cfg["num_key_value_heads"], max_position_embeddings=cfg["max_position_embeddings"],
        rms_norm_eps=cfg["rms_norm_eps"], tie_word_embeddings=False,
        rope_parameters=rope or {"rope_type": "default", "rope_theta": cfg["rope_theta"]})
    model = transformers.LlamaForCausalLM(config)
    model.load_state_dict(w, strict=True)
    return model.eval()


def hf_logits(model, ids) -> np.ndarray:
    with torch.no_grad():
        return model(torch.tensor([ids])).logits[0].numpy()




@pytest.fixture(scope="module")
def ids():
    ids = llm_tiny.tiny_hf_tokenizer("llama").encode(PROMPT)
    assert len(ids) >= 24
    return ids


@pytest.fixture(scope="module", params=VARIANTS)
def variant(request, tmp_path_factory):
    """(name, checkpoint dir, reference logits) for each MiniCPM variant."""
    hf_dir = make_checkpoint(tmp_path_factory.mktemp(f"minicpm{request.param}") / "hf", request.param)
    return request.param, hf_dir


@pytest.fixture(scope="module")
def ref(variant, ids):
    return hf_logits(folded_reference(variant[1]), ids)


def llama_cpp_file(hf_dir: Path, out: Path) -> Path:
    # its vocabulary step wants SentencePiece's tokenizer.model (MiniCPM's); the tiny checkpoint
    # has a byte-level BPE, taken the way llama.cpp takes one, with its pre-tokenizer (SmolLM's
    # digits one by one) named and the tokenizer loaded without the config transformers cannot
    # read (a model type it does not know, with longrope): the test is about tensors and scales
    llm_tiny.llama_cpp_convert(hf_dir, out, prelude=(
        "import transformers\nfrom conversion.base import TextModel\nfrom conversion.minicpm import MiniCPMModel\n"
        "TextModel.get_vocab_base_pre = lambda self, tokenizer: 'smollm'\n"
        "MiniCPMModel.set_vocab = TextModel._set_vocab_gpt2\n"
        "transformers.AutoTokenizer.from_pretrained = transformers.PreTrainedTokenizerFast.from_pretrained\n"))
    return out


@pytest.fixture(scope="module")
def files(variant, tmp_path_factory):
    """{converter: GGUF file} for the variant, f32."""
    name, hf_dir = variant
    d = tmp_path_factory.mktemp(f"minicpm{name}-gguf")
    convert(hf_dir, d / "parrot.gguf", "f32", progress=False)
    return {"parrot": d / "parrot.gguf", "llama.cpp": llama_cpp_file(hf_dir, d / "llamacpp.gguf")}


def test_scales_and_rope_matter_in_the_reference(variant, ids, ref):
    """The checks below can fail: without the scales (or the longrope factors) the reference's
    logits move far past the tolerance."""
    assert rel(hf_logits(folded_reference(variant[1], scales=False), ids), ref) > 100 * TOLERANCE
    if variant[0] == "4":
        assert rel(hf_logits(folded_reference(variant[1], rope_scaling=False), ids), ref) > 10 * TOLERANCE


@pytest.mark.parametrize("converter", ["parrot", "llama.cpp"])
def test_logits_match_transformers(files, converter, ids, ref, variant):
    out = engine_logits(files[converter], ids)
    diff = float(np.abs(out - ref).max())
    print(f"minicpm {variant[0]} {converter}: max |logit diff| {diff:.2e} (logits up to {np.abs(ref).max():.2f})")
    assert rel(out, ref) < TOLERANCE


def test_converters_agree_on_the_file(files, variant):
    """Same metadata keys for the scales, same tensors (names, shapes), and the same scale values."""
    heads = {k: read_header(p) for k, p in files.items()}
    tensors = {k: {(t.name, t.shape) for t in h.tensors} for k, h in heads.items()}
    assert tensors["parrot"] == tensors["llama.cpp"]
    names = {n for n, _ in tensors["parrot"]}
    assert ("output.weight" in names) == (variant[0] == "4")
    assert ({"rope_factors_long.weight", "rope_factors_short.weight"} <= names) == (variant[0] == "4")
    for key in ("embedding_scale", "residual_scale", "logit_scale"):
        a, b = (h.metadata[f"minicpm.{key}"] for h in heads.values())
        assert a == pytest.approx(b, rel=1e-6), key
    assert heads["parrot"].metadata["minicpm.logit_scale"] == pytest.approx(2.0)
    if variant[0] == "4":
        assert heads["parrot"].metadata["minicpm.rope.scaling.type"] == "longrope"
        assert heads["llama.cpp"].metadata["minicpm.rope.scaling.type"] == "longrope"


def test_greedy_tokens_match_transformers(files, variant, ids):
    """Twelve greedy steps from the engine's own cache equal the reference's."""
    model = folded_reference(variant[1])
    with torch.no_grad():
        want = model.generate(torch.tensor([ids]), max_new_tokens=12, do_sample=False,
                              pad_token_id=0)[0, len(ids):].tolist()
    for path in files.values():
        with Model(path, threads=2, context=128) as m:
            got, logits = [], m.eval(ids)[-1]
            for _ in range(12):
                got.append(int(np.argmax(logits)))
                logits = m.eval([got[-1]])[-1]
        assert got == want


def test_inspect_reports_minicpm_runnable(files):
    for path in files.values():
        info = inspect_path(path)
        assert info.arch == "minicpm" and info.runnable, info.reasons
        assert "runs here     yes" in format_inspection(info)


def test_llama_cpp_greedy_text_matches(files, variant):
    """llama.cpp itself (llama-completion) on the same file: its greedy continuation is ours, byte
    for byte (a random model writes broken UTF-8, so bytes are compared)."""
    import subprocess

    from test_llm_quants_real import llama_completion

    exe, prompt, n = llama_completion(), "The parrot says", 16
    for path in files.values():
        # on a model this tiny llama-completion often ends (status 0) right after "generate:",
        # its tokens and timings unprinted (its log goes through a thread that the 10 ms run
        # can outpace; most runs here): such a run is repeated, each costs a few ms
        for _ in range(40):
            r = subprocess.run([str(exe), "-m", str(path), "-p", prompt, "-n", str(n), "--temp", "0", "-no-cnv",
                                "--no-display-prompt", "--simple-io", "--no-warmup", "-t", "2", "-c", "128",
                                "--repeat-penalty", "1", "-s", "1"], capture_output=True, timeout=300,
                               stdin=subprocess.DEVNULL)
            assert r.returncode == 0, r.stderr[-2000:]
            if r.stdout.strip() and b"common_perf_print" in r.stderr:
                break
        theirs = r.stdout.removesuffix(b" [end of text]\n")
        with Model(path, threads=2, context=128) as m:
            got, logits = [], m.eval(m.tokenize(prompt))[-1]
            for _ in range(n):
                got.append(int(np.argmax(logits)))
                logits = m.eval([got[-1]])[-1]
            # llama.cpp prints nothing for the unused [PADn] rows past the tiny tokenizer; parrot
            # spells them out: those are left out of the comparison
            ours = b"".join(m._c.detokenize([t]) for t in got if t < llm_tiny.TOKENIZER_VOCAB + 3)
        print(f"minicpm {variant[0]} {path.stem}: llama.cpp {theirs!r} parrot {ours!r}")
        assert len(theirs) > 8 and ours.startswith(theirs.rstrip(b"\n")), (theirs, ours)


def rewrite(src: Path, dst: Path, drop=(), add=None) -> Path:
    """A copy of an f32 GGUF without the metadata keys in drop and with add's {key: (value, type)}."""
    import gguf

    r = gguf.GGUFReader(src)
    w = gguf.GGUFWriter(dst, r.fields["general.architecture"].contents())
    for f in r.fields.values():
        if f.name.startswith("GGUF.") or f.name == "general.architecture" or f.name in drop:
            continue
        vtype = f.types[0]
        w.add_key_value(f.name, f.contents(), vtype, sub_type=f.types[-1] if vtype == gguf.GGUFValueType.ARRAY else None)
    for key, (value, vtype) in (add or {}).items():
        w.add_key_value(key, value, vtype)
    for t in r.tensors:
        w.add_tensor(t.name, np.asarray(t.data))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return dst


@pytest.mark.parametrize("variant", ["2b"], indirect=True)
def test_files_without_the_scale_keys_get_llama_cpps_defaults(files, variant, ids, tmp_path):
    """GGUFs made before the keys existed: llama.cpp assumes MiniCPM-2B's 12, 1.4 / sqrt(layers)
    and 256 / n_embd (src/models/minicpm.cpp), and so does the engine."""
    old = rewrite(files["parrot"], tmp_path / "old.gguf",
                  drop={f"minicpm.{k}" for k in ("embedding_scale", "residual_scale", "logit_scale")})
    hf_dir = tmp_path / "hf-defaults"
    shutil.copytree(variant[1], hf_dir)
    cfg = json.loads((hf_dir / "config.json").read_text())
    cfg.update(scale_emb=12.0, scale_depth=1.4, dim_model_base=cfg["hidden_size"] ** 2 // 256)
    (hf_dir / "config.json").write_text(json.dumps(cfg))
    assert cfg["hidden_size"] / cfg["dim_model_base"] == 256 / cfg["hidden_size"]
    assert rel(engine_logits(old, ids), hf_logits(folded_reference(hf_dir), ids)) < TOLERANCE


@pytest.mark.parametrize("variant", ["4"], indirect=True)
def test_long_factors_past_the_original_context(files, variant, ids, tmp_path):
    """A context longer than rope.scaling.original_context_length takes the long factors (as
    llama.cpp's get_rope_factors): the reference is the same network with short := long."""
    import gguf

    short = rewrite(files["parrot"], tmp_path / "orig64.gguf",
                    add={"minicpm.rope.scaling.original_context_length": (64, gguf.GGUFValueType.UINT32)})
    hf_dir = tmp_path / "hf-long"
    shutil.copytree(variant[1], hf_dir)
    cfg = json.loads((hf_dir / "config.json").read_text())
    cfg["rope_scaling"]["short_factor"] = cfg["rope_scaling"]["long_factor"]
    (hf_dir / "config.json").write_text(json.dumps(cfg))
    ids = ids[:60]
    long_ref, short_ref = hf_logits(folded_reference(hf_dir), ids), hf_logits(folded_reference(variant[1]), ids)
    assert rel(long_ref, short_ref) > 10 * TOLERANCE
    assert rel(engine_logits(short, ids), long_ref) < TOLERANCE  # context 128 > 64
    with Model(short, threads=2, context=64) as m:  # within the original context: the short ones
        assert rel(m.eval(ids), short_ref) < TOLERANCE


@pytest.mark.parametrize("variant", ["2b"], indirect=True)
@pytest.mark.parametrize("rope", [("yarn", 4.0), ("linear", 2.0)])
def test_unsupported_rope_scaling_is_refused(files, variant, tmp_path, rope):
    import gguf

    from parrot.llm import ModelError

    bad = rewrite(files["parrot"], tmp_path / "bad.gguf", add={
        "minicpm.rope.scaling.type": (rope[0], gguf.GGUFValueType.STRING),
        "minicpm.rope.scaling.factor": (rope[1], gguf.GGUFValueType.FLOAT32)})
    with pytest.raises(ModelError, match=f"RoPE scaling '{rope[0]}' .* is not supported"):
        Model(bad, threads=1, context=16)
    info = inspect_path(bad)
    assert not info.runnable and "RoPE scaling" in " ".join(info.reasons)


@pytest.mark.parametrize("variant", ["4"], indirect=True)
def test_convert_refuses_what_it_cannot_store(variant, tmp_path):
    from parrot.errors import UserError

    for change, message in (({"scale_depth": None}, "lacks scale_depth"),
                            ({"rope_scaling": {"rope_type": "longrope", "long_factor": [1.0]}}, "longrope needs"),
                            ({"rope_scaling": {"rope_type": "yarn", "factor": 4.0}}, "RoPE scaling 'yarn'")):
        hf_dir = tmp_path / f"hf{len(message)}"
        shutil.copytree(variant[1], hf_dir)
        cfg = json.loads((hf_dir / "config.json").read_text())
        cfg.update(change)
        (hf_dir / "config.json").write_text(json.dumps(cfg))
        with pytest.raises(UserError, match=message):
            convert(hf_dir, tmp_path / "out.gguf", "f32", progress=False)
        assert not (tmp_path / "out.gguf").exists()


def test_q8_0_file_with_integer_kernels(variant, ids, ref, tmp_path):
    """`parrot convert --type q8_0` and the integer kernels (8-bit activations): the scales act on
    the activations around them, so quantizing the weights moves the logits only by rounding
    (5e-2 as for llama.cpp's q8_0 in test_llm_reference_llamacpp)."""
    out = tmp_path / "q8.gguf"
    convert(variant[1], out, "q8_0", progress=False)
    assert inspect_path(out).type_counts["Q8_0"] > 0
    got = engine_logits(out, ids)
    print(f"minicpm {variant[0]} q8_0: max rel logit error {rel(got, ref):.2e}")
    assert rel(got, ref) < 5e-2
