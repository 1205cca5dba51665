/* aarch64 NEON kernels without the dot-product extension (Cortex-A53 and other ARMv8.0 cores):
 * signed bytes multiplied into 16-bit pairs (vmull_s8 / vmlal_high_s8, |w·a| <= 128·127 twice
 * fits) and added pairwise into 32-bit lanes (vpadalq_s16). Every aarch64 CPU has NEON. */
#include <string.h>

#include "kernels.h"
#include "kernels_lowbit.h"

#if defined(__aarch64__)
#include <arm_neon.h>

static inline int32x4_t dot_widen(int32x4_t acc, int8x16_t w, int8x16_t a) {
    const int16x8_t p = vmlal_high_s8(vmull_s8(vget_low_s8(w), vget_low_s8(a)), w, a);
    return vpadalq_s16(acc, p);
}
#define NAME(x) x##_neon
#define LABEL "neon"
#define DOT(acc, w, a) dot_widen((acc), (w), (a))
#include "kernels_arm.inc"

const pl_kernels *pl_kernels_arm_neon(void) { return &set_neon; }
#else
const pl_kernels *pl_kernels_arm_neon(void) { return NULL; }
#endif
