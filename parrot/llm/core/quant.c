/* Weight formats. Each quantized format stores blocks of 32 (or 256 for "K" formats) weights
 * with their own scale(s); pl_dequant_row() turns whole blocks back into floats. This is the
 * scalar reference path: faster (SIMD) kernels must reproduce it, and the tests check it
 * against the gguf package's numpy dequantizer. Layouts follow ggml's (block_q8_0, block_q4_K ... in ggml-common.h); README.md in this
 * folder draws them. */
#include <math.h>
#include <string.h>

#include "kernels.h"
#include "kernels_lowbit.h"
#include "parrot_llm.h"

/* On x86-64 with glibc, hot loops are compiled twice: baseline and AVX2 (the loader picks one
 * at start-up via ifunc), so one binary runs everywhere yet vectorizes where it can. The code
 * stays plain C: the compiler does the vectorizing. Elsewhere (ARM, musl) only one version.
 * Build with CFLAGS=-DPARROT_NO_SIMD_CLONES to get the baseline code only. */
#if defined(__x86_64__) && defined(__GLIBC__) && defined(__GNUC__) && !defined(__clang__) && !defined(PARROT_NO_SIMD_CLONES)
#define HOT __attribute__((target_clones("avx2", "default")))
#else
#define HOT
#endif

#define QK 32   /* block size of the simple formats */
#define QK_K 256 /* super-block size of the K formats */

static const pl_type_info TYPES[PL_TYPE_COUNT] = {
    [PL_F32] = {"F32", 1, 4, 1},        [PL_F16] = {"F16", 1, 2, 1},
    [PL_Q4_0] = {"Q4_0", 32, 18, 1},    [PL_Q4_1] = {"Q4_1", 32, 20, 1},
    [PL_Q5_0] = {"Q5_0", 32, 22, 1},    [PL_Q5_1] = {"Q5_1", 32, 24, 1},
    [PL_Q8_0] = {"Q8_0", 32, 34, 1},    [PL_Q8_1] = {"Q8_1", 32, 36, 0},
    [PL_Q2_K] = {"Q2_K", 256, 84, 1},   [PL_Q3_K] = {"Q3_K", 256, 110, 1},
    [PL_Q4_K] = {"Q4_K", 256, 144, 1},  [PL_Q5_K] = {"Q5_K", 256, 176, 1},
    [PL_Q6_K] = {"Q6_K", 256, 210, 1},  [PL_Q8_K] = {"Q8_K", 256, 292, 0},
    [16] = {"IQ2_XXS", 256, 66, 0},     [17] = {"IQ2_XS", 256, 74, 0},
    [18] = {"IQ3_XXS", 256, 98, 0},     [19] = {"IQ1_S", 256, 50, 0},
    [20] = {"IQ4_NL", 32, 18, 1},       [21] = {"IQ3_S", 256, 110, 0},
    [22] = {"IQ2_S", 256, 82, 0},       [23] = {"IQ4_XS", 256, 136, 1},
    [24] = {"I8", 1, 1, 0},             [25] = {"I16", 1, 2, 0},
    [26] = {"I32", 1, 4, 0},            [27] = {"I64", 1, 8, 0},
    [28] = {"F64", 1, 8, 0},            [29] = {"IQ1_M", 256, 56, 0},
    [PL_BF16] = {"BF16", 1, 2, 1},      [34] = {"TQ1_0", 256, 54, 0},
    [35] = {"TQ2_0", 256, 66, 0},
};
static const pl_type_info UNKNOWN = {"unknown", 0, 0, 0};

const pl_type_info *pl_type(uint32_t type) {
    if (type >= PL_TYPE_COUNT || TYPES[type].blck == 0) return &UNKNOWN;
    return &TYPES[type];
}

/* ---- half precision */

float pl_fp16_to_fp32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else { /* subnormal: normalise */
            int e = -1;
            do { man <<= 1; e++; } while (!(man & 0x400));
            bits = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ff) << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (man << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t pl_fp32_to_fp16(float f) { /* round to nearest even */
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000;
    int32_t exp = (int32_t)((x >> 23) & 0xff) - 127 + 15;
    uint32_t man = x & 0x7fffff;
    if (((x >> 23) & 0xff) == 0xff) return (uint16_t)(sign | 0x7c00 | (man ? 0x200 : 0));
    if (exp >= 31) return (uint16_t)(sign | 0x7c00);
    if (exp <= 0) {
        if (exp < -10) return (uint16_t)sign;
        man |= 0x800000;
        uint32_t shift = (uint32_t)(14 - exp);
        uint32_t h = man >> shift, rem = man & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (h & 1))) h++;
        return (uint16_t)(sign | h);
    }
    uint32_t h = sign | ((uint32_t)exp << 10) | (man >> 13), rem = man & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) h++; /* may carry into the exponent: correct */
    return (uint16_t)h;
}

float pl_fp16_lut[65536]; /* declared in kernels.h: the kernels share it */
static uint64_t BIT5[256]; /* Q5 high-bit expansion, see dq_q5_0 */
static void pick_f16_kernels(void);
static int fp16_ready;

void pl_init_tables(void) {
    if (fp16_ready) return;
    for (uint32_t i = 0; i < 65536; i++) pl_fp16_lut[i] = pl_fp16_to_fp32((uint16_t)i);
    for (int v = 0; v < 256; v++) {
        uint8_t e[8];
        for (int k = 0; k < 8; k++) e[k] = (v >> k) & 1 ? 0x10 : 0;
        memcpy(&BIT5[v], e, 8);
    }
    pick_f16_kernels();
    fp16_ready = 1;
}

static inline float h2f(const uint8_t *p) { /* unaligned little-endian f16 */
    return pl_fp16_lut[(uint16_t)(p[0] | (p[1] << 8))];
}

/* ---- one dequantizer per format; each handles nb blocks (restrict: the output never aliases the
 * weights, which lets the compiler vectorize the byte -> float loops) */

/* Two steps per block: unpack to one byte per weight, then a plain 32-wide convert-and-scale
 * loop (the shape the vectorizer handles best). Nibbles are split 16 at a time with 64-bit
 * masks: x86 has no byte shifts, and left to itself the compiler unpacks byte by byte. */
static inline void split_nibbles(const uint8_t *restrict qs, uint8_t *restrict lo, uint8_t *restrict hi) {
    const uint64_t m = 0x0f0f0f0f0f0f0f0full;
    uint64_t v[2], l[2], h[2];
    memcpy(v, qs, 16);
    l[0] = v[0] & m, l[1] = v[1] & m;
    h[0] = (v[0] >> 4) & m, h[1] = (v[1] >> 4) & m;
    memcpy(lo, l, 16);
    memcpy(hi, h, 16);
}

HOT static void dq_q4_0(const uint8_t *restrict b, float *restrict y, int64_t nb) {
    uint8_t q[32];
    for (int64_t i = 0; i < nb; i++, b += 18, y += QK) {
        const float d = h2f(b);
        split_nibbles(b + 2, q, q + 16); /* element j: low nibble of byte j, j+16: high nibble */
        for (int j = 0; j < QK; j++) y[j] = (float)((int)q[j] - 8) * d;
    }
}

HOT static void dq_q4_1(const uint8_t *restrict b, float *restrict y, int64_t nb) {
    uint8_t q[32];
    for (int64_t i = 0; i < nb; i++, b += 20, y += QK) {
        const float d = h2f(b), m = h2f(b + 2);
        split_nibbles(b + 4, q, q + 16);
        for (int j = 0; j < QK; j++) y[j] = (float)q[j] * d + m;
    }
}

/* Q5: a 4-bit low part in nibbles plus a fifth bit per weight packed in a u32 (bit j for
 * weight j). The bits are expanded 8 at a time through a table (byte -> 8 bytes of 0 / 0x10)
 * so the per-weight loop is plain byte arithmetic the compiler vectorizes. */
static inline void expand_high_bits(uint32_t qh, uint8_t hi[32]) {
    for (int k = 0; k < 4; k++) memcpy(hi + 8 * k, &BIT5[(qh >> (8 * k)) & 0xff], 8);
}

HOT static void dq_q5_0(const uint8_t *restrict b, float *restrict y, int64_t nb) {
    uint8_t hi[32];
    for (int64_t i = 0; i < nb; i++, b += 22, y += QK) {
        const float d = h2f(b);
        uint32_t qh;
        memcpy(&qh, b + 2, 4);
        expand_high_bits(qh, hi);
        uint8_t q[32];
        split_nibbles(b + 6, q, q + 16);
        for (int j = 0; j < QK; j++) y[j] = (float)((int)(q[j] | hi[j]) - 16) * d;
    }
}

HOT static void dq_q5_1(const uint8_t *restrict b, float *restrict y, int64_t nb) {
    uint8_t hi[32];
    for (int64_t i = 0; i < nb; i++, b += 24, y += QK) {
        const float d = h2f(b), m = h2f(b + 2);
        uint32_t qh;
        memcpy(&qh, b + 4, 4);
        expand_high_bits(qh, hi);
        uint8_t q[32];
        split_nibbles(b + 8, q, q + 16);
        for (int j = 0; j < QK; j++) y[j] = (float)(q[j] | hi[j]) * d + m;
    }
}

HOT static void dq_q8_0(const uint8_t *restrict b, float *restrict y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, b += 34, y += QK) {
        const float d = h2f(b);
        const int8_t *qs = (const int8_t *)(b + 2);
        for (int j = 0; j < QK; j++) y[j] = qs[j] * d;
    }
}

/* K formats: 8 sub-blocks of 32 with 6-bit scale and min packed in 12 bytes */
static inline void scale_min_k4(int j, const uint8_t *q, uint8_t *sc, uint8_t *m) {
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (q[j + 4] & 0xf) | ((q[j - 4] >> 6) << 4);
        *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

HOT static void dq_q4_k(const uint8_t *restrict b, float *restrict y, int64_t nb) {
    uint8_t lo[32], hi[32];
    for (int64_t i = 0; i < nb; i++, b += 144) {
        const float d = h2f(b), dmin = h2f(b + 2);
        const uint8_t *scales = b + 4, *q = b + 16;
        for (int j = 0, is = 0; j < QK_K; j += 64, is += 2, q += 32) {
            uint8_t sc, m;
            scale_min_k4(is, scales, &sc, &m);
            const float d1 = d * sc, m1 = dmin * m;
            scale_min_k4(is + 1, scales, &sc, &m);
            const float d2 = d * sc, m2 = dmin * m;
            split_nibbles(q, lo, hi);
            split_nibbles(q + 16, lo + 16, hi + 16);
            for (int l = 0; l < 32; l++) y[l] = d1 * (float)lo[l] - m1;
            for (int l = 0; l < 32; l++) y[l + 32] = d2 * (float)hi[l] - m2;
            y += 64;
        }
    }
}

HOT static void dq_q5_k(const uint8_t *restrict b, float *restrict y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, b += 176) {
        const float d = h2f(b), dmin = h2f(b + 2);
        const uint8_t *scales = b + 4, *qh = b + 16, *ql = b + 48;
        uint8_t u1 = 1, u2 = 2;
        for (int j = 0, is = 0; j < QK_K; j += 64, is += 2, ql += 32, u1 <<= 2, u2 <<= 2) {
            uint8_t sc, m;
            scale_min_k4(is, scales, &sc, &m);
            const float d1 = d * sc, m1 = dmin * m;
            scale_min_k4(is + 1, scales, &sc, &m);
            const float d2 = d * sc, m2 = dmin * m;
            for (int l = 0; l < 32; l++) *y++ = d1 * ((ql[l] & 0xf) + (qh[l] & u1 ? 16 : 0)) - m1;
            for (int l = 0; l < 32; l++) *y++ = d2 * ((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) - m2;
        }
    }
}

/* Q6_K: 4 low bits + 2 high bits per weight, 16 signed 8-bit scales (one per 16 weights), one
 * f16 scale at the end. Each group of 16 shares its scale, which keeps the inner loop simple. */
HOT static void dq_q6_k(const uint8_t *restrict b, float *restrict y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, b += 210) {
        const uint8_t *ql = b, *qh = b + 128;
        const int8_t *sc = (const int8_t *)(b + 192);
        const float d = h2f(b + 208);
        for (int n = 0; n < QK_K; n += 128, y += 128, ql += 64, qh += 32, sc += 8) {
            for (int g = 0; g < 2; g++) { /* l in [16g, 16g + 16) */
                const float s0 = d * sc[g], s1 = d * sc[g + 2], s2 = d * sc[g + 4], s3 = d * sc[g + 6];
                for (int l = 16 * g; l < 16 * g + 16; l++) {
                    const int q1 = (int)((ql[l] & 0xf) | (((qh[l] >> 0) & 3) << 4)) - 32;
                    const int q2 = (int)((ql[l + 32] & 0xf) | (((qh[l] >> 2) & 3) << 4)) - 32;
                    const int q3 = (int)((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                    const int q4 = (int)((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                    y[l] = s0 * (float)q1;
                    y[l + 32] = s1 * (float)q2;
                    y[l + 64] = s2 * (float)q3;
                    y[l + 96] = s3 * (float)q4;
                }
            }
        }
    }
}

void pl_dequant_row(uint32_t type, const void *src, float *dst, int64_t n) {
    const uint8_t *b = src;
    switch (type) {
    case PL_F32: memcpy(dst, src, (size_t)n * 4); break;
    case PL_F16:
        for (int64_t i = 0; i < n; i++) dst[i] = h2f(b + 2 * i);
        break;
    case PL_BF16:
        for (int64_t i = 0; i < n; i++) {
            uint32_t bits = (uint32_t)(b[2 * i] | (b[2 * i + 1] << 8)) << 16;
            memcpy(&dst[i], &bits, 4);
        }
        break;
    case PL_Q4_0: dq_q4_0(b, dst, n / QK); break;
    case PL_Q4_1: dq_q4_1(b, dst, n / QK); break;
    case PL_Q5_0: dq_q5_0(b, dst, n / QK); break;
    case PL_Q5_1: dq_q5_1(b, dst, n / QK); break;
    case PL_Q8_0: dq_q8_0(b, dst, n / QK); break;
    case PL_Q4_K: dq_q4_k(b, dst, n / QK_K); break;
    case PL_Q5_K: dq_q5_k(b, dst, n / QK_K); break;
    case PL_Q6_K: dq_q6_k(b, dst, n / QK_K); break;
    default:
        if (pl_is_lowbit(type)) { pl_dequant_lowbit(type, b, dst, n); break; }
        memset(dst, 0, (size_t)n * 4); break; /* the loader rejects other types first */
    }
}

/* Written with GCC/Clang vector types (8 floats) so the AVX2 clone uses ymm registers and the
 * baseline one pairs of SSE registers; the autovectorizer alone produced shuffle-heavy code. */
typedef float v8f __attribute__((vector_size(32)));

HOT float pl_dot_f32(const float *a, const float *b, int n) {
    v8f acc0 = {0}, acc1 = {0};
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        v8f x0, y0, x1, y1;
        memcpy(&x0, a + i, 32);
        memcpy(&y0, b + i, 32);
        memcpy(&x1, a + i + 8, 32);
        memcpy(&y1, b + i + 8, 32);
        acc0 += x0 * y0;
        acc1 += x1 * y1;
    }
    acc0 += acc1;
    float s = ((acc0[0] + acc0[4]) + (acc0[1] + acc0[5])) + ((acc0[2] + acc0[6]) + (acc0[3] + acc0[7]));
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

/* Four rows against one vector: each load of x serves four rows (prefill is bound by
 * re-reading the activations otherwise). out[r] = w[r] . x */
HOT void pl_dot4_f32(const float *w0, const float *w1, const float *w2, const float *w3, const float *x, int n,
                     float out[4]) {
    v8f a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        v8f xv, r0, r1, r2, r3;
        memcpy(&xv, x + i, 32);
        memcpy(&r0, w0 + i, 32);
        memcpy(&r1, w1 + i, 32);
        memcpy(&r2, w2 + i, 32);
        memcpy(&r3, w3 + i, 32);
        a0 += r0 * xv;
        a1 += r1 * xv;
        a2 += r2 * xv;
        a3 += r3 * xv;
    }
    v8f *acc[4] = {&a0, &a1, &a2, &a3};
    const float *w[4] = {w0, w1, w2, w3};
    for (int r = 0; r < 4; r++) {
        v8f v = *acc[r];
        float s = ((v[0] + v[4]) + (v[1] + v[5])) + ((v[2] + v[6]) + (v[3] + v[7]));
        for (int k = i; k < n; k++) s += w[r][k] * x[k];
        out[r] = s;
    }
}

/* The KV cache's f16 against f32: through the lookup table in plain C, or with the F16C
 * conversion instruction where the CPU has it (pl_init_tables picks; a table lookup per element
 * became a gather that cost more than the arithmetic). Both give the same bits. */
HOT static float dot_f16_c(const uint16_t *a, const float *b, int n) {
    float acc[4] = {0};
    int i = 0;
    for (; i + 4 <= n; i += 4)
        for (int k = 0; k < 4; k++) acc[k] += pl_fp16_lut[a[i + k]] * b[i + k];
    float s = (acc[0] + acc[2]) + (acc[1] + acc[3]);
    for (; i < n; i++) s += pl_fp16_lut[a[i]] * b[i];
    return s;
}

HOT static void axpy_f16_c(float *y, float a, const uint16_t *x, int n) {
    for (int i = 0; i < n; i++) y[i] += a * pl_fp16_lut[x[i]];
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
/* the same operations as the C forms above (four running sums, multiply then add), only the
 * conversion differs, and it is exact: the same bits */
__attribute__((target("avx2,f16c"))) static float dot_f16_f16c(const uint16_t *a, const float *b, int n) {
    __m128 acc = _mm_setzero_ps();
    int i = 0;
    for (; i + 4 <= n; i += 4)
        acc = _mm_add_ps(acc, _mm_mul_ps(_mm_cvtph_ps(_mm_loadl_epi64((const __m128i *)(a + i))), _mm_loadu_ps(b + i)));
    float v[4];
    _mm_storeu_ps(v, acc);
    float s = (v[0] + v[2]) + (v[1] + v[3]);
    for (; i < n; i++) s += pl_fp16_lut[a[i]] * b[i];
    return s;
}

__attribute__((target("avx2,f16c"))) static void axpy_f16_f16c(float *y, float a, const uint16_t *x, int n) {
    const __m256 av = _mm256_set1_ps(a);
    int i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_add_ps(_mm256_loadu_ps(y + i),
                                              _mm256_mul_ps(av, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + i))))));
    for (; i < n; i++) y[i] += a * pl_fp16_lut[x[i]];
}

static int has_f16c(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("f16c");
}
#endif

static float (*dot_f16_fn)(const uint16_t *, const float *, int) = dot_f16_c;
static void (*axpy_f16_fn)(float *, float, const uint16_t *, int) = axpy_f16_c;

static void pick_f16_kernels(void) {
#if defined(__x86_64__) && defined(__GNUC__)
    if (has_f16c()) dot_f16_fn = dot_f16_f16c, axpy_f16_fn = axpy_f16_f16c;
#endif
}

float pl_dot_f16(const uint16_t *a, const float *b, int n) { return dot_f16_fn(a, b, n); }
void pl_axpy_f16(float *y, float a, const uint16_t *x, int n) { axpy_f16_fn(y, a, x, n); }
