/* Attention with grouped KV heads. Forward: query blocks against key blocks with a running
   (online) softmax, so no S x T score matrix is held. Backward: per query block, scores are
   recomputed and the gradients come from five GEMMs. */
#include "emu_kernels.h"
#include "internal.h"
#include <math.h>
#include <stdlib.h>

#define QB 64
#define KB 256

typedef struct {
    const float *q, *k, *v, *dout; float *out, *dq, *dk, *dv;
    long batch, hq, hkv, s, t, d; int causal; float scale; long qblocks;
} attention_job;

static void *scratch(size_t bytes) {
    void *p = NULL;
    if (posix_memalign(&p, 64, bytes ? bytes : 64) != 0) abort();
    return p;
}

static void exp_rows_shifted(float *x, long n, float shift) {
    for (long i = 0; i < n; i++) x[i] -= shift;
    emu_unary(EMU_EXP, x, x, n);
}

static void forward_task(void *context, long index) {
    const attention_job *j = context;
    long bh = index / j->qblocks, qb = index % j->qblocks;
    long b = bh / j->hq, h = bh % j->hq, kvh = h / (j->hq / j->hkv);
    long i0 = qb * QB, rows = j->s - i0 < QB ? j->s - i0 : QB;
    long d = j->d, t = j->t, offset = t - j->s;
    const float *q = j->q + ((b * j->hq + h) * j->s + i0) * d;
    const float *k = j->k + (b * j->hkv + kvh) * t * d;
    const float *v = j->v + (b * j->hkv + kvh) * t * d;
    float *out = j->out + ((b * j->hq + h) * j->s + i0) * d;
    float *scores = scratch(sizeof(float) * QB * KB);
    float *acc = scratch(sizeof(float) * QB * d);
    float maxes[QB], sums[QB];
    for (long r = 0; r < rows; r++) { maxes[r] = -INFINITY; sums[r] = 0; }
    memset(acc, 0, sizeof(float) * rows * d);
    long keys = j->causal ? offset + i0 + rows : t;   /* keys any row of the block may see */
    if (keys > t) keys = t;
    for (long k0 = 0; k0 < keys; k0 += KB) {
        long kn = keys - k0 < KB ? keys - k0 : KB;
        emu_sgemm_serial(rows, kn, d, q, d, 0, k + k0 * d, d, 1, EMU_F32, scores, kn, 0);
        for (long r = 0; r < rows; r++) {
            float *srow = scores + r * kn;
            long limit = j->causal ? offset + i0 + r + 1 - k0 : kn;   /* visible keys in this block */
            if (limit > kn) limit = kn;
            if (limit <= 0) { memset(srow, 0, sizeof(float) * kn); continue; }
            float m = -INFINITY;
            for (long c = 0; c < limit; c++) { srow[c] *= j->scale; if (srow[c] > m) m = srow[c]; }
            float newMax = m > maxes[r] ? m : maxes[r];
            float correction = maxes[r] == -INFINITY ? 0 : expf(maxes[r] - newMax);
            exp_rows_shifted(srow, limit, newMax);
            for (long c = limit; c < kn; c++) srow[c] = 0;
            float s = 0;
            for (long c = 0; c < limit; c++) s += srow[c];
            sums[r] = sums[r] * correction + s;
            maxes[r] = newMax;
            if (correction != 1.0f) for (long e = 0; e < d; e++) acc[r * d + e] *= correction;
        }
        emu_sgemm_serial(rows, d, kn, scores, kn, 0, v + k0 * d, d, 0, EMU_F32, acc, d, 1);
    }
    for (long r = 0; r < rows; r++) {
        float inv = 1.0f / sums[r];
        for (long e = 0; e < d; e++) out[r * d + e] = acc[r * d + e] * inv;
    }
    free(scores); free(acc);
}

void emu_attention(const float *q, const float *k, const float *v, float *out,
                   long batch, long hq, long hkv, long s, long t, long d, int causal, float scale) {
    attention_job job = {q, k, v, 0, out, 0, 0, 0, batch, hq, hkv, s, t, d, causal, scale, (s + QB - 1) / QB};
    emu_parallel_for(batch * hq * job.qblocks, forward_task, &job);
}

/* One (batch, kv head): all its query heads, so dk/dv have a single writer. */
static void backward_task(void *context, long index) {
    const attention_job *j = context;
    long b = index / j->hkv, kvh = index % j->hkv, group = j->hq / j->hkv;
    long d = j->d, t = j->t, s = j->s, offset = t - s;
    const float *k = j->k + (b * j->hkv + kvh) * t * d;
    const float *v = j->v + (b * j->hkv + kvh) * t * d;
    float *dk = j->dk + (b * j->hkv + kvh) * t * d;
    float *dv = j->dv + (b * j->hkv + kvh) * t * d;
    memset(dk, 0, sizeof(float) * t * d);
    memset(dv, 0, sizeof(float) * t * d);
    float *p = scratch(sizeof(float) * QB * t);
    float *dp = scratch(sizeof(float) * QB * t);
    for (long h = kvh * group; h < (kvh + 1) * group; h++) {
        const float *q = j->q + (b * j->hq + h) * s * d;
        const float *dout = j->dout + (b * j->hq + h) * s * d;
        float *dq = j->dq + (b * j->hq + h) * s * d;
        for (long i0 = 0; i0 < s; i0 += QB) {
            long rows = s - i0 < QB ? s - i0 : QB;
            long keys = j->causal ? offset + i0 + rows : t;
            if (keys > t) keys = t;
            emu_sgemm_serial(rows, keys, d, q + i0 * d, d, 0, k, d, 1, EMU_F32, p, keys, 0);
            emu_sgemm_serial(rows, keys, d, dout + i0 * d, d, 0, v, d, 1, EMU_F32, dp, keys, 0);
            for (long r = 0; r < rows; r++) {
                float *prow = p + r * keys, *dprow = dp + r * keys;
                long limit = j->causal ? offset + i0 + r + 1 : keys;
                if (limit > keys) limit = keys;
                float m = -INFINITY;
                for (long c = 0; c < limit; c++) { prow[c] *= j->scale; if (prow[c] > m) m = prow[c]; }
                exp_rows_shifted(prow, limit, m);
                float sum = 0;
                for (long c = 0; c < limit; c++) sum += prow[c];
                float inv = 1.0f / sum, dot = 0;
                for (long c = 0; c < limit; c++) { prow[c] *= inv; dot += prow[c] * dprow[c]; }
                /* dS = P * (dP - rowdot) * scale; masked entries are zero. */
                for (long c = 0; c < limit; c++) dprow[c] = prow[c] * (dprow[c] - dot) * j->scale;
                for (long c = limit; c < keys; c++) { prow[c] = 0; dprow[c] = 0; }
            }
            emu_sgemm_serial(keys, d, rows, p, keys, 1, dout + i0 * d, d, 0, EMU_F32, dv, d, 1);
            emu_sgemm_serial(rows, d, keys, dp, keys, 0, k, d, 0, EMU_F32, dq + i0 * d, d, 0);
            emu_sgemm_serial(keys, d, rows, dp, keys, 1, q + i0 * d, d, 0, EMU_F32, dk, d, 1);
        }
    }
    free(p); free(dp);
}

void emu_attention_backward(const float *q, const float *k, const float *v, const float *dout,
                            float *dq, float *dk, float *dv,
                            long batch, long hq, long hkv, long s, long t, long d, int causal, float scale) {
    attention_job job = {q, k, v, dout, 0, dq, dk, dv, batch, hq, hkv, s, t, d, causal, scale, 0};
    emu_parallel_for(batch * hkv, backward_task, &job);
}
