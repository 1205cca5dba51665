/* parrot LLM engine — the one public header of parrot/llm/core.
 *
 * Pieces, in the order data flows through them:
 *   gguf.c    GGUF v2/v3 reader over an mmap'd file; every count, length and offset is checked
 *   quant.c   weight block formats: a scalar "dequantize one row" per type (the reference path)
 *   kernels.c integer dot kernels (weights x 8-bit activations), portable + SIMD sets (kernels.h)
 *   pool.c    a tiny pthread pool: run fn(arg, ith, nth) on n threads and wait
 *   model.c   hyper-parameters + tensors by architecture (llama / qwen2 / qwen3 / gemma3 / minicpm), KV cache, forward
 *   sample.c  repetition penalty, temperature, top-k, top-p, min-p, seeded RNG
 *   lookup.c  prompt lookup: draft tokens from the context for speculative decoding
 *   engine_py.c  the Python type _core.Model (generation thread, GIL released during compute)
 *
 * Errors never abort: functions return NULL / -1 and write a one-line message to err[errlen].
 */
#ifndef PARROT_LLM_H
#define PARROT_LLM_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------------ GGUF */

enum gguf_vtype {
    GGUF_U8 = 0, GGUF_I8 = 1, GGUF_U16 = 2, GGUF_I16 = 3, GGUF_U32 = 4, GGUF_I32 = 5, GGUF_F32 = 6,
    GGUF_BOOL = 7, GGUF_STRING = 8, GGUF_ARRAY = 9, GGUF_U64 = 10, GGUF_I64 = 11, GGUF_F64 = 12,
};

/* ggml tensor types we know the size of (ids fixed by the GGUF format). */
enum pl_type {
    PL_F32 = 0, PL_F16 = 1, PL_Q4_0 = 2, PL_Q4_1 = 3, PL_Q5_0 = 6, PL_Q5_1 = 7, PL_Q8_0 = 8,
    PL_Q8_1 = 9, PL_Q2_K = 10, PL_Q3_K = 11, PL_Q4_K = 12, PL_Q5_K = 13, PL_Q6_K = 14, PL_Q8_K = 15,
    PL_BF16 = 30, PL_TYPE_COUNT = 40,
};

typedef struct {
    const char *key; /* points into the mapping, NOT NUL-terminated */
    size_t key_len;
    uint32_t type;     /* enum gguf_vtype */
    uint32_t arr_type; /* element type when type == GGUF_ARRAY */
    uint64_t arr_n;    /* element count when type == GGUF_ARRAY */
    const uint8_t *val; /* the value (for arrays: the first element) inside the mapping */
} gguf_kv;

typedef struct {
    char name[96]; /* NUL-terminated copy */
    uint32_t n_dims;
    uint64_t ne[4]; /* ne[0] = row length (elements); unused dims are 1 */
    uint32_t type;  /* enum pl_type */
    uint64_t n_elem, n_bytes;
    const uint8_t *data; /* inside the mapping, bounds already checked */
    uint8_t *x8;         /* the engine's row-interleaved copy (kernels.h) or NULL; the model owns it */
} gguf_tensor;

typedef struct {
    const uint8_t *map;
    size_t size;
    uint32_t version;
    uint64_t n_kv, n_tensors;
    gguf_kv *kv;
    gguf_tensor *tensors;
    size_t alignment;
    size_t data_offset;
} gguf_file;

gguf_file *gguf_open(const char *path, char *err, size_t errlen);
void gguf_close(gguf_file *f);
const gguf_kv *gguf_find(const gguf_file *f, const char *key);
const gguf_tensor *gguf_tensor_find(const gguf_file *f, const char *name);
/* Typed getters: 0 on success, -1 if absent or not convertible (integers of any width convert). */
int gguf_get_i64(const gguf_file *f, const char *key, int64_t *out);
int gguf_get_f64(const gguf_file *f, const char *key, double *out);
/* String value: pointer into the mapping + length; NULL if absent or not a string. */
const char *gguf_get_str(const gguf_file *f, const char *key, size_t *len);
/* Fills ptrs/lens (n entries) from a string array; returns -1 if the kv is not one. */
int gguf_arr_strings(const gguf_kv *kv, const char **ptrs, size_t *lens);
/* i-th element of a numeric array as int64 / double. */
int64_t gguf_arr_i64(const gguf_kv *kv, uint64_t i);
double gguf_arr_f64(const gguf_kv *kv, uint64_t i);
size_t gguf_vtype_size(uint32_t t); /* 0 for string/array/unknown */

/* ------------------------------------------------------------------ weight types */

typedef struct {
    const char *name;
    int blck;       /* elements per block (0 = unknown type) */
    size_t bytes;   /* bytes per block */
    int supported;  /* this engine computes with it */
} pl_type_info;

const pl_type_info *pl_type(uint32_t type); /* never NULL; blck == 0 for unknown ids */
float pl_fp16_to_fp32(uint16_t h);
uint16_t pl_fp32_to_fp16(float f);
void pl_init_tables(void); /* fp16 lookup table; idempotent, call once before compute */
/* Reference path: dequantize n elements (n a multiple of the block size) starting at a block. */
void pl_dequant_row(uint32_t type, const void *src, float *dst, int64_t n);
/* Dot product of two f32 vectors (the one inner loop every matmul ends in). */
float pl_dot_f32(const float *a, const float *b, int n);
/* Four rows against one vector (out[r] = w_r . x), for batched matmuls. */
void pl_dot4_f32(const float *w0, const float *w1, const float *w2, const float *w3, const float *x, int n,
                 float out[4]);
/* The KV cache is f16: dot against it, and y += a * row. */
float pl_dot_f16(const uint16_t *a, const float *b, int n);
void pl_axpy_f16(float *y, float a, const uint16_t *x, int n);

/* ------------------------------------------------------------------ thread pool */

typedef struct pl_pool pl_pool;
typedef void (*pl_task)(void *arg, int ith, int nth);
pl_pool *pl_pool_new(int n_threads); /* n_threads total, including the caller */
void pl_pool_run(pl_pool *p, pl_task fn, void *arg); /* runs fn on every thread, returns when all are done */
int pl_pool_size(const pl_pool *p);
void pl_pool_free(pl_pool *p);

/* ------------------------------------------------------------------ model */

enum pl_arch { PL_ARCH_LLAMA, PL_ARCH_QWEN2, PL_ARCH_QWEN3, PL_ARCH_GEMMA3, PL_ARCH_MINICPM };

typedef struct {
    const gguf_tensor *attn_norm, *wq, *wk, *wv, *wo, *ffn_norm, *w_gate, *w_up, *w_down;
    float *norm_att, *norm_ffn;       /* f32 copies of the small vectors */
    float *bq, *bk, *bv;              /* qwen2 biases (NULL if absent) */
    float *q_norm, *k_norm;           /* qwen3 / gemma3 per-head norms (NULL if absent) */
    float *norm_att_post, *norm_ffn_post; /* gemma3 "sandwich" norms on each branch's output (NULL if absent) */
    int swa;                          /* gemma3: a local layer (sliding-window attention, local RoPE base) */
} pl_layer;

typedef struct {
    enum pl_arch arch;
    char arch_name[32], name[128];
    int n_vocab, n_embd, n_ff, n_layers, n_head, n_head_kv, head_dim, rope_dim, n_ctx_train;
    float rope_base, norm_eps;
    int rope_neox; /* 1: pairs (i, i + d/2) (qwen); 0: pairs (2i, 2i+1) (llama GGUF) */
    float *rope_freqs; /* rope_freqs.weight (Llama 3.x RoPE scaling): frequency i divided by it; NULL: none */
    float attn_scale;  /* q·k multiplier: 1/sqrt(head_dim) unless the architecture says otherwise */
    /* gemma3 (zero / 1 / off elsewhere) */
    float embd_scale;      /* token embeddings multiplied by it (gemma3: sqrt(n_embd); minicpm: scale_emb); 0: not scaled */
    float logit_softcap;   /* logits = cap * tanh(logits / cap); 0: off */
    int ffn_gelu;          /* gated FFN with GELU (tanh form) in place of SiLU */
    int n_swa;             /* sliding window of the local layers (a token sees the last n_swa positions) */
    float rope_base_swa;   /* RoPE base of the local layers */
    float rope_scale;      /* linear RoPE scaling of the other layers: positions divided by it (1: none) */
    /* minicpm (model.c's minicpm_hparams): muP scales as llama.cpp reads them (and embd_scale), and longrope */
    float mc_residual_scale; /* each branch's output multiplied by it before it joins the stream */
    float mc_logit_scale;    /* logits divided by it */
    float *rope_freqs_long;  /* longrope: the divisors for a context past n_ctx_orig (rope_freqs: the short ones) */
    int n_ctx_orig;          /* longrope: the context the short factors were trained for */
    const gguf_tensor *tok_embd, *output;
    float *norm_out;
    pl_layer *layers;
    gguf_file *file;
    const struct pl_kernels *kernels; /* integer dot kernels for this CPU (kernels.h), chosen at load */
} pl_model;

/* kernels: a kernel set name ("avx2", "portable", ...; kernels.h) or NULL for the fastest this
 * CPU runs (or $PARROT_KERNELS). */
pl_model *pl_model_load(const char *path, const char *kernels, char *err, size_t errlen);
void pl_model_free(pl_model *m);

/* Inference state: KV cache sized to n_ctx, scratch buffers for up to PL_BATCH tokens. */
#define PL_BATCH 64
typedef struct pl_ctx pl_ctx;
pl_ctx *pl_ctx_new(pl_model *m, int n_ctx, int n_threads, char *err, size_t errlen);
void pl_ctx_free(pl_ctx *c);
int pl_ctx_n_ctx(const pl_ctx *c);
int pl_ctx_n_past(const pl_ctx *c);
/* Forgets cache positions >= n_past; returns the positions kept: n_past, or 0 when a local
 * layer's ring (sliding-window models) no longer holds the window the next token needs. */
int pl_ctx_truncate(pl_ctx *c, int n_past);
size_t pl_ctx_kv_bytes(const pl_ctx *c); /* K and V cache, all layers */
/* Runs tokens[0..n) at positions n_past.. (in batches of PL_BATCH) and advances n_past.
 * logits: NULL, or [n][n_vocab] (all positions) or [n_vocab] (last only, if last_only).
 * abort_flag (may be NULL) is polled between layers; returns 1 if aborted, -1 on error, 0 ok.
 * progress(arg, done) is called after each batch when non-NULL. */
int pl_eval(pl_ctx *c, const int32_t *tokens, int n, float *logits, int last_only,
            const atomic_int *abort_flag, void (*progress)(void *, int), void *progress_arg,
            char *err, size_t errlen);

/* ------------------------------------------------------------------ prompt lookup */

/* Speculative drafts from the context (lookup.c): finds the latest earlier occurrence of the
 * last g tokens of ctx[0..n) (g from ngram_max down to ngram_min) and copies up to max_draft
 * tokens that followed it into draft. Returns the number of draft tokens (0: none). */
int pl_lookup_draft(const int32_t *ctx, int n, int32_t *draft, int max_draft, int ngram_max, int ngram_min);

/* ------------------------------------------------------------------ sampling */

typedef struct {
    float temperature; /* <= 0: greedy */
    int top_k;         /* <= 0: off */
    float top_p;       /* >= 1: off */
    float min_p;       /* <= 0: off */
    float repeat_penalty; /* 1: off; > 1 pushes recently seen tokens down */
    int repeat_last_n;
    uint64_t seed;
} pl_sampling;

typedef struct pl_sampler pl_sampler;
pl_sampler *pl_sampler_new(int n_vocab, const pl_sampling *s);
void pl_sampler_free(pl_sampler *s);
/* Picks a token from logits (modified in place by the penalty). recent: the last n_recent tokens. */
int32_t pl_sample(pl_sampler *s, float *logits, const int32_t *recent, int n_recent);
/* Applies the repetition penalty only (exposed for tests). */
void pl_apply_repeat_penalty(float *logits, int n_vocab, const int32_t *recent, int n_recent, float penalty);

#endif
