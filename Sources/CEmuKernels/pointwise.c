/* Elementwise ops, activations and row-wise reductions (softmax, norms). Large inputs are split
   into chunks over the thread pool. */
#include "emu_kernels.h"
#include "internal.h"
#include <math.h>

#define CHUNK 16384   /* elements per task for pointwise work */

static inline float apply(int op, float a, float b) {
    switch (op) {
    case EMU_ADD: return a + b;
    case EMU_SUB: return a - b;
    case EMU_MUL: return a * b;
    default: return a / b;
    }
}

static inline float sigmoid_scalar(float x) { return 1.0f / (1.0f + expf(-x)); }

static inline float unary_scalar(int op, float x) {
    switch (op) {
    case EMU_SILU: return x * sigmoid_scalar(x);
    case EMU_SIGMOID: return sigmoid_scalar(x);
    case EMU_EXP: return expf(x);
    case EMU_SILU_GRAD: { float s = sigmoid_scalar(x); return s * (1 + x * (1 - s)); }
    default: return x * (1 - x);
    }
}

#if EMU_X86
EMU_AVX2 static inline __m256 apply8(int op, __m256 a, __m256 b) {
    switch (op) {
    case EMU_ADD: return _mm256_add_ps(a, b);
    case EMU_SUB: return _mm256_sub_ps(a, b);
    case EMU_MUL: return _mm256_mul_ps(a, b);
    default: return _mm256_div_ps(a, b);
    }
}
/* mode 0: a[i] op b[i]; 1: a[i] op s; 2: s op b[i] */
EMU_AVX2 static void binary_avx2(int op, int mode, const float *a, const float *b, float s, float *dst, long n) {
    long i = 0;
    __m256 sv = _mm256_set1_ps(s);
    for (; i + 8 <= n; i += 8) {
        __m256 x = mode == 2 ? sv : _mm256_loadu_ps(a + i);
        __m256 y = mode == 1 ? sv : _mm256_loadu_ps(b + i);
        _mm256_storeu_ps(dst + i, apply8(op, x, y));
    }
    for (; i < n; i++) dst[i] = apply(op, mode == 2 ? s : a[i], mode == 1 ? s : b[i]);
}
EMU_AVX2 static void unary_avx2(int op, const float *a, float *dst, long n) {
    long i = 0;
    const __m256 one = _mm256_set1_ps(1.0f), zero = _mm256_setzero_ps();
    for (; i + 8 <= n; i += 8) {
        __m256 x = _mm256_loadu_ps(a + i), y;
        if (op == EMU_EXP) {
            y = emu_exp256(x);
        } else if (op == EMU_SIGMOID_GRAD_FROM_Y) {
            y = _mm256_mul_ps(x, _mm256_sub_ps(one, x));
        } else {
            __m256 s = _mm256_div_ps(one, _mm256_add_ps(one, emu_exp256(_mm256_sub_ps(zero, x))));
            if (op == EMU_SIGMOID) y = s;
            else if (op == EMU_SILU) y = _mm256_mul_ps(x, s);
            else y = _mm256_mul_ps(s, _mm256_fmadd_ps(x, _mm256_sub_ps(one, s), one));
        }
        _mm256_storeu_ps(dst + i, y);
    }
    for (; i < n; i++) dst[i] = unary_scalar(op, a[i]);
}
#endif

typedef struct { int op, mode; const float *a, *b; float s; float *dst; long n; } pointwise_job;

static void binary_range(const pointwise_job *j, long i0, long n) {
#if EMU_X86
    if (emu_uses_avx2()) {
        binary_avx2(j->op, j->mode, j->a ? j->a + i0 : 0, j->b ? j->b + i0 : 0, j->s, j->dst + i0, n);
        return;
    }
#endif
    for (long i = i0; i < i0 + n; i++)
        j->dst[i] = apply(j->op, j->mode == 2 ? j->s : j->a[i], j->mode == 1 ? j->s : j->b[i]);
}

static void unary_range(const pointwise_job *j, long i0, long n) {
#if EMU_X86
    if (emu_uses_avx2()) { unary_avx2(j->op, j->a + i0, j->dst + i0, n); return; }
#endif
    for (long i = i0; i < i0 + n; i++) j->dst[i] = unary_scalar(j->op, j->a[i]);
}

static void binary_task(void *context, long index) {
    const pointwise_job *j = context;
    long i0 = index * CHUNK, n = j->n - i0 < CHUNK ? j->n - i0 : CHUNK;
    binary_range(j, i0, n);
}
static void unary_task(void *context, long index) {
    const pointwise_job *j = context;
    long i0 = index * CHUNK, n = j->n - i0 < CHUNK ? j->n - i0 : CHUNK;
    unary_range(j, i0, n);
}

static void run_binary(pointwise_job *job) {
    long tasks = (job->n + CHUNK - 1) / CHUNK;
    if (tasks <= 4) binary_range(job, 0, job->n); /* small: not worth waking threads */
    else emu_parallel_for(tasks, binary_task, job);
}

void emu_binary_vv(int op, const float *a, const float *b, float *dst, long n) {
    pointwise_job job = {op, 0, a, b, 0, dst, n}; run_binary(&job);
}
void emu_binary_vs(int op, const float *a, float s, float *dst, long n) {
    pointwise_job job = {op, 1, a, 0, s, dst, n}; run_binary(&job);
}
void emu_binary_sv(int op, float s, const float *b, float *dst, long n) {
    pointwise_job job = {op, 2, 0, b, s, dst, n}; run_binary(&job);
}
void emu_scale(const float *a, float s, float *dst, long n) { emu_binary_vs(EMU_MUL, a, s, dst, n); }

void emu_unary(int op, const float *a, float *dst, long n) {
    pointwise_job job = {op, 0, a, 0, 0, dst, n};
    long tasks = (n + CHUNK - 1) / CHUNK;
    if (tasks <= 1) unary_range(&job, 0, n);
    else emu_parallel_for(tasks, unary_task, &job);
}

#if EMU_X86
EMU_AVX2 static float sum_avx2(const float *a, long n) {
    __m256 s0 = _mm256_setzero_ps(), s1 = s0;
    long i = 0;
    for (; i + 16 <= n; i += 16) {
        s0 = _mm256_add_ps(s0, _mm256_loadu_ps(a + i));
        s1 = _mm256_add_ps(s1, _mm256_loadu_ps(a + i + 8));
    }
    float s = emu_hsum256(_mm256_add_ps(s0, s1));
    for (; i < n; i++) s += a[i];
    return s;
}
#endif

/* Blocks of 1024 summed in float, blocks accumulated in double. */
double emu_sum(const float *a, long n) {
    double total = 0;
    for (long i0 = 0; i0 < n; i0 += 1024) {
        long m = n - i0 < 1024 ? n - i0 : 1024;
#if EMU_X86
        if (emu_uses_avx2()) { total += sum_avx2(a + i0, m); continue; }
#endif
        float s = 0;
        for (long i = 0; i < m; i++) s += a[i0 + i];
        total += s;
    }
    return total;
}

/* ---- rows ---- */

typedef struct { int kind; const float *x; const float *w; float *y; long rows, n; float eps; long chunk; } rows_job;
enum { ROW_SOFTMAX, ROW_LOG_SOFTMAX, ROW_RMS };

static void row_scalar(int kind, const float *x, const float *w, float *y, long n, float eps) {
    if (kind == ROW_RMS) {
        float ss = 0;
        for (long i = 0; i < n; i++) ss += x[i] * x[i];
        float inv = 1.0f / sqrtf(ss / (float)n + eps);
        for (long i = 0; i < n; i++) y[i] = x[i] * inv * w[i];
        return;
    }
    float m = -INFINITY;
    for (long i = 0; i < n; i++) m = x[i] > m ? x[i] : m;
    float s = 0;
    if (kind == ROW_SOFTMAX) {
        for (long i = 0; i < n; i++) { y[i] = expf(x[i] - m); s += y[i]; }
        float inv = 1.0f / s;
        for (long i = 0; i < n; i++) y[i] *= inv;
    } else {
        for (long i = 0; i < n; i++) s += expf(x[i] - m);
        float lse = m + logf(s);
        for (long i = 0; i < n; i++) y[i] = x[i] - lse;
    }
}

#if EMU_X86
EMU_AVX2 static void row_avx2(int kind, const float *x, const float *w, float *y, long n, float eps) {
    long i;
    if (kind == ROW_RMS) {
        __m256 acc = _mm256_setzero_ps();
        for (i = 0; i + 8 <= n; i += 8) { __m256 v = _mm256_loadu_ps(x + i); acc = _mm256_fmadd_ps(v, v, acc); }
        float ss = emu_hsum256(acc);
        for (; i < n; i++) ss += x[i] * x[i];
        float inv = 1.0f / sqrtf(ss / (float)n + eps);
        __m256 iv = _mm256_set1_ps(inv);
        for (i = 0; i + 8 <= n; i += 8)
            _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i), iv), _mm256_loadu_ps(w + i)));
        for (; i < n; i++) y[i] = x[i] * inv * w[i];
        return;
    }
    __m256 mv = _mm256_set1_ps(-INFINITY);
    for (i = 0; i + 8 <= n; i += 8) mv = _mm256_max_ps(mv, _mm256_loadu_ps(x + i));
    float m = emu_hmax256(mv);
    for (; i < n; i++) m = x[i] > m ? x[i] : m;
    if (m == -INFINITY) m = 0;
    mv = _mm256_set1_ps(m);
    __m256 sv = _mm256_setzero_ps();
    float tail = 0;
    if (kind == ROW_SOFTMAX) {
        for (i = 0; i + 8 <= n; i += 8) {
            __m256 e = emu_exp256(_mm256_sub_ps(_mm256_loadu_ps(x + i), mv));
            _mm256_storeu_ps(y + i, e); sv = _mm256_add_ps(sv, e);
        }
        for (; i < n; i++) { y[i] = expf(x[i] - m); tail += y[i]; }
        float inv = 1.0f / (emu_hsum256(sv) + tail);
        __m256 iv = _mm256_set1_ps(inv);
        for (i = 0; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_loadu_ps(y + i), iv));
        for (; i < n; i++) y[i] *= inv;
    } else {
        for (i = 0; i + 8 <= n; i += 8) sv = _mm256_add_ps(sv, emu_exp256(_mm256_sub_ps(_mm256_loadu_ps(x + i), mv)));
        for (; i < n; i++) tail += expf(x[i] - m);
        float lse = m + logf(emu_hsum256(sv) + tail);
        __m256 lv = _mm256_set1_ps(lse);
        for (i = 0; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_sub_ps(_mm256_loadu_ps(x + i), lv));
        for (; i < n; i++) y[i] = x[i] - lse;
    }
}
#endif

static void rows_task(void *context, long index) {
    const rows_job *j = context;
    long r0 = index * j->chunk, r1 = r0 + j->chunk < j->rows ? r0 + j->chunk : j->rows;
    for (long r = r0; r < r1; r++) {
#if EMU_X86
        if (emu_uses_avx2()) { row_avx2(j->kind, j->x + r * j->n, j->w, j->y + r * j->n, j->n, j->eps); continue; }
#endif
        row_scalar(j->kind, j->x + r * j->n, j->w, j->y + r * j->n, j->n, j->eps);
    }
}

static void run_rows(int kind, const float *x, const float *w, float *y, long rows, long n, float eps) {
    rows_job job = {kind, x, w, y, rows, n, eps, 0};
    long per = CHUNK / (n > 0 ? n : 1);
    job.chunk = per < 1 ? 1 : per;
    long tasks = (rows + job.chunk - 1) / job.chunk;
    emu_parallel_for(tasks, rows_task, &job);
}

void emu_softmax_rows(const float *x, float *y, long rows, long n) { run_rows(ROW_SOFTMAX, x, 0, y, rows, n, 0); }
void emu_log_softmax_rows(const float *x, float *y, long rows, long n) { run_rows(ROW_LOG_SOFTMAX, x, 0, y, rows, n, 0); }
void emu_rms_norm_rows(const float *x, const float *w, float *y, long rows, long n, float eps) {
    run_rows(ROW_RMS, x, w, y, rows, n, eps);
}

typedef struct { const float *x; long size; float eps; float *mean, *inv; } stats_job;

static void stats_task(void *context, long g) {
    const stats_job *j = context;
    const float *x = j->x + g * j->size;
    double mean = emu_sum(x, j->size) / (double)j->size;
    double var = 0;
    for (long i0 = 0; i0 < j->size; i0 += 1024) {
        long m = j->size - i0 < 1024 ? j->size - i0 : 1024;
        float s = 0, mf = (float)mean;
        for (long i = 0; i < m; i++) { float d = x[i0 + i] - mf; s += d * d; }
        var += s;
    }
    var /= (double)j->size;
    j->mean[g] = (float)mean;
    j->inv[g] = (float)(1.0 / sqrt(var + (double)j->eps));
}

void emu_group_stats(const float *x, long groups, long size, float eps, float *mean, float *inv_std) {
    stats_job job = {x, size, eps, mean, inv_std};
    emu_parallel_for(groups, stats_task, &job);
}
