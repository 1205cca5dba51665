/* Q2_K, Q3_K, IQ4_NL and IQ4_XS (layouts in kernels_lowbit.h): dequantizers, portable integer
 * dot kernels (the reference) and AVX2 ones.
 *
 * Every format is first unpacked to one signed byte per weight plus small integer scales; the
 * dequantizer multiplies out in float, the dot kernels sum integer products per 16 or 32 weights
 * and scale once, like kernels.c. Q2_K also has a minimum per 16 weights: sum(m * a) comes from
 * the activation block's half sums s[], as for Q4_K. */
#include <string.h>

#include "kernels_lowbit.h"

#define QK_K 256

/* the 16 values an IQ4 nibble selects (ggml's kvalues_iq4nl) */
const int8_t pl_iq4_values[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

int pl_is_lowbit(uint32_t type) {
    return type == PL_Q2_K || type == PL_Q3_K || type == PL_IQ4_NL || type == PL_IQ4_XS;
}

/* ---- unpacking (shared by the dequantizers and the portable kernels) */

/* Q2_K / Q3_K order: weight 128h + 32j + l holds bits 2j..2j+1 of quant byte 32h + l */
static void unpack_q2_k(const uint8_t *b, int8_t w[QK_K]) {
    const uint8_t *q = b + 16;
    for (int h = 0; h < 2; h++)
        for (int j = 0; j < 4; j++)
            for (int l = 0; l < 32; l++) w[128 * h + 32 * j + l] = (int8_t)((q[32 * h + l] >> (2 * j)) & 3);
}

/* Q3_K: the same 2 low bits, minus 4 where the weight's bit in the high mask is clear (bit 4h + j
 * of mask byte l) */
static void unpack_q3_k(const uint8_t *b, int8_t w[QK_K]) {
    const uint8_t *hm = b, *q = b + 32;
    for (int h = 0; h < 2; h++)
        for (int j = 0; j < 4; j++)
            for (int l = 0; l < 32; l++)
                w[128 * h + 32 * j + l] =
                    (int8_t)(((q[32 * h + l] >> (2 * j)) & 3) - (((hm[l] >> (4 * h + j)) & 1) ? 0 : 4));
}

/* Q3_K scale i (0..15): low 4 bits in the nibbles of bytes 0..7, high 2 bits in bytes 8..11 */
static int q3_k_scale(const uint8_t *sc, int i) {
    const int lo = i < 8 ? sc[i] & 0xf : sc[i - 8] >> 4;
    const int hi = (sc[8 + i % 4] >> (2 * (i / 4))) & 3;
    return (lo | (hi << 4)) - 32;
}

static int iq4_xs_scale(const uint8_t *b, int ib) {
    const int hbits = b[2] | (b[3] << 8);
    return (((b[4 + ib / 2] >> (4 * (ib % 2))) & 0xf) | (((hbits >> (2 * ib)) & 3) << 4)) - 32;
}

/* 16 nibble bytes -> 32 weights: low nibbles first, then high ones */
static void unpack_iq4(const uint8_t *qs, int8_t w[32]) {
    for (int j = 0; j < 16; j++) {
        w[j] = pl_iq4_values[qs[j] & 0xf];
        w[j + 16] = pl_iq4_values[qs[j] >> 4];
    }
}

/* ---- dequantizers */

void pl_dequant_lowbit(uint32_t type, const uint8_t *b, float *y, int64_t n) {
    int8_t w[QK_K];
    switch (type) {
    case PL_Q2_K:
        for (int64_t i = 0; i < n / QK_K; i++, b += 84, y += QK_K) {
            const float d = pl_h2f(b + 80), dmin = pl_h2f(b + 82);
            unpack_q2_k(b, w);
            for (int g = 0; g < 16; g++) {
                const float dl = d * (float)(b[g] & 0xf), ml = dmin * (float)(b[g] >> 4);
                for (int l = 0; l < 16; l++) y[16 * g + l] = dl * (float)w[16 * g + l] - ml;
            }
        }
        break;
    case PL_Q3_K:
        for (int64_t i = 0; i < n / QK_K; i++, b += 110, y += QK_K) {
            const float d = pl_h2f(b + 108);
            unpack_q3_k(b, w);
            for (int g = 0; g < 16; g++) {
                const float dl = d * (float)q3_k_scale(b + 96, g);
                for (int l = 0; l < 16; l++) y[16 * g + l] = dl * (float)w[16 * g + l];
            }
        }
        break;
    case PL_IQ4_NL:
        for (int64_t i = 0; i < n / 32; i++, b += 18, y += 32) {
            const float d = pl_h2f(b);
            unpack_iq4(b + 2, w);
            for (int l = 0; l < 32; l++) y[l] = d * (float)w[l];
        }
        break;
    case PL_IQ4_XS:
        for (int64_t i = 0; i < n / QK_K; i++, b += 136) {
            const float d = pl_h2f(b);
            for (int ib = 0; ib < 8; ib++, y += 32) {
                const float dl = d * (float)iq4_xs_scale(b, ib);
                unpack_iq4(b + 8 + 16 * ib, w);
                for (int l = 0; l < 32; l++) y[l] = dl * (float)w[l];
            }
        }
        break;
    default: memset(y, 0, (size_t)n * sizeof *y); break;
    }
}

/* ---- portable integer kernels */

static int isum(const int8_t *w, const int8_t *a, int n) {
    int s = 0;
    for (int j = 0; j < n; j++) s += w[j] * a[j];
    return s;
}

float pl_dot_q2_k_ref(int n, const void *row, const pl_q8a *a) {
    const uint8_t *b = row;
    float sum = 0.0f;
    int8_t w[QK_K];
    for (int i = 0; i < n / QK_K; i++, b += 84) {
        const float d = pl_h2f(b + 80), dmin = pl_h2f(b + 82);
        unpack_q2_k(b, w);
        for (int k = 0; k < 8; k++, a++) { /* activation block k: scale groups 2k, 2k + 1 */
            const uint8_t s0 = b[2 * k], s1 = b[2 * k + 1];
            const int q = (s0 & 0xf) * isum(w + 32 * k, a->q, 16) + (s1 & 0xf) * isum(w + 32 * k + 16, a->q + 16, 16);
            const int m = (s0 >> 4) * a->s[0] + (s1 >> 4) * a->s[1];
            sum += a->d * (d * (float)q - dmin * (float)m);
        }
    }
    return sum;
}

float pl_dot_q3_k_ref(int n, const void *row, const pl_q8a *a) {
    const uint8_t *b = row;
    float sum = 0.0f;
    int8_t w[QK_K];
    for (int i = 0; i < n / QK_K; i++, b += 110) {
        const float d = pl_h2f(b + 108);
        unpack_q3_k(b, w);
        for (int k = 0; k < 8; k++, a++) {
            const int q = q3_k_scale(b + 96, 2 * k) * isum(w + 32 * k, a->q, 16) +
                          q3_k_scale(b + 96, 2 * k + 1) * isum(w + 32 * k + 16, a->q + 16, 16);
            sum += (d * a->d) * (float)q;
        }
    }
    return sum;
}

float pl_dot_iq4_nl_ref(int n, const void *row, const pl_q8a *a) {
    const uint8_t *b = row;
    float sum = 0.0f;
    int8_t w[32];
    for (int i = 0; i < n / 32; i++, b += 18) {
        unpack_iq4(b + 2, w);
        sum += (pl_h2f(b) * a[i].d) * (float)isum(w, a[i].q, 32);
    }
    return sum;
}

float pl_dot_iq4_xs_ref(int n, const void *row, const pl_q8a *a) {
    const uint8_t *b = row;
    float sum = 0.0f;
    int8_t w[32];
    for (int i = 0; i < n / QK_K; i++, b += 136) {
        const float d = pl_h2f(b);
        for (int ib = 0; ib < 8; ib++, a++) {
            unpack_iq4(b + 8 + 16 * ib, w);
            sum += (d * a->d) * (float)(iq4_xs_scale(b, ib) * isum(w, a->q, 32));
        }
    }
    return sum;
}

/* ---- AVX2 (x86-64; compiled for AVX2 by the pragma, offered only by sets that imply it) */

#if defined(__x86_64__) && defined(__GNUC__)
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#include <immintrin.h>

static inline float hsum8(__m256 v) {
    __m128 r = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    r = _mm_add_ps(r, _mm_movehl_ps(r, r));
    r = _mm_add_ss(r, _mm_movehdup_ps(r));
    return _mm_cvtss_f32(r);
}

/* unsigned u x signed s, 32 bytes -> 8 int32 lanes (lanes 0-3: bytes 0-15, lanes 4-7: bytes 16-31) */
static inline __m256i dot_u8s8(__m256i u, __m256i s) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}

/* signed x signed (|y| <= 127): |x| times y with x's sign */
static inline __m256i dot_s8s8(__m256i x, __m256i y) {
    return dot_u8s8(_mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x));
}

static inline __m256i load_a(const pl_q8a *a) { return _mm256_loadu_si256((const __m256i *)a->q); }

/* one scale for the low 16 weights of a block, another for the high 16 */
static inline __m256 scale2(float lo, float hi) { return _mm256_set_m128(_mm_set1_ps(hi), _mm_set1_ps(lo)); }

float pl_dot_q2_k_avx2(int n, const void *row, const pl_q8a *a) {
    const uint8_t *b = row;
    const __m256i m3 = _mm256_set1_epi8(3);
    __m256 acc = _mm256_setzero_ps();
    float mins = 0.0f;
    for (int i = 0; i < n / QK_K; i++, b += 84) {
        const float d = pl_h2f(b + 80), dmin = pl_h2f(b + 82);
        for (int h = 0; h < 2; h++) {
            const __m256i q = _mm256_loadu_si256((const __m256i *)(b + 16 + 32 * h));
            for (int j = 0; j < 4; j++, a++) {
                const uint8_t s0 = b[8 * h + 2 * j], s1 = b[8 * h + 2 * j + 1];
                const __m256i w = _mm256_and_si256(_mm256_srli_epi16(q, 2 * j), m3);
                const __m256i p = dot_u8s8(w, load_a(a));
                const float da = d * a->d;
                acc = _mm256_fmadd_ps(scale2(da * (float)(s0 & 0xf), da * (float)(s1 & 0xf)), _mm256_cvtepi32_ps(p), acc);
                mins += dmin * a->d * (float)((s0 >> 4) * a->s[0] + (s1 >> 4) * a->s[1]);
            }
        }
    }
    return hsum8(acc) - mins;
}

float pl_dot_q3_k_avx2(int n, const void *row, const pl_q8a *a) {
    const uint8_t *b = row;
    const __m256i m3 = _mm256_set1_epi8(3), one = _mm256_set1_epi8(1), four = _mm256_set1_epi8(4);
    __m256 acc = _mm256_setzero_ps();
    for (int i = 0; i < n / QK_K; i++, b += 110) {
        const float d = pl_h2f(b + 108);
        const __m256i hm = _mm256_loadu_si256((const __m256i *)b);
        for (int h = 0; h < 2; h++) {
            const __m256i q = _mm256_loadu_si256((const __m256i *)(b + 32 + 32 * h));
            for (int j = 0; j < 4; j++, a++) {
                const int g = 8 * h + 2 * j;
                const __m256i lo = _mm256_and_si256(_mm256_srli_epi16(q, 2 * j), m3);
                const __m256i hbit = _mm256_and_si256(_mm256_srli_epi16(hm, 4 * h + j), one);
                /* low bits + 4 * high bit - 4: -4..3 */
                const __m256i w = _mm256_sub_epi8(_mm256_or_si256(lo, _mm256_slli_epi16(hbit, 2)), four);
                const __m256i p = dot_s8s8(w, load_a(a));
                const float da = d * a->d;
                acc = _mm256_fmadd_ps(scale2(da * (float)q3_k_scale(b + 96, g), da * (float)q3_k_scale(b + 96, g + 1)),
                                      _mm256_cvtepi32_ps(p), acc);
            }
        }
    }
    return hsum8(acc);
}

/* 16 nibble bytes -> the 32 table values they select (low nibbles, then high ones) */
static inline __m256i iq4_weights(const uint8_t *qs, __m256i table) {
    const __m128i t = _mm_loadu_si128((const __m128i *)qs);
    const __m256i idx = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(t, 4), t), _mm256_set1_epi8(0x0f));
    return _mm256_shuffle_epi8(table, idx);
}

static inline __m256i iq4_table(void) {
    const __m128i t = _mm_loadu_si128((const __m128i *)pl_iq4_values);
    return _mm256_set_m128i(t, t);
}

float pl_dot_iq4_nl_avx2(int n, const void *row, const pl_q8a *a) {
    const uint8_t *b = row;
    const __m256i table = iq4_table();
    __m256 acc = _mm256_setzero_ps();
    for (int i = 0; i < n / 32; i++, b += 18, a++) {
        const __m256i p = dot_s8s8(iq4_weights(b + 2, table), load_a(a));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(pl_h2f(b) * a->d), _mm256_cvtepi32_ps(p), acc);
    }
    return hsum8(acc);
}

float pl_dot_iq4_xs_avx2(int n, const void *row, const pl_q8a *a) {
    const uint8_t *b = row;
    const __m256i table = iq4_table();
    __m256 acc = _mm256_setzero_ps();
    for (int i = 0; i < n / QK_K; i++, b += 136) {
        const float d = pl_h2f(b);
        for (int ib = 0; ib < 8; ib++, a++) {
            const __m256i p = dot_s8s8(iq4_weights(b + 8 + 16 * ib, table), load_a(a));
            acc = _mm256_fmadd_ps(_mm256_set1_ps(d * a->d * (float)iq4_xs_scale(b, ib)), _mm256_cvtepi32_ps(p), acc);
        }
    }
    return hsum8(acc);
}

#pragma GCC pop_options
#endif
