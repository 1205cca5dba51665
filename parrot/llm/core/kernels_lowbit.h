/* The low-bit weight formats users pick for small boards: Q2_K, Q3_K, IQ4_NL, IQ4_XS
 * (kernels_lowbit.c). Dequantizers (the reference, tested against the gguf package) and integer
 * dot kernels against pl_q8a activations; the kernel tables of kernels.c, kernels_x86.inc and
 * kernels_arm.inc take them through the two macros below. Layouts are ggml's (block_q2_K ...
 * in ggml-common.h):
 *   Q2_K   84 B / 256: 16 B scales (4-bit scale | 4-bit min << 4 per 16), 64 B 2-bit quants, f16 d, f16 dmin
 *   Q3_K  110 B / 256: 32 B high-bit mask, 64 B 2-bit quants, 12 B 6-bit scales (per 16), f16 d
 *   IQ4_NL 18 B / 32:  f16 d, 16 B nibbles indexing a fixed non-linear table of 16 values
 *   IQ4_XS 136 B / 256: f16 d, u16 high scale bits, 4 B low scale nibbles (6-bit scale per 32), 128 B nibbles */
#ifndef PARROT_KERNELS_LOWBIT_H
#define PARROT_KERNELS_LOWBIT_H

#include "kernels.h"

enum { PL_IQ4_NL = 20, PL_IQ4_XS = 23 };

/* the 16 values an IQ4 nibble selects (ggml's kvalues_iq4nl) */
extern const int8_t pl_iq4_values[16];

/* 1 if type is one of these formats (then pl_dequant_lowbit handles it) */
int pl_is_lowbit(uint32_t type);
void pl_dequant_lowbit(uint32_t type, const uint8_t *src, float *dst, int64_t n);

float pl_dot_q2_k_ref(int n, const void *row, const pl_q8a *a);
float pl_dot_q3_k_ref(int n, const void *row, const pl_q8a *a);
float pl_dot_iq4_nl_ref(int n, const void *row, const pl_q8a *a);
float pl_dot_iq4_xs_ref(int n, const void *row, const pl_q8a *a);
/* AVX2 versions (defined on x86-64 only; used by the avx2 and VNNI sets, which imply AVX2) */
float pl_dot_q2_k_avx2(int n, const void *row, const pl_q8a *a);
float pl_dot_q3_k_avx2(int n, const void *row, const pl_q8a *a);
float pl_dot_iq4_nl_avx2(int n, const void *row, const pl_q8a *a);
float pl_dot_iq4_xs_avx2(int n, const void *row, const pl_q8a *a);

#define PL_LOWBIT_DOTS_PORTABLE                                                                   \
    [PL_Q2_K] = pl_dot_q2_k_ref, [PL_Q3_K] = pl_dot_q3_k_ref, [PL_IQ4_NL] = pl_dot_iq4_nl_ref, \
    [PL_IQ4_XS] = pl_dot_iq4_xs_ref
/* (the aarch64 sets' entries, NAME(dot_q2_k) ..., are listed by kernels_lowbit_arm.inc) */
#define PL_LOWBIT_DOTS_AVX2                                                                         \
    [PL_Q2_K] = pl_dot_q2_k_avx2, [PL_Q3_K] = pl_dot_q3_k_avx2, [PL_IQ4_NL] = pl_dot_iq4_nl_avx2, \
    [PL_IQ4_XS] = pl_dot_iq4_xs_avx2

#endif
