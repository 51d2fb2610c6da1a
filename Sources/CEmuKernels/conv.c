/* im2col / col2im over a window of output positions, so a convolution runs as GEMMs on column
   blocks of bounded size instead of materializing the whole unfolded input. */
#include "emu_kernels.h"
#include "internal.h"

/* Walks rows (c, dt, dh, dw) of the column matrix and positions [p0, p0+count). */
#define EMU_FOR_COLS(BODY)                                                                       \
    long plane = g->ho * g->wo;                                                                  \
    long row = 0;                                                                                \
    for (long ch = 0; ch < g->c; ch++)                                                           \
    for (long dt = 0; dt < g->kt; dt++)                                                          \
    for (long dh = 0; dh < g->kh; dh++)                                                          \
    for (long dw = 0; dw < g->kw; dw++, row++) {                                                 \
        long p = p0, end = p0 + count;                                                           \
        long ot = p / plane, oh = (p % plane) / g->wo, ow = p % g->wo;                           \
        long col = row * count - p0;                                                             \
        while (p < end) {                                                                        \
            long it = ot * g->st + dt - g->pf, ih = oh * g->sh + dh - g->pt;                     \
            long run = g->wo - ow; if (run > end - p) run = end - p;                             \
            int inside = it >= 0 && it < g->t && ih >= 0 && ih < g->h;                           \
            const long base = ((ch * g->t + it) * g->h + ih) * g->w;                             \
            for (long q = 0; q < run; q++) {                                                     \
                long iw = (ow + q) * g->sw + dw - g->pl;                                         \
                long ci = col + p + q;                                                           \
                int ok = inside && iw >= 0 && iw < g->w;                                         \
                BODY                                                                             \
            }                                                                                    \
            p += run; ow = 0;                                                                    \
            if (++oh == g->ho) { oh = 0; ot++; }                                                 \
        }                                                                                        \
    }

void emu_im2col(const emu_conv_geometry *g, const float *x, long p0, long count, float *cols) {
    EMU_FOR_COLS(cols[ci] = ok ? x[base + iw] : 0.0f;)
}

void emu_col2im(const emu_conv_geometry *g, const float *cols, long p0, long count, float *dx) {
    EMU_FOR_COLS(if (ok) dx[base + iw] += cols[ci];)
}
