/* The certified k-means++ seeding's passes (float64): included by kmeans.c.
 *
 * skgmm/_kmeans_certified.py draws scikit-learn's seeds from distances
 * computed here directly, sum_k ((x_k - offset_k) - c_k)^2, one pass over
 * the rows per seed, instead of from the matrix products that scikit-learn
 * forms; it checks that each of its decisions is far enough from a tie for
 * scikit-learn's rounding to make the same one, so these sums may be added
 * up in any order.  The distances of eight rows are formed side by side
 * (one vector lane per row).
 */

#include <string.h>

/* Rows side by side: one vector of doubles per feature. */
#define SKGMM_SEED_TILE 8

/* The most centres of one pass. */
#define SKGMM_SEED_MAX_CENTERS 32

typedef double skgmm_seed_v8d __attribute__((vector_size(64)));

/* The passes' sums of squares may fuse their multiply-adds (kmeans.c is built without contraction,
 * for the kernels that round as numpy does): the caller's bound covers any rounding of these sums. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("fp-contract=fast")
#elif defined(__clang__)
#pragma clang fp contract(fast)
#endif

/* Squared distances of a tile's rows (xt: one vector per feature) to the centres at[0 .. n - 1]:
 * n (1 to 4) independent sums, n a constant where this is inlined. */
SKGMM_INLINE void skgmm_seed_tile_distances(const skgmm_seed_v8d *SKGMM_RESTRICT xt, ptrdiff_t n_features,
                                            const double *const *at, const int n,
                                            skgmm_seed_v8d *SKGMM_RESTRICT out)
{
    const double *c0 = at[0], *c1 = at[n > 1 ? 1 : 0], *c2 = at[n > 2 ? 2 : 0], *c3 = at[n > 3 ? 3 : 0];
    skgmm_seed_v8d a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
    for (ptrdiff_t k = 0; k < n_features; k++) {
        const skgmm_seed_v8d x = xt[k];
        const skgmm_seed_v8d d0 = x - c0[k];
        a0 += d0 * d0;
        if (n > 1) {
            const skgmm_seed_v8d d1 = x - c1[k];
            a1 += d1 * d1;
        }
        if (n > 2) {
            const skgmm_seed_v8d d2 = x - c2[k];
            a2 += d2 * d2;
        }
        if (n > 3) {
            const skgmm_seed_v8d d3 = x - c3[k];
            a3 += d3 * d3;
        }
    }
    out[0] = a0;
    if (n > 1)
        out[1] = a1;
    if (n > 2)
        out[2] = a2;
    if (n > 3)
        out[3] = a3;
}

/* skgmm_seed_tile_distances of n_at centres, four at a time, each call with a constant count. */
SKGMM_INLINE void skgmm_seed_tile_all(const skgmm_seed_v8d *SKGMM_RESTRICT xt, ptrdiff_t n_features,
                                      const double *const *at, ptrdiff_t n_at, skgmm_seed_v8d *SKGMM_RESTRICT out)
{
    ptrdiff_t j = 0;
    for (; j + 4 <= n_at; j += 4)
        skgmm_seed_tile_distances(xt, n_features, at + j, 4, out + j);
    switch (n_at - j) {
    case 3: skgmm_seed_tile_distances(xt, n_features, at + j, 3, out + j); break;
    case 2: skgmm_seed_tile_distances(xt, n_features, at + j, 2, out + j); break;
    case 1: skgmm_seed_tile_distances(xt, n_features, at + j, 1, out + j); break;
    default: break;
    }
}

SKGMM_INLINE double skgmm_seed_sum8(skgmm_seed_v8d v)
{
    return ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7]));
}

typedef long long skgmm_seed_v8i __attribute__((vector_size(64)));

/* Mask lanes: where mask is all ones, a; else b. */
SKGMM_INLINE skgmm_seed_v8d skgmm_seed_select(skgmm_seed_v8i mask, skgmm_seed_v8d a, skgmm_seed_v8d b)
{
    return (skgmm_seed_v8d)((mask & (skgmm_seed_v8i)a) | (~mask & (skgmm_seed_v8i)b));
}

/* The smaller of a and b in each lane (b where they are equal). */
SKGMM_INLINE skgmm_seed_v8d skgmm_seed_min(skgmm_seed_v8d a, skgmm_seed_v8d b) { return skgmm_seed_select(a < b, a, b); }

/* One row's squared distance to center. */
SKGMM_INLINE double skgmm_seed_row_distance(const double *row, ptrdiff_t n_features, ptrdiff_t column_stride,
                                            const double *SKGMM_RESTRICT offset,
                                            const double *SKGMM_RESTRICT center)
{
    double acc = 0;
    for (ptrdiff_t k = 0; k < n_features; k++) {
        const double diff = (row[k * column_stride] - offset[k]) - center[k];
        acc += diff * diff;
    }
    return acc;
}

SKGMM_INLINE skgmm_seed_v8d skgmm_seed_load(const double *p)
{
    skgmm_seed_v8d v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* xt[k][r] = rows[r][k * column_stride] - offset[k]: eight features of eight rows at a time
 * transposed in registers where the features are contiguous, the rest one by one. */
SKGMM_INLINE void skgmm_seed_transpose(const double *const *rows, ptrdiff_t n_features, ptrdiff_t column_stride,
                                       const double *SKGMM_RESTRICT offset, skgmm_seed_v8d *SKGMM_RESTRICT xt)
{
    ptrdiff_t k0 = 0;
#if defined(__GNUC__) && !defined(__clang__)
    if (column_stride == 1) {
        for (; k0 + 8 <= n_features; k0 += 8) {
            skgmm_seed_v8d r[8], t[8], u[8];
            for (int i = 0; i < 8; i++)
                r[i] = skgmm_seed_load(rows[i] + k0);
            for (int i = 0; i < 8; i += 2) {
                t[i] = __builtin_shuffle(r[i], r[i + 1], (skgmm_seed_v8i){0, 8, 2, 10, 4, 12, 6, 14});
                t[i + 1] = __builtin_shuffle(r[i], r[i + 1], (skgmm_seed_v8i){1, 9, 3, 11, 5, 13, 7, 15});
            }
            for (int i = 0; i < 8; i += 4)
                for (int j = 0; j < 2; j++) {
                    u[i + j] = __builtin_shuffle(t[i + j], t[i + j + 2], (skgmm_seed_v8i){0, 1, 8, 9, 4, 5, 12, 13});
                    u[i + j + 2] = __builtin_shuffle(t[i + j], t[i + j + 2], (skgmm_seed_v8i){2, 3, 10, 11, 6, 7, 14, 15});
                }
            for (int j = 0; j < 4; j++) {
                xt[k0 + j] = __builtin_shuffle(u[j], u[j + 4], (skgmm_seed_v8i){0, 1, 2, 3, 8, 9, 10, 11}) - offset[k0 + j];
                xt[k0 + j + 4] = __builtin_shuffle(u[j], u[j + 4], (skgmm_seed_v8i){4, 5, 6, 7, 12, 13, 14, 15})
                                 - offset[k0 + j + 4];
            }
        }
    }
#endif
    for (int r = 0; r < SKGMM_SEED_TILE; r++)
        for (ptrdiff_t k = k0; k < n_features; k++)
            xt[k][r] = rows[r][k * column_stride] - offset[k];
}

/* One pass of the seeding over rows of X (n_rows, n_features; strides in elements), centred by offset.
 *
 * With `first`: closest[i] = the row's squared distance to centers[0] (n_centers must be 1), and
 * norm_sum[0] = the sum of weight * |x - offset|^2.  Otherwise, if update is not NULL, closest[i] =
 * min(closest[i], distance to update) first.  Then for each centre j, the sum of weight * min(closest,
 * distance to centers[j]) over each block of block_rows rows (a multiple of SKGMM_SEED_TILE) goes to
 * block_sums[b * n_centers + j].  weight NULL: ones.  The distances and sums are added up in any
 * order (the caller bounds their rounding).  work: (n_features + 2 n_centers + 4) vectors of
 * SKGMM_SEED_TILE doubles, aligned to 64 bytes. */
SKGMM_INLINE void skgmm_seed_pass_body(const double *X, ptrdiff_t n_rows, ptrdiff_t n_features,
                                       ptrdiff_t row_stride, ptrdiff_t column_stride,
                                       const double *SKGMM_RESTRICT offset, const double *SKGMM_RESTRICT weight,
                                       double *SKGMM_RESTRICT closest, const double *SKGMM_RESTRICT update,
                                       const double *SKGMM_RESTRICT centers, ptrdiff_t n_centers, int first,
                                       ptrdiff_t block_rows, double *SKGMM_RESTRICT block_sums,
                                       double *SKGMM_RESTRICT norm_sum, double *SKGMM_RESTRICT work)
{
    const ptrdiff_t d = n_features;
    skgmm_seed_v8d *SKGMM_RESTRICT xt = (skgmm_seed_v8d *)work;
    skgmm_seed_v8d *SKGMM_RESTRICT dist = xt + d;               /* n_centers + 4 */
    skgmm_seed_v8d *SKGMM_RESTRICT sums = dist + n_centers + 4; /* n_centers */
    /* the rows distances are taken to: update (if any), then the centres */
    const double *at[SKGMM_SEED_MAX_CENTERS + 1];
    const ptrdiff_t n_at = n_centers + (update != NULL);
    at[0] = update;
    for (ptrdiff_t j = 0; j < n_centers; j++)
        at[j + (update != NULL)] = centers + j * d;
    skgmm_seed_v8d norms = {0};
    for (ptrdiff_t start = 0; start < n_rows; start += SKGMM_SEED_TILE) {
        const int m = n_rows - start < SKGMM_SEED_TILE ? (int)(n_rows - start) : SKGMM_SEED_TILE;
        if (start % block_rows == 0)
            for (ptrdiff_t j = 0; j < n_centers; j++)
                sums[j] = (skgmm_seed_v8d){0};
        skgmm_seed_v8d w, cl;
        const double *rows[SKGMM_SEED_TILE];
        for (int r = 0; r < SKGMM_SEED_TILE; r++) {
            rows[r] = X + (start + (r < m ? r : 0)) * row_stride;
            w[r] = r < m ? (weight ? weight[start + r] : 1) : 0;
            cl[r] = r < m ? closest[start + r] : 0;
        }
        skgmm_seed_transpose(rows, d, column_stride, offset, xt);
        if (first) {
            skgmm_seed_tile_distances(xt, d, at, 1, dist + 1);
            skgmm_seed_v8d norm = {0};
            for (ptrdiff_t k = 0; k < d; k++)
                norm += xt[k] * xt[k];
            norms += w * norm;
            sums[0] += w * dist[1];
            for (int r = 0; r < m; r++)
                closest[start + r] = dist[1][r];
        } else {
            /* update's distance with the centres' (dist[j + 1] is centre j's) */
            skgmm_seed_tile_all(xt, d, at, n_at, dist + !update);
            if (update) {
                cl = skgmm_seed_min(cl, dist[0]);
                for (int r = 0; r < m; r++)
                    closest[start + r] = cl[r];
            }
            for (ptrdiff_t j = 0; j < n_centers; j++)
                sums[j] += w * skgmm_seed_min(cl, dist[j + 1]);
        }
        if ((start + SKGMM_SEED_TILE) % block_rows == 0 || start + SKGMM_SEED_TILE >= n_rows)
            for (ptrdiff_t j = 0; j < n_centers; j++)
                block_sums[(start / block_rows) * n_centers + j] = skgmm_seed_sum8(sums[j]);
    }
    if (first)
        norm_sum[0] = skgmm_seed_sum8(norms);
}

/* The first rows where the running sum of weight * min(closest, distance to update) reaches targets.
 *
 * Rows of X as in skgmm_seed_pass_body (update NULL: closest alone), summed from 0 in row order.  For each target j: index[j] is the first row whose running sum is >= targets[j] (-1 if
 * none), below[j] and above[j] the running sums before and after that row. */
SKGMM_INLINE void skgmm_seed_search_body(const double *X, ptrdiff_t n_rows, ptrdiff_t n_features,
                                         ptrdiff_t row_stride, ptrdiff_t column_stride,
                                         const double *SKGMM_RESTRICT offset,
                                         const double *SKGMM_RESTRICT weight,
                                         const double *SKGMM_RESTRICT closest,
                                         const double *SKGMM_RESTRICT update,
                                         const double *SKGMM_RESTRICT targets, ptrdiff_t n_targets,
                                         int64_t *SKGMM_RESTRICT index, double *SKGMM_RESTRICT below,
                                         double *SKGMM_RESTRICT above)
{
    ptrdiff_t remaining = n_targets;
    double total = 0;
    for (ptrdiff_t j = 0; j < n_targets; j++)
        index[j] = -1;
    for (ptrdiff_t i = 0; i < n_rows && remaining > 0; i++) {
        double smallest = closest[i];
        if (update) {
            const double distance = skgmm_seed_row_distance(X + i * row_stride, n_features, column_stride,
                                                            offset, update);
            smallest = smallest < distance ? smallest : distance;
        }
        const double next = total + (weight ? weight[i] * smallest : smallest);
        for (ptrdiff_t j = 0; j < n_targets; j++) {
            if (index[j] < 0 && next >= targets[j]) {
                index[j] = i;
                below[j] = total;
                above[j] = next;
                remaining--;
            }
        }
        total = next;
    }
}

SKGMM_CLONED(void, skgmm_seed_pass_f64, skgmm_seed_pass_body,
             (const double *X, ptrdiff_t n_rows, ptrdiff_t n_features, ptrdiff_t row_stride,
              ptrdiff_t column_stride, const double *offset, const double *weight, double *closest,
              const double *update, const double *centers, ptrdiff_t n_centers, int first,
              ptrdiff_t block_rows, double *block_sums, double *norm_sum, double *work),
             (X, n_rows, n_features, row_stride, column_stride, offset, weight, closest, update, centers,
              n_centers, first, block_rows, block_sums, norm_sum, work))
SKGMM_CLONED(void, skgmm_seed_search_f64, skgmm_seed_search_body,
             (const double *X, ptrdiff_t n_rows, ptrdiff_t n_features, ptrdiff_t row_stride,
              ptrdiff_t column_stride, const double *offset, const double *weight, const double *closest,
              const double *update, const double *targets, ptrdiff_t n_targets, int64_t *index,
              double *below, double *above),
             (X, n_rows, n_features, row_stride, column_stride, offset, weight, closest, update, targets,
              n_targets, index, below, above))

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif
