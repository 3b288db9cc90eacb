/* skgmm's hierarchical start: the merge loop of mclust's "VVV" agglomeration, in float64.
 *
 * The same steps as skgmm/_hierarchical.py (its numpy code is the fallback
 * and the reference): a matrix of merge costs, one row refreshed per merge,
 * a nearest-partner list, exact ties broken by mclust's storage order of the
 * groups (_tied_pair in the Python file).  A group of n rows with scatter W (centred
 * cross-products) in p dimensions costs
 *
 *     n p log((tr W + reg + det(W) / (beta n^(p-1))) / (n p)),
 *
 * the determinant counted for n > p only.  setup.py builds this file with
 * -ffp-contract=off and without fast-math, so each operation rounds as the
 * numpy code's does; the determinant is an LU factorisation with partial
 * pivoting (LAPACK's dgetf2 steps), which numpy's det also computes.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Not common.h: this scalar loop needs no per-CPU copies. */
#include "export.h"

#if defined(__FAST_MATH__)
#error "hc.c must be built without fast-math: its merges must equal the numpy code's"
#endif

/* power = pow(count, p - 1), as numpy's count ** (p - 1) */
static double group_cost(double count, double power, double trace, double det, ptrdiff_t p, double reg, double beta)
{
    const double dim = (double)p;
    return count * dim * log((trace + reg + det / (beta * power)) / (count * dim));
}

/* count ** (p - 1) as numpy computes it: exact for the exponents 0, 1 and 2, else pow */
static double count_power(double count, ptrdiff_t p)
{
    if (p == 1)
        return 1.0;
    if (p == 2)
        return count;
    if (p == 3)
        return count * count;
    return pow(count, (double)(p - 1));
}

/* Determinant of the p x p matrix a (overwritten), clipped at zero. */
static double determinant(double *a, ptrdiff_t p)
{
    double det = 1.0;
    for (ptrdiff_t j = 0; j < p; j++) {
        ptrdiff_t pivot = j;
        double largest = fabs(a[j * p + j]);
        for (ptrdiff_t i = j + 1; i < p; i++) {
            if (fabs(a[i * p + j]) > largest) {
                largest = fabs(a[i * p + j]);
                pivot = i;
            }
        }
        if (a[pivot * p + j] == 0.0)
            return 0.0;
        if (pivot != j) {
            for (ptrdiff_t k = 0; k < p; k++) {
                const double swap = a[j * p + k];
                a[j * p + k] = a[pivot * p + k];
                a[pivot * p + k] = swap;
            }
            det = -det;
        }
        const double diagonal = a[j * p + j];
        for (ptrdiff_t i = j + 1; i < p; i++) {
            const double factor = a[i * p + j] / diagonal;
            for (ptrdiff_t k = j + 1; k < p; k++)
                a[i * p + k] -= factor * a[j * p + k];
        }
        det *= diagonal;
    }
    return det > 0.0 ? det : 0.0;
}

/* First index of the smallest of values[0:n], as numpy's argmin (-1 when none is below +inf).
 *
 * The smallest value first (four running minima: min is exact, so their
 * order does not matter), then its first index; NaN never wins. */
static ptrdiff_t first_min(const double *values, ptrdiff_t n)
{
    double m0 = INFINITY, m1 = INFINITY, m2 = INFINITY, m3 = INFINITY;
    ptrdiff_t k = 0;
    for (; k + 4 <= n; k += 4) {
        m0 = values[k] < m0 ? values[k] : m0;
        m1 = values[k + 1] < m1 ? values[k + 1] : m1;
        m2 = values[k + 2] < m2 ? values[k + 2] : m2;
        m3 = values[k + 3] < m3 ? values[k + 3] : m3;
    }
    for (; k < n; k++)
        m0 = values[k] < m0 ? values[k] : m0;
    m0 = m1 < m0 ? m1 : m0;
    m2 = m3 < m2 ? m3 : m2;
    m0 = m2 < m0 ? m2 : m0;
    if (!(m0 < INFINITY))
        return -1;
    for (k = 0; values[k] != m0; k++) {}
    return k;
}

/* The merge sequence from singletons.
 *
 * X (n_samples, n_features) C-ordered; reg = alpha * tr(total scatter) / (n_samples
 * n_features), computed by the caller; merges (n_samples - 1, 2) out, as
 * agglomerate() returns them.  Returns 0, or -1 when memory runs out. */
SKGMM_EXPORT int skgmm_hc_vvv_f64(const double *SKGMM_RESTRICT X, ptrdiff_t n_samples, ptrdiff_t n_features,
                                  double reg, double beta, int64_t *SKGMM_RESTRICT merges)
{
    const ptrdiff_t n = n_samples, p = n_features;
    if (n < 2)
        return 0;
    double *count = malloc(sizeof(double) * n);
    double *mean = malloc(sizeof(double) * n * p);
    double *scatter = calloc((size_t)(n * p * p), sizeof(double));
    double *trace = calloc((size_t)n, sizeof(double));
    double *own = malloc(sizeof(double) * n);
    double *costs = malloc(sizeof(double) * n * n);
    double *best = malloc(sizeof(double) * n);
    ptrdiff_t *partner = malloc(sizeof(ptrdiff_t) * n);
    ptrdiff_t *others = malloc(sizeof(ptrdiff_t) * n);
    unsigned char *alive = malloc((size_t)n);
    double *work = malloc(sizeof(double) * p * p);
    double *diff = malloc(sizeof(double) * p);
    double *power = malloc(sizeof(double) * (n + 1));
    ptrdiff_t *slot = malloc(sizeof(ptrdiff_t) * n);
    ptrdiff_t *at = malloc(sizeof(ptrdiff_t) * n);
    int status = 0;
    if (!count || !mean || !scatter || !trace || !own || !costs || !best || !partner || !others || !alive || !work
        || !diff || !power || !slot || !at) {
        status = -1;
        goto done;
    }
    memcpy(mean, X, sizeof(double) * n * p);
    for (ptrdiff_t m = 0; m <= n; m++)
        power[m] = count_power((double)m, p);
    const double own_single = group_cost(1.0, 1.0, 0.0, 0.0, p, reg, beta);
    for (ptrdiff_t i = 0; i < n; i++) {
        count[i] = 1.0;
        own[i] = own_single;
        alive[i] = 1;
    }
    /* pairs of singletons: scatter d d^T / 2, of rank one (a determinant only when p == 1) */
    for (ptrdiff_t i = 0; i < n; i++) {
        costs[i * n + i] = INFINITY;
        for (ptrdiff_t j = i + 1; j < n; j++) {
            double dist = 0.0;
            for (ptrdiff_t k = 0; k < p; k++) {
                const double d = X[i * p + k] - X[j * p + k];
                dist += d * d;
            }
            const double half = dist / 2.0;
            const double change = group_cost(2.0, power[2], half, p == 1 ? half : 0.0, p, reg, beta) - 2.0 * own_single;
            costs[i * n + j] = change;
            costs[j * n + i] = change;
        }
    }
    for (ptrdiff_t i = 0; i < n; i++) {
        partner[i] = first_min(costs + i * n, n);
        best[i] = costs[i * n + partner[i]];
    }

    for (ptrdiff_t g = 0; g < n; g++) {
        slot[g] = g;
        at[g] = g;
    }
    ptrdiff_t n_groups = n;

    for (ptrdiff_t step = 0; step < n - 1; step++) {
        ptrdiff_t i = first_min(best, n);
        ptrdiff_t j = -1;
        if (i < 0) {  /* NaN costs (non-finite data): take the first two groups alive */
            for (i = 0; !alive[i]; i++) {}
        } else {
            /* exact ties: mclust's choice, the pair last by (higher slot, lower slot) */
            const double smallest = best[i];
            ptrdiff_t top_high = -1, top_low = -1;
            for (ptrdiff_t r = i; r < n; r++) {
                if (best[r] != smallest)
                    continue;
                const double *row = costs + r * n;
                for (ptrdiff_t c = 0; c < n; c++) {
                    if (row[c] != smallest)
                        continue;
                    const ptrdiff_t high = slot[r] > slot[c] ? slot[r] : slot[c];
                    const ptrdiff_t low = slot[r] > slot[c] ? slot[c] : slot[r];
                    if (high > top_high || (high == top_high && low > top_low)) {
                        top_high = high;
                        top_low = low;
                    }
                }
            }
            if (top_high >= 0) {
                i = at[top_low];
                j = at[top_high];
            } else {
                j = partner[i];
            }
        }
        if (j < 0 || !alive[j] || j == i)
            for (j = 0; !alive[j] || j == i; j++) {}
        if (j < i) {
            const ptrdiff_t swap = i;
            i = j;
            j = swap;
        }
        merges[2 * step] = i;
        merges[2 * step + 1] = j;
        {
            /* the merged group takes the lower of the two slots, the last slot's group the higher */
            const ptrdiff_t low = slot[i] < slot[j] ? slot[i] : slot[j];
            const ptrdiff_t high = slot[i] < slot[j] ? slot[j] : slot[i];
            at[low] = i;
            slot[i] = low;
            n_groups--;
            if (high < n_groups) {
                const ptrdiff_t moved = at[n_groups];
                at[high] = moved;
                slot[moved] = high;
            }
        }
        const double n_i = count[i], n_j = count[j], n_ij = n_i + n_j;
        double *s_i = scatter + i * p * p;
        const double *s_j = scatter + j * p * p;
        const double w_ij = n_i * n_j / n_ij;
        for (ptrdiff_t a = 0; a < p; a++)
            diff[a] = mean[j * p + a] - mean[i * p + a];
        for (ptrdiff_t a = 0; a < p; a++)
            for (ptrdiff_t b = 0; b < p; b++)
                s_i[a * p + b] += s_j[a * p + b] + w_ij * (diff[a] * diff[b]);
        double tr = 0.0;
        for (ptrdiff_t a = 0; a < p; a++)
            tr += s_i[a * p + a];
        trace[i] = tr;
        for (ptrdiff_t a = 0; a < p; a++)
            mean[i * p + a] += (n_j / n_ij) * diff[a];
        count[i] = n_ij;
        double det_i = 0.0;
        if (n_ij > (double)p) {
            memcpy(work, s_i, sizeof(double) * p * p);
            det_i = determinant(work, p);
        }
        own[i] = group_cost(n_ij, power[(ptrdiff_t)n_ij], trace[i], det_i, p, reg, beta);
        alive[j] = 0;
        for (ptrdiff_t k = 0; k < n; k++) {
            costs[j * n + k] = INFINITY;
            costs[k * n + j] = INFINITY;
        }
        best[j] = INFINITY;

        ptrdiff_t n_others = 0;
        for (ptrdiff_t k = 0; k < n; k++)
            if (alive[k] && k != i)
                others[n_others++] = k;
        if (n_others == 0)
            continue;
        /* the new group's row: a merge changes only the costs of pairs with it */
        ptrdiff_t row_best = -1;
        double row_min = INFINITY;
        for (ptrdiff_t t = 0; t < n_others; t++) {
            const ptrdiff_t k = others[t];
            const double n_k = count[k], n_m = n_k + count[i];
            const double weight = n_k * count[i] / n_m;
            double d_sq = 0.0;
            for (ptrdiff_t a = 0; a < p; a++) {
                diff[a] = mean[k * p + a] - mean[i * p + a];
                d_sq += diff[a] * diff[a];
            }
            const double trace_m = trace[k] + trace[i] + weight * d_sq;
            double det_m = 0.0;
            if (n_m > (double)p) {
                const double *s_k = scatter + k * p * p;
                for (ptrdiff_t a = 0; a < p; a++)
                    for (ptrdiff_t b = 0; b < p; b++)
                        work[a * p + b] = (s_k[a * p + b] + s_i[a * p + b]) + weight * (diff[a] * diff[b]);
                det_m = determinant(work, p);
            }
            const double change = group_cost(n_m, power[(ptrdiff_t)n_m], trace_m, det_m, p, reg, beta) - own[i] - own[k];
            costs[i * n + k] = change;
            costs[k * n + i] = change;
            if (row_best < 0 || change < row_min) {
                row_best = k;
                row_min = change;
            }
        }
        partner[i] = row_best;
        best[i] = row_min;
        /* rows whose partner was i or j look again; i becomes the partner of rows it now beats */
        for (ptrdiff_t t = 0; t < n_others; t++) {
            const ptrdiff_t k = others[t];
            if (partner[k] == i || partner[k] == j) {
                /* below the old smallest, i is the row's first smallest (the others are unchanged) */
                if (costs[k * n + i] < best[k]) {
                    partner[k] = i;
                    best[k] = costs[k * n + i];
                    continue;
                }
                const ptrdiff_t m = first_min(costs + k * n, n);
                partner[k] = m < 0 ? i : m;
                best[k] = costs[k * n + partner[k]];
            } else if (costs[k * n + i] < best[k]) {
                partner[k] = i;
                best[k] = costs[k * n + i];
            }
        }
    }
done:
    free(count);
    free(mean);
    free(scatter);
    free(trace);
    free(own);
    free(costs);
    free(best);
    free(partner);
    free(others);
    free(alive);
    free(work);
    free(diff);
    free(power);
    free(slot);
    free(at);
    return status;
}
