/* The arithmetic of the fused row kernel, on one chunk of rows in float64: included once by full.c.
 *
 * fused_impl.h (one copy per input type) converts a chunk of rows into the
 * feature-major scratch `xc` (d, B) and calls skgmm_fused_chunk, which does
 * the E-step and adds the chunk's sums to `out`.  Nothing here depends on the
 * rows' type, so the three per-CPU copies exist once, not once per type.
 *
 * The loops run along the rows with every per-row quantity a scalar, so GCC
 * vectorises them under `omp simd`: for d <= 8 features the feature loops are
 * unrolled (d is a constant in each specialised copy: a switch picks it) and
 * a component's whole scatter is summed in vector registers, one named
 * accumulator per entry (GCC keeps an array of accumulators in memory and
 * vectorises across its entries instead).  exp and log are our own
 * (skgmm_exp, skgmm_log): libm's are not vectorised without -ffast-math, and
 * with them the log-sum-exp took more time than the rest of the kernel.
 *
 * Compiled without -fassociative-math (setup.py gives it to full.c): the
 * range reductions of exp and log (x - n c1 - n c2, (x + s) - s) are exact
 * only as written, and reassociation folds them into inaccurate nonsense
 * (measured: errors of up to 1e15 ulp).  The sums along the rows are still
 * reordered (so vectorised): `omp simd reduction` allows that.
 */
#ifndef SKGMM_FUSED_CORE_H
#define SKGMM_FUSED_CORE_H

#include <float.h>
#include <math.h>
#include <string.h>

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("no-associative-math")
#endif
#if defined(__clang__)
/* clang marks each operation: the pragma in a function's body keeps its operations in order, inlined or not. */
#define SKGMM_IN_ORDER _Pragma("clang fp reassociate(off)")
#else
#define SKGMM_IN_ORDER
#endif

/* Most features with unrolled loops and register accumulators; wider data takes generic loops. */
#define FUSED_UNROLLED 8
/* Bytes of scratch a chunk takes at most (rows B * (d + K + 5) doubles), so it stays in the first-level cache. */
#define FUSED_SCRATCH_BYTES 32768
/* The same for more than 8 features with full precisions or scatter (allocated). */
#define FUSED_WIDE_SCRATCH_BYTES 131072

#include "vecmath.h"

/* The max of v and peak, NaN if either is (numpy's maximum): NaN must reach the row's log-likelihood. */
SKGMM_INLINE double fused_peak(double v, double peak) { return v > peak || v != v ? v : peak; }

/* The parts of the parameters (see fused_impl.h), and what a chunk needs. */
struct fused_problem {
    ptrdiff_t d, K, B;
    const double *means, *precision, *constant;
    int diagonal_precision, diagonal_scatter, mode;
    double exp_floor;
};

/* One feature of a chunk row, centred on mu: the unrolled loops read only the d features there are. */
#define FUSED_DIFF(i) const double d##i = D > i ? xc[i * B + b] - mu[i] : 0.0;
#define FUSED_DIFFS FUSED_DIFF(0) FUSED_DIFF(1) FUSED_DIFF(2) FUSED_DIFF(3) FUSED_DIFF(4) FUSED_DIFF(5) FUSED_DIFF(6) FUSED_DIFF(7)

/* lp[b] = c - |(x_b - mu) L|^2 / 2 and the running peak, for D <= 8 features (L upper triangular). */
SKGMM_INLINE void fused_log_density(const int D, const double *SKGMM_RESTRICT xc, ptrdiff_t B, ptrdiff_t n,
                                    const double *SKGMM_RESTRICT mu, const double *SKGMM_RESTRICT L, double c,
                                    double *SKGMM_RESTRICT lp, double *SKGMM_RESTRICT peak)
{
/* y_j = sum_{i <= j} d_i L[i, j], then q += y_j^2 */
#define FUSED_TERM(i, j) if (i <= j) y += d##i * L[i * D + j];
#define FUSED_Y(j)                                                                                                 \
    if (D > j) {                                                                                                   \
        double y = 0;                                                                                              \
        FUSED_TERM(0, j) FUSED_TERM(1, j) FUSED_TERM(2, j) FUSED_TERM(3, j)                                        \
        FUSED_TERM(4, j) FUSED_TERM(5, j) FUSED_TERM(6, j) FUSED_TERM(7, j)                                        \
        q += y * y;                                                                                                \
    }
    SKGMM_PRAGMA(omp simd)
    for (ptrdiff_t b = 0; b < n; b++) {
        FUSED_DIFFS
        double q = 0;
        FUSED_Y(0) FUSED_Y(1) FUSED_Y(2) FUSED_Y(3) FUSED_Y(4) FUSED_Y(5) FUSED_Y(6) FUSED_Y(7)
        const double v = c - 0.5 * q;
        lp[b] = v;
        peak[b] = fused_peak(v, peak[b]);
    }
#undef FUSED_Y
#undef FUSED_TERM
}

/* Diagonal precisions, D <= 8 features of a group: q[b] (= or +=) sum_i ((x_bi - mu_i) p_i)^2; on the
 * last group lp and the peak instead.  Wider data runs groups of 8 features. */
SKGMM_INLINE void fused_log_density_diagonal(const int D, const int first, const int last,
                                             const double *SKGMM_RESTRICT xc, ptrdiff_t B, ptrdiff_t n,
                                             const double *SKGMM_RESTRICT mu, const double *SKGMM_RESTRICT p,
                                             double c, double *SKGMM_RESTRICT q,
                                             double *SKGMM_RESTRICT lp, double *SKGMM_RESTRICT peak)
{
#define FUSED_SQUARE(i) if (D > i) { const double y = d##i * p[i]; s += y * y; }
    SKGMM_PRAGMA(omp simd)
    for (ptrdiff_t b = 0; b < n; b++) {
        FUSED_DIFFS
        double s = first ? 0.0 : q[b];
        FUSED_SQUARE(0) FUSED_SQUARE(1) FUSED_SQUARE(2) FUSED_SQUARE(3)
        FUSED_SQUARE(4) FUSED_SQUARE(5) FUSED_SQUARE(6) FUSED_SQUARE(7)
        if (last) {
            const double v = c - 0.5 * s;
            lp[b] = v;
            peak[b] = fused_peak(v, peak[b]);
        } else {
            q[b] = s;
        }
    }
#undef FUSED_SQUARE
}

/* The rows [I0, I1) of the upper triangle of one component's scatter (and, with `moments`, the sums of
 * r and r d_i), D <= 8 features, r = e scale, added to S (d, d), resp_sum and x_sum.  One vector
 * accumulator per entry, reduced once per chunk.  The rows of the triangle are split into passes
 * (fused_scatter_pass) so the accumulators fit in the registers. */
SKGMM_INLINE void fused_scatter(const int D, const int I0, const int I1, const int moments,
                                const double *SKGMM_RESTRICT xc, ptrdiff_t B, ptrdiff_t n,
                                const double *SKGMM_RESTRICT mu, const double *SKGMM_RESTRICT e,
                                const double *SKGMM_RESTRICT scale, double *SKGMM_RESTRICT resp_sum,
                                double *SKGMM_RESTRICT x_sum, double *SKGMM_RESTRICT S)
{
    double t = 0, x0 = 0, x1 = 0, x2 = 0, x3 = 0, x4 = 0, x5 = 0, x6 = 0, x7 = 0;
    double s00 = 0, s01 = 0, s02 = 0, s03 = 0, s04 = 0, s05 = 0, s06 = 0, s07 = 0;
    double s11 = 0, s12 = 0, s13 = 0, s14 = 0, s15 = 0, s16 = 0, s17 = 0;
    double s22 = 0, s23 = 0, s24 = 0, s25 = 0, s26 = 0, s27 = 0;
    double s33 = 0, s34 = 0, s35 = 0, s36 = 0, s37 = 0;
    double s44 = 0, s45 = 0, s46 = 0, s47 = 0;
    double s55 = 0, s56 = 0, s57 = 0;
    double s66 = 0, s67 = 0;
    double s77 = 0;
#define FUSED_IN(i) (D > i && I0 <= i && i < I1)
#define FUSED_MOMENT(i) if (D > i) x##i += r * d##i;
#define FUSED_S(i, j) if (D > j) s##i##j += ri * d##j;
    SKGMM_PRAGMA(omp simd reduction(+ : t, x0, x1, x2, x3, x4, x5, x6, x7, s00, s01, s02, s03, s04, s05, s06, s07,   \
                                        s11, s12, s13, s14, s15, s16, s17, s22, s23, s24, s25, s26, s27, s33, s34,  \
                                        s35, s36, s37, s44, s45, s46, s47, s55, s56, s57, s66, s67, s77))
    for (ptrdiff_t b = 0; b < n; b++) {
        FUSED_DIFFS
        const double r = e[b] * scale[b];
        if (moments) {
            t += r;
            FUSED_MOMENT(0) FUSED_MOMENT(1) FUSED_MOMENT(2) FUSED_MOMENT(3)
            FUSED_MOMENT(4) FUSED_MOMENT(5) FUSED_MOMENT(6) FUSED_MOMENT(7)
        }
        if (FUSED_IN(0)) { const double ri = r * d0; FUSED_S(0, 0) FUSED_S(0, 1) FUSED_S(0, 2) FUSED_S(0, 3) FUSED_S(0, 4) FUSED_S(0, 5) FUSED_S(0, 6) FUSED_S(0, 7) }
        if (FUSED_IN(1)) { const double ri = r * d1; FUSED_S(1, 1) FUSED_S(1, 2) FUSED_S(1, 3) FUSED_S(1, 4) FUSED_S(1, 5) FUSED_S(1, 6) FUSED_S(1, 7) }
        if (FUSED_IN(2)) { const double ri = r * d2; FUSED_S(2, 2) FUSED_S(2, 3) FUSED_S(2, 4) FUSED_S(2, 5) FUSED_S(2, 6) FUSED_S(2, 7) }
        if (FUSED_IN(3)) { const double ri = r * d3; FUSED_S(3, 3) FUSED_S(3, 4) FUSED_S(3, 5) FUSED_S(3, 6) FUSED_S(3, 7) }
        if (FUSED_IN(4)) { const double ri = r * d4; FUSED_S(4, 4) FUSED_S(4, 5) FUSED_S(4, 6) FUSED_S(4, 7) }
        if (FUSED_IN(5)) { const double ri = r * d5; FUSED_S(5, 5) FUSED_S(5, 6) FUSED_S(5, 7) }
        if (FUSED_IN(6)) { const double ri = r * d6; FUSED_S(6, 6) FUSED_S(6, 7) }
        if (FUSED_IN(7)) { const double ri = r * d7; FUSED_S(7, 7) }
    }
#define FUSED_OUT_MOMENT(i) if (D > i) x_sum[i] += x##i;
#define FUSED_OUT(i, j) if (D > j && FUSED_IN(i)) S[i * D + j] += s##i##j;
    if (moments) {
        *resp_sum += t;
        FUSED_OUT_MOMENT(0) FUSED_OUT_MOMENT(1) FUSED_OUT_MOMENT(2) FUSED_OUT_MOMENT(3)
        FUSED_OUT_MOMENT(4) FUSED_OUT_MOMENT(5) FUSED_OUT_MOMENT(6) FUSED_OUT_MOMENT(7)
    }
    FUSED_OUT(0, 0) FUSED_OUT(0, 1) FUSED_OUT(0, 2) FUSED_OUT(0, 3) FUSED_OUT(0, 4) FUSED_OUT(0, 5) FUSED_OUT(0, 6) FUSED_OUT(0, 7)
    FUSED_OUT(1, 1) FUSED_OUT(1, 2) FUSED_OUT(1, 3) FUSED_OUT(1, 4) FUSED_OUT(1, 5) FUSED_OUT(1, 6) FUSED_OUT(1, 7)
    FUSED_OUT(2, 2) FUSED_OUT(2, 3) FUSED_OUT(2, 4) FUSED_OUT(2, 5) FUSED_OUT(2, 6) FUSED_OUT(2, 7)
    FUSED_OUT(3, 3) FUSED_OUT(3, 4) FUSED_OUT(3, 5) FUSED_OUT(3, 6) FUSED_OUT(3, 7)
    FUSED_OUT(4, 4) FUSED_OUT(4, 5) FUSED_OUT(4, 6) FUSED_OUT(4, 7)
    FUSED_OUT(5, 5) FUSED_OUT(5, 6) FUSED_OUT(5, 7)
    FUSED_OUT(6, 6) FUSED_OUT(6, 7)
    FUSED_OUT(7, 7)
#undef FUSED_OUT
#undef FUSED_OUT_MOMENT
#undef FUSED_S
#undef FUSED_MOMENT
#undef FUSED_IN
}

/* Where the passes of fused_scatter split the rows of the triangle: each pass's accumulators, d_i and r
 * fit in the 32 vector registers of AVX-512 (level 2) or the 16 of AVX2 and SSE2; 0 if unused. */
SKGMM_INLINE int fused_split(const int level, const int D, const int which)
{
    if (level == 2)
        return which == 0 && D >= 6 ? 2 : 0; /* D = 8: 24 and 21 accumulators */
    if (D <= 3)
        return 0;
    if (D <= 5)
        return which == 0 ? 1 : 0;
    return which == 0 ? 1 : which == 1 ? 3 : 0;
}

/* Sums of one component over a chunk, diagonal scatter, D <= 8 features of a group at offset i0. */
SKGMM_INLINE void fused_scatter_diagonal(const int D, const int moments, const double *SKGMM_RESTRICT xc, ptrdiff_t B,
                                         ptrdiff_t n, const double *SKGMM_RESTRICT mu, const double *SKGMM_RESTRICT e,
                                         const double *SKGMM_RESTRICT scale, double *SKGMM_RESTRICT resp_sum,
                                         double *SKGMM_RESTRICT x_sum, double *SKGMM_RESTRICT S)
{
    double t = 0, x0 = 0, x1 = 0, x2 = 0, x3 = 0, x4 = 0, x5 = 0, x6 = 0, x7 = 0;
    double s00 = 0, s11 = 0, s22 = 0, s33 = 0, s44 = 0, s55 = 0, s66 = 0, s77 = 0;
#define FUSED_BOTH(i) if (D > i) { const double ri = r * d##i; x##i += ri; s##i##i += ri * d##i; }
    SKGMM_PRAGMA(omp simd reduction(+ : t, x0, x1, x2, x3, x4, x5, x6, x7, s00, s11, s22, s33, s44, s55, s66, s77))
    for (ptrdiff_t b = 0; b < n; b++) {
        FUSED_DIFFS
        const double r = e[b] * scale[b];
        t += r; /* summed in every group, kept from the first: a condition here stops GCC vectorising */
        FUSED_BOTH(0) FUSED_BOTH(1) FUSED_BOTH(2) FUSED_BOTH(3) FUSED_BOTH(4) FUSED_BOTH(5) FUSED_BOTH(6) FUSED_BOTH(7)
    }
#define FUSED_OUT(i) if (D > i) { x_sum[i] += x##i; S[i] += s##i##i; }
    if (moments)
        *resp_sum += t;
    FUSED_OUT(0) FUSED_OUT(1) FUSED_OUT(2) FUSED_OUT(3) FUSED_OUT(4) FUSED_OUT(5) FUSED_OUT(6) FUSED_OUT(7)
#undef FUSED_OUT
#undef FUSED_BOTH
}

#include "fused_wide.h"

/* A 4 x 4 block of doubles, rows `stride` apart, transposed into 4 vectors (GCC's vector extensions:
 * each copy's own shuffles, or pairs of SSE2 ones). */
typedef double skgmm_v4d __attribute__((vector_size(32)));
typedef float skgmm_v4f __attribute__((vector_size(16)));
typedef long long skgmm_v4i __attribute__((vector_size(32)));
SKGMM_INLINE void skgmm_transpose4(const double *SKGMM_RESTRICT from, ptrdiff_t stride, skgmm_v4d *SKGMM_RESTRICT to)
{
    skgmm_v4d r0, r1, r2, r3;
    memcpy(&r0, from, sizeof r0);
    memcpy(&r1, from + stride, sizeof r1);
    memcpy(&r2, from + 2 * stride, sizeof r2);
    memcpy(&r3, from + 3 * stride, sizeof r3);
    const skgmm_v4d t0 = __builtin_shuffle(r0, r1, (skgmm_v4i){0, 4, 2, 6});
    const skgmm_v4d t1 = __builtin_shuffle(r0, r1, (skgmm_v4i){1, 5, 3, 7});
    const skgmm_v4d t2 = __builtin_shuffle(r2, r3, (skgmm_v4i){0, 4, 2, 6});
    const skgmm_v4d t3 = __builtin_shuffle(r2, r3, (skgmm_v4i){1, 5, 3, 7});
    to[0] = __builtin_shuffle(t0, t2, (skgmm_v4i){0, 1, 4, 5});
    to[1] = __builtin_shuffle(t1, t3, (skgmm_v4i){0, 1, 4, 5});
    to[2] = __builtin_shuffle(t0, t2, (skgmm_v4i){2, 3, 6, 7});
    to[3] = __builtin_shuffle(t1, t3, (skgmm_v4i){2, 3, 6, 7});
}

#define FUSED_CASES(macro) macro(1) macro(2) macro(3) macro(4) macro(5) macro(6) macro(7) macro(8)

/* The E-step and sums of one chunk of n rows.
 *
 * xc (d, B): the rows less the origin, feature-major.  w (n): the row weights (1 without).
 * lp (K, B): mode 1, the given weighted responsibilities (read); otherwise written, with the
 * weighted log-densities (modes 2 and 3: left there, and their peak in work[0, B)) then the exp
 * terms (mode 4: stops there, each row's log-likelihood in work[2 B, 3 B)).  work: 4 B doubles, and with
 * d > 8 and full precisions or scatter (2 d + 1) B more.  out: the call's output, added to.
 */
SKGMM_INLINE void fused_chunk_body(const int level, const struct fused_problem *P, ptrdiff_t n,
                                   const double *SKGMM_RESTRICT xc, const double *SKGMM_RESTRICT w,
                                   double *SKGMM_RESTRICT lp, double *SKGMM_RESTRICT work, double *SKGMM_RESTRICT out)
{
    const ptrdiff_t d = P->d, K = P->K, B = P->B;
    double *SKGMM_RESTRICT peak = work;
    double *SKGMM_RESTRICT scale = work + B;
    double *SKGMM_RESTRICT q = work + 2 * B;
    double *SKGMM_RESTRICT shift = work + 3 * B;
    double *SKGMM_RESTRICT wide = work + 4 * B; /* diff and r diff (d, B each) and a row, for d > 8 */
    double *SKGMM_RESTRICT resp_sum = out + 1;
    double *SKGMM_RESTRICT x_sum = resp_sum + K;
    double *SKGMM_RESTRICT scatter = x_sum + K * d;
    const ptrdiff_t scatter_size = P->diagonal_scatter ? d : d * d;

    if (P->mode != 1) {
        for (ptrdiff_t b = 0; b < n; b++)
            peak[b] = -INFINITY;
        for (ptrdiff_t k = 0; k < K; k++) {
            const double *SKGMM_RESTRICT mu = P->means + k * d;
            double *SKGMM_RESTRICT lpk = lp + k * B;
            const double c = P->constant[k];
            if (P->diagonal_precision) {
                /* first and last group constant in every copy (a test of them in the loop stops GCC vectorising) */
                const double *SKGMM_RESTRICT p = P->precision + k * d;
                if (d <= FUSED_UNROLLED) {
                    switch (d) {
#define FUSED_CASE(D_)                                                                                              \
    case D_: fused_log_density_diagonal(D_, 1, 1, xc, B, n, mu, p, c, q, lpk, peak); break;
                        FUSED_CASES(FUSED_CASE)
#undef FUSED_CASE
                    }
                } else {
                    const ptrdiff_t U = FUSED_UNROLLED;
                    ptrdiff_t i0 = U;
                    fused_log_density_diagonal(FUSED_UNROLLED, 1, 0, xc, B, n, mu, p, c, q, lpk, peak);
                    for (; d - i0 > U; i0 += U)
                        fused_log_density_diagonal(FUSED_UNROLLED, 0, 0, xc + i0 * B, B, n, mu + i0, p + i0, c, q, lpk, peak);
                    switch (d - i0) {
#define FUSED_CASE(D_)                                                                                              \
    case D_: fused_log_density_diagonal(D_, 0, 1, xc + i0 * B, B, n, mu + i0, p + i0, c, q, lpk, peak); break;
                        FUSED_CASES(FUSED_CASE)
#undef FUSED_CASE
                    }
                }
            } else {
                const double *SKGMM_RESTRICT L = P->precision + k * d * d;
                switch (d) {
#define FUSED_CASE(D_)                                                                                              \
    case D_: fused_log_density(D_, xc, B, n, mu, L, c, lpk, peak); break;
                    FUSED_CASES(FUSED_CASE)
#undef FUSED_CASE
                default: fused_log_density_wide(xc, d, B, n, mu, L, c, wide, q, lpk, peak);
                }
            }
        }
        if (P->mode == 2 || P->mode == 3)
            return;

        /* the log-sum-exp over components (see fused_impl.h); lp becomes the exp terms, r = e scale */
        SKGMM_PRAGMA(omp simd)
        for (ptrdiff_t b = 0; b < n; b++) {
            /* -inf: every term is raised to the floor; +inf and NaN: as numpy, with no shift */
            shift[b] = fabs(peak[b]) <= DBL_MAX ? peak[b] : 0.0;
            scale[b] = 0;
        }
        const double floor = P->exp_floor;
        for (ptrdiff_t k = 0; k < K; k++) {
            double *SKGMM_RESTRICT lpk = lp + k * B;
            SKGMM_PRAGMA(omp simd)
            for (ptrdiff_t b = 0; b < n; b++) {
                double t = lpk[b] - shift[b];
                t = t < floor ? floor : t; /* NaN stays NaN */
                const double term = skgmm_exp(t);
                lpk[b] = term;
                scale[b] += term;
            }
        }
        double log_likelihood = 0;
        SKGMM_PRAGMA(omp simd reduction(+ : log_likelihood))
        for (ptrdiff_t b = 0; b < n; b++) {
            const double norm = scale[b];
            const double weight = w[b];
            const double row = peak[b] == -INFINITY ? -INFINITY : shift[b] + skgmm_log(norm);
            log_likelihood += weight * row;
            scale[b] = weight / norm;
            q[b] = row;
        }
        out[0] += log_likelihood;
        if (P->mode == 4)
            return;
    } else {
        for (ptrdiff_t b = 0; b < n; b++)
            scale[b] = 1;
    }

    /* the sums of every component, centred on its mean */
    for (ptrdiff_t k = 0; k < K; k++) {
        const double *SKGMM_RESTRICT mu = P->means + k * d;
        const double *SKGMM_RESTRICT e = lp + k * B;
        double *SKGMM_RESTRICT S = scatter + k * scatter_size;
        if (P->diagonal_scatter) {
            for (ptrdiff_t i0 = 0; i0 < d; i0 += FUSED_UNROLLED) {
                const ptrdiff_t D = d - i0 <= FUSED_UNROLLED ? d - i0 : FUSED_UNROLLED;
                switch (D) {
#define FUSED_CASE(D_)                                                                                              \
    case D_:                                                                                                        \
        fused_scatter_diagonal(D_, i0 == 0, xc + i0 * B, B, n, mu + i0, e, scale, resp_sum + k, x_sum + k * d + i0, \
                               S + i0);                                                                             \
        break;
                    FUSED_CASES(FUSED_CASE)
#undef FUSED_CASE
                }
            }
            continue;
        }
        switch (d) {
#define FUSED_CASE(D_)                                                                                              \
    case D_: {                                                                                                      \
        const int a = fused_split(level, D_, 0), a2 = fused_split(level, D_, 1);                                    \
        const int end0 = a ? a : D_, end1 = a2 ? a2 : D_;                                                           \
        fused_scatter(D_, 0, end0, 1, xc, B, n, mu, e, scale, resp_sum + k, x_sum + k * d, S);                     \
        if (a)                                                                                                      \
            fused_scatter(D_, a, end1, 0, xc, B, n, mu, e, scale, resp_sum + k, x_sum + k * d, S);                 \
        if (a2)                                                                                                     \
            fused_scatter(D_, a2, D_, 0, xc, B, n, mu, e, scale, resp_sum + k, x_sum + k * d, S);                   \
        break;                                                                                                      \
    }
            FUSED_CASES(FUSED_CASE)
#undef FUSED_CASE
        default:
            fused_scatter_wide(level, xc, d, B, n, mu, e, scale, wide, wide + d * B, wide + 2 * d * B, resp_sum + k,
                               x_sum + k * d, S);
        }
    }
}

#undef FUSED_DIFFS
#undef FUSED_DIFF

#define SKGMM_FUSED_CHUNK_ARGS (const struct fused_problem *P, ptrdiff_t n, const double *xc, const double *w, double *lp, double *work, double *out)

#if SKGMM_HAS_CLONES
__attribute__((target("avx512f,avx512vl,avx512dq,avx2,fma"))) static void skgmm_fused_chunk_avx512 SKGMM_FUSED_CHUNK_ARGS
{
    fused_chunk_body(2, P, n, xc, w, lp, work, out);
}
__attribute__((target("avx2,fma"))) static void skgmm_fused_chunk_avx2 SKGMM_FUSED_CHUNK_ARGS
{
    fused_chunk_body(1, P, n, xc, w, lp, work, out);
}
#endif
static void skgmm_fused_chunk_baseline SKGMM_FUSED_CHUNK_ARGS { fused_chunk_body(0, P, n, xc, w, lp, work, out); }

/* The chunk kernel of a CPU level (skgmm_cpu_level, looked up once per call of fused_rows). */
typedef void (*skgmm_fused_chunk_fn) SKGMM_FUSED_CHUNK_ARGS;
static skgmm_fused_chunk_fn skgmm_fused_chunk(void)
{
#if SKGMM_HAS_CLONES
    switch (skgmm_cpu_level()) {
    case 2: return skgmm_fused_chunk_avx512;
    case 1: return skgmm_fused_chunk_avx2;
    default: return skgmm_fused_chunk_baseline;
    }
#else
    return skgmm_fused_chunk_baseline;
#endif
}

/* exp and log of n doubles, as the fused kernel computes them (for the tests). */
SKGMM_INLINE int skgmm_fused_exp_body(const double *SKGMM_RESTRICT x, ptrdiff_t n, double *SKGMM_RESTRICT y)
{
    SKGMM_PRAGMA(omp simd)
    for (ptrdiff_t i = 0; i < n; i++)
        y[i] = skgmm_exp(x[i]);
    return 0;
}
SKGMM_INLINE int skgmm_fused_log_body(const double *SKGMM_RESTRICT x, ptrdiff_t n, double *SKGMM_RESTRICT y)
{
    SKGMM_PRAGMA(omp simd)
    for (ptrdiff_t i = 0; i < n; i++)
        y[i] = skgmm_log(x[i]);
    return 0;
}
SKGMM_CLONED(int, skgmm_fused_exp, skgmm_fused_exp_body, (const double *x, ptrdiff_t n, double *y), (x, n, y))
SKGMM_CLONED(int, skgmm_fused_log, skgmm_fused_log_body, (const double *x, ptrdiff_t n, double *y), (x, n, y))

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif

#endif
