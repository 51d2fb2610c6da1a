/* OpenBLAS found at run time (dlopen), for benchmarks that compare our kernels with it. Nothing
   links against it, so the package builds and runs where it is absent. */
#include "emu_kernels.h"
#include <dlfcn.h>
#include <pthread.h>
#include <stddef.h>

enum { ROW_MAJOR = 101, NO_TRANS = 111, TRANS = 112 };
typedef void (*cblas_sgemm_fn)(int, int, int, int, int, int, float, const float *, int,
                               const float *, int, float, float *, int);
typedef void (*set_threads_fn)(int);

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static cblas_sgemm_fn sgemm_fn;
static set_threads_fn set_threads;

static void load(void) {
    static const char *names[] = {"libopenblas.so.0", "libopenblas.so", "libopenblas.dylib",
                                  "/opt/homebrew/opt/openblas/lib/libopenblas.dylib"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        void *handle = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
        if (!handle) continue;
        cblas_sgemm_fn gemm = (cblas_sgemm_fn)dlsym(handle, "cblas_sgemm");
        if (!gemm) { dlclose(handle); continue; }
        sgemm_fn = gemm;
        set_threads = (set_threads_fn)dlsym(handle, "openblas_set_num_threads");
        return;
    }
}

int emu_openblas_available(void) {
    pthread_once(&load_once, load);
    return sgemm_fn != NULL;
}

int emu_openblas_set_threads(int count) {
    if (!emu_openblas_available() || !set_threads) return 0;
    set_threads(count);
    return 1;
}

int emu_openblas_sgemm(long m, long n, long k, const float *a, long lda, int transpose_a,
                       const float *b, long ldb, int transpose_b, float *c, long ldc) {
    if (!emu_openblas_available()) return 0;
    sgemm_fn(ROW_MAJOR, transpose_a ? TRANS : NO_TRANS, transpose_b ? TRANS : NO_TRANS,
             (int)m, (int)n, (int)k, 1.0f, a, (int)lda, b, (int)ldb, 0.0f, c, (int)ldc);
    return 1;
}
