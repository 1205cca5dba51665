/* Weight formats. Each quantized format stores blocks of 32 (or 256 for "K" formats) weights
 * with their own scale(s); pl_dequant_row() turns whole blocks back into floats. This is the
 * scalar reference path: faster (SIMD) kernels must reproduce it, and the tests check it
 * against the gguf package's numpy dequantizer. Layouts follow ggml (see REFERENCE.md §3). */
#include <math.h>
#include <string.h>

#include "parrot_llm.h"

#define QK 32   /* block size of the simple formats */
#define QK_K 256 /* super-block size of the K formats */

static const pl_type_info TYPES[PL_TYPE_COUNT] = {
    [PL_F32] = {"F32", 1, 4, 1},        [PL_F16] = {"F16", 1, 2, 1},
    [PL_Q4_0] = {"Q4_0", 32, 18, 1},    [PL_Q4_1] = {"Q4_1", 32, 20, 1},
    [PL_Q5_0] = {"Q5_0", 32, 22, 1},    [PL_Q5_1] = {"Q5_1", 32, 24, 1},
    [PL_Q8_0] = {"Q8_0", 32, 34, 1},    [PL_Q8_1] = {"Q8_1", 32, 36, 0},
    [PL_Q2_K] = {"Q2_K", 256, 84, 0},   [PL_Q3_K] = {"Q3_K", 256, 110, 0},
    [PL_Q4_K] = {"Q4_K", 256, 144, 1},  [PL_Q5_K] = {"Q5_K", 256, 176, 1},
    [PL_Q6_K] = {"Q6_K", 256, 210, 1},  [PL_Q8_K] = {"Q8_K", 256, 292, 0},
    [16] = {"IQ2_XXS", 256, 66, 0},     [17] = {"IQ2_XS", 256, 74, 0},
    [18] = {"IQ3_XXS", 256, 98, 0},     [19] = {"IQ1_S", 256, 50, 0},
    [20] = {"IQ4_NL", 32, 18, 0},       [21] = {"IQ3_S", 256, 110, 0},
    [22] = {"IQ2_S", 256, 82, 0},       [23] = {"IQ4_XS", 256, 136, 0},
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

static float FP16[65536];
static int fp16_ready;

void pl_init_tables(void) {
    if (fp16_ready) return;
    for (uint32_t i = 0; i < 65536; i++) FP16[i] = pl_fp16_to_fp32((uint16_t)i);
    fp16_ready = 1;
}

static inline float h2f(const uint8_t *p) { /* unaligned little-endian f16 */
    return FP16[(uint16_t)(p[0] | (p[1] << 8))];
}

/* ---- one dequantizer per format; each handles nb blocks */

static void dq_q4_0(const uint8_t *b, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, b += 18, y += QK) {
        const float d = h2f(b);
        const uint8_t *qs = b + 2;
        for (int j = 0; j < 16; j++) {
            y[j] = ((qs[j] & 0x0f) - 8) * d;
            y[j + 16] = ((qs[j] >> 4) - 8) * d;
        }
    }
}

static void dq_q4_1(const uint8_t *b, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, b += 20, y += QK) {
        const float d = h2f(b), m = h2f(b + 2);
        const uint8_t *qs = b + 4;
        for (int j = 0; j < 16; j++) {
            y[j] = (qs[j] & 0x0f) * d + m;
            y[j + 16] = (qs[j] >> 4) * d + m;
        }
    }
}

/* Q5: a 4-bit low part in nibbles plus a fifth bit per weight packed in a u32 */
static void dq_q5_0(const uint8_t *b, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, b += 22, y += QK) {
        const float d = h2f(b);
        uint32_t qh;
        memcpy(&qh, b + 2, 4);
        const uint8_t *qs = b + 6;
        for (int j = 0; j < 16; j++) {
            const int h0 = ((qh >> j) << 4) & 0x10, h1 = (qh >> (j + 12)) & 0x10;
            y[j] = (((qs[j] & 0x0f) | h0) - 16) * d;
            y[j + 16] = (((qs[j] >> 4) | h1) - 16) * d;
        }
    }
}

static void dq_q5_1(const uint8_t *b, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, b += 24, y += QK) {
        const float d = h2f(b), m = h2f(b + 2);
        uint32_t qh;
        memcpy(&qh, b + 4, 4);
        const uint8_t *qs = b + 8;
        for (int j = 0; j < 16; j++) {
            const int h0 = ((qh >> j) << 4) & 0x10, h1 = (qh >> (j + 12)) & 0x10;
            y[j] = ((qs[j] & 0x0f) | h0) * d + m;
            y[j + 16] = ((qs[j] >> 4) | h1) * d + m;
        }
    }
}

static void dq_q8_0(const uint8_t *b, float *y, int64_t nb) {
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

static void dq_q4_k(const uint8_t *b, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, b += 144) {
        const float d = h2f(b), dmin = h2f(b + 2);
        const uint8_t *scales = b + 4, *q = b + 16;
        for (int j = 0, is = 0; j < QK_K; j += 64, is += 2, q += 32) {
            uint8_t sc, m;
            scale_min_k4(is, scales, &sc, &m);
            const float d1 = d * sc, m1 = dmin * m;
            scale_min_k4(is + 1, scales, &sc, &m);
            const float d2 = d * sc, m2 = dmin * m;
            for (int l = 0; l < 32; l++) *y++ = d1 * (q[l] & 0xf) - m1;
            for (int l = 0; l < 32; l++) *y++ = d2 * (q[l] >> 4) - m2;
        }
    }
}

static void dq_q5_k(const uint8_t *b, float *y, int64_t nb) {
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

/* Q6_K: 4 low bits + 2 high bits per weight, 16 signed 8-bit scales, one f16 scale at the end */
static void dq_q6_k(const uint8_t *b, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, b += 210) {
        const uint8_t *ql = b, *qh = b + 128;
        const int8_t *sc = (const int8_t *)(b + 192);
        const float d = h2f(b + 208);
        for (int n = 0; n < QK_K; n += 128, y += 128, ql += 64, qh += 32, sc += 8) {
            for (int l = 0; l < 32; l++) {
                const int is = l / 16;
                const int q1 = (int)((ql[l] & 0xf) | (((qh[l] >> 0) & 3) << 4)) - 32;
                const int q2 = (int)((ql[l + 32] & 0xf) | (((qh[l] >> 2) & 3) << 4)) - 32;
                const int q3 = (int)((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                const int q4 = (int)((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                y[l] = d * sc[is] * q1;
                y[l + 32] = d * sc[is + 2] * q2;
                y[l + 64] = d * sc[is + 4] * q3;
                y[l + 96] = d * sc[is + 6] * q4;
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
    default: memset(dst, 0, (size_t)n * 4); break; /* the loader rejects other types first */
    }
}

/* Eight independent accumulators so the compiler can keep several multiply-adds in flight
 * (and vectorize) without reassociating floating point on its own. */
float pl_dot_f32(const float *a, const float *b, int n) {
    float acc[8] = {0};
    int i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) acc[k] += a[i + k] * b[i + k];
    float s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

float pl_dot_f16(const uint16_t *a, const float *b, int n) {
    float acc[4] = {0};
    int i = 0;
    for (; i + 4 <= n; i += 4)
        for (int k = 0; k < 4; k++) acc[k] += FP16[a[i + k]] * b[i + k];
    float s = (acc[0] + acc[2]) + (acc[1] + acc[3]);
    for (; i < n; i++) s += FP16[a[i]] * b[i];
    return s;
}

void pl_axpy_f16(float *y, float a, const uint16_t *x, int n) {
    for (int i = 0; i < n; i++) y[i] += a * FP16[x[i]];
}
