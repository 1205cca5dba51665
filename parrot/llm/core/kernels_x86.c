/* x86-64 integer kernels: AVX2 (maddubs + madd), AVX-VNNI and AVX-512 VNNI (vpdpbusd on 256-bit
 * registers). One body (kernels_x86.inc) compiled per instruction set with a target pragma, so
 * the extension itself needs no -m flags and runs on any x86-64; pl_kernels_x86_*() return a
 * set only when the CPU (and the OS, for AVX-512 state) reports its instructions. */
#include <string.h>

#include "kernels.h"
#include "kernels_lowbit.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#pragma GCC push_options
#pragma GCC target("avx2,fma")
#define NAME(x) x##_avx2
#define LABEL "avx2"
#define DOT_U8S8(u, s) _mm256_madd_epi16(_mm256_maddubs_epi16((u), (s)), _mm256_set1_epi16(1))
#include "kernels_x86.inc"
#undef NAME
#undef LABEL
#undef DOT_U8S8
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c,avxvnni")
#define NAME(x) x##_avxvnni
#define LABEL "avxvnni"
#define DOT_U8S8(u, s) _mm256_dpbusd_avx_epi32(_mm256_setzero_si256(), (u), (s))
#define DPBUSD_ACC(acc, u, s) _mm256_dpbusd_avx_epi32((acc), (u), (s))
#include "kernels_x86.inc"
#undef DPBUSD_ACC
#undef NAME
#undef LABEL
#undef DOT_U8S8
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c,avx512f,avx512vl,avx512vnni")
#define NAME(x) x##_avx512vnni
#define LABEL "avx512vnni"
#define DOT_U8S8(u, s) _mm256_dpbusd_epi32(_mm256_setzero_si256(), (u), (s))
#define DPBUSD_ACC(acc, u, s) _mm256_dpbusd_epi32((acc), (u), (s))
#include "kernels_x86.inc"
#undef DPBUSD_ACC
#undef NAME
#undef LABEL
#undef DOT_U8S8
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx2,fma")
/* pl_quantize_q8a_portable, 32 values at a time, operation for operation (max ignoring NaN, the
 * division, a multiply then an add: no FMA), so the bits are the same */
static void quantize_q8a_avx2(const float *x, pl_q8a *y, int n) {
    const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff)), magic = _mm256_set1_ps(12582912.0f);
    const __m256i off = _mm256_set1_epi32(0x4B400000), hi = _mm256_set1_epi32(127), lo = _mm256_set1_epi32(-127);
    for (int b = 0; b < n / PL_QA; b++, x += PL_QA) {
        __m256 v[4], m = _mm256_setzero_ps();
        for (int k = 0; k < 4; k++) {
            v[k] = _mm256_loadu_ps(x + 8 * k);
            m = _mm256_max_ps(_mm256_and_ps(v[k], absmask), m); /* a NaN element leaves m as it was */
        }
        __m128 r = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
        r = _mm_max_ps(r, _mm_movehl_ps(r, r));
        r = _mm_max_ss(r, _mm_movehdup_ps(r));
        const float amax = _mm_cvtss_f32(r);
        const __m256 id = _mm256_set1_ps(amax > 0.0f ? 127.0f / amax : 0.0f);
        __m256i q[4];
        for (int k = 0; k < 4; k++) {
            const __m256i bits = _mm256_castps_si256(_mm256_add_ps(_mm256_mul_ps(v[k], id), magic));
            q[k] = _mm256_max_epi32(_mm256_min_epi32(_mm256_sub_epi32(bits, off), hi), lo);
        }
        const __m256i s01 = _mm256_add_epi32(q[0], q[1]), s23 = _mm256_add_epi32(q[2], q[3]);
        const __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
        _mm256_storeu_si256((__m256i *)y[b].q, _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
        __m128i h = _mm_hadd_epi32(_mm_add_epi32(_mm256_castsi256_si128(s01), _mm256_extracti128_si256(s01, 1)),
                                   _mm_add_epi32(_mm256_castsi256_si128(s23), _mm256_extracti128_si256(s23, 1)));
        h = _mm_hadd_epi32(h, h);
        y[b].d = amax / 127.0f;
        y[b].s[0] = (int16_t)_mm_cvtsi128_si32(h);
        y[b].s[1] = (int16_t)_mm_extract_epi32(h, 1);
    }
}
#pragma GCC pop_options

static int has_avx2(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

const pl_kernels *pl_kernels_x86_avx2(void) { return has_avx2() ? &set_avx2 : NULL; }
const pl_kernels *pl_kernels_x86_avxvnni(void) {
    return has_avx2() && __builtin_cpu_supports("avxvnni") ? &set_avxvnni : NULL;
}
const pl_kernels *pl_kernels_x86_avx512vnni(void) {
    return has_avx2() && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni") ? &set_avx512vnni
                                                                                                  : NULL;
}
void (*pl_quantize_q8a_x86(void))(const float *, pl_q8a *, int) { return has_avx2() ? quantize_q8a_avx2 : NULL; }
#else
void (*pl_quantize_q8a_x86(void))(const float *, pl_q8a *, int) { return NULL; }
const pl_kernels *pl_kernels_x86_avx2(void) { return NULL; }
const pl_kernels *pl_kernels_x86_avxvnni(void) { return NULL; }
const pl_kernels *pl_kernels_x86_avx512vnni(void) { return NULL; }
#endif
