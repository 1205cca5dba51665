/* The portable integer kernels (the reference every SIMD set is tested against), the
 * activation quantizer they all share, and the choice of a kernel set at load.
 *
 * Each kernel sums integer products inside a block of 32 activations and only then scales:
 *     sum += (d_weight * d_act) * (float)isum         (Q8_0, Q4_0, Q5_0)
 * The K formats carry small integer scales per 32 (Q4_K) or per 16 (Q6_K) weights; they are
 * folded into the integer sum of the block. Q4_K's minimums are sum(m * q_act), which the
 * activation block's sums s[] give without touching the weights. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "kernels_lowbit.h"

void pl_quantize_q8a(const float *x, pl_q8a *y, int n) {
    void (*simd)(const float *, pl_q8a *, int) = pl_quantize_q8a_x86(); /* a few ns: no cached state to race on */
    if (simd) simd(x, y, n);
    else pl_quantize_q8a_portable(x, y, n);
}

void pl_quantize_q8a_portable(const float *x, pl_q8a *y, int n) {
    for (int b = 0; b < n / PL_QA; b++, x += PL_QA) {
        float amax = 0.0f;
        for (int j = 0; j < PL_QA; j++) { /* not fmaxf: a library call per element without -ffast-math */
            const float v = fabsf(x[j]);
            amax = v > amax ? v : amax;
        }
        const float id = amax > 0.0f ? 127.0f / amax : 0.0f;
        int s[2] = {0, 0};
        for (int j = 0; j < PL_QA; j++) {
            /* round to nearest even with the 1.5 * 2^23 trick: same answer on every CPU */
            const float v = x[j] * id + 12582912.0f;
            int32_t bits;
            memcpy(&bits, &v, 4);
            int q = bits - 0x4B400000;
            q = q > 127 ? 127 : q < -127 ? -127 : q;
            y[b].q[j] = (int8_t)q;
            s[j >> 4] += q;
        }
        y[b].d = amax / 127.0f;
        y[b].s[0] = (int16_t)s[0];
        y[b].s[1] = (int16_t)s[1];
    }
}

static int isum32(const int8_t *w, const int8_t *a) {
    int s = 0;
    for (int j = 0; j < 32; j++) s += w[j] * a[j];
    return s;
}

static float dot_q8_0(int n, const void *row, const pl_q8a *a) {
    const uint8_t *b = row;
    float sum = 0.0f;
    for (int i = 0; i < n / 32; i++, b += 34)
        sum += (pl_h2f(b) * a[i].d) * (float)isum32((const int8_t *)(b + 2), a[i].q);
    return sum;
}

static float dot_q4_0(int n, const void *row, const pl_q8a *a) {
    const uint8_t *b = row;
    float sum = 0.0f;
    for (int i = 0; i < n / 32; i++, b += 18) {
        int8_t w[32];
        for (int j = 0; j < 16; j++) {
            w[j] = (int8_t)((b[2 + j] & 0xf) - 8);
            w[j + 16] = (int8_t)((b[2 + j] >> 4) - 8);
        }
        sum += (pl_h2f(b) * a[i].d) * (float)isum32(w, a[i].q);
    }
    return sum;
}

static float dot_q5_0(int n, const void *row, const pl_q8a *a) {
    const uint8_t *b = row;
    float sum = 0.0f;
    for (int i = 0; i < n / 32; i++, b += 22) {
        uint32_t qh;
        memcpy(&qh, b + 2, 4);
        int8_t w[32];
        for (int j = 0; j < 16; j++) {
            w[j] = (int8_t)(((b[6 + j] & 0xf) | (((qh >> j) & 1) << 4)) - 16);
            w[j + 16] = (int8_t)(((b[6 + j] >> 4) | (((qh >> (j + 16)) & 1) << 4)) - 16);
        }
        sum += (pl_h2f(b) * a[i].d) * (float)isum32(w, a[i].q);
    }
    return sum;
}

/* Q4_K super-block (144 B): f16 d, f16 dmin, 12 B scales, 128 B nibbles. Bytes 32c..32c+31 hold
 * sub-block 2c in their low nibbles and sub-block 2c+1 in their high ones. */
static float dot_q4_k(int n, const void *row, const pl_q8a *a) {
    const uint8_t *b = row;
    float sum = 0.0f;
    for (int i = 0; i < n / 256; i++, b += 144) {
        const float d = pl_h2f(b), dmin = pl_h2f(b + 2);
        for (int j = 0; j < 8; j++, a++) {
            const uint8_t *q = b + 16 + 32 * (j / 2);
            const int shift = 4 * (j & 1);
            int8_t w[32];
            for (int l = 0; l < 32; l++) w[l] = (int8_t)((q[l] >> shift) & 0xf);
            int sc, m;
            q4k_scale_min(j, b + 4, &sc, &m);
            sum += (d * a->d) * (float)(sc * isum32(w, a->q)) - (dmin * a->d) * (float)(m * (a->s[0] + a->s[1]));
        }
    }
    return sum;
}

/* Q6_K super-block (210 B): 128 B low nibbles, 64 B high 2-bit pairs, 16 i8 scales, f16 d.
 * Scale g (0..15) covers weights 16g..16g+15. */
static float dot_q6_k(int n, const void *row, const pl_q8a *a) {
    const uint8_t *b = row;
    float sum = 0.0f;
    for (int i = 0; i < n / 256; i++, b += 210) {
        int8_t w[256];
        for (int half = 0; half < 2; half++) {
            const uint8_t *ql = b + 64 * half, *qh = b + 128 + 32 * half;
            int8_t *y = w + 128 * half;
            for (int l = 0; l < 32; l++) {
                y[l] = (int8_t)(((ql[l] & 0xf) | (((qh[l] >> 0) & 3) << 4)) - 32);
                y[l + 32] = (int8_t)(((ql[l + 32] & 0xf) | (((qh[l] >> 2) & 3) << 4)) - 32);
                y[l + 64] = (int8_t)(((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32);
                y[l + 96] = (int8_t)(((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32);
            }
        }
        const int8_t *sc = (const int8_t *)(b + 192);
        const float d = pl_h2f(b + 208);
        for (int j = 0; j < 8; j++, a++) {
            int s0 = 0, s1 = 0;
            for (int l = 0; l < 16; l++) s0 += w[32 * j + l] * a->q[l];
            for (int l = 16; l < 32; l++) s1 += w[32 * j + l] * a->q[l];
            sum += (d * a->d) * (float)(sc[2 * j] * s0 + sc[2 * j + 1] * s1);
        }
    }
    return sum;
}

/* ---- row-interleaved copies (kernels.h) */

static size_t x8_block_bytes(uint32_t type) { return type == PL_Q8_0 ? 272 : type == PL_Q5_0 ? 176 : 0; }

size_t pl_x8_size(uint32_t type, int64_t rows, int64_t cols) {
    if (!x8_block_bytes(type) || rows % PL_X8_ROWS || cols % 32 || rows <= 0) return 0;
    return (size_t)(rows / PL_X8_ROWS) * (size_t)(cols / 32) * x8_block_bytes(type);
}

/* weights of one source block as unsigned values (Q8_0: q + 128; Q5_0: q, 0..31) */
static void block_unsigned(uint32_t type, const uint8_t *b, uint8_t u[32]) {
    if (type == PL_Q8_0) {
        for (int j = 0; j < 32; j++) u[j] = (uint8_t)(b[2 + j] ^ 0x80);
        return;
    }
    uint32_t qh;
    memcpy(&qh, b + 2, 4);
    for (int j = 0; j < 16; j++) {
        u[j] = (uint8_t)((b[6 + j] & 0xf) | (((qh >> j) & 1) << 4));
        u[j + 16] = (uint8_t)((b[6 + j] >> 4) | (((qh >> (j + 16)) & 1) << 4));
    }
}

void pl_pack_x8(uint32_t type, const void *src, int64_t rows, int64_t cols, void *dst) {
    const size_t sb = type == PL_Q8_0 ? 34 : 22, gb = x8_block_bytes(type), nb = (size_t)cols / 32;
    uint8_t *o = dst;
    for (int64_t g = 0; g < rows / PL_X8_ROWS; g++)
        for (size_t i = 0; i < nb; i++, o += gb) {
            uint8_t u[PL_X8_ROWS][32];
            for (int r = 0; r < PL_X8_ROWS; r++) {
                const uint8_t *b = (const uint8_t *)src + ((size_t)(g * PL_X8_ROWS + r) * nb + i) * sb;
                memcpy(o + 2 * r, b, 2);
                block_unsigned(type, b, u[r]);
            }
            if (type == PL_Q8_0) {
                for (int c = 0; c < 8; c++)
                    for (int r = 0; r < PL_X8_ROWS; r++) memcpy(o + 16 + 32 * c + 4 * r, &u[r][4 * c], 4);
                continue;
            }
            memset(o + 16, 0, 32);
            for (int r = 0; r < PL_X8_ROWS; r++)
                for (int j = 0; j < 4; j++) {
                    for (int c = 0; c < 8; c++) o[16 + 4 * r + j] |= (uint8_t)(((u[r][4 * c + j] >> 4) & 1) << c);
                    for (int v = 0; v < 4; v++)
                        o[48 + 32 * v + 4 * r + j] = (uint8_t)((u[r][8 * v + j] & 0xf) | ((u[r][8 * v + 4 + j] & 0xf) << 4));
                }
        }
}

/* weight 4c+j of row r in an x8 group-block, unsigned (the inverse of pl_pack_x8) */
static int x8_weight(uint32_t type, const uint8_t *o, int r, int k) {
    const int c = k / 4, j = k % 4;
    if (type == PL_Q8_0) return o[16 + 32 * c + 4 * r + j];
    const int nib = (o[48 + 32 * (c / 2) + 4 * r + j] >> (4 * (c & 1))) & 0xf;
    return nib | (((o[16 + 4 * r + j] >> c) & 1) << 4);
}

static void gemm_x8(uint32_t type, int n, const void *group, const pl_q8a *a, size_t stride, int n_tok, float *out,
                    size_t out_stride) {
    const int bias = type == PL_Q8_0 ? 128 : 16;
    const size_t gb = x8_block_bytes(type);
    for (int t = 0; t < n_tok; t++) {
        const pl_q8a *at = a + (size_t)t * stride;
        for (int r = 0; r < PL_X8_ROWS; r++) {
            const uint8_t *o = group;
            float sum = 0.0f;
            for (int i = 0; i < n / 32; i++, o += gb) {
                int isum = -bias * (at[i].s[0] + at[i].s[1]);
                for (int k = 0; k < 32; k++) isum += x8_weight(type, o, r, k) * at[i].q[k];
                sum += (pl_h2f(o + 2 * r) * at[i].d) * (float)isum;
            }
            out[(size_t)t * out_stride + r] = sum;
        }
    }
}

static void gemm_x8_q8_0(int n, const void *g, const pl_q8a *a, size_t stride, int n_tok, float *out, size_t os) {
    gemm_x8(PL_Q8_0, n, g, a, stride, n_tok, out, os);
}
static void gemm_x8_q5_0(int n, const void *g, const pl_q8a *a, size_t stride, int n_tok, float *out, size_t os) {
    gemm_x8(PL_Q5_0, n, g, a, stride, n_tok, out, os);
}

static const pl_kernels PORTABLE = {
    "portable",
    {[PL_Q8_0] = dot_q8_0, [PL_Q4_0] = dot_q4_0, [PL_Q5_0] = dot_q5_0, [PL_Q4_K] = dot_q4_k, [PL_Q6_K] = dot_q6_k,
     PL_LOWBIT_DOTS_PORTABLE},
};

pl_gemm_x8 pl_x8_reference(uint32_t type) {
    return type == PL_Q8_0 ? gemm_x8_q8_0 : type == PL_Q5_0 ? gemm_x8_q5_0 : NULL;
}

/* No integer kernels: every matmul dequantizes weights and dots in f32 (the engine before the
 * integer kernels; kept to compare against). */
static const pl_kernels F32_ONLY = {"f32", {0}};

const pl_kernels *pl_kernels_portable(void) { return &PORTABLE; }

int pl_kernels_available(const pl_kernels **out, int max) {
    const pl_kernels *all[] = {pl_kernels_x86_avx512vnni(), pl_kernels_x86_avxvnni(), pl_kernels_x86_avx2(),
                               pl_kernels_arm_dotprod(), pl_kernels_arm_neon(), &PORTABLE, &F32_ONLY};
    int n = 0;
    for (size_t i = 0; i < sizeof all / sizeof all[0] && n < max; i++)
        if (all[i]) out[n++] = all[i];
    return n;
}

const pl_kernels *pl_kernels_pick(const char *name) {
    if (!name || !*name) name = getenv("PARROT_KERNELS");
    const pl_kernels *k[8];
    const int n = pl_kernels_available(k, 8);
    if (!name || !*name) return k[0];
    for (int i = 0; i < n; i++)
        if (strcmp(k[i]->name, name) == 0) return k[i];
    return NULL;
}
