/* Integer dot-product kernels: quantized weights against activations quantized to 8 bits.
 *
 * A matrix-vector product quantizes its input vector once into pl_q8a blocks of 32 (one f32
 * scale each, like the weights' own blocks), then every weight row is dotted against those
 * blocks with integer multiply-adds; only one float multiply-add per 32 weights remains.
 * kernels.c holds the portable C versions (the reference: every SIMD kernel is tested against
 * them by tests/c/kernels_test.c, exactly where the arithmetic is integer); kernels_x86.c and
 * kernels_arm*.c the SIMD ones. pl_kernels_pick() chooses one set at load from what the CPU
 * reports. Plain C, no Python. */
#ifndef PARROT_KERNELS_H
#define PARROT_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "parrot_llm.h"

#define PL_QA 32 /* activations per pl_q8a block */

typedef struct {
    float d;        /* x[i] ~ d * q[i] */
    int16_t s[2];   /* sums of q[0..15] and q[16..31] (the K formats' minimum terms need them) */
    int8_t q[PL_QA]; /* |q| <= 127, so sign tricks never overflow */
} pl_q8a;

/* One weight row (n elements, whole blocks of its type) against n/32 activation blocks. */
typedef float (*pl_vec_dot)(int n, const void *row, const pl_q8a *a);

/* One weight row against 4 tokens' activations (a + k * stride blocks, k < 4): out[k] must be
 * bit-identical to dot(n, row, a + k * stride), so a batch (prefill, speculative verification)
 * computes exactly what one token at a time would; it only unpacks the weights once. */
typedef void (*pl_vec_dot4)(int n, const void *row, const pl_q8a *a, size_t stride, float out[4]);

/* Row-interleaved ("x8") copies of Q8_0 and Q5_0 matrices, made at load (pl_pack_x8): 8 rows
 * side by side, so that one 32-byte load holds 4 consecutive weights of each of the 8 rows and one
 * vpdpbusd against 4 broadcast activation bytes advances all 8 rows' sums; the float work (one
 * scale multiply and add per block) is then shared by 8 rows instead of done per row. A group of
 * 8 rows is a run of group-blocks (one per 32 columns):
 *   Q8_0: f16 d[8] (row r's scale), then 8 chunks of 32 B: byte 4r+j of chunk c = row r's
 *         weight 4c+j plus 128 (so unsigned, 0..255)                                    272 B
 *   Q5_0: f16 d[8]; 32 B fifth bits: bit c of byte 4r+j = that of row r's weight 4c+j; then 4
 *         vectors of 32 B nibbles: byte 4r+j of vector v holds row r's weights 8v+j (low
 *         nibble) and 8v+4+j (high nibble), unsigned 0..15 (+16 from the fifth bit)       176 B
 * Same bytes as the file's blocks. The kernel writes out[t * out_stride + r] (r < 8) for
 * n_tok tokens (activations a + t * stride), each token's sums formed exactly as the portable
 * dot kernel forms them: sum += (d_w * d_a) * (float)isum block by block, so the results are
 * bit-identical to pl_kernels_portable()->dot for any number of tokens. */
typedef void (*pl_gemm_x8)(int n, const void *group, const pl_q8a *a, size_t stride, int n_tok, float *out,
                           size_t out_stride);
#define PL_X8_ROWS 8

typedef struct pl_kernels {
    const char *name;
    pl_vec_dot dot[PL_TYPE_COUNT];   /* NULL: no integer kernel for that weight type */
    pl_vec_dot4 dot4[PL_TYPE_COUNT]; /* optional: NULL = four calls of dot */
    pl_gemm_x8 x8[PL_TYPE_COUNT];    /* optional: the matrix is repacked at load and these serve it */
} pl_kernels;

/* Bytes of the x8 copy of a rows x cols matrix of `type` (0 if the type or shape has none:
 * rows a multiple of 8, cols of 32); pl_pack_x8 writes it. */
size_t pl_x8_size(uint32_t type, int64_t rows, int64_t cols);
void pl_pack_x8(uint32_t type, const void *src, int64_t rows, int64_t cols, void *dst);
/* The x8 kernels in plain C (the reference the SIMD ones are tested against; slow, so the
 * portable set does not repack) */
pl_gemm_x8 pl_x8_reference(uint32_t type);

/* f16 bits -> f32 for all 65536 values (quant.c; filled by pl_init_tables()). */
extern float pl_fp16_lut[65536];
static inline float pl_h2f(const uint8_t *p) { return pl_fp16_lut[(uint16_t)(p[0] | (p[1] << 8))]; }

/* 6-bit scale and minimum of sub-block j (0..7) of a Q4_K super-block */
static inline void q4k_scale_min(int j, const uint8_t *q, int *sc, int *m) {
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (q[j + 4] & 0xf) | ((q[j - 4] >> 6) << 4);
        *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

/* n a multiple of 32. Deterministic and identical on every CPU (the kernels share it). */
void pl_quantize_q8a(const float *x, pl_q8a *y, int n);
/* its plain C form (the definition), and the AVX2 one pl_quantize_q8a uses where the CPU has it
 * (NULL elsewhere): the same operations, so the same bits */
void pl_quantize_q8a_portable(const float *x, pl_q8a *y, int n);
void (*pl_quantize_q8a_x86(void))(const float *x, pl_q8a *y, int n);

/* The portable set (the reference), and the SIMD sets this build and CPU offer (NULL when not). */
const pl_kernels *pl_kernels_portable(void);
const pl_kernels *pl_kernels_x86_avx2(void);
const pl_kernels *pl_kernels_x86_avxvnni(void);
const pl_kernels *pl_kernels_x86_avx512vnni(void);
const pl_kernels *pl_kernels_arm_neon(void);
const pl_kernels *pl_kernels_arm_dotprod(void);

/* Every set usable on this CPU, fastest first, then portable, then "f32" (no integer kernels:
 * weights dequantized and dotted in f32); returns the count (<= max). */
int pl_kernels_available(const pl_kernels **out, int max);
/* The fastest usable set, or the one named by `name` (NULL/"" = fastest); NULL if that name is
 * unknown or not usable here. The environment variable PARROT_KERNELS overrides an empty name. */
const pl_kernels *pl_kernels_pick(const char *name);

#endif
