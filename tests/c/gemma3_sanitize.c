/* A Gemma 3 file (tests/test_llm_arch_gemma3.py converts the tiny checkpoint) through the C core
 * alone, built with AddressSanitizer and UBSan: prefill past the local layers' rings, cutting
 * the cache back within and beyond them, decoding, for the portable and the default kernel
 * sets; then the SentencePiece tokenizer on random bytes, chat markers and spaces, with and
 * without the space prefix and with short output buffers. Prints "ok" and exits 0, or says
 * what broke. The results themselves are checked against transformers from Python. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parrot_llm.h"
#include "tokenizer.h"

#define FAIL(...) do { printf(__VA_ARGS__); printf("\n"); return 1; } while (0)

static int run_model(const char *path, const char *kernels) {
    char err[256];
    pl_model *m = pl_model_load(path, kernels, err, sizeof err);
    if (!m) FAIL("load: %s", err);
    pl_ctx *c = pl_ctx_new(m, 100, 2, err, sizeof err);
    if (!c) FAIL("context: %s", err);
    int32_t toks[90];
    for (int i = 0; i < 90; i++) toks[i] = (i * 37 + 5) % m->n_vocab;
    float *logits = malloc((size_t)90 * m->n_vocab * sizeof *logits);
    if (!logits) FAIL("out of memory");
    if (pl_eval(c, toks, 70, logits, 0, NULL, NULL, NULL, err, sizeof err)) FAIL("prefill: %s", err);
    if (pl_ctx_truncate(c, 60) != 60) FAIL("a cut within the rings must keep the cache");
    if (pl_eval(c, toks + 60, 30, logits, 1, NULL, NULL, NULL, err, sizeof err)) FAIL("eval: %s", err);
    if (pl_ctx_truncate(c, 3) != 0) FAIL("a cut past the rings must keep nothing");
    for (int i = 0; i < 12; i++)
        if (pl_eval(c, toks + i, 1, logits, 1, NULL, NULL, NULL, err, sizeof err)) FAIL("decode: %s", err);
    if (pl_ctx_n_past(c) != 12) FAIL("n_past %d", pl_ctx_n_past(c));
    free(logits);
    pl_ctx_free(c);
    pl_model_free(m);
    return 0;
}

static int run_tokenizer(const char *path) {
    char err[256];
    gguf_file *f = gguf_open(path, err, sizeof err);
    if (!f) FAIL("%s", err);
    const gguf_kv *tk = gguf_find(f, "tokenizer.ggml.tokens"), *tt = gguf_find(f, "tokenizer.ggml.token_type"),
                  *sc = gguf_find(f, "tokenizer.ggml.scores");
    if (!tk || !tt || !sc) FAIL("no SentencePiece vocabulary");
    const int nv = (int)tk->arr_n;
    const char **tp = malloc(nv * sizeof *tp);
    size_t *tl = malloc(nv * sizeof *tl);
    int32_t *ty = malloc(nv * sizeof *ty);
    float *scores = malloc(nv * sizeof *scores);
    gguf_arr_strings(tk, tp, tl);
    for (int i = 0; i < nv; i++) {
        ty[i] = (int32_t)gguf_arr_i64(tt, i);
        scores[i] = (float)gguf_arr_f64(sc, i);
    }
    pt_tokenizer *t = pt_tokenizer_new_spm(nv, tp, tl, ty, scores, err, sizeof err);
    if (!t) FAIL("tokenizer: %s", err);
    static const char *pool[] = {" ", "  ", "\xe2\x96\x81", "a", "the", "\xe4\xbd\xa0", "\xc3", "\xff",
                                 "<start_of_turn>", "<bos>", "\n", "\xf0\x9f\x98\x80", "1"};
    const int n_pool = (int)(sizeof pool / sizeof pool[0]);
    static int32_t out[4096];
    srand(1);
    for (int it = 0; it < 20000; it++) {
        char buf[1024];
        size_t n = 0;
        for (int j = 0, k = rand() % 60; j < k; j++) {
            if (rand() % 3 == 0) { buf[n++] = (char)(rand() % 256); continue; }
            const char *p = pool[rand() % n_pool];
            const size_t l = strlen(p);
            if (n + l >= sizeof buf) break;
            memcpy(buf + n, p, l);
            n += l;
        }
        pt_tokenizer_set_space_prefix(t, it & 1);
        const int r = pt_tokenizer_encode(t, buf, n, it & 2, out, 4096);
        if (r < 0 || r > 4096) FAIL("encode returned %d", r);
        for (int i = 0; i < r; i++)
            if (out[i] < 0 || out[i] >= nv) FAIL("token id %d outside the vocabulary", out[i]);
        if (pt_tokenizer_encode(t, buf, n, it & 2, out, r / 2) != r) FAIL("a short buffer changed the count");
    }
    pt_tokenizer_free(t);
    free(tp); free(tl); free(ty); free(scores);
    gguf_close(f);
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 2) FAIL("usage: gemma3_sanitize FILE.gguf");
    pl_init_tables();
    if (run_model(argv[1], "portable") || run_model(argv[1], NULL) || run_tokenizer(argv[1])) return 1;
    printf("ok\n");
    return 0;
}
