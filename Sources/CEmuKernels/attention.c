/* Attention with grouped KV heads. Forward: query blocks against key blocks with a running
   (online) softmax, so no S x T score matrix is held. Backward: per query block, scores are
   recomputed and the gradients come from five GEMMs. An optional first visible key per query
   (key_start, [B, S]) confines each query to keys key_start...its causal limit: packed training
   rows whose examples must not see one another. An optional hidden key range per query
   (key_hole, [B, S, 2]: start, end) hides keys inside that window: the turns of one packed
   conversation that each see the shared picture and themselves, not the turns before them. */
#include "emu_kernels.h"
#include "internal.h"
#include <math.h>
#include <stdlib.h>

#define QB 64
#define KB 256

typedef struct {
    const float *q, *k, *v, *dout; float *out, *dq, *dk, *dv;
    const int *key_start, *key_hole;
    long batch, hq, hkv, s, t, d; int causal; float scale; long qblocks;
} attention_job;

static void *scratch(size_t bytes) {
    void *p = NULL;
    if (posix_memalign(&p, 64, bytes ? bytes : 64) != 0) abort();
    return p;
}

/* First key query row i of batch b may see (0 without key_start). */
static long first_key(const attention_job *j, long b, long i) {
    if (!j->key_start) return 0;
    long k0 = j->key_start[b * j->s + i];
    return k0 < 0 ? 0 : k0;
}

/* The lowest first key of query rows i0..<i0+rows: where a block's key range starts. */
static long block_first_key(const attention_job *j, long b, long i0, long rows) {
    long lo = first_key(j, b, i0);
    for (long r = 1; r < rows; r++) { long f = first_key(j, b, i0 + r); if (f < lo) lo = f; }
    return lo;
}

/* Keys of row i hidden from it, as columns of the block whose first key is base, clipped to the
   row's visible columns from..<limit (empty: lo == hi). */
static void hidden_columns(const attention_job *j, long b, long i, long base, long from, long limit, long *lo, long *hi) {
    *lo = *hi = from;
    if (!j->key_hole) return;
    long a = j->key_hole[2 * (b * j->s + i)] - base, e = j->key_hole[2 * (b * j->s + i) + 1] - base;
    if (a < from) a = from;
    if (e > limit) e = limit;
    if (e > a) { *lo = a; *hi = e; }
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
    for (long k0 = block_first_key(j, b, i0, rows); k0 < keys; k0 += KB) {
        long kn = keys - k0 < KB ? keys - k0 : KB;
        emu_sgemm_serial(rows, kn, d, q, d, 0, k + k0 * d, d, 1, EMU_F32, scores, kn, 0);
        for (long r = 0; r < rows; r++) {
            float *srow = scores + r * kn;
            long limit = j->causal ? offset + i0 + r + 1 - k0 : kn;   /* visible keys in this block */
            if (limit > kn) limit = kn;
            long from = first_key(j, b, i0 + r) - k0;
            if (from < 0) from = 0;
            long hlo, hhi;
            hidden_columns(j, b, i0 + r, k0, from, limit, &hlo, &hhi);
            if (limit <= from || (hlo == from && hhi == limit)) { memset(srow, 0, sizeof(float) * kn); continue; }
            float m = -INFINITY;
            for (long c = from; c < limit; c++) {
                srow[c] *= j->scale;
                if ((c < hlo || c >= hhi) && srow[c] > m) m = srow[c];
            }
            float newMax = m > maxes[r] ? m : maxes[r];
            float correction = maxes[r] == -INFINITY ? 0 : expf(maxes[r] - newMax);
            for (long c = hlo; c < hhi; c++) srow[c] = newMax;   /* finite through exp, zeroed after */
            exp_rows_shifted(srow + from, limit - from, newMax);
            for (long c = hlo; c < hhi; c++) srow[c] = 0;
            for (long c = 0; c < from; c++) srow[c] = 0;
            for (long c = limit; c < kn; c++) srow[c] = 0;
            float s = 0;
            for (long c = from; c < limit; c++) s += srow[c];
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

void emu_attention(const float *q, const float *k, const float *v, float *out, const int *key_start,
                   const int *key_hole, long batch, long hq, long hkv, long s, long t, long d, int causal, float scale) {
    attention_job job = {q, k, v, 0, out, 0, 0, 0, key_start, key_hole, batch, hq, hkv, s, t, d, causal, scale, (s + QB - 1) / QB};
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
            long end = j->causal ? offset + i0 + rows : t;
            if (end > t) end = t;
            /* The block's keys are lo..<end; p and dp hold those columns only. */
            long lo = block_first_key(j, b, i0, rows);
            if (lo > end) lo = end;
            long keys = end - lo;
            if (keys == 0) { memset(dq + i0 * d, 0, sizeof(float) * rows * d); continue; }
            emu_sgemm_serial(rows, keys, d, q + i0 * d, d, 0, k + lo * d, d, 1, EMU_F32, p, keys, 0);
            emu_sgemm_serial(rows, keys, d, dout + i0 * d, d, 0, v + lo * d, d, 1, EMU_F32, dp, keys, 0);
            for (long r = 0; r < rows; r++) {
                float *prow = p + r * keys, *dprow = dp + r * keys;
                long limit = (j->causal ? offset + i0 + r + 1 : end) - lo;
                if (limit > keys) limit = keys;
                long from = first_key(j, b, i0 + r) - lo;
                if (from < 0) from = 0;
                long hlo, hhi;
                hidden_columns(j, b, i0 + r, lo, from, limit, &hlo, &hhi);
                if (limit <= from || (hlo == from && hhi == limit)) {
                    memset(prow, 0, sizeof(float) * keys); memset(dprow, 0, sizeof(float) * keys); continue;
                }
                float m = -INFINITY;
                for (long c = from; c < limit; c++) {
                    prow[c] *= j->scale;
                    if ((c < hlo || c >= hhi) && prow[c] > m) m = prow[c];
                }
                for (long c = hlo; c < hhi; c++) prow[c] = m;
                exp_rows_shifted(prow + from, limit - from, m);
                for (long c = hlo; c < hhi; c++) prow[c] = 0;
                float sum = 0;
                for (long c = from; c < limit; c++) sum += prow[c];
                float inv = 1.0f / sum, dot = 0;
                for (long c = from; c < limit; c++) { prow[c] *= inv; dot += prow[c] * dprow[c]; }
                /* dS = P * (dP - rowdot) * scale; masked entries are zero. */
                for (long c = from; c < limit; c++) dprow[c] = prow[c] * (dprow[c] - dot) * j->scale;
                for (long c = 0; c < from; c++) { prow[c] = 0; dprow[c] = 0; }
                for (long c = limit; c < keys; c++) { prow[c] = 0; dprow[c] = 0; }
            }
            emu_sgemm_serial(keys, d, rows, p, keys, 1, dout + i0 * d, d, 0, EMU_F32, dv + lo * d, d, 1);
            emu_sgemm_serial(rows, d, keys, dp, keys, 0, k + lo * d, d, 0, EMU_F32, dq + i0 * d, d, 0);
            emu_sgemm_serial(keys, d, rows, dp, keys, 1, q + i0 * d, d, 0, EMU_F32, dk + lo * d, d, 1);
        }
    }
    free(p); free(dp);
}

void emu_attention_backward(const float *q, const float *k, const float *v, const float *dout,
                            float *dq, float *dk, float *dv, const int *key_start, const int *key_hole,
                            long batch, long hq, long hkv, long s, long t, long d, int causal, float scale) {
    attention_job job = {q, k, v, dout, 0, dq, dk, dv, key_start, key_hole, batch, hq, hkv, s, t, d, causal, scale, 0};
    emu_parallel_for(batch * hkv, backward_task, &job);
}
