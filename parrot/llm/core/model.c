/* The transformer: loading a GGUF model (llama / qwen2 / qwen3 / gemma3 / minicpm) and running it.
 *
 * All five are the same decoder-only network:
 *   x = embed(token)
 *   per layer:  h = rmsnorm(x) ; q,k,v = h·Wq(+b), h·Wk(+b), h·Wv(+b)
 *               [qwen3: per-head rmsnorm on q and k] ; rotate q,k by position (RoPE)
 *               x += softmax(q·K^T / sqrt(d)) V · Wo        (grouped-query: kv heads shared)
 *               h = rmsnorm(x) ; x += (silu(h·Wgate) * (h·Wup)) · Wdown
 *   logits = rmsnorm(x) · Woutput   (Woutput = token embedding when the file has no output.weight)
 * MiniCPM (minicpm_hparams) is llama with three scales: embeddings times one, each branch's output
 * times another before it is added, logits divided by a third.
 * Gemma 3 adds (gemma3_* below): embeddings times sqrt(n_embd), an rmsnorm on each branch's
 * output before it is added ("sandwich" norms), GELU in place of SiLU, and local layers (5 of 6)
 * that attend over a sliding window with their own RoPE base; logits may be soft-capped.
 * Weights stay in the mmap'd file in their quantized form. A matmul quantizes its input
 * activations once to 8 bits and dots each weight row against them with the integer kernels
 * of kernels.c (the set chosen at load); types without one (f32, f16, Q4_1, Q5_K ...) are
 * dequantized a row at a time and dotted in f32. Each weight row serves the whole batch of up to
 * PL_BATCH tokens while it sits in the cache, so prefill reads the weights once per batch. */
#define _DEFAULT_SOURCE /* madvise */
#include <math.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kernels.h"
#include "parrot_llm.h"

static void set_err(char *err, size_t errlen, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* ------------------------------------------------------------------ loading */

typedef struct {
    pl_model *m;
    char *err;
    size_t errlen;
} loader;

static int hp_int(loader *L, const char *suffix, int64_t def, int64_t lo, int64_t hi, int *out) {
    char key[128];
    int64_t v;
    snprintf(key, sizeof key, "%s.%s", L->m->arch_name, suffix);
    if (gguf_get_i64(L->m->file, key, &v) != 0) {
        if (def < 0) {
            set_err(L->err, L->errlen, "missing or invalid metadata %s", key);
            return -1;
        }
        v = def;
    }
    if (v < lo || v > hi) {
        set_err(L->err, L->errlen, "metadata %s = %lld is out of range [%lld, %lld]", key, (long long)v,
                (long long)lo, (long long)hi);
        return -1;
    }
    *out = (int)v;
    return 0;
}

static int hp_float(loader *L, const char *suffix, double def, double lo, double hi, float *out) {
    char key[128];
    double v;
    snprintf(key, sizeof key, "%s.%s", L->m->arch_name, suffix);
    if (gguf_get_f64(L->m->file, key, &v) != 0) v = def;
    if (!(v >= lo && v <= hi)) {
        set_err(L->err, L->errlen, "metadata %s = %g is out of range", key, v);
        return -1;
    }
    *out = (float)v;
    return 0;
}

/* A weight matrix of shape [ne1 rows][ne0 cols], in a type we can compute with. */
static const gguf_tensor *get_mat(loader *L, const char *name, int64_t ne0, int64_t ne1, int required) {
    const gguf_tensor *t = gguf_tensor_find(L->m->file, name);
    if (!t) {
        if (required) set_err(L->err, L->errlen, "tensor %s is missing", name);
        return NULL;
    }
    if (t->ne[0] != (uint64_t)ne0 || t->ne[1] != (uint64_t)ne1 || t->ne[2] != 1 || t->ne[3] != 1) {
        set_err(L->err, L->errlen, "tensor %s has shape [%llu, %llu, %llu, %llu], expected [%lld, %lld]", name,
                (unsigned long long)t->ne[0], (unsigned long long)t->ne[1], (unsigned long long)t->ne[2],
                (unsigned long long)t->ne[3], (long long)ne0, (long long)ne1);
        return NULL;
    }
    if (!pl_type(t->type)->supported) {
        set_err(L->err, L->errlen, "tensor %s: unsupported tensor type %s", name, pl_type(t->type)->name);
        return NULL;
    }
    return t;
}

/* A small vector (norm weight, bias) copied to f32. *ok is cleared on error. */
static float *get_vec(loader *L, const char *name, int64_t n, int required, int *ok) {
    const gguf_tensor *t = get_mat(L, name, n, 1, required);
    if (!t) {
        if (required || gguf_tensor_find(L->m->file, name)) *ok = 0;
        return NULL;
    }
    float *v = malloc((size_t)n * sizeof *v);
    if (!v) {
        set_err(L->err, L->errlen, "out of memory");
        *ok = 0;
        return NULL;
    }
    pl_dequant_row(t->type, t->data, v, n);
    return v;
}

/* Matrices the kernel set serves from a row-interleaved copy (kernels.h) get one, tensor by
 * tensor; the file's pages of a copied tensor are then dropped from this process (madvise), so
 * the copy takes their place in memory instead of adding to it and the mapping stays the only
 * copy of every other tensor. */
static int make_x8_copies(pl_model *m) {
    const long page = sysconf(_SC_PAGESIZE);
    for (uint64_t i = 0; i < m->file->n_tensors; i++) {
        gguf_tensor *t = &m->file->tensors[i];
        if (t == m->tok_embd || t->n_dims != 2 || !m->kernels->x8[t->type]) continue; /* embeddings: rows looked up */
        const size_t size = pl_x8_size(t->type, (int64_t)t->ne[1], (int64_t)t->ne[0]);
        if (!size) continue;
        t->x8 = aligned_alloc(64, (size + 63) / 64 * 64);
        if (!t->x8) return -1;
        pl_pack_x8(t->type, t->data, (int64_t)t->ne[1], (int64_t)t->ne[0], t->x8);
        const uintptr_t lo = ((uintptr_t)t->data + page - 1) / page * page, hi = ((uintptr_t)t->data + t->n_bytes) / page * page;
        if (hi > lo) madvise((void *)lo, hi - lo, MADV_DONTNEED);
    }
    return 0;
}

/* Rotation frequency divisors (rope_freqs, longrope factors) must be positive and finite. */
static int check_rope_factors(loader *L, const char *name, const float *f, int n) {
    for (int i = 0; f && i < n; i++)
        if (!(f[i] > 0.0f && f[i] < 1e6f)) { /* also catches NaN */
            set_err(L->err, L->errlen, "tensor %s: factor %d is %g (must be positive)", name, i, f[i]);
            return -1;
        }
    return 0;
}

/* MiniCPM's hyper-parameters as llama.cpp reads them. Its converter stores the muP scales as
 * metadata (the weights stay the checkpoint's): embedding_scale = scale_emb, residual_scale =
 * scale_depth / sqrt(layers), logit_scale = hidden_size / dim_model_base; files written before
 * those keys existed get MiniCPM-2B's values (12, 1.4 / sqrt(layers), 256 / n_embd) as llama.cpp
 * gives them. RoPE scaling "longrope" (MiniCPM 4): two sets of frequency divisors, the short one
 * unless the context asked for exceeds rope.scaling.original_context_length (pl_ctx_new). */
static int minicpm_hparams(loader *L, int *ok) {
    pl_model *m = L->m;
    if (hp_float(L, "embedding_scale", 12.0, 1e-6, 1e6, &m->embd_scale) ||
        hp_float(L, "residual_scale", 1.4 / sqrt((double)m->n_layers), 1e-6, 1e6, &m->mc_residual_scale) ||
        hp_float(L, "logit_scale", 256.0 / m->n_embd, 1e-6, 1e6, &m->mc_logit_scale) ||
        hp_int(L, "rope.scaling.original_context_length", m->n_ctx_train, 1, 1 << 24, &m->n_ctx_orig))
        return -1;
    char key[128];
    size_t len;
    float factor, attn_factor;
    snprintf(key, sizeof key, "%s.rope.scaling.type", m->arch_name);
    const char *type = gguf_get_str(m->file, key, &len);
    const int longrope = type && len == 8 && memcmp(type, "longrope", 8) == 0;
    if (hp_float(L, "rope.scaling.factor", 1.0, 0.0, 1e6, &factor) ||
        hp_float(L, "rope.scaling.attn_factor", 1.0, 0.0, 1e6, &attn_factor))
        return -1;
    /* llama.cpp's default type is linear with factor 1: no scaling */
    const int plain = !type || (len == 4 && memcmp(type, "none", 4) == 0) || (len == 6 && memcmp(type, "linear", 6) == 0);
    if (!(longrope || (plain && (factor == 0.0f || factor == 1.0f))) || attn_factor != 1.0f) {
        set_err(L->err, L->errlen, "RoPE scaling '%.*s' (factor %g, attn_factor %g) is not supported (longrope is)",
                type ? (int)(len > 32 ? 32 : len) : 4, type ? type : "none", factor, attn_factor);
        return -1;
    }
    if (!longrope) return 0;
    free(m->rope_freqs); /* llama.cpp reads no rope_freqs.weight next to longrope factors */
    m->rope_freqs = get_vec(L, "rope_factors_short.weight", m->rope_dim / 2, 0, ok);
    if (*ok) m->rope_freqs_long = get_vec(L, "rope_factors_long.weight", m->rope_dim / 2, 0, ok);
    if (!*ok) return -1;
    return check_rope_factors(L, "rope_factors_short.weight", m->rope_freqs, m->rope_dim / 2) ||
           check_rope_factors(L, "rope_factors_long.weight", m->rope_freqs_long, m->rope_dim / 2);
}

/* Gemma 3's hyper-parameters, read as llama.cpp reads them: local layers only when the file
 * has a sliding window, every 6th layer global unless attention.sliding_window_pattern says
 * otherwise (a period, or one flag per layer), local RoPE base 10000 unless
 * rope.freq_base_swa is set, linear RoPE scaling (4B and up) on the global layers only. */
static int gemma3_hparams(loader *L) {
    pl_model *m = L->m;
    m->embd_scale = sqrtf((float)m->n_embd);
    m->ffn_gelu = 1;
    /* Gemma's query_pre_attn_scalar: head_dim, except 27B (62 layers): n_embd / n_head */
    m->attn_scale = 1.0f / sqrtf((float)(m->n_layers == 62 ? m->n_embd / m->n_head : m->head_dim));
    if (hp_float(L, "final_logit_softcapping", 0.0, 0.0, 1e6, &m->logit_softcap) ||
        hp_int(L, "attention.sliding_window", 0, 0, 1 << 24, &m->n_swa) ||
        hp_float(L, "rope.freq_base_swa", 10000.0, 1.0, 1e12, &m->rope_base_swa))
        return -1;
    char key[128];
    size_t len;
    snprintf(key, sizeof key, "%s.rope.scaling.type", m->arch_name);
    const char *type = gguf_get_str(m->file, key, &len);
    if (type && !(len == 4 && memcmp(type, "none", 4) == 0)) {
        if (!(len == 6 && memcmp(type, "linear", 6) == 0)) {
            set_err(L->err, L->errlen, "metadata %s = '%.*s' is not supported (linear is)", key, (int)(len > 32 ? 32 : len), type);
            return -1;
        }
        float factor;
        if (hp_float(L, "rope.scaling.factor", 1.0, 1e-3, 1e3, &factor)) return -1;
        m->rope_scale = factor;
    }
    if (m->n_swa <= 0) return 0; /* no local layers */
    snprintf(key, sizeof key, "%s.attention.sliding_window_pattern", m->arch_name);
    const gguf_kv *kv = gguf_find(m->file, key);
    int period = 6;
    if (kv && kv->type == GGUF_ARRAY) {
        if (kv->arr_n != (uint64_t)m->n_layers || !gguf_vtype_size(kv->arr_type) || kv->arr_type == GGUF_STRING) {
            set_err(L->err, L->errlen, "metadata %s must hold one flag per layer", key);
            return -1;
        }
        for (int l = 0; l < m->n_layers; l++) m->layers[l].swa = gguf_arr_i64(kv, (uint64_t)l) != 0;
        return 0;
    }
    if (kv && hp_int(L, "attention.sliding_window_pattern", 6, 0, 1 << 16, &period)) return -1;
    for (int l = 0; l < m->n_layers; l++) m->layers[l].swa = period == 0 || l % period < period - 1;
    return 0;
}

void pl_model_free(pl_model *m) {
    if (!m) return;
    if (m->file)
        for (uint64_t i = 0; i < m->file->n_tensors; i++) free(m->file->tensors[i].x8);
    if (m->layers)
        for (int l = 0; l < m->n_layers; l++) {
            pl_layer *ly = &m->layers[l];
            free(ly->norm_att); free(ly->norm_ffn); free(ly->bq); free(ly->bk); free(ly->bv);
            free(ly->q_norm); free(ly->k_norm); free(ly->norm_att_post); free(ly->norm_ffn_post);
        }
    free(m->layers);
    free(m->norm_out);
    free(m->rope_freqs);
    free(m->rope_freqs_long);
    gguf_close(m->file);
    free(m);
}

pl_model *pl_model_load(const char *path, const char *kernels, char *err, size_t errlen) {
    pl_init_tables();
    pl_model *m = calloc(1, sizeof *m);
    if (!m) {
        set_err(err, errlen, "out of memory");
        return NULL;
    }
    if (!(m->kernels = pl_kernels_pick(kernels))) {
        const pl_kernels *k[8];
        const int n = pl_kernels_available(k, 8);
        int at = snprintf(err, errlen, "kernel set '%s' is unknown or not supported by this CPU (available:",
                          kernels && *kernels ? kernels : getenv("PARROT_KERNELS"));
        for (int i = 0; i < n && at > 0 && (size_t)at < errlen; i++) at += snprintf(err + at, errlen - at, " %s", k[i]->name);
        if (at > 0 && (size_t)at < errlen) snprintf(err + at, errlen - at, ")");
        free(m);
        return NULL;
    }
    loader L = {m, err, errlen};
    m->file = gguf_open(path, err, errlen);
    if (!m->file) goto fail;

    size_t len;
    const char *s = gguf_get_str(m->file, "general.architecture", &len);
    if (!s) {
        set_err(err, errlen, "metadata general.architecture is missing");
        goto fail;
    }
    if (len >= sizeof m->arch_name) len = sizeof m->arch_name - 1;
    memcpy(m->arch_name, s, len);
    m->arch_name[len] = 0;
    if (strcmp(m->arch_name, "llama") == 0) m->arch = PL_ARCH_LLAMA;
    else if (strcmp(m->arch_name, "qwen2") == 0) m->arch = PL_ARCH_QWEN2;
    else if (strcmp(m->arch_name, "qwen3") == 0) m->arch = PL_ARCH_QWEN3;
    else if (strcmp(m->arch_name, "minicpm") == 0) m->arch = PL_ARCH_MINICPM;
    else if (strcmp(m->arch_name, "gemma3") == 0) m->arch = PL_ARCH_GEMMA3;
    else {
        for (char *p = m->arch_name; *p; p++)
            if ((unsigned char)*p < 32) *p = '?';
        set_err(err, errlen, "unsupported architecture '%s' (llama, qwen2, qwen3, gemma3 and minicpm are supported)", m->arch_name);
        goto fail;
    }
    s = gguf_get_str(m->file, "general.name", &len);
    if (!s) s = m->arch_name, len = strlen(m->arch_name);
    if (len >= sizeof m->name) len = sizeof m->name - 1;
    memcpy(m->name, s, len);
    m->name[len] = 0;

    /* hyper-parameters, each bounded so later size arithmetic cannot overflow */
    if (hp_int(&L, "embedding_length", -1, 1, 1 << 16, &m->n_embd) ||
        hp_int(&L, "block_count", -1, 1, 1024, &m->n_layers) ||
        hp_int(&L, "feed_forward_length", -1, 1, 1 << 18, &m->n_ff) ||
        hp_int(&L, "attention.head_count", -1, 1, 1024, &m->n_head) ||
        hp_int(&L, "attention.head_count_kv", m->n_head, 1, m->n_head, &m->n_head_kv) ||
        hp_int(&L, "context_length", 2048, 1, 1 << 24, &m->n_ctx_train))
        goto fail;
    if (m->n_head % m->n_head_kv) {
        set_err(err, errlen, "attention.head_count %d is not a multiple of head_count_kv %d", m->n_head, m->n_head_kv);
        goto fail;
    }
    int kdim, vdim;
    if (hp_int(&L, "attention.key_length", m->n_embd / m->n_head, 2, 4096, &kdim) ||
        hp_int(&L, "attention.value_length", kdim, 2, 4096, &vdim))
        goto fail;
    if (kdim != vdim || kdim % 2) {
        set_err(err, errlen, "unsupported head sizes: key_length %d, value_length %d", kdim, vdim);
        goto fail;
    }
    m->head_dim = kdim;
    if (hp_int(&L, "rope.dimension_count", kdim, 2, kdim, &m->rope_dim)) goto fail;
    if (m->rope_dim % 2) {
        set_err(err, errlen, "rope.dimension_count %d is odd", m->rope_dim);
        goto fail;
    }
    if (hp_float(&L, "rope.freq_base", 10000.0, 1.0, 1e12, &m->rope_base) ||
        hp_float(&L, "attention.layer_norm_rms_epsilon", 1e-5, 0.0, 1.0, &m->norm_eps))
        goto fail;
    m->rope_neox = m->arch != PL_ARCH_LLAMA && m->arch != PL_ARCH_MINICPM; /* minicpm: llama's layout */
    m->attn_scale = 1.0f / sqrtf((float)m->head_dim);
    m->rope_base_swa = m->rope_base;
    m->rope_scale = 1.0f;

    /* tensors */
    const gguf_tensor *te = gguf_tensor_find(m->file, "token_embd.weight");
    if (!te) {
        set_err(err, errlen, "tensor token_embd.weight is missing");
        goto fail;
    }
    if (te->ne[1] < 1 || te->ne[1] > (1 << 24)) {
        set_err(err, errlen, "tensor token_embd.weight: vocabulary size %llu out of range", (unsigned long long)te->ne[1]);
        goto fail;
    }
    m->n_vocab = (int)te->ne[1];
    const int d = m->n_embd, qd = m->n_head * m->head_dim, kvd = m->n_head_kv * m->head_dim;
    if (!(m->tok_embd = get_mat(&L, "token_embd.weight", d, m->n_vocab, 1))) goto fail;
    m->output = gguf_tensor_find(m->file, "output.weight") ? get_mat(&L, "output.weight", d, m->n_vocab, 1) : m->tok_embd;
    if (!m->output) goto fail;
    int ok = 1;
    m->norm_out = get_vec(&L, "output_norm.weight", d, 1, &ok);
    if (ok) m->rope_freqs = get_vec(&L, "rope_freqs.weight", m->rope_dim / 2, 0, &ok);
    if (!ok || check_rope_factors(&L, "rope_freqs.weight", m->rope_freqs, m->rope_dim / 2)) goto fail;
    if (m->arch == PL_ARCH_MINICPM && minicpm_hparams(&L, &ok)) goto fail;

    m->layers = calloc((size_t)m->n_layers, sizeof *m->layers);
    if (!m->layers) {
        set_err(err, errlen, "out of memory");
        goto fail;
    }
    if (m->arch == PL_ARCH_GEMMA3 && gemma3_hparams(&L)) goto fail;
    for (int l = 0; l < m->n_layers && ok; l++) {
        pl_layer *ly = &m->layers[l];
        char n[96];
#define NAME(suffix) (snprintf(n, sizeof n, "blk.%d.%s", l, suffix), n)
        ly->norm_att = get_vec(&L, NAME("attn_norm.weight"), d, 1, &ok);
        if (ok) ly->norm_ffn = get_vec(&L, NAME("ffn_norm.weight"), d, 1, &ok);
        if (ok && !(ly->wq = get_mat(&L, NAME("attn_q.weight"), d, qd, 1))) ok = 0;
        if (ok && !(ly->wk = get_mat(&L, NAME("attn_k.weight"), d, kvd, 1))) ok = 0;
        if (ok && !(ly->wv = get_mat(&L, NAME("attn_v.weight"), d, kvd, 1))) ok = 0;
        if (ok && !(ly->wo = get_mat(&L, NAME("attn_output.weight"), qd, d, 1))) ok = 0;
        if (ok && !(ly->w_gate = get_mat(&L, NAME("ffn_gate.weight"), d, m->n_ff, 1))) ok = 0;
        if (ok && !(ly->w_up = get_mat(&L, NAME("ffn_up.weight"), d, m->n_ff, 1))) ok = 0;
        if (ok && !(ly->w_down = get_mat(&L, NAME("ffn_down.weight"), m->n_ff, d, 1))) ok = 0;
        /* qwen2 requires q/k/v biases; tolerate them on any arch when present */
        int need_bias = m->arch == PL_ARCH_QWEN2;
        if (ok) ly->bq = get_vec(&L, NAME("attn_q.bias"), qd, need_bias, &ok);
        if (ok) ly->bk = get_vec(&L, NAME("attn_k.bias"), kvd, need_bias, &ok);
        if (ok) ly->bv = get_vec(&L, NAME("attn_v.bias"), kvd, need_bias, &ok);
        int need_qk_norm = m->arch == PL_ARCH_QWEN3 || m->arch == PL_ARCH_GEMMA3;
        if (ok) ly->q_norm = get_vec(&L, NAME("attn_q_norm.weight"), m->head_dim, need_qk_norm, &ok);
        if (ok) ly->k_norm = get_vec(&L, NAME("attn_k_norm.weight"), m->head_dim, need_qk_norm, &ok);
        int gemma = m->arch == PL_ARCH_GEMMA3;
        if (ok) ly->norm_att_post = get_vec(&L, NAME("post_attention_norm.weight"), d, gemma, &ok);
        if (ok) ly->norm_ffn_post = get_vec(&L, NAME("post_ffw_norm.weight"), d, gemma, &ok);
#undef NAME
    }
    if (!ok) goto fail;
    if (make_x8_copies(m)) {
        set_err(err, errlen, "out of memory for the weights' interleaved copies");
        goto fail;
    }
    return m;
fail:
    pl_model_free(m);
    return NULL;
}

/* ------------------------------------------------------------------ inference state */

struct pl_ctx {
    pl_model *m;
    int n_ctx, n_past;
    pl_pool *pool;
    uint16_t *k_cache, *v_cache; /* per layer [kv_len][n_head_kv * head_dim], f16, from kv_off */
    /* A local (sliding-window) layer keeps a ring of n_swa + PL_BATCH positions, position p in
     * slot p % kv_len: a batch writes all its tokens before attending, and the spare PL_BATCH
     * slots let the cache be cut back that far (rejected drafts) with every window intact.
     * Other layers: kv_len = n_ctx. ring_from: the first position all rings still hold. */
    size_t *kv_off;
    int *kv_len;
    int ring_from;
    /* activations for a batch of up to PL_BATCH tokens, row-major [token][...] */
    float *x, *xb, *xb2, *q, *k, *v, *att, *hb, *hb2;
    float *rope_cos, *rope_sin; /* [token][rope_dim / 2] */
    float *inv_freq;            /* [rope_dim / 2] */
    float *swa_cos, *swa_sin, *swa_inv_freq; /* the same for local layers (gemma3), else NULL */
    float *rowbuf;              /* per thread: one dequantized weight row */
    pl_q8a *xq;                 /* the batch's activations quantized to 8 bits, [token][cols / 32] */
    float *scores;              /* per thread: attention scores over the context */
    int rowbuf_len;
};

int pl_ctx_n_ctx(const pl_ctx *c) { return c->n_ctx; }
int pl_ctx_n_past(const pl_ctx *c) { return c->n_past; }
int pl_ctx_truncate(pl_ctx *c, int n_past) {
    if (n_past >= 0 && n_past < c->n_past) {
        const int w = c->m->n_swa, need = n_past - w + 1; /* the next token's window starts there */
        if (w > 0 && n_past > 0 && (need > 0 ? need : 0) < c->ring_from) n_past = 0; /* overwritten */
        if (n_past == 0) c->ring_from = 0; /* an empty cache needs nothing from the rings */
        c->n_past = n_past;
    }
    return c->n_past;
}

size_t pl_ctx_kv_bytes(const pl_ctx *c) {
    return 2 * (c->kv_off[c->m->n_layers]) * sizeof(uint16_t);
}

void pl_ctx_free(pl_ctx *c) {
    if (!c) return;
    pl_pool_free(c->pool);
    free(c->k_cache); free(c->v_cache); free(c->kv_off); free(c->kv_len);
    free(c->x); free(c->xb); free(c->xb2); free(c->q); free(c->k); free(c->v); free(c->att);
    free(c->hb); free(c->hb2); free(c->rope_cos); free(c->rope_sin); free(c->inv_freq);
    free(c->swa_cos); free(c->swa_sin); free(c->swa_inv_freq);
    free(c->rowbuf); free(c->scores); free(c->xq);
    free(c);
}

pl_ctx *pl_ctx_new(pl_model *m, int n_ctx, int n_threads, char *err, size_t errlen) {
    if (n_ctx < 1) n_ctx = 1;
    if (n_ctx > m->n_ctx_train) n_ctx = m->n_ctx_train; /* the model was never trained past it */
    pl_ctx *c = calloc(1, sizeof *c);
    if (!c) goto oom;
    c->m = m;
    c->n_ctx = n_ctx;
    c->pool = pl_pool_new(n_threads);
    if (!c->pool) goto oom;
    int nt = pl_pool_size(c->pool);
    const size_t B = PL_BATCH, d = m->n_embd, qd = (size_t)m->n_head * m->head_dim,
                 kvd = (size_t)m->n_head_kv * m->head_dim, ff = m->n_ff;
    c->kv_off = malloc(((size_t)m->n_layers + 1) * sizeof *c->kv_off);
    c->kv_len = malloc((size_t)m->n_layers * sizeof *c->kv_len);
    if (!c->kv_off || !c->kv_len) goto oom;
    c->kv_off[0] = 0;
    for (int l = 0; l < m->n_layers; l++) {
        const int ring = m->n_swa + PL_BATCH;
        c->kv_len[l] = m->layers[l].swa && m->n_swa > 0 && ring < n_ctx ? ring : n_ctx;
        c->kv_off[l + 1] = c->kv_off[l] + (size_t)c->kv_len[l] * kvd;
    }
    const size_t cache = c->kv_off[m->n_layers];
    c->k_cache = malloc(cache * sizeof(uint16_t));
    c->v_cache = malloc(cache * sizeof(uint16_t));
    c->x = malloc(B * d * 4); c->xb = malloc(B * d * 4); c->xb2 = malloc(B * d * 4);
    c->q = malloc(B * qd * 4); c->k = malloc(B * kvd * 4); c->v = malloc(B * kvd * 4);
    c->att = malloc(B * qd * 4); c->hb = malloc(B * ff * 4); c->hb2 = malloc(B * ff * 4);
    c->rope_cos = malloc(B * m->rope_dim / 2 * 4); c->rope_sin = malloc(B * m->rope_dim / 2 * 4);
    c->inv_freq = malloc(m->rope_dim / 2 * 4);
    size_t rl = d > ff ? d : ff;
    if (qd > rl) rl = qd;
    c->rowbuf_len = (int)rl;
    c->rowbuf = malloc((size_t)nt * 4 * rl * 4); /* 4 rows per thread */
    c->scores = malloc((size_t)nt * n_ctx * 4);
    c->xq = malloc(B * (rl / PL_QA + 1) * sizeof *c->xq);
    if (!c->xq || !c->k_cache || !c->v_cache || !c->x || !c->xb || !c->xb2 || !c->q || !c->k || !c->v || !c->att ||
        !c->hb || !c->hb2 || !c->rope_cos || !c->rope_sin || !c->inv_freq || !c->rowbuf || !c->scores)
        goto oom;
    const float *freqs = m->rope_freqs_long && n_ctx > m->n_ctx_orig ? m->rope_freqs_long : m->rope_freqs;
    for (int i = 0; i < m->rope_dim / 2; i++)
        c->inv_freq[i] = (float)(pow(m->rope_base, -2.0 * i / m->rope_dim) / (freqs ? freqs[i] : 1.0) /
                                 m->rope_scale);
    if (m->n_swa > 0) {
        c->swa_cos = malloc(B * m->rope_dim / 2 * 4); c->swa_sin = malloc(B * m->rope_dim / 2 * 4);
        c->swa_inv_freq = malloc(m->rope_dim / 2 * 4);
        if (!c->swa_cos || !c->swa_sin || !c->swa_inv_freq) goto oom;
        for (int i = 0; i < m->rope_dim / 2; i++)
            c->swa_inv_freq[i] = (float)pow(m->rope_base_swa, -2.0 * i / m->rope_dim);
    }
    return c;
oom:
    set_err(err, errlen, "out of memory for a %d-token context", n_ctx);
    pl_ctx_free(c);
    return NULL;
}

/* ------------------------------------------------------------------ kernels */

static void rmsnorm(float *y, const float *x, const float *w, int n, float eps) {
    double ss = 0;
    for (int i = 0; i < n; i++) ss += (double)x[i] * x[i];
    const float scale = (float)(1.0 / sqrt(ss / n + eps));
    for (int i = 0; i < n; i++) y[i] = x[i] * scale * w[i];
}

/* Up to three matmuls sharing one input, run as one pool job:
 * y_j[t][r] = W_j[r] · x[t] + b_j[r]   for t < n_tok, r < rows of W_j. */
typedef struct {
    pl_ctx *c;
    const float *x;
    const pl_q8a *xq; /* x quantized (when some W_j has an integer kernel) */
    int n_tok, cols, n_mat;
    const gguf_tensor *w[3];
    pl_vec_dot dot[3]; /* integer kernel for W_j, or NULL: dequantize + f32 */
    pl_gemm_x8 x8[3];  /* kernel for W_j's row-interleaved copy, or NULL */
    const float *bias[3];
    float *y[3];
    int chunk_rows;         /* rows per chunk (a multiple of 4) */
    int chunk_end[3];       /* chunks of W_0..W_j together */
    atomic_int next_chunk;  /* threads take chunks in turn: a thread that the OS delays does not hold up the rest */
} matmul_job;

/* rows of one matrix, through its integer kernel */
static void matmul_rows_int8(const matmul_job *job, int j, int r0, int r1) {
    const gguf_tensor *w = job->w[j];
    const int rows = (int)w->ne[1], cols = job->cols, nbq = cols / PL_QA;
    const pl_type_info *ti = pl_type(w->type);
    const size_t row_bytes = (size_t)cols / ti->blck * ti->bytes;
    const pl_vec_dot dot = job->dot[j];
    const pl_vec_dot4 dot4 = job->c->m->kernels->dot4[w->type];
    const float *bias = job->bias[j];
    float *y = job->y[j];
    if (job->x8[j]) { /* groups of 8 interleaved rows, every token of the batch per group */
        for (int r = r0; r < r1; r += PL_X8_ROWS)
            job->x8[j](cols, w->x8 + (size_t)r * row_bytes, job->xq, (size_t)nbq, job->n_tok, y + r, (size_t)rows);
        if (bias)
            for (int t = 0; t < job->n_tok; t++)
                for (int r = r0; r < r1; r++) y[(size_t)t * rows + r] += bias[r];
        return;
    }
    /* tiles: a few tokens' activations stay in L1 while a band of rows (in L2 after the first
     * tile of tokens read it from memory) passes under them */
    enum { ROW_TILE = 32, TOK_TILE = 4 };
    for (int rt = r0; rt < r1; rt += ROW_TILE) {
        const int re = rt + ROW_TILE < r1 ? rt + ROW_TILE : r1;
        for (int t0 = 0; t0 < job->n_tok; t0 += TOK_TILE) {
            const int te = t0 + TOK_TILE < job->n_tok ? t0 + TOK_TILE : job->n_tok;
            for (int r = rt; r < re; r++) {
                const uint8_t *row = w->data + (size_t)r * row_bytes;
                const float b = bias ? bias[r] : 0.0f;
                if (dot4 && te - t0 == 4) { /* same results as one token at a time, bit for bit */
                    float out[4];
                    dot4(cols, row, job->xq + (size_t)t0 * nbq, (size_t)nbq, out);
                    for (int k = 0; k < 4; k++) y[(size_t)(t0 + k) * rows + r] = out[k] + b;
                    continue;
                }
                for (int t = t0; t < te; t++) y[(size_t)t * rows + r] = dot(cols, row, job->xq + (size_t)t * nbq) + b;
            }
        }
    }
}

/* rows of one matrix, dequantized to f32 four at a time */
static void matmul_rows_f32(const matmul_job *job, int j, int r0, int r1, float *buf) {
    const gguf_tensor *w = job->w[j];
    const int rows = (int)w->ne[1], cols = job->cols, n_tok = job->n_tok;
    const pl_type_info *ti = pl_type(w->type);
    const size_t row_bytes = (size_t)cols / ti->blck * ti->bytes;
    float *y = job->y[j];
    const float *bias = job->bias[j];
    for (int r = r0; r < r1; r += 4) {
        const int nr = r1 - r < 4 ? r1 - r : 4;
        const float *row[4];
        for (int k = 0; k < 4; k++) {
            const int rr = r + (k < nr ? k : 0);
            const uint8_t *src = w->data + (size_t)rr * row_bytes;
            if (w->type == PL_F32 && ((uintptr_t)src & 3) == 0) {
                row[k] = (const float *)src;
            } else if (k < nr) {
                pl_dequant_row(w->type, src, buf + (size_t)k * cols, cols);
                row[k] = buf + (size_t)k * cols;
            } else {
                row[k] = row[0];
            }
        }
        for (int t = 0; t < n_tok; t++) {
            float out[4];
            const float *x = job->x + (size_t)t * cols;
            if (nr == 4) pl_dot4_f32(row[0], row[1], row[2], row[3], x, cols, out);
            else for (int k = 0; k < nr; k++) out[k] = pl_dot_f32(row[k], x, cols);
            for (int k = 0; k < nr; k++) y[(size_t)t * rows + r + k] = out[k] + (bias ? bias[r + k] : 0.0f);
        }
    }
}

static void matmul_task(void *arg, int ith, int nth) {
    matmul_job *job = arg;
    float *buf = job->c->rowbuf + (size_t)ith * 4 * job->c->rowbuf_len;
    (void)nth;
    for (;;) {
        const int ch = atomic_fetch_add_explicit(&job->next_chunk, 1, memory_order_relaxed);
        int j = 0;
        while (j < job->n_mat && ch >= job->chunk_end[j]) j++;
        if (j == job->n_mat) return;
        const int rows = (int)job->w[j]->ne[1], first = j ? job->chunk_end[j - 1] : 0;
        const int r0 = (ch - first) * job->chunk_rows;
        const int r1 = r0 + job->chunk_rows < rows ? r0 + job->chunk_rows : rows;
        if (job->dot[j]) matmul_rows_int8(job, j, r0, r1);
        else matmul_rows_f32(job, j, r0, r1, buf);
    }
}

static void matmul(pl_ctx *c, const float *x, int n_tok, int cols, int n_mat, const gguf_tensor *const *w,
                   const float *const *bias, float *const *y) {
    matmul_job job = {.c = c, .x = x, .xq = c->xq, .n_tok = n_tok, .cols = cols, .n_mat = n_mat};
    int any_int8 = 0;
    for (int j = 0; j < n_mat; j++) {
        job.w[j] = w[j];
        job.dot[j] = cols % PL_QA == 0 ? c->m->kernels->dot[w[j]->type] : NULL;
        job.x8[j] = w[j]->x8 ? c->m->kernels->x8[w[j]->type] : NULL;
        job.bias[j] = bias ? bias[j] : NULL;
        job.y[j] = y[j];
        any_int8 |= job.dot[j] != NULL;
    }
    if (any_int8)
        for (int t = 0; t < n_tok; t++) pl_quantize_q8a(x + (size_t)t * cols, c->xq + (size_t)t * (cols / PL_QA), cols);
    /* chunks of 32 rows (one tile) for a batch; for one token, enough rows that taking a chunk
     * costs little next to computing it (~8 chunks per thread on the small matrices) */
    job.chunk_rows = n_tok > 1 ? 32 : 64;
    for (int j = 0, total = 0; j < n_mat; j++) {
        total += ((int)w[j]->ne[1] + job.chunk_rows - 1) / job.chunk_rows;
        job.chunk_end[j] = total;
    }
    atomic_init(&job.next_chunk, 0);
    pl_pool_run(c->pool, matmul_task, &job);
}

static void matmul1(pl_ctx *c, const float *x, int n_tok, int cols, const gguf_tensor *w, float *y) {
    const gguf_tensor *ws[1] = {w};
    float *ys[1] = {y};
    matmul(c, x, n_tok, cols, 1, ws, NULL, ys);
}

/* RoPE: rotate pairs of q/k elements by angle pos * inv_freq[i]. llama GGUFs store Q/K rows
 * permuted so that pairs are adjacent (2i, 2i+1); Qwen pairs element i with i + d/2 ("NEOX"). */
static void rope(const pl_ctx *c, float *v, int t, int swa) {
    const int half = c->m->rope_dim / 2;
    const float *cs = (swa ? c->swa_cos : c->rope_cos) + (size_t)t * half;
    const float *sn = (swa ? c->swa_sin : c->rope_sin) + (size_t)t * half;
    for (int i = 0; i < half; i++) {
        const int i0 = c->m->rope_neox ? i : 2 * i, i1 = c->m->rope_neox ? i + half : 2 * i + 1;
        const float a = v[i0], b = v[i1];
        v[i0] = a * cs[i] - b * sn[i];
        v[i1] = a * sn[i] + b * cs[i];
    }
}

/* Attention for one layer over a batch: each (token, head) pair is independent, so the
 * pairs are split across threads. Token t sits at position pos0 + t and sees 0..pos0+t. */
typedef struct {
    pl_ctx *c;
    int layer, n_tok, pos0;
} attn_job;

static void attn_task(void *arg, int ith, int nth) {
    attn_job *job = arg;
    pl_ctx *c = job->c;
    const pl_model *m = c->m;
    const int hd = m->head_dim, qd = m->n_head * hd, kvd = m->n_head_kv * hd, group = m->n_head / m->n_head_kv;
    const size_t lofs = c->kv_off[job->layer];
    const int len = c->kv_len[job->layer];
    const float scale = m->attn_scale;
    /* a local layer's token sees only the last n_swa positions (itself included) */
    const int window = m->layers[job->layer].swa ? m->n_swa : 0;
    float *scores = c->scores + (size_t)ith * c->n_ctx;
    const int total = job->n_tok * m->n_head;
    for (int job_i = total * ith / nth; job_i < total * (ith + 1) / nth; job_i++) {
        const int t = job_i / m->n_head, h = job_i % m->n_head, kvh = h / group;
        const int n_pos = job->pos0 + t + 1, p0 = window && n_pos > window ? n_pos - window : 0;
        const float *q = c->q + (size_t)t * qd + (size_t)h * hd;
        float maxs = -INFINITY;
        const int slot0 = p0 % len; /* position p sits in slot p % len; stepped, not divided */
        for (int p = p0, slot = slot0; p < n_pos; p++, slot = slot + 1 == len ? 0 : slot + 1) {
            const float s = pl_dot_f16(c->k_cache + lofs + (size_t)slot * kvd + (size_t)kvh * hd, q, hd) * scale;
            scores[p] = s;
            if (s > maxs) maxs = s;
        }
        double sum = 0;
        for (int p = p0; p < n_pos; p++) {
            scores[p] = expf(scores[p] - maxs);
            sum += scores[p];
        }
        float *out = c->att + (size_t)t * qd + (size_t)h * hd;
        memset(out, 0, (size_t)hd * sizeof *out);
        const float inv = (float)(1.0 / sum);
        for (int p = p0, slot = slot0; p < n_pos; p++, slot = slot + 1 == len ? 0 : slot + 1)
            pl_axpy_f16(out, scores[p] * inv, c->v_cache + lofs + (size_t)slot * kvd + (size_t)kvh * hd, hd);
    }
}

/* GELU, tanh form (Gemma's gelu_pytorch_tanh; llama.cpp's ggml_gelu) */
static float gelu_tanh(float x) {
    return 0.5f * x * (1.0f + tanhf(0.7978845608f * (x + 0.044715f * x * x * x)));
}

/* The FFN's gate: hb[i] = act(hb[i]) * hb2[i], act SiLU (SwiGLU) or GELU-tanh (Gemma) */
typedef struct {
    float *hb;
    const float *hb2;
    size_t n;
    int gelu;
} gate_job;

static void gate_task(void *arg, int ith, int nth) {
    const gate_job *j = arg;
    const size_t i0 = j->n * ith / nth, i1 = j->n * (ith + 1) / nth;
    if (j->gelu)
        for (size_t i = i0; i < i1; i++) j->hb[i] = gelu_tanh(j->hb[i]) * j->hb2[i];
    else
        for (size_t i = i0; i < i1; i++) {
            const float g = j->hb[i];
            j->hb[i] = g / (1.0f + expf(-g)) * j->hb2[i];
        }
}

/* ------------------------------------------------------------------ forward */

static void scale_vec(float *v, size_t n, float s) {
    for (size_t i = 0; i < n; i++) v[i] *= s;
}

/* gemma3: rmsnorm of a branch's output (c->xb2) before it joins the residual stream */
static void post_norm(pl_ctx *c, const float *w, int n) {
    if (!w) return;
    const int d = c->m->n_embd;
    for (int t = 0; t < n; t++) rmsnorm(c->xb2 + (size_t)t * d, c->xb2 + (size_t)t * d, w, d, c->m->norm_eps);
}

/* One batch of n <= PL_BATCH tokens at positions n_past... Writes logits for every token
 * (logits != NULL, !last_only) or for the last one (last_only). Returns 1 if aborted. */
static int forward(pl_ctx *c, const int32_t *tokens, int n, float *logits, int last_only,
                   const atomic_int *abort_flag) {
    const pl_model *m = c->m;
    const int d = m->n_embd, hd = m->head_dim, qd = m->n_head * hd, kvd = m->n_head_kv * hd, ff = m->n_ff;
    const int pos0 = c->n_past, half = m->rope_dim / 2;

    const pl_type_info *ti = pl_type(m->tok_embd->type);
    const size_t embd_row = (size_t)d / ti->blck * ti->bytes;
    for (int t = 0; t < n; t++)
        pl_dequant_row(m->tok_embd->type, m->tok_embd->data + (size_t)tokens[t] * embd_row, c->x + (size_t)t * d, d);
    const int minicpm = m->arch == PL_ARCH_MINICPM;
    if (m->embd_scale) scale_vec(c->x, (size_t)n * d, m->embd_scale);
    for (int t = 0; t < n; t++)
        for (int i = 0; i < half; i++) {
            const float a = (float)(pos0 + t) * c->inv_freq[i];
            c->rope_cos[t * half + i] = cosf(a);
            c->rope_sin[t * half + i] = sinf(a);
            if (!c->swa_inv_freq) continue;
            const float b = (float)(pos0 + t) * c->swa_inv_freq[i];
            c->swa_cos[t * half + i] = cosf(b);
            c->swa_sin[t * half + i] = sinf(b);
        }

    for (int l = 0; l < m->n_layers; l++) {
        if (abort_flag && atomic_load(abort_flag)) return 1;
        const pl_layer *ly = &m->layers[l];

        /* attention */
        for (int t = 0; t < n; t++) rmsnorm(c->xb + (size_t)t * d, c->x + (size_t)t * d, ly->norm_att, d, m->norm_eps);
        const gguf_tensor *wqkv[3] = {ly->wq, ly->wk, ly->wv};
        const float *bqkv[3] = {ly->bq, ly->bk, ly->bv};
        float *yqkv[3] = {c->q, c->k, c->v};
        matmul(c, c->xb, n, d, 3, wqkv, bqkv, yqkv);
        for (int t = 0; t < n; t++) {
            for (int h = 0; h < m->n_head; h++) {
                float *qh = c->q + (size_t)t * qd + (size_t)h * hd;
                if (ly->q_norm) rmsnorm(qh, qh, ly->q_norm, hd, m->norm_eps);
                rope(c, qh, t, ly->swa);
            }
            for (int h = 0; h < m->n_head_kv; h++) {
                float *kh = c->k + (size_t)t * kvd + (size_t)h * hd;
                if (ly->k_norm) rmsnorm(kh, kh, ly->k_norm, hd, m->norm_eps);
                rope(c, kh, t, ly->swa);
            }
            /* append this position's k and v to the cache */
            const size_t at = c->kv_off[l] + (size_t)((pos0 + t) % c->kv_len[l]) * kvd;
            for (int i = 0; i < kvd; i++) {
                c->k_cache[at + i] = pl_fp32_to_fp16(c->k[(size_t)t * kvd + i]);
                c->v_cache[at + i] = pl_fp32_to_fp16(c->v[(size_t)t * kvd + i]);
            }
        }
        attn_job aj = {c, l, n, pos0};
        pl_pool_run(c->pool, attn_task, &aj);
        matmul1(c, c->att, n, qd, ly->wo, c->xb2);
        if (minicpm) scale_vec(c->xb2, (size_t)n * d, m->mc_residual_scale);
        post_norm(c, ly->norm_att_post, n);
        for (size_t i = 0; i < (size_t)n * d; i++) c->x[i] += c->xb2[i];

        /* feed-forward (SwiGLU; gemma3: GELU) */
        for (int t = 0; t < n; t++) rmsnorm(c->xb + (size_t)t * d, c->x + (size_t)t * d, ly->norm_ffn, d, m->norm_eps);
        const gguf_tensor *wgu[2] = {ly->w_gate, ly->w_up};
        float *ygu[2] = {c->hb, c->hb2};
        matmul(c, c->xb, n, d, 2, wgu, NULL, ygu);
        gate_job gj = {c->hb, c->hb2, (size_t)n * ff, m->ffn_gelu};
        if (n > 1)
            pl_pool_run(c->pool, gate_task, &gj); /* a batch's gated activation is worth splitting */
        else
            gate_task(&gj, 0, 1);
        matmul1(c, c->hb, n, ff, ly->w_down, c->xb2);
        if (minicpm) scale_vec(c->xb2, (size_t)n * d, m->mc_residual_scale);
        post_norm(c, ly->norm_ffn_post, n);
        for (size_t i = 0; i < (size_t)n * d; i++) c->x[i] += c->xb2[i];
    }
    c->n_past += n;
    if (m->n_swa > 0 && c->n_past - (m->n_swa + PL_BATCH) > c->ring_from) c->ring_from = c->n_past - (m->n_swa + PL_BATCH);

    if (logits) {
        const int first = last_only ? n - 1 : 0, cnt = n - first;
        for (int t = first; t < n; t++)
            rmsnorm(c->xb + (size_t)(t - first) * d, c->x + (size_t)t * d, m->norm_out, d, m->norm_eps);
        matmul1(c, c->xb, cnt, d, m->output, logits);
        if (minicpm) scale_vec(logits, (size_t)cnt * m->n_vocab, 1.0f / m->mc_logit_scale); /* as llama.cpp */
        if (m->logit_softcap > 0)
            for (size_t i = 0; i < (size_t)cnt * m->n_vocab; i++)
                logits[i] = m->logit_softcap * tanhf(logits[i] / m->logit_softcap);
    }
    return 0;
}

int pl_eval(pl_ctx *c, const int32_t *tokens, int n, float *logits, int last_only, const atomic_int *abort_flag,
            void (*progress)(void *, int), void *progress_arg, char *err, size_t errlen) {
    if (n < 0 || n > c->n_ctx - c->n_past) {
        set_err(err, errlen, "context full: %d cached + %d new tokens exceed the context of %d", c->n_past, n, c->n_ctx);
        return -1;
    }
    for (int i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= c->m->n_vocab) {
            set_err(err, errlen, "token id %d is outside the vocabulary (0..%d)", tokens[i], c->m->n_vocab - 1);
            return -1;
        }
    for (int done = 0; done < n;) {
        const int b = n - done < PL_BATCH ? n - done : PL_BATCH;
        const int last_batch = done + b == n;
        float *out = NULL;
        if (logits && !last_only) out = logits + (size_t)done * c->m->n_vocab;
        if (logits && last_only && last_batch) out = logits;
        int rc = forward(c, tokens + done, b, out, last_only, abort_flag);
        if (rc) return rc;
        done += b;
        if (progress) progress(progress_arg, done);
    }
    return 0;
}
