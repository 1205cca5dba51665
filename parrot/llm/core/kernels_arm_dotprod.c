/* aarch64 kernels with the dot-product extension (sdot: Cortex-A55, A76 and later, e.g. the
 * RK3588's cores). The whole file is compiled for ARMv8.2-A + dotprod by the pragma below
 * (equivalent to -march=armv8.2-a+dotprod for this file only: GCC 12 refuses to inline
 * vdotq_s32 into a function that only carries target("+dotprod")); the set is offered only
 * when the kernel reports the instructions (HWCAP_ASIMDDP), so one build runs on every core. */
#include <string.h>

#include "kernels.h"
#include "kernels_lowbit.h"

#if defined(__aarch64__) && defined(__GNUC__)
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("dotprod"))), apply_to = function)
#else
#pragma GCC target("arch=armv8.2-a+dotprod")
#endif
#include <arm_neon.h>
#include <sys/auxv.h>
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1 << 20)
#endif

#define NAME(x) x##_dotprod
#define LABEL "dotprod"
#define DOT(acc, w, a) vdotq_s32((acc), (w), (a))
#include "kernels_arm.inc"

const pl_kernels *pl_kernels_arm_dotprod(void) {
    return (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) ? &set_dotprod : NULL;
}
#if defined(__clang__)
#pragma clang attribute pop
#endif
#else
const pl_kernels *pl_kernels_arm_dotprod(void) { return NULL; }
#endif
