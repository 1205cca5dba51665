/* aarch64 NEON kernels (placeholder until the NEON set lands): none on other CPUs. */
#include "kernels.h"

const pl_kernels *pl_kernels_arm_neon(void) { return NULL; }
const pl_kernels *pl_kernels_arm_dotprod(void) { return NULL; }
