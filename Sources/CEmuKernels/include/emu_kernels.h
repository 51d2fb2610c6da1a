#ifndef EMU_KERNELS_H
#define EMU_KERNELS_H
#include <stddef.h>
#include <stdint.h>

/// 1 when the running CPU has AVX2, FMA and F16C (decided at run time).
int emu_cpu_has_avx2_fma(void);

#endif
