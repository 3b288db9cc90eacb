/* The fused kernel's loops for more than 8 features with full precision factors or a full scatter:
 * included by fused_core.h.
 *
 * Register tiles, eight rows of a chunk per vector: the log-density takes four columns of
 * y = x L - mu L at a time (one load of a feature of the rows for four multiply-adds), the scatter
 * 4 x 4 tiles of sum r d d^T (2 x 4 without the 32 vector registers of AVX-512), eight loads for
 * sixteen multiply-adds.  The rows past the last multiple of eight take scalar loops.  The chunks
 * are larger than with few features (FUSED_WIDE_SCRATCH_BYTES), so that the tiles' reductions to
 * scalars stay a small part.
 */
#ifndef SKGMM_FUSED_WIDE_H
#define SKGMM_FUSED_WIDE_H

typedef double skgmm_v8d __attribute__((vector_size(64)));

SKGMM_INLINE skgmm_v8d fused_load8(const double *p)
{
    skgmm_v8d v;
    memcpy(&v, p, sizeof v);
    return v;
}

SKGMM_INLINE double fused_sum8(skgmm_v8d v)
{
    return ((v[0] + v[4]) + (v[1] + v[5])) + ((v[2] + v[6]) + (v[3] + v[7]));
}

/* lp[b] = c - |(x_b - mu) L|^2 / 2 and the running peak; L (d, d) upper triangular (zeros below the
 * diagonal, which the tiles of four columns multiply too).  y = x L - mu L, as the whitening products of
 * wider data (skgmm/covariance/kernels/full.py) fold mu L into their coefficients: no centred copy of the
 * chunk per component.  m: (d) scratch. */
SKGMM_INLINE void fused_log_density_wide(const double *SKGMM_RESTRICT xc, ptrdiff_t d, ptrdiff_t B, ptrdiff_t n,
                                         const double *SKGMM_RESTRICT mu, const double *SKGMM_RESTRICT L, double c,
                                         double *SKGMM_RESTRICT m, double *SKGMM_RESTRICT q,
                                         double *SKGMM_RESTRICT lp, double *SKGMM_RESTRICT peak)
{
    const ptrdiff_t n8 = n & ~(ptrdiff_t)7;
    for (ptrdiff_t j = 0; j < d; j++) {
        double mj = 0;
        for (ptrdiff_t i = 0; i <= j; i++)
            mj += mu[i] * L[i * d + j];
        m[j] = mj;
    }
    for (ptrdiff_t b = 0; b < n; b++)
        q[b] = 0;
    ptrdiff_t j0 = 0;
    for (; j0 + 4 <= d; j0 += 4) {
        const ptrdiff_t top = j0 + 4; /* rows of L below top are zero in these columns */
        for (ptrdiff_t b = 0; b < n8; b += 8) {
            skgmm_v8d y0 = -(skgmm_v8d){0} - m[j0], y1 = -(skgmm_v8d){0} - m[j0 + 1];
            skgmm_v8d y2 = -(skgmm_v8d){0} - m[j0 + 2], y3 = -(skgmm_v8d){0} - m[j0 + 3];
            for (ptrdiff_t i = 0; i < top; i++) {
                const skgmm_v8d xi = fused_load8(xc + i * B + b);
                const double *Li = L + i * d + j0;
                y0 += xi * Li[0];
                y1 += xi * Li[1];
                y2 += xi * Li[2];
                y3 += xi * Li[3];
            }
            skgmm_v8d qb = fused_load8(q + b);
            qb += (y0 * y0 + y1 * y1) + (y2 * y2 + y3 * y3);
            memcpy(q + b, &qb, sizeof qb);
        }
        for (ptrdiff_t b = n8; b < n; b++) {
            double y[4] = {-m[j0], -m[j0 + 1], -m[j0 + 2], -m[j0 + 3]};
            for (ptrdiff_t i = 0; i < top; i++)
                for (int t = 0; t < 4; t++)
                    y[t] += xc[i * B + b] * L[i * d + j0 + t];
            q[b] += (y[0] * y[0] + y[1] * y[1]) + (y[2] * y[2] + y[3] * y[3]);
        }
    }
    for (ptrdiff_t j = j0; j < d; j++) { /* the last d % 4 columns, one at a time */
        for (ptrdiff_t b = 0; b < n; b++) {
            double y = -m[j];
            for (ptrdiff_t i = 0; i <= j; i++)
                y += xc[i * B + b] * L[i * d + j];
            q[b] += y * y;
        }
    }
    SKGMM_PRAGMA(omp simd)
    for (ptrdiff_t b = 0; b < n; b++) {
        const double v = c - 0.5 * q[b];
        lp[b] = v;
        peak[b] = fused_peak(v, peak[b]);
    }
}

/* Adds sum_b a_t[b] c_u[b] over the chunk to S[t * d + u] for t < T (T = 4 or 2), u < 4. */
#define FUSED_TILE_BODY(T)                                                                                   \
    {                                                                                                        \
        skgmm_v8d s[T][4];                                                                                   \
        memset(s, 0, sizeof s);                                                                              \
        for (ptrdiff_t b = 0; b < n8; b += 8) {                                                              \
            skgmm_v8d a[T], cu[4];                                                                           \
            for (int t = 0; t < T; t++)                                                                      \
                a[t] = fused_load8(rd + (i0 + t) * B + b);                                                   \
            for (int u = 0; u < 4; u++)                                                                      \
                cu[u] = fused_load8(diff + (j0 + u) * B + b);                                                \
            for (int t = 0; t < T; t++)                                                                      \
                for (int u = 0; u < 4; u++)                                                                  \
                    s[t][u] += a[t] * cu[u];                                                                 \
        }                                                                                                    \
        for (int t = 0; t < T; t++)                                                                          \
            for (int u = 0; u < 4; u++) {                                                                    \
                double total = fused_sum8(s[t][u]);                                                          \
                for (ptrdiff_t b = n8; b < n; b++)                                                           \
                    total += rd[(i0 + t) * B + b] * diff[(j0 + u) * B + b];                                  \
                S[(i0 + t) * d + j0 + u] += total;                                                           \
            }                                                                                                \
    }

/* The upper triangle of sum_b r d d^T (and sum r, sum r d) of one component over the chunk, added to S
 * (d, d), resp_sum and x_sum; entries below the diagonal of the diagonal tiles are added too (the
 * caller mirrors the upper triangle over them).  diff, rd: (d, B) scratch each, r: (B). */
SKGMM_INLINE void fused_scatter_wide(const int level, const double *SKGMM_RESTRICT xc, ptrdiff_t d, ptrdiff_t B,
                                     ptrdiff_t n, const double *SKGMM_RESTRICT mu, const double *SKGMM_RESTRICT e,
                                     const double *SKGMM_RESTRICT scale, double *SKGMM_RESTRICT diff,
                                     double *SKGMM_RESTRICT rd, double *SKGMM_RESTRICT r,
                                     double *SKGMM_RESTRICT resp_sum, double *SKGMM_RESTRICT x_sum,
                                     double *SKGMM_RESTRICT S)
{
    const ptrdiff_t n8 = n & ~(ptrdiff_t)7;
    double total = 0;
    SKGMM_PRAGMA(omp simd reduction(+ : total))
    for (ptrdiff_t b = 0; b < n; b++) {
        r[b] = e[b] * scale[b];
        total += r[b];
    }
    *resp_sum += total;
    for (ptrdiff_t i = 0; i < d; i++) {
        double sum = 0;
        SKGMM_PRAGMA(omp simd reduction(+ : sum))
        for (ptrdiff_t b = 0; b < n; b++) {
            const double di = xc[i * B + b] - mu[i];
            diff[i * B + b] = di;
            rd[i * B + b] = r[b] * di;
            sum += rd[i * B + b];
        }
        x_sum[i] += sum;
    }
    const int tall = level == 2;
    const ptrdiff_t d4 = d & ~(ptrdiff_t)3;
    for (ptrdiff_t i0 = 0; i0 < d4; i0 += tall ? 4 : 2)
        for (ptrdiff_t j0 = i0 & ~(ptrdiff_t)3; j0 < d4; j0 += 4) {
            if (tall)
                FUSED_TILE_BODY(4)
            else
                FUSED_TILE_BODY(2)
        }
    /* the entries in the last d % 4 columns, one at a time */
    for (ptrdiff_t i = 0; i < d; i++)
        for (ptrdiff_t j = i > d4 ? i : d4; j < d; j++) {
            double sum = 0;
            SKGMM_PRAGMA(omp simd reduction(+ : sum))
            for (ptrdiff_t b = 0; b < n; b++)
                sum += rd[i * B + b] * diff[j * B + b];
            S[i * d + j] += sum;
        }
}
#undef FUSED_TILE_BODY

#endif
