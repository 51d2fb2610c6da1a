/* float32 <-> float16 / bfloat16 (round to nearest even, NaN kept quiet), F16C when present. */
#include "emu_kernels.h"
#include "internal.h"
#include <math.h>

float emu_f16_value(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ff;
    uint32_t bits;
    if (exponent == 0) {
        float v = (float)mantissa * 5.9604644775390625e-8f; /* 2^-24 */
        memcpy(&bits, &v, 4);
        bits |= sign;
    } else if (exponent == 31) {
        bits = sign | 0x7f800000u | (mantissa << 13);
    } else {
        bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
    }
    float f; memcpy(&f, &bits, 4); return f;
}

uint16_t emu_f16_bits(float f) {
    uint32_t x; memcpy(&x, &f, 4);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
    uint32_t a = x & 0x7fffffffu;
    if (a >= 0x7f800000u) return sign | (a > 0x7f800000u ? 0x7e00 : 0x7c00);
    if (a >= 0x477ff000u) return sign | 0x7c00;            /* rounds to infinity */
    if (a < 0x38800000u) {                                  /* half subnormal or zero */
        float v; memcpy(&v, &a, 4);
        return sign | (uint16_t)rintf(v * 16777216.0f);
    }
    uint32_t h = ((((a >> 23) - 112) << 10) | ((a & 0x7fffff) >> 13));
    uint32_t rest = a & 0x1fff;
    if (rest > 0x1000 || (rest == 0x1000 && (h & 1))) h++;
    return sign | (uint16_t)h;
}

uint16_t emu_bf16_bits(float f) {
    uint32_t x; memcpy(&x, &f, 4);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40);
    return (uint16_t)((x + 0x7fff + ((x >> 16) & 1)) >> 16);
}

#if EMU_X86
EMU_AVX2 static void f16_to_f32_avx2(const uint16_t *src, float *dst, long n) {
    long i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + i))));
    for (; i < n; i++) dst[i] = emu_f16_value(src[i]);
}
EMU_AVX2 static void f32_to_f16_avx2(const float *src, uint16_t *dst, long n) {
    long i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(dst + i), _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < n; i++) dst[i] = emu_f16_bits(src[i]);
}
EMU_AVX2 static void bf16_to_f32_avx2(const uint16_t *src, float *dst, long n) {
    long i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, emu_load8(src, EMU_BF16, i));
    for (; i < n; i++) dst[i] = emu_bf16_value(src[i]);
}
EMU_AVX2 static void f32_to_bf16_avx2(const float *src, uint16_t *dst, long n) {
    long i = 0;
    const __m256i one = _mm256_set1_epi32(1), bias = _mm256_set1_epi32(0x7fff);
    const __m256i absmask = _mm256_set1_epi32(0x7fffffff), inf = _mm256_set1_epi32(0x7f800000);
    for (; i + 8 <= n; i += 8) {
        __m256i x = _mm256_loadu_si256((const __m256i *)(src + i));
        __m256i rounded = _mm256_add_epi32(x, _mm256_add_epi32(bias, _mm256_and_si256(_mm256_srli_epi32(x, 16), one)));
        __m256i nan = _mm256_cmpgt_epi32(_mm256_and_si256(x, absmask), inf);
        __m256i quiet = _mm256_or_si256(x, _mm256_set1_epi32(0x400000));
        __m256i r = _mm256_srli_epi32(_mm256_blendv_epi8(rounded, quiet, nan), 16);
        __m128i packed = _mm_packus_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
        _mm_storeu_si128((__m128i *)(dst + i), packed);
    }
    for (; i < n; i++) dst[i] = emu_bf16_bits(src[i]);
}
#endif

void emu_f16_to_f32(const uint16_t *src, float *dst, long n) {
#if EMU_X86
    if (emu_uses_avx2()) { f16_to_f32_avx2(src, dst, n); return; }
#endif
    for (long i = 0; i < n; i++) dst[i] = emu_f16_value(src[i]);
}
void emu_f32_to_f16(const float *src, uint16_t *dst, long n) {
#if EMU_X86
    if (emu_uses_avx2()) { f32_to_f16_avx2(src, dst, n); return; }
#endif
    for (long i = 0; i < n; i++) dst[i] = emu_f16_bits(src[i]);
}
void emu_bf16_to_f32(const uint16_t *src, float *dst, long n) {
#if EMU_X86
    if (emu_uses_avx2()) { bf16_to_f32_avx2(src, dst, n); return; }
#endif
    for (long i = 0; i < n; i++) dst[i] = emu_bf16_value(src[i]);
}
void emu_f32_to_bf16(const float *src, uint16_t *dst, long n) {
#if EMU_X86
    if (emu_uses_avx2()) { f32_to_bf16_avx2(src, dst, n); return; }
#endif
    for (long i = 0; i < n; i++) dst[i] = emu_bf16_bits(src[i]);
}

void emu_copy(void *dst, const void *src, long bytes) { memcpy(dst, src, (size_t)bytes); }

typedef struct { char *dst; const char *src; long bytes, chunk; } copy_job;
static void copy_task(void *context, long index) {
    const copy_job *j = context;
    long start = index * j->chunk, end = start + j->chunk < j->bytes ? start + j->chunk : j->bytes;
    if (end > start) memcpy(j->dst + start, j->src + start, (size_t)(end - start));
}
void emu_copy_parallel(void *dst, const void *src, long bytes) {
    long threads = emu_get_num_threads();
    copy_job job = {dst, src, bytes, (bytes + threads - 1) / threads};
    job.chunk = (job.chunk + 63) / 64 * 64;
    emu_parallel_for(threads, copy_task, &job);
}
