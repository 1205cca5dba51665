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
#else
const pl_kernels *pl_kernels_x86_avx2(void) { return NULL; }
const pl_kernels *pl_kernels_x86_avxvnni(void) { return NULL; }
const pl_kernels *pl_kernels_x86_avx512vnni(void) { return NULL; }
#endif
