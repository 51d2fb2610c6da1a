/* SGEMM: packed panels, cache blocking (NC x KC x MC) and a 6x16 register tile (12 ymm FMA
   accumulators on AVX2; a portable scalar tile elsewhere). B may be float16/bfloat16: panels are
   widened while packing, so a half-precision weight is never converted as a whole. */
#include "emu_kernels.h"
#include "internal.h"
#include <stdlib.h>
#include <string.h>

#define MR 6
#define NR 16
#define KC 256
#define MC 144
#define NC 2048

typedef struct { float *a; float *b; } pack_buffers;

static pack_buffers *thread_buffers(void) {
    static _Thread_local pack_buffers buffers = {0, 0};
    if (!buffers.a) {
        if (posix_memalign((void **)&buffers.a, 64, sizeof(float) * MC * KC) != 0) abort();
        if (posix_memalign((void **)&buffers.b, 64, sizeof(float) * KC * NC) != 0) abort();
    }
    return &buffers;
}

/* Rows [i0, i0+mc) x cols [p0, p0+kc) of op(A) into MR-row panels: ap[panel][p][MR]. */
static void pack_a(long mc, long kc, const float *a, long lda, int trans, long i0, long p0, float *ap) {
    for (long ir = 0; ir < mc; ir += MR) {
        long rows = mc - ir < MR ? mc - ir : MR;
        float *dst = ap + ir * kc;
        if (!trans) {
            for (long i = 0; i < MR; i++) {
                if (i < rows) {
                    const float *src = a + (i0 + ir + i) * lda + p0;
                    for (long p = 0; p < kc; p++) dst[p * MR + i] = src[p];
                } else {
                    for (long p = 0; p < kc; p++) dst[p * MR + i] = 0;
                }
            }
        } else {
            for (long p = 0; p < kc; p++) {
                const float *src = a + (p0 + p) * lda + i0 + ir;
                long i = 0;
                for (; i < rows; i++) dst[p * MR + i] = src[i];
                for (; i < MR; i++) dst[p * MR + i] = 0;
            }
        }
    }
}

/* Rows [p0, p0+kc) x cols [j0, j0+nc) of op(B) into NR-column panels: bp[panel][p][NR]. */
static void pack_b(long kc, long nc, const void *b, long ldb, int trans, int type, long p0, long j0, float *bp) {
    if (!trans && type == EMU_F32) {
        /* Row by row, so B is read sequentially (a panel-by-panel walk reads 64 bytes per row of B
           and defeats the prefetcher once B outgrows the caches). */
        for (long p = 0; p < kc; p++) {
            const float *src = (const float *)b + (p0 + p) * ldb + j0;
            long jr = 0;
            for (; jr + NR <= nc; jr += NR) memcpy(bp + jr * kc + p * NR, src + jr, sizeof(float) * NR);
            if (jr < nc) {
                float *dst = bp + jr * kc + p * NR;
                long j = 0;
                for (; jr + j < nc; j++) dst[j] = src[jr + j];
                for (; j < NR; j++) dst[j] = 0;
            }
        }
        return;
    }
    for (long jr = 0; jr < nc; jr += NR) {
        long cols = nc - jr < NR ? nc - jr : NR;
        float *dst = bp + jr * kc;
        if (!trans) {
            for (long p = 0; p < kc; p++) {
                long base = (p0 + p) * ldb + j0 + jr;
                long j = 0;
                if (type == EMU_F32) {
                    const float *src = (const float *)b + base;
                    for (; j < cols; j++) dst[p * NR + j] = src[j];
                } else {
                    for (; j < cols; j++) dst[p * NR + j] = emu_weight_value(b, type, base + j);
                }
                for (; j < NR; j++) dst[p * NR + j] = 0;
            }
        } else {
            for (long j = 0; j < NR; j++) {
                if (j < cols) {
                    long base = (j0 + jr + j) * ldb + p0;
                    if (type == EMU_F32) {
                        const float *src = (const float *)b + base;
                        for (long p = 0; p < kc; p++) dst[p * NR + j] = src[p];
                    } else if (type == EMU_BF16) {
                        const uint16_t *src = (const uint16_t *)b + base;
                        for (long p = 0; p < kc; p++) dst[p * NR + j] = emu_bf16_value(src[p]);
                    } else {
                        for (long p = 0; p < kc; p++) dst[p * NR + j] = emu_weight_value(b, type, base + p);
                    }
                } else {
                    for (long p = 0; p < kc; p++) dst[p * NR + j] = 0;
                }
            }
        }
    }
}

/* Adds or stores an MR x NR tile (only rows x cols of it) into C. */
static void store_tile(const float *tile, float *c, long ldc, int accumulate, long rows, long cols) {
    for (long i = 0; i < rows; i++)
        for (long j = 0; j < cols; j++)
            c[i * ldc + j] = accumulate ? c[i * ldc + j] + tile[i * NR + j] : tile[i * NR + j];
}

static void kernel_scalar(long kc, const float *a, const float *b, float *c, long ldc,
                          int accumulate, long rows, long cols) {
    float tile[MR * NR];
    for (int i = 0; i < MR * NR; i++) tile[i] = 0;
    for (long p = 0; p < kc; p++) {
        for (int i = 0; i < MR; i++) {
            float av = a[p * MR + i];
            for (int j = 0; j < NR; j++) tile[i * NR + j] += av * b[p * NR + j];
        }
    }
    store_tile(tile, c, ldc, accumulate, rows, cols);
}

#if EMU_X86
EMU_AVX2 static void kernel_avx2(long kc, const float *a, const float *b, float *c, long ldc,
                                 int accumulate, long rows, long cols) {
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
    __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    for (long p = 0; p < kc; p++) {
        __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
        __m256 av;
        av = _mm256_broadcast_ss(a + 0); c00 = _mm256_fmadd_ps(av, b0, c00); c01 = _mm256_fmadd_ps(av, b1, c01);
        av = _mm256_broadcast_ss(a + 1); c10 = _mm256_fmadd_ps(av, b0, c10); c11 = _mm256_fmadd_ps(av, b1, c11);
        av = _mm256_broadcast_ss(a + 2); c20 = _mm256_fmadd_ps(av, b0, c20); c21 = _mm256_fmadd_ps(av, b1, c21);
        av = _mm256_broadcast_ss(a + 3); c30 = _mm256_fmadd_ps(av, b0, c30); c31 = _mm256_fmadd_ps(av, b1, c31);
        av = _mm256_broadcast_ss(a + 4); c40 = _mm256_fmadd_ps(av, b0, c40); c41 = _mm256_fmadd_ps(av, b1, c41);
        av = _mm256_broadcast_ss(a + 5); c50 = _mm256_fmadd_ps(av, b0, c50); c51 = _mm256_fmadd_ps(av, b1, c51);
        a += MR; b += NR;
    }
    if (rows == MR && cols == NR) {
        if (accumulate) {
#define EMU_ACC(r, x0, x1) \
            _mm256_storeu_ps(c + r * ldc, _mm256_add_ps(_mm256_loadu_ps(c + r * ldc), x0)); \
            _mm256_storeu_ps(c + r * ldc + 8, _mm256_add_ps(_mm256_loadu_ps(c + r * ldc + 8), x1));
            EMU_ACC(0, c00, c01) EMU_ACC(1, c10, c11) EMU_ACC(2, c20, c21)
            EMU_ACC(3, c30, c31) EMU_ACC(4, c40, c41) EMU_ACC(5, c50, c51)
#undef EMU_ACC
        } else {
#define EMU_SET(r, x0, x1) _mm256_storeu_ps(c + r * ldc, x0); _mm256_storeu_ps(c + r * ldc + 8, x1);
            EMU_SET(0, c00, c01) EMU_SET(1, c10, c11) EMU_SET(2, c20, c21)
            EMU_SET(3, c30, c31) EMU_SET(4, c40, c41) EMU_SET(5, c50, c51)
#undef EMU_SET
        }
        return;
    }
    float tile[MR * NR] __attribute__((aligned(32)));
    _mm256_store_ps(tile + 0, c00); _mm256_store_ps(tile + 8, c01);
    _mm256_store_ps(tile + 16, c10); _mm256_store_ps(tile + 24, c11);
    _mm256_store_ps(tile + 32, c20); _mm256_store_ps(tile + 40, c21);
    _mm256_store_ps(tile + 48, c30); _mm256_store_ps(tile + 56, c31);
    _mm256_store_ps(tile + 64, c40); _mm256_store_ps(tile + 72, c41);
    _mm256_store_ps(tile + 80, c50); _mm256_store_ps(tile + 88, c51);
    store_tile(tile, c, ldc, accumulate, rows, cols);
}
#endif

void emu_sgemm_serial(long m, long n, long k,
                      const float *a, long lda, int transpose_a,
                      const void *b, long ldb, int transpose_b, int b_type,
                      float *c, long ldc, int accumulate) {
    if (m <= 0 || n <= 0) return;
    if (k <= 0) {
        if (!accumulate) for (long i = 0; i < m; i++) memset(c + i * ldc, 0, sizeof(float) * n);
        return;
    }
    void (*kernel)(long, const float *, const float *, float *, long, int, long, long) = kernel_scalar;
#if EMU_X86
    if (emu_uses_avx2()) kernel = kernel_avx2;
#endif
    pack_buffers *buffers = thread_buffers();
    for (long jc = 0; jc < n; jc += NC) {
        long nc = n - jc < NC ? n - jc : NC;
        for (long pc = 0; pc < k; pc += KC) {
            long kc = k - pc < KC ? k - pc : KC;
            int acc = accumulate || pc > 0;
            pack_b(kc, nc, b, ldb, transpose_b, b_type, pc, jc, buffers->b);
            for (long ic = 0; ic < m; ic += MC) {
                long mc = m - ic < MC ? m - ic : MC;
                pack_a(mc, kc, a, lda, transpose_a, ic, pc, buffers->a);
                for (long jr = 0; jr < nc; jr += NR) {
                    long cols = nc - jr < NR ? nc - jr : NR;
                    for (long ir = 0; ir < mc; ir += MR) {
                        long rows = mc - ir < MR ? mc - ir : MR;
                        kernel(kc, buffers->a + ir * kc, buffers->b + jr * kc,
                               c + (ic + ir) * ldc + jc + jr, ldc, acc, rows, cols);
                    }
                }
            }
        }
    }
}

typedef struct {
    long m, n, k; const float *a; long lda; int ta; const void *b; long ldb; int tb; int bt;
    float *c; long ldc; int acc; int split_m; long chunk;
} gemm_job;

static void gemm_task(void *context, long index) {
    const gemm_job *j = context;
    long elem = j->bt == EMU_F32 ? 4 : 2;
    if (j->split_m) {
        long i0 = index * j->chunk, rows = j->m - i0 < j->chunk ? j->m - i0 : j->chunk;
        if (rows <= 0) return;
        const float *a = j->ta ? j->a + i0 : j->a + i0 * j->lda;
        emu_sgemm_serial(rows, j->n, j->k, a, j->lda, j->ta, j->b, j->ldb, j->tb, j->bt,
                         j->c + i0 * j->ldc, j->ldc, j->acc);
    } else {
        long j0 = index * j->chunk, cols = j->n - j0 < j->chunk ? j->n - j0 : j->chunk;
        if (cols <= 0) return;
        const char *b = (const char *)j->b + (j->tb ? j0 * j->ldb : j0) * elem;
        emu_sgemm_serial(j->m, cols, j->k, j->a, j->lda, j->ta, b, j->ldb, j->tb, j->bt,
                         j->c + j0, j->ldc, j->acc);
    }
}

void emu_sgemm(long m, long n, long k,
               const float *a, long lda, int transpose_a,
               const void *b, long ldb, int transpose_b, int b_type,
               float *c, long ldc, int accumulate) {
    int threads = emu_get_num_threads();
    double flops = 2.0 * m * n * k;
    if (threads <= 1 || flops < 4e6) {
        emu_sgemm_serial(m, n, k, a, lda, transpose_a, b, ldb, transpose_b, b_type, c, ldc, accumulate);
        return;
    }
    gemm_job job = {m, n, k, a, lda, transpose_a, b, ldb, transpose_b, b_type, c, ldc, accumulate, 0, 0};
    long tasks;
    if (m >= n && m >= (long)MR * threads) {
        job.split_m = 1;
        long per = (m + threads - 1) / threads;
        job.chunk = (per + MR - 1) / MR * MR;
        tasks = (m + job.chunk - 1) / job.chunk;
    } else if (n >= (long)NR * threads) {
        long per = (n + threads - 1) / threads;
        job.chunk = (per + NR - 1) / NR * NR;
        tasks = (n + job.chunk - 1) / job.chunk;
    } else if (m >= (long)MR * threads) {
        job.split_m = 1;
        long per = (m + threads - 1) / threads;
        job.chunk = (per + MR - 1) / MR * MR;
        tasks = (m + job.chunk - 1) / job.chunk;
    } else {
        emu_sgemm_serial(m, n, k, a, lda, transpose_a, b, ldb, transpose_b, b_type, c, ldc, accumulate);
        return;
    }
    emu_parallel_for(tasks, gemm_task, &job);
}
