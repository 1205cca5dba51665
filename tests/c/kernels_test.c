/* Kernel test driver (plain C, no Python): every integer kernel set this CPU offers against the
 * portable reference, and the portable reference against the dequantizer of quant.c.
 *   - random weights and activations: results agree to float rounding;
 *   - unit scales and small integers: the arithmetic is integer, so results must be identical;
 *   - the activation quantizer: |q| <= 127, block sums, rounding error <= d/2.
 * Built and run natively by tests/test_llm_kernels.py and under qemu-aarch64 (cortex-a76 with
 * dotprod, cortex-a53 without) by `make test-arm-kernels`. Exit status 0 = all passed.
 * `kernels_test --bench` also prints nanoseconds per dot of a 4864-wide row per set. */
#define _POSIX_C_SOURCE 199309L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels.h"

static int failures;
static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(void) { /* xorshift64* */
    rng ^= rng >> 12, rng ^= rng << 25, rng ^= rng >> 27;
    return (uint32_t)((rng * 0x2545f4914f6cdd1dull) >> 32);
}
static float frnd(float lo, float hi) { return lo + (hi - lo) * (float)(rnd() / 4294967296.0); }

static void put_f16(uint8_t *p, float f) {
    const uint16_t h = pl_fp32_to_fp16(f);
    p[0] = (uint8_t)h, p[1] = (uint8_t)(h >> 8);
}

static const uint32_t TYPES[] = {PL_Q8_0, PL_Q4_0, PL_Q5_0, PL_Q4_K, PL_Q6_K};

/* Random blocks; unit: every f16 scale 1.0 (integer arithmetic end to end). */
static void fill_weights(uint32_t type, uint8_t *w, int n, int unit) {
    const pl_type_info *ti = pl_type(type);
    const int nb = n / ti->blck;
    for (size_t i = 0; i < (size_t)nb * ti->bytes; i++) w[i] = (uint8_t)rnd();
    for (int b = 0; b < nb; b++) {
        uint8_t *blk = w + (size_t)b * ti->bytes;
        switch (type) {
        case PL_Q4_K:
            put_f16(blk, unit ? 1.0f : frnd(0.001f, 0.02f));
            put_f16(blk + 2, unit ? 1.0f : frnd(0.001f, 0.02f));
            break;
        case PL_Q6_K: put_f16(blk + 208, unit ? 1.0f : frnd(0.001f, 0.02f)); break;
        default: put_f16(blk, unit ? 1.0f : frnd(-0.05f, 0.05f)); break;
        }
    }
}

/* unit: d = 1 and |q| <= qmax, else the quantizer's own blocks of random floats */
static void fill_acts(pl_q8a *a, float *x, int n, int unit, int qmax) {
    if (!unit) {
        for (int i = 0; i < n; i++) x[i] = frnd(-3.0f, 3.0f) * (i % 7 == 0 ? 4.0f : 1.0f);
        pl_quantize_q8a(x, a, n);
        return;
    }
    for (int b = 0; b < n / PL_QA; b++) {
        int s[2] = {0, 0};
        for (int j = 0; j < PL_QA; j++) {
            const int q = (int)(rnd() % (2 * qmax + 1)) - qmax;
            a[b].q[j] = (int8_t)q;
            s[j / 16] += q;
        }
        a[b].d = 1.0f, a[b].s[0] = (int16_t)s[0], a[b].s[1] = (int16_t)s[1];
    }
}

static void check(int ok, const char *what, const char *set, uint32_t type, double got, double want) {
    if (ok) return;
    failures++;
    printf("FAIL %s [%s %s]: got %.9g, want %.9g\n", what, set, pl_type(type)->name, got, want);
}

/* the SIMD quantizer (where this CPU has one) gives the portable one's bits, odd values included */
static void test_quantizer_simd(void) {
    void (*simd)(const float *, pl_q8a *, int) = pl_quantize_q8a_x86();
    if (!simd) return;
    enum { N = 4864 };
    static float x[N];
    static pl_q8a want[N / PL_QA], got[N / PL_QA];
    for (int i = 0; i < N; i++) x[i] = frnd(-1.0f, 1.0f) * powf(10.0f, (float)(i / 32 % 13) - 6.0f);
    for (int i = 0; i < 32; i++) x[64 + i] = 0.0f; /* an all-zero block */
    x[200] = NAN, x[300] = INFINITY, x[301] = -3.0f, x[400] = 1e30f;
    pl_quantize_q8a_portable(x, want, N);
    simd(x, got, N);
    for (int b = 0; b < N / PL_QA; b++)
        check(memcmp(&want[b], &got[b], sizeof want[b]) == 0, "SIMD quantizer == portable (bitwise)", "quantize",
              PL_Q8_0, got[b].d, want[b].d);
}

static void test_quantizer(void) {
    enum { N = 256 };
    float x[N];
    pl_q8a a[N / PL_QA];
    for (int i = 0; i < N; i++) x[i] = frnd(-2.0f, 2.0f) * (i < 32 ? 0.0f : 1.0f) + (i == 40 ? 50.0f : 0.0f);
    pl_quantize_q8a(x, a, N);
    check(a[0].d == 0.0f && a[0].q[5] == 0, "all-zero block", "quantize", PL_Q8_0, a[0].d, 0);
    for (int b = 0; b < N / PL_QA; b++) {
        int s0 = 0, s1 = 0;
        for (int j = 0; j < PL_QA; j++) {
            const float xv = x[b * PL_QA + j];
            check(a[b].q[j] >= -127 && a[b].q[j] <= 127, "|q| <= 127", "quantize", PL_Q8_0, a[b].q[j], 127);
            check(fabsf(a[b].d * a[b].q[j] - xv) <= 0.5001f * a[b].d, "rounding", "quantize", PL_Q8_0,
                  a[b].d * a[b].q[j], xv);
            *(j < 16 ? &s0 : &s1) += a[b].q[j];
        }
        check(s0 == a[b].s[0] && s1 == a[b].s[1], "block sums", "quantize", PL_Q8_0, a[b].s[0], s0);
    }
    /* the largest element maps to exactly +-127 */
    check(a[1].q[8] == 127, "max -> 127", "quantize", PL_Q8_0, a[1].q[8], 127);
}

/* portable kernel vs float dequantization (quant.c, itself tested against the gguf package) */
static void test_reference(uint32_t type, int n) {
    const pl_type_info *ti = pl_type(type);
    uint8_t *w = malloc((size_t)n / ti->blck * ti->bytes);
    float *x = malloc((size_t)n * 4), *wf = malloc((size_t)n * 4);
    pl_q8a *a = malloc((size_t)n / PL_QA * sizeof *a);
    fill_weights(type, w, n, 0);
    fill_acts(a, x, n, 0, 0);
    pl_dequant_row(type, w, wf, n);
    double want = 0, mag = 0;
    for (int i = 0; i < n; i++) {
        const double xa = (double)a[i / PL_QA].d * a[i / PL_QA].q[i % PL_QA];
        want += wf[i] * xa;
        mag += fabs(wf[i] * xa);
    }
    const float got = pl_kernels_portable()->dot[type](n, w, a);
    check(fabs(got - want) <= 1e-5 * mag + 1e-6, "portable vs dequantized", "portable", type, got, want);
    free(w), free(x), free(wf), free(a);
}

static void test_set(const pl_kernels *k, uint32_t type, int n) {
    const pl_type_info *ti = pl_type(type);
    const pl_vec_dot ref = pl_kernels_portable()->dot[type], dot = k->dot[type];
    if (!dot) {
        failures++;
        printf("FAIL [%s %s]: no kernel\n", k->name, ti->name);
        return;
    }
    uint8_t *w = malloc((size_t)n / ti->blck * ti->bytes);
    float *x = malloc((size_t)n * 4);
    pl_q8a *a = malloc((size_t)n / PL_QA * sizeof *a);
    for (int rep = 0; rep < 20; rep++) {
        /* integer case: exact; |sum| stays below 2^24 for these sizes and ranges */
        fill_weights(type, w, n, 1);
        fill_acts(a, x, n, 1, type == PL_Q6_K ? 3 : 8);
        const float want_i = ref(n, w, a), got_i = dot(n, w, a);
        check(got_i == want_i, "integer arithmetic (exact)", k->name, type, got_i, want_i);
        /* float case: same sum up to rounding */
        fill_weights(type, w, n, 0);
        fill_acts(a, x, n, 0, 0);
        double mag = 0;
        float wf[256];
        for (int i = 0; i < n; i += ti->blck) {
            pl_dequant_row(type, w + (size_t)i / ti->blck * ti->bytes, wf, ti->blck);
            for (int j = 0; j < ti->blck; j++)
                mag += fabs((double)wf[j] * a[(i + j) / PL_QA].d * a[(i + j) / PL_QA].q[(i + j) % PL_QA]);
        }
        const float want = ref(n, w, a), got = dot(n, w, a);
        check(fabs(got - want) <= 2e-6 * mag + 1e-6, "random blocks", k->name, type, got, want);
        if (k->dot4[type]) { /* four tokens at once: bit-identical to one at a time */
            pl_q8a *a4 = malloc((size_t)4 * n / PL_QA * sizeof *a4);
            for (int t = 0; t < 4; t++) fill_acts(a4 + (size_t)t * (n / PL_QA), x, n, 0, 0);
            float out[4];
            k->dot4[type](n, w, a4, (size_t)n / PL_QA, out);
            for (int t = 0; t < 4; t++) {
                const float one = dot(n, w, a4 + (size_t)t * (n / PL_QA));
                check(memcmp(&one, &out[t], 4) == 0, "dot4 == dot (bitwise)", k->name, type, out[t], one);
            }
            free(a4);
        }
    }
    free(w), free(x), free(a);
}

/* x8 (row-interleaved copy made at load): for 1..9 tokens, every row and token bit-identical to
 * the portable dot on the file's own blocks, with real float scales (the same operations in
 * the same order) */
static void test_x8(const char *name, pl_gemm_x8 gemm, uint32_t type, int n) {
    enum { ROWS = 16, TOK = 9 };
    const pl_type_info *ti = pl_type(type);
    const size_t rb = (size_t)n / ti->blck * ti->bytes, xs = pl_x8_size(type, ROWS, n);
    uint8_t *w = malloc(rb * ROWS), *packed = malloc(xs);
    float *x = malloc((size_t)n * 4), out[TOK * ROWS];
    pl_q8a *a = malloc((size_t)TOK * (n / PL_QA) * sizeof *a);
    check(xs == rb * ROWS, "x8 copy has the file's size", name, type, (double)xs, (double)(rb * ROWS));
    for (int unit = 0; unit < 2; unit++)
        for (int rep = 0; rep < 4; rep++) {
            for (int r = 0; r < ROWS; r++) fill_weights(type, w + r * rb, n, unit);
            for (int t = 0; t < TOK; t++) fill_acts(a + (size_t)t * (n / PL_QA), x, n, unit, 127);
            pl_pack_x8(type, w, ROWS, n, packed);
            for (int nt = 1; nt <= TOK; nt += rep + 1) {
                for (int g = 0; g < ROWS / PL_X8_ROWS; g++)
                    gemm(n, packed + (size_t)g * xs / (ROWS / PL_X8_ROWS), a, (size_t)n / PL_QA, nt,
                                out + g * PL_X8_ROWS, ROWS);
                for (int t = 0; t < nt; t++)
                    for (int r = 0; r < ROWS; r++) {
                        const float want = pl_kernels_portable()->dot[type](n, w + r * rb, a + (size_t)t * (n / PL_QA));
                        check(memcmp(&want, &out[t * ROWS + r], 4) == 0, "x8 == portable dot (bitwise)", name, type,
                              out[t * ROWS + r], want);
                    }
            }
        }
    free(w), free(packed), free(x), free(a);
}

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void bench(const pl_kernels *k, uint32_t type) {
    enum { N = 4864, ROWS = 64 }; /* a 4864-wide row: the feed-forward down matrix of a 0.5B model */
    const pl_type_info *ti = pl_type(type);
    const size_t rb = (size_t)N / ti->blck * ti->bytes;
    uint8_t *w = malloc(rb * ROWS);
    float x[N];
    pl_q8a a[N / PL_QA];
    for (int r = 0; r < ROWS; r++) fill_weights(type, w + r * rb, N, 0);
    fill_acts(a, x, N, 0, 0);
    volatile float sink = 0;
    double best = 1e30; /* the fastest of many short runs: the machine may be shared */
    for (int rep = 0; rep < 300; rep++) {
        const double t0 = now_ns();
        for (int r = 0; r < ROWS; r++) sink += k->dot[type](N, w + r * rb, a);
        const double dt = now_ns() - t0;
        if (dt < best) best = dt;
    }
    printf("  %-11s %-5s %8.1f ns/row (%.2f GB/s of weights)", k->name, ti->name, best / ROWS, rb * ROWS / best);
    if (k->dot4[type]) { /* the batch kernel: ns per row and token, weights in L2 */
        pl_q8a *a4 = malloc((size_t)4 * (N / PL_QA) * sizeof *a4);
        for (int t = 0; t < 4; t++) fill_acts(a4 + (size_t)t * (N / PL_QA), x, N, 0, 0);
        float out[4];
        best = 1e30;
        for (int rep = 0; rep < 300; rep++) {
            const double t0 = now_ns();
            for (int r = 0; r < ROWS; r++) k->dot4[type](N, w + r * rb, a4, N / PL_QA, out), sink += out[0];
            const double dt = now_ns() - t0;
            if (dt < best) best = dt;
        }
        printf("; dot4 %8.1f ns/row/token", best / ROWS / 4);
        free(a4);
    }
    if (k->x8[type]) { /* the row-interleaved copy: one token (decode), then 4 (a batch) */
        pl_q8a *a4 = malloc((size_t)4 * (N / PL_QA) * sizeof *a4);
        for (int t = 0; t < 4; t++) fill_acts(a4 + (size_t)t * (N / PL_QA), x, N, 0, 0);
        uint8_t *packed = malloc(pl_x8_size(type, ROWS, N));
        pl_pack_x8(type, w, ROWS, N, packed);
        float out[4 * ROWS];
        for (int nt = 1; nt <= 4; nt += 3) {
            best = 1e30;
            for (int rep = 0; rep < 300; rep++) {
                const double t0 = now_ns();
                for (int g = 0; g < ROWS / PL_X8_ROWS; g++)
                    k->x8[type](N, packed + g * rb * PL_X8_ROWS, a4, N / PL_QA, nt, out + g * PL_X8_ROWS, ROWS);
                sink += out[0];
                const double dt = now_ns() - t0;
                if (dt < best) best = dt;
            }
            printf("; x8 %d tok %6.1f ns/row/token", nt, best / ROWS / nt);
        }
        free(a4), free(packed);
    }
    printf("\n");
    free(w);
}

int main(int argc, char **argv) {
    pl_init_tables();
    const pl_kernels *sets[8];
    const int n_sets = pl_kernels_available(sets, 8);
    printf("kernel sets on this CPU:");
    for (int i = 0; i < n_sets; i++) printf(" %s", sets[i]->name);
    printf("\n");
    test_quantizer();
    test_quantizer_simd();
    for (size_t t = 0; t < sizeof TYPES / sizeof TYPES[0]; t++) {
        test_reference(TYPES[t], 1024);
        test_reference(TYPES[t], 4864 - 4864 % pl_type(TYPES[t])->blck);
        if (pl_x8_reference(TYPES[t])) test_x8("x8 reference", pl_x8_reference(TYPES[t]), TYPES[t], 896 + 32);
        for (int i = 0; i < n_sets; i++) {
            if (strcmp(sets[i]->name, "f32") == 0) continue;
            test_set(sets[i], TYPES[t], 512);
            if (pl_type(TYPES[t])->blck == 32) test_set(sets[i], TYPES[t], 896 + 32); /* odd block count */
            if (sets[i]->x8[TYPES[t]]) test_x8(sets[i]->name, sets[i]->x8[TYPES[t]], TYPES[t], 896 + 32);
        }
    }
    if (argc > 1 && strcmp(argv[1], "--bench") == 0)
        for (size_t t = 0; t < sizeof TYPES / sizeof TYPES[0]; t++)
            for (int i = 0; i < n_sets; i++)
                if (strcmp(sets[i]->name, "f32") != 0) bench(sets[i], TYPES[t]);
    printf(failures ? "kernels: %d FAILED\n" : "kernels: all passed\n", failures);
    return failures != 0;
}
