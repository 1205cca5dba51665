/* The LLM core's own test driver: plain C, no Python, so it runs wherever the core is
 * cross-compiled to (aarch64 musl for the router, under qemu here).
 *
 *   core_test FIXTURE_DIR        (FIXTURE_DIR from: python tests/c/core_fixture.py FIXTURE_DIR)
 *
 * Checks the GGUF reader, the dequantization of every supported block type, the BPE tokenizer
 * and a greedy generation on two tiny models, with every kernel set the CPU runs (kernels.h), against
 * values computed outside the core (the
 * `gguf` package, Hugging Face tokenizers, a numpy forward pass); see core_fixture.py for the
 * record format. Prints one line per failure and a summary; exit status 1 on any failure. */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "parrot_llm.h"
#include "tokenizer.h"

static int n_checks, n_failed;
#define CHECK(cond, ...)                                              \
    do {                                                              \
        n_checks++;                                                   \
        if (!(cond)) {                                                \
            n_failed++;                                               \
            fprintf(stderr, "FAIL line %d: ", __LINE__);              \
            fprintf(stderr, __VA_ARGS__);                             \
            fputc('\n', stderr);                                      \
        }                                                             \
    } while (0)

/* ------------------------------------------------------------------ record parsing */

static char *cursor; /* the rest of the current record line */

static char *word(void) {
    while (*cursor == ' ') cursor++;
    if (!*cursor || *cursor == '\n') return NULL;
    char *w = cursor;
    while (*cursor && *cursor != ' ' && *cursor != '\n') cursor++;
    if (*cursor) *cursor++ = 0;
    return w;
}
static long num(void) {
    char *w = word();
    if (!w) { fprintf(stderr, "core_test: record too short\n"); exit(2); }
    return strtol(w, NULL, 10);
}
static double real(void) {
    char *w = word();
    if (!w) { fprintf(stderr, "core_test: record too short\n"); exit(2); }
    return strtod(w, NULL);
}
static unsigned char *hex(size_t *len) {
    char *w = word();
    size_t n = w ? strlen(w) / 2 : 0;
    unsigned char *out = malloc(n + 1);
    for (size_t i = 0; i < n; i++) sscanf(w + 2 * i, "%2hhx", &out[i]);
    out[n] = 0;
    *len = n;
    return out;
}

/* ------------------------------------------------------------------ the checks */

static pl_model *model;
static char model_path[4096];
static pt_tokenizer *tokenizer;

static pt_tokenizer *tokenizer_from_gguf(const gguf_file *f) {
    const gguf_kv *tk = gguf_find(f, "tokenizer.ggml.tokens"), *tt = gguf_find(f, "tokenizer.ggml.token_type");
    const gguf_kv *mg = gguf_find(f, "tokenizer.ggml.merges");
    if (!tk || !mg) return NULL;
    int nv = (int)tk->arr_n, nm = (int)mg->arr_n;
    const char **tp = malloc(nv * sizeof *tp), **mp = malloc(nm * sizeof *mp);
    size_t *tl = malloc(nv * sizeof *tl), *ml = malloc(nm * sizeof *ml), len;
    int32_t *types = malloc(nv * sizeof *types);
    gguf_arr_strings(tk, tp, tl);
    gguf_arr_strings(mg, mp, ml);
    for (int i = 0; i < nv; i++) types[i] = tt ? (int32_t)gguf_arr_i64(tt, i) : 1;
    char pre[64] = "default", err[256] = "";
    const char *ps = gguf_get_str(f, "tokenizer.ggml.pre", &len);
    if (ps && len < sizeof pre) memcpy(pre, ps, len), pre[len] = 0;
    pt_tokenizer *t = pt_tokenizer_new(nv, tp, tl, types, nm, mp, ml, pre, err, sizeof err);
    CHECK(t != NULL, "tokenizer: %s", err);
    free(tp), free(mp), free(tl), free(ml), free(types);
    return t;
}

static void check_truncated(const char *path) {
    /* a file cut in half must be refused with a message, never read out of bounds */
    FILE *in = fopen(path, "rb");
    fseek(in, 0, SEEK_END);
    long size = ftell(in);
    rewind(in);
    char *buf = malloc(size);
    CHECK(fread(buf, 1, size, in) == (size_t)size, "read %s", path);
    fclose(in);
    char cut[4200];
    snprintf(cut, sizeof cut, "%s.truncated", path);
    FILE *out = fopen(cut, "wb");
    fwrite(buf, 1, size / 2, out);
    fclose(out);
    free(buf);
    char err[256] = "";
    gguf_file *f = gguf_open(cut, err, sizeof err);
    CHECK(f == NULL && err[0], "truncated GGUF accepted (%s)", cut);
    remove(cut);
}

static void record_model(const char *dir) {
    char *path = model_path, err[256] = "";
    const char *name = word(), *arch = word();
    snprintf(model_path, sizeof model_path, "%s/%s", dir, name);
    long n_tensors = num(), n_kv = num(), n_vocab = num(), n_embd = num(), n_layers = num();
    long n_head = num(), n_head_kv = num();
    if (model) pl_model_free(model);
    model = pl_model_load(path, NULL, err, sizeof err);
    CHECK(model != NULL, "load %s: %s", name, err);
    if (!model) exit(1);
    const gguf_file *f = model->file;
    size_t len;
    const char *a = gguf_get_str(f, "general.architecture", &len);
    CHECK(f->version == 3, "%s: GGUF version %u", name, f->version);
    CHECK((long)f->n_tensors == n_tensors && (long)f->n_kv == n_kv, "%s: %lu tensors %lu kv, want %ld %ld", name,
          (unsigned long)f->n_tensors, (unsigned long)f->n_kv, n_tensors, n_kv);
    CHECK(a && len == strlen(arch) && !memcmp(a, arch, len), "%s: architecture", name);
    CHECK(model->n_vocab == n_vocab && model->n_embd == n_embd && model->n_layers == n_layers &&
              model->n_head == n_head && model->n_head_kv == n_head_kv,
          "%s: hyper-parameters %d %d %d %d %d", name, model->n_vocab, model->n_embd, model->n_layers, model->n_head,
          model->n_head_kv);
    if (tokenizer) pt_tokenizer_free(tokenizer);
    tokenizer = tokenizer_from_gguf(f);
    check_truncated(path);
}

static void record_tensor(void) {
    const char *name = word();
    long type = num(), ne0 = num(), ne1 = num();
    const gguf_tensor *t = gguf_tensor_find(model->file, name);
    CHECK(t != NULL, "tensor %s missing", name);
    if (!t) return;
    CHECK((long)t->type == type && (long)t->ne[0] == ne0 && (long)t->ne[1] == ne1, "tensor %s: type %u ne %lu x %lu",
          name, t->type, (unsigned long)t->ne[0], (unsigned long)t->ne[1]);
    size_t off = (size_t)(t->data - model->file->map);
    CHECK(off >= model->file->data_offset && (off - model->file->data_offset) % model->file->alignment == 0 &&
              off + t->n_bytes <= model->file->size,
          "tensor %s: data at %zu not aligned or out of the file", name, off);
}

static void record_dequant(void) {
    long type = num(), n_blocks = num();
    size_t nbytes;
    unsigned char *raw = hex(&nbytes);
    long n = num();
    const pl_type_info *info = pl_type((uint32_t)type);
    CHECK(info->supported && info->blck * n_blocks * (long)info->bytes / info->blck * 1 >= 0, "type %ld", type);
    CHECK((size_t)(n / info->blck) * info->bytes == nbytes, "%s: %zu bytes for %ld values", info->name, nbytes, n);
    float *got = malloc(n * sizeof *got);
    pl_dequant_row((uint32_t)type, raw, got, n);
    double worst = 0, scale = 0;
    for (long i = 0; i < n; i++) {
        double want = real();
        worst = fmax(worst, fabs(got[i] - want));
        scale = fmax(scale, fabs(want));
    }
    CHECK(worst <= 1e-6 * scale, "dequant %s: max error %g (scale %g)", info->name, worst, scale);
    free(got), free(raw);
}

static void record_tok(void) {
    size_t len;
    unsigned char *text = hex(&len);
    long n = num();
    int32_t ids[512];
    int got = pt_tokenizer_encode(tokenizer, (const char *)text, len, 1, ids, 512);
    int same = got == n;
    for (long i = 0; i < n; i++) {
        long want = num();
        if (i < got && ids[i] != want) same = 0;
    }
    CHECK(same, "tokenizer: '%s' gave %d ids, want %ld", text, got, n);
    /* the pieces give back the text byte for byte */
    char back[2048];
    size_t pos = 0;
    for (int i = 0; i < got && i < 512; i++) {
        size_t pl;
        const char *p = pt_tokenizer_piece(tokenizer, ids[i], &pl);
        if (pos + pl < sizeof back) memcpy(back + pos, p, pl);
        pos += pl;
    }
    CHECK(pos == len && !memcmp(back, text, len), "tokenizer: pieces of '%s' do not give the text back", text);
    free(text);
}

/* One greedy run of the current model with one kernel set against the reference steps. */
static void greedy_with(const pl_kernels *kernels, const int32_t *prompt, int n_prompt, int n_gen, const long *want,
                        const double *margin, const double *maxabs, const double *ref) {
    char err[256] = "";
    pl_model *m = pl_model_load(model_path, kernels->name, err, sizeof err);
    CHECK(m != NULL, "load with kernels %s: %s", kernels->name, err);
    if (!m) return;
    pl_ctx *ctx = pl_ctx_new(m, 128, 2, err, sizeof err);
    CHECK(ctx != NULL, "context: %s", err);
    if (!ctx) return pl_model_free(m);
    pl_sampling greedy = {.temperature = 0, .top_k = 0, .top_p = 1, .min_p = 0, .repeat_penalty = 1, .seed = 1};
    pl_sampler *sampler = pl_sampler_new(m->n_vocab, &greedy);
    float *logits = malloc(m->n_vocab * sizeof *logits);
    int32_t ids[256];
    memcpy(ids, prompt, n_prompt * sizeof *ids);
    int rc = pl_eval(ctx, ids, n_prompt, logits, 1, NULL, NULL, NULL, err, sizeof err);
    CHECK(rc == 0, "prefill: %s", err);
    int matched = 0;
    for (int step = 0; step < n_gen && rc == 0; step++) {
        const double *r = ref + (size_t)step * m->n_vocab;
        double worst = 0;
        for (int v = 0; v < m->n_vocab; v++) worst = fmax(worst, fabs(logits[v] - r[v]));
        CHECK(worst <= 1e-3 * maxabs[step], "%s [%s] step %d: logits off by %g (max |logit| %g)", m->name,
              kernels->name, step, worst, maxabs[step]);
        int32_t tok = pl_sample(sampler, logits, ids, n_prompt + step);
        if (tok != want[step]) {
            /* a near-tie may legitimately break the other way; past it the texts differ */
            CHECK(margin[step] < 1e-2 * maxabs[step], "%s [%s] step %d: token %d, reference %ld (margin %g)",
                  m->name, kernels->name, step, tok, want[step], margin[step]);
            break;
        }
        matched++;
        ids[n_prompt + step] = tok;
        rc = pl_eval(ctx, &tok, 1, logits, 1, NULL, NULL, NULL, err, sizeof err);
        CHECK(rc == 0, "decode: %s", err);
    }
    CHECK(matched >= 4, "%s [%s]: only %d greedy tokens followed the reference", m->name, kernels->name, matched);
    printf("core_test: %s [%s] greedy: %d/%d tokens as the reference\n", m->name, kernels->name, matched, n_gen);
    free(logits);
    pl_sampler_free(sampler);
    pl_ctx_free(ctx);
    pl_model_free(m);
}

/* The reference's greedy steps, checked with every kernel set this CPU runs that computes the
 * way the record says: integer kernels (activations rounded to 8 bits) or the f32 path. */
static void record_greedy(void) {
    int32_t prompt[128];
    int act_q8 = (int)num(), n_prompt = (int)num();
    for (int i = 0; i < n_prompt; i++) prompt[i] = (int32_t)num();
    int n_gen = (int)num(), nv = model->n_vocab;
    long *want = malloc(n_gen * sizeof *want);
    double *margin = malloc(n_gen * sizeof *margin), *maxabs = malloc(n_gen * sizeof *maxabs);
    double *ref = malloc((size_t)n_gen * nv * sizeof *ref);
    for (int step = 0; step < n_gen; step++) {
        want[step] = num(), margin[step] = real(), maxabs[step] = real();
        for (int v = 0; v < nv; v++) ref[(size_t)step * nv + v] = real();
    }
    const pl_kernels *sets[16];
    int n_sets = pl_kernels_available(sets, 16);
    CHECK(n_sets >= 2, "kernel sets: %d (at least portable and f32)", n_sets);
    const uint32_t wtype = model->layers[0].wq->type;
    for (int k = 0; k < n_sets; k++)
        if ((sets[k]->dot[wtype] != NULL) == act_q8) greedy_with(sets[k], prompt, n_prompt, n_gen, want, margin, maxabs, ref);
    free(want), free(margin), free(maxabs), free(ref);
}

/* The inner loops against double-precision sums (lengths that are not multiples of the SIMD width). */
static void check_kernels(void) {
    enum { N = 1003 };
    static float a[N], b[N], w[4][N];
    static uint16_t h[N];
    unsigned s = 12345;
    for (int i = 0; i < N; i++) {
        s = s * 1103515245u + 12345u, a[i] = (float)((s >> 8) % 2001) / 1000.0f - 1.0f;
        s = s * 1103515245u + 12345u, b[i] = (float)((s >> 8) % 2001) / 1000.0f - 1.0f;
        for (int r = 0; r < 4; r++) w[r][i] = a[i] * (float)(r + 1) - b[i];
        h[i] = pl_fp32_to_fp16(b[i]);
    }
    for (int n = 1; n <= N; n += 167) {
        double ref = 0, refh = 0, ref4[4] = {0};
        for (int i = 0; i < n; i++) {
            ref += (double)a[i] * b[i];
            refh += (double)a[i] * pl_fp16_to_fp32(h[i]);
            for (int r = 0; r < 4; r++) ref4[r] += (double)w[r][i] * b[i];
        }
        float out[4];
        pl_dot4_f32(w[0], w[1], w[2], w[3], b, n, out);
        CHECK(fabs(pl_dot_f32(a, b, n) - ref) < 1e-4 * (1 + fabs(ref)), "pl_dot_f32 n=%d", n);
        CHECK(fabs(pl_dot_f16(h, a, n) - refh) < 1e-4 * (1 + fabs(refh)), "pl_dot_f16 n=%d", n);
        /* whichever form this CPU runs, the documented order: four running sums, then pairs */
        float acc[4] = {0}, want;
        int i = 0;
        for (; i + 4 <= n; i += 4)
            for (int k = 0; k < 4; k++) acc[k] += pl_fp16_to_fp32(h[i + k]) * a[i + k];
        want = (acc[0] + acc[2]) + (acc[1] + acc[3]);
        for (; i < n; i++) want += pl_fp16_to_fp32(h[i]) * a[i];
        const float got_h = pl_dot_f16(h, a, n);
        CHECK(memcmp(&got_h, &want, 4) == 0, "pl_dot_f16 bits n=%d", n);
        for (int r = 0; r < 4; r++) CHECK(fabs(out[r] - ref4[r]) < 1e-4 * (1 + fabs(ref4[r])), "pl_dot4_f32 n=%d", n);
    }
    float y[N] = {0};
    pl_axpy_f16(y, 0.5f, h, N);
    double worst = 0;
    for (int i = 0; i < N; i++) {
        worst = fmax(worst, fabs(y[i] - 0.5 * pl_fp16_to_fp32(h[i])));
        const float want = 0.0f + 0.5f * pl_fp16_to_fp32(h[i]);
        CHECK(memcmp(&y[i], &want, 4) == 0, "pl_axpy_f16 bits at %d", i);
    }
    CHECK(worst < 1e-6, "pl_axpy_f16: %g", worst);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: core_test FIXTURE_DIR (made by tests/c/core_fixture.py)\n");
        return 2;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/core_test.txt", argv[1]);
    FILE *in = fopen(path, "r");
    if (!in) {
        perror(path);
        return 2;
    }
    pl_init_tables();
    check_kernels();
    char *line = NULL;
    size_t cap = 0;
    int done = 0;
    while (getline(&line, &cap, in) > 0) {
        cursor = line;
        const char *kind = word();
        if (!kind) continue;
        if (!strcmp(kind, "model")) record_model(argv[1]);
        else if (!strcmp(kind, "tensor")) record_tensor();
        else if (!strcmp(kind, "greedy")) record_greedy();
        else if (!strcmp(kind, "dequant")) record_dequant();
        else if (!strcmp(kind, "tok")) record_tok();
        else if (!strcmp(kind, "end")) done = 1;
        else fprintf(stderr, "core_test: unknown record '%s'\n", kind), n_failed++;
    }
    CHECK(done, "fixture ended early (no 'end' record)");
    free(line);
    fclose(in);
    if (tokenizer) pt_tokenizer_free(tokenizer);
    if (model) pl_model_free(model);
    printf("core_test: %d checks, %d failed\n", n_checks, n_failed);
    return n_failed ? 1 : 0;
}
