#include "emu_kernels.h"
#include "internal.h"

static int cpu_checked = 0, cpu_has = 0, force_scalar = 0;

int emu_cpu_has_avx2_fma(void) {
#if defined(__x86_64__) || defined(__i386__)
    if (!cpu_checked) {
        __builtin_cpu_init();
        cpu_has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
        cpu_checked = 1;
    }
    return cpu_has;
#else
    return 0;
#endif
}

void emu_set_force_scalar(int force) { force_scalar = force; }

int emu_uses_avx2(void) { return !force_scalar && emu_cpu_has_avx2_fma(); }
