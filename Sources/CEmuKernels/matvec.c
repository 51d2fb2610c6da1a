/* Few-row linear (the decode kernel): each weight row is streamed once and widened in registers,
   output rows are split over the threads. */
#include "emu_kernels.h"
#include "internal.h"

typedef struct {
    long rows, in, out; const float *x; const void *w; int type; const float *bias; float *y; long chunk;
} matvec_job;

static float dot_scalar(const float *x, const void *w, int type, long base, long n) {
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    long i = 0;
    for (; i + 4 <= n; i += 4) {
        s0 += x[i] * emu_weight_value(w, type, base + i);
        s1 += x[i + 1] * emu_weight_value(w, type, base + i + 1);
        s2 += x[i + 2] * emu_weight_value(w, type, base + i + 2);
        s3 += x[i + 3] * emu_weight_value(w, type, base + i + 3);
    }
    for (; i < n; i++) s0 += x[i] * emu_weight_value(w, type, base + i);
    return (s0 + s1) + (s2 + s3);
}

#if EMU_X86
/* Two weight rows against one x row. */
EMU_AVX2 static void dot2_avx2(const float *x, const void *w, int type, long base0, long base1, long n,
                               float *out0, float *out1) {
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, b0 = a0, b1 = a0;
    long i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 x0 = _mm256_loadu_ps(x + i), x1 = _mm256_loadu_ps(x + i + 8);
        a0 = _mm256_fmadd_ps(x0, emu_load8(w, type, base0 + i), a0);
        a1 = _mm256_fmadd_ps(x1, emu_load8(w, type, base0 + i + 8), a1);
        b0 = _mm256_fmadd_ps(x0, emu_load8(w, type, base1 + i), b0);
        b1 = _mm256_fmadd_ps(x1, emu_load8(w, type, base1 + i + 8), b1);
    }
    for (; i + 8 <= n; i += 8) {
        __m256 x0 = _mm256_loadu_ps(x + i);
        a0 = _mm256_fmadd_ps(x0, emu_load8(w, type, base0 + i), a0);
        b0 = _mm256_fmadd_ps(x0, emu_load8(w, type, base1 + i), b0);
    }
    float s0 = emu_hsum256(_mm256_add_ps(a0, a1)), s1 = emu_hsum256(_mm256_add_ps(b0, b1));
    for (; i < n; i++) {
        s0 += x[i] * emu_weight_value(w, type, base0 + i);
        s1 += x[i] * emu_weight_value(w, type, base1 + i);
    }
    *out0 = s0; *out1 = s1;
}
#endif

static void matvec_task(void *context, long index) {
    const matvec_job *j = context;
    long o0 = index * j->chunk, o1 = o0 + j->chunk < j->out ? o0 + j->chunk : j->out;
    int avx = emu_uses_avx2();
    long o = o0;
#if EMU_X86
    if (avx) {
        for (; o + 2 <= o1; o += 2) {
            for (long r = 0; r < j->rows; r++) {
                float s0, s1;
                dot2_avx2(j->x + r * j->in, j->w, j->type, o * j->in, (o + 1) * j->in, j->in, &s0, &s1);
                j->y[r * j->out + o] = s0 + (j->bias ? j->bias[o] : 0);
                j->y[r * j->out + o + 1] = s1 + (j->bias ? j->bias[o + 1] : 0);
            }
        }
    }
#endif
    (void)avx;
    for (; o < o1; o++)
        for (long r = 0; r < j->rows; r++)
            j->y[r * j->out + o] = dot_scalar(j->x + r * j->in, j->w, j->type, o * j->in, j->in) + (j->bias ? j->bias[o] : 0);
}

void emu_matvec(long rows, long in_features, long out_features, const float *x,
                const void *w, int w_type, const float *bias, float *y) {
    matvec_job job = {rows, in_features, out_features, x, w, w_type, bias, y, 0};
    long work = rows * in_features * out_features;
    long tasks = work < 65536 ? 1 : emu_get_num_threads() * 8;
    if (tasks > out_features / 2) tasks = out_features / 2 > 0 ? out_features / 2 : 1;
    job.chunk = (out_features + tasks - 1) / tasks;
    job.chunk += job.chunk & 1;
    tasks = (out_features + job.chunk - 1) / job.chunk;
    emu_parallel_for(tasks, matvec_task, &job);
}
