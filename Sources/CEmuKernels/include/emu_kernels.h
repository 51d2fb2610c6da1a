#ifndef EMU_KERNELS_H
#define EMU_KERNELS_H
#include <stddef.h>
#include <stdint.h>

/* Compute kernels behind EmuTensor. Every entry point picks the AVX2+FMA(+F16C) path at run time
   when the CPU has it (and scalar mode is not forced) and otherwise a portable scalar path. */

/// 1 when the running CPU has AVX2, FMA and F16C (decided at run time).
int emu_cpu_has_avx2_fma(void);
/// Forces the portable scalar paths (tests) when `force` is nonzero.
void emu_set_force_scalar(int force);
/// 1 when kernels currently take the AVX2 path.
int emu_uses_avx2(void);

/* ---- threading: a small pool of persistent worker threads ---- */
typedef void (*emu_task_fn)(void *context, long index);
/// Runs fn(context, i) for i in [0, count) over the pool (the caller takes part); serial when
/// nested inside another parallel region or when the pool is busy.
void emu_parallel_for(long count, emu_task_fn fn, void *context);
/// Number of threads used by parallel kernels (default: online CPUs, at most 64).
void emu_set_num_threads(int count);
int emu_get_num_threads(void);

/* ---- element types of weights ---- */
enum { EMU_F32 = 0, EMU_F16 = 1, EMU_BF16 = 2 };

/* ---- GEMM: C = A*B (+C when accumulate), row-major, optional transposes ----
   A is m x k (k x m when transposed), B is k x n (n x k when transposed) of element type b_type. */
void emu_sgemm(long m, long n, long k,
               const float *a, long lda, int transpose_a,
               const void *b, long ldb, int transpose_b, int b_type,
               float *c, long ldc, int accumulate);
/// The same on the calling thread only.
void emu_sgemm_serial(long m, long n, long k,
                      const float *a, long lda, int transpose_a,
                      const void *b, long ldb, int transpose_b, int b_type,
                      float *c, long ldc, int accumulate);

/// y[r, o] = sum_i x[r, i] * w[o, i] (+ bias[o]) for few rows: streams w (f32/f16/bf16) once.
void emu_matvec(long rows, long in_features, long out_features, const float *x,
                const void *w, int w_type, const float *bias, float *y);

/* ---- conversions ---- */
float emu_f16_value(uint16_t bits);
uint16_t emu_f16_bits(float value);
uint16_t emu_bf16_bits(float value);
void emu_f16_to_f32(const uint16_t *src, float *dst, long n);
void emu_f32_to_f16(const float *src, uint16_t *dst, long n);
void emu_bf16_to_f32(const uint16_t *src, float *dst, long n);
void emu_f32_to_bf16(const float *src, uint16_t *dst, long n);

/* ---- pointwise ---- */
enum { EMU_ADD = 0, EMU_SUB = 1, EMU_MUL = 2, EMU_DIV = 3 };
/// dst[i] = a[i] op b[i].
void emu_binary_vv(int op, const float *a, const float *b, float *dst, long n);
/// dst[i] = a[i] op s.
void emu_binary_vs(int op, const float *a, float s, float *dst, long n);
/// dst[i] = s op b[i].
void emu_binary_sv(int op, float s, const float *b, float *dst, long n);
/// dst[i] = a[i] * s.
void emu_scale(const float *a, float s, float *dst, long n);
enum { EMU_SILU = 0, EMU_SIGMOID = 1, EMU_EXP = 2, EMU_SILU_GRAD = 3, EMU_SIGMOID_GRAD_FROM_Y = 4 };
/// dst[i] = f(a[i]) (SILU_GRAD: d silu / dx; SIGMOID_GRAD_FROM_Y: y*(1-y)).
void emu_unary(int op, const float *a, float *dst, long n);
/// Sum in double of n floats.
double emu_sum(const float *a, long n);

/* ---- row-wise ---- */
void emu_softmax_rows(const float *x, float *y, long rows, long n);
void emu_log_softmax_rows(const float *x, float *y, long rows, long n);
void emu_rms_norm_rows(const float *x, const float *w, float *y, long rows, long n, float eps);
/// x [groups_total, size]: per group mean and 1/sqrt(var+eps) (biased variance).
void emu_group_stats(const float *x, long groups, long size, float eps, float *mean, float *inv_std);

/* ---- convolution helpers (N=1 slices, channels-first) ----
   cols [C*kt*kh*kw, count] for output positions [p0, p0+count) of the flattened (to, ho, wo) grid. */
typedef struct {
    long c, t, h, w;           /* input */
    long kt, kh, kw;           /* kernel */
    long st, sh, sw;           /* stride */
    long pf, pt, pl;           /* front, top, left padding */
    long to, ho, wo;           /* output */
} emu_conv_geometry;
void emu_im2col(const emu_conv_geometry *g, const float *x, long p0, long count, float *cols);
/// Adds cols back into dx (the adjoint of im2col).
void emu_col2im(const emu_conv_geometry *g, const float *cols, long p0, long count, float *dx);

/* ---- attention: q [B,Hq,S,D], k,v [B,Hkv,T,D]; query i at absolute position T-S+i ----
   key_start: NULL, or [B,S] ints, the first key each query may see (examples packed in a row).
   key_hole: NULL, or [B,S,2] ints, a range start..<end of keys hidden from each query (turns of a
   packed conversation that see the shared picture, not the turns before them); start == end: none. */
void emu_attention(const float *q, const float *k, const float *v, float *out, const int *key_start,
                   const int *key_hole, long batch, long hq, long hkv, long s, long t, long d, int causal, float scale);
/// Gradients dq (same shape as q), dk, dv (same shape as k); all overwritten.
void emu_attention_backward(const float *q, const float *k, const float *v, const float *dout,
                            float *dq, float *dk, float *dv, const int *key_start, const int *key_hole,
                            long batch, long hq, long hkv, long s, long t, long d, int causal, float scale);

/* ---- OpenBLAS, loaded at run time for comparisons (never required) ---- */
/// 1 when libopenblas could be loaded and has cblas_sgemm.
int emu_openblas_available(void);
/// Sets OpenBLAS's thread count; 0 when unavailable.
int emu_openblas_set_threads(int count);
/// Row-major C = op(A) op(B) through OpenBLAS's cblas_sgemm; 0 when unavailable.
int emu_openblas_sgemm(long m, long n, long k, const float *a, long lda, int transpose_a,
                       const float *b, long ldb, int transpose_b, float *c, long ldc);

/* ---- memory ---- */
void emu_copy(void *dst, const void *src, long bytes);
/// memcpy split in equal parts over the kernel threads (for bandwidth measurements).
void emu_copy_parallel(void *dst, const void *src, long bytes);

#endif
