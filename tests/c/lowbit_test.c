/* Every kernel set's Q2_K, Q3_K, IQ4_NL and IQ4_XS dot (parrot/llm/core/kernels_lowbit*.c)
 * against the portable reference on random blocks and activations, and the reference against
 * dequantize-then-dot in double. Plain C, no Python: built natively by
 * tests/test_llm_quant_lowbit.py and, for aarch64, cross-compiled and run under qemu for a CPU
 * with and one without the dot-product extension. Prints the sets it checked. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "kernels_lowbit.h"

static uint64_t rng = 88172645463325252ull;
static uint32_t next(void) {
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (uint32_t)(rng >> 32);
}
static float uniform(void) { return (float)next() / 4294967296.0f; }

static void put_f16(uint8_t *p, float v) {
    const uint16_t h = pl_fp32_to_fp16(v);
    p[0] = (uint8_t)h, p[1] = (uint8_t)(h >> 8);
}

typedef struct {
    uint32_t type;
    const char *name;
    int blck;
    size_t bytes;
    int f16_at[2]; /* where the f16 scales live (-1: none) */
    float max_scale;
    pl_vec_dot ref;
} case_t;

int main(void) {
    pl_init_tables();
    const case_t cases[] = {
        {PL_Q2_K, "Q2_K", 256, 84, {80, 82}, 0.01f, pl_dot_q2_k_ref},
        {PL_Q3_K, "Q3_K", 256, 110, {108, -1}, 0.004f, pl_dot_q3_k_ref},
        {PL_IQ4_NL, "IQ4_NL", 32, 18, {0, -1}, 0.004f, pl_dot_iq4_nl_ref},
        {PL_IQ4_XS, "IQ4_XS", 256, 136, {0, -1}, 0.00012f, pl_dot_iq4_xs_ref},
    };
    const pl_kernels *sets[8];
    const int nsets = pl_kernels_available(sets, 8);
    printf("sets:");
    for (int s = 0; s < nsets; s++) printf(" %s", sets[s]->name);
    printf("\n");
    enum { N = 1024 };
    static uint8_t row[N / 32 * 136];
    static float x[N], w[N];
    static pl_q8a a[N / 32];
    int failures = 0;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const case_t *k = &cases[c];
        for (int trial = 0; trial < 50; trial++) {
            const int nb = N / k->blck;
            for (size_t i = 0; i < nb * k->bytes; i++) row[i] = (uint8_t)next();
            for (int i = 0; i < nb; i++)
                for (int f = 0; f < 2; f++)
                    if (k->f16_at[f] >= 0)
                        put_f16(row + i * k->bytes + k->f16_at[f], (uniform() * 0.95f + 0.05f) * k->max_scale *
                                                                       (next() & 1 ? 1.0f : -1.0f));
            const float spread = trial % 5 == 0 ? 100.0f : 1.0f;
            for (int i = 0; i < N; i++) x[i] = (uniform() - 0.5f) * spread;
            pl_quantize_q8a(x, a, N);
            /* the reference against dequantized weights times the rounded activations */
            pl_dequant_row(k->type, row, w, N);
            double exact = 0, mag = 0;
            for (int i = 0; i < N; i++) {
                const double xi = (double)a[i / 32].d * a[i / 32].q[i % 32];
                exact += (double)w[i] * xi;
                mag += fabs((double)w[i] * xi);
            }
            const float ref = k->ref(N, row, a);
            if (fabs(ref - exact) > 1e-5 * mag + 1e-6) {
                printf("FAIL %s portable %.9g vs exact %.9g\n", k->name, ref, exact);
                failures++;
            }
            for (int s = 0; s < nsets; s++) {
                const pl_vec_dot dot = sets[s]->dot[k->type];
                if (!dot) continue; /* the f32 set */
                const float got = dot(N, row, a);
                if (fabs((double)got - ref) > 1e-5 * mag + 1e-6) {
                    printf("FAIL %s %s %.9g vs portable %.9g\n", k->name, sets[s]->name, got, ref);
                    failures++;
                }
            }
        }
    }
    if (failures) return 1;
    printf("lowbit: all passed\n");
    return 0;
}
