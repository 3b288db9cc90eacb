/* The certified Lloyd step (float64): included by kmeans.c after kmeans_seed.h.
 *
 * scikit-learn labels a row by the first smallest |c|^2 - 2 x.c, formed by a
 * matrix product.  Here the squared distances |x - c|^2 are formed directly
 * (eight rows side by side, as the seeding's passes), and a row's label is
 * taken only where the smallest is ahead of the next by more than both
 * computations can round: then scikit-learn's products rank the same centre
 * first.  Exactly (|c|^2 - 2 x.c = |x - c|^2 - |x|^2), the two orders agree;
 * scikit-learn's values lie within (d + 2) u (|c|^2 + 2 |x| |c|) <= 2 (d + 2) u
 * (|c|^2 + |x|^2) of exact (a dot product of d terms in any order, a norm, a
 * sum; with or without fused multiply-adds), the direct ones within (d + 3) u
 * |x - c|^2; the test below takes twice these, with u = 2^-53.  Rows too close
 * to call send their block back to the caller's matrix products.
 */

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("fp-contract=fast")
#endif

/* The most centres of a certified step. */
#define SKGMM_LLOYD_MAX_CENTERS 64

/* The certified labels of rows of X (strides in elements), centred by offset, against the centres
 * (n_centers x n_features, centred): new_labels[i], or -1 where the row is too close to call; returns
 * how many are.  unit: (2 d + 8) u; center_sq_bound: at least the largest |c|^2.  work: (n_features +
 * n_centers) vectors of SKGMM_SEED_TILE doubles, aligned to 64 bytes. */
SKGMM_INLINE ptrdiff_t skgmm_lloyd_labels_body(const double *X, ptrdiff_t n_rows, ptrdiff_t n_features,
                                               ptrdiff_t row_stride, ptrdiff_t column_stride,
                                               const double *SKGMM_RESTRICT offset,
                                               const double *SKGMM_RESTRICT centers, ptrdiff_t n_centers,
                                               double unit, double center_sq_bound,
                                               int32_t *SKGMM_RESTRICT new_labels, double *SKGMM_RESTRICT work)
{
    const ptrdiff_t d = n_features;
    skgmm_seed_v8d *SKGMM_RESTRICT xt = (skgmm_seed_v8d *)work;
    skgmm_seed_v8d *SKGMM_RESTRICT dist = xt + d;
    const double *at[SKGMM_LLOYD_MAX_CENTERS];
    for (ptrdiff_t j = 0; j < n_centers; j++)
        at[j] = centers + j * d;
    ptrdiff_t uncertain = 0;
    for (ptrdiff_t start = 0; start < n_rows; start += SKGMM_SEED_TILE) {
        const int m = n_rows - start < SKGMM_SEED_TILE ? (int)(n_rows - start) : SKGMM_SEED_TILE;
        const double *rows[SKGMM_SEED_TILE];
        for (int r = 0; r < SKGMM_SEED_TILE; r++)
            rows[r] = X + (start + (r < m ? r : 0)) * row_stride;
        skgmm_seed_transpose(rows, d, column_stride, offset, xt);
        skgmm_seed_v8d norm = {0};
        for (ptrdiff_t k = 0; k < d; k++)
            norm += xt[k] * xt[k];
        skgmm_seed_tile_all(xt, d, at, n_centers, dist);
        /* the smallest (the first of equals) and the next; equal ones leave no gap */
        skgmm_seed_v8d best = dist[0], next = (skgmm_seed_v8d){0} + INFINITY, label = {0};
        for (ptrdiff_t j = 1; j < n_centers; j++) {
            const skgmm_seed_v8d v = dist[j];
            const skgmm_seed_v8i closer = v < best;
            next = skgmm_seed_select(closer, best, skgmm_seed_min(next, v));
            best = skgmm_seed_select(closer, v, best);
            label = skgmm_seed_select(closer, (skgmm_seed_v8d){0} + (double)j, label);
        }
        const skgmm_seed_v8d margin = 4 * unit * (center_sq_bound + norm) + unit * (best + next);
        const skgmm_seed_v8i certain = next - best > margin; /* false for NaN */
        for (int r = 0; r < m; r++) {
            const int ok = certain[r] != 0;
            new_labels[start + r] = ok ? (int32_t)label[r] : -1;
            uncertain += !ok;
        }
    }
    return uncertain;
}

SKGMM_CLONED(ptrdiff_t, skgmm_lloyd_labels_f64, skgmm_lloyd_labels_body,
             (const double *X, ptrdiff_t n_rows, ptrdiff_t n_features, ptrdiff_t row_stride,
              ptrdiff_t column_stride, const double *offset, const double *centers, ptrdiff_t n_centers,
              double unit, double center_sq_bound, int32_t *new_labels, double *work),
             (X, n_rows, n_features, row_stride, column_stride, offset, centers, n_centers, unit, center_sq_bound,
              new_labels, work))

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif

/* The rows (x - offset) times their weight (NULL: ones, and no product) added to their labels'
 * running sums in row order, as assign_and_sum adds them (built without contraction: they round as
 * scikit-learn's).  Returns whether a label differs from old_labels, which then become the labels. */
SKGMM_INLINE int skgmm_lloyd_sums_body(const double *X, ptrdiff_t n_rows, ptrdiff_t n_features,
                                       ptrdiff_t row_stride, ptrdiff_t column_stride,
                                       const double *SKGMM_RESTRICT offset, const double *SKGMM_RESTRICT weight,
                                       const int32_t *SKGMM_RESTRICT labels, int32_t *SKGMM_RESTRICT old_labels,
                                       double *SKGMM_RESTRICT center_sums, double *SKGMM_RESTRICT weight_sums,
                                       int update)
{
    const ptrdiff_t d = n_features;
    int changed = 0;
    for (ptrdiff_t i = 0; i < n_rows; i++) {
        const int32_t label = labels[i];
        changed |= old_labels[i] != label;
        old_labels[i] = label;
        if (!update)
            continue;
        const double *row = X + i * row_stride;
        double *SKGMM_RESTRICT sums = center_sums + label * d;
        if (weight != NULL) {
            const double w = weight[i];
            weight_sums[label] += w;
            for (ptrdiff_t k = 0; k < d; k++)
                sums[k] += (row[k * column_stride] - offset[k]) * w;
        } else {
            weight_sums[label] += 1;
            for (ptrdiff_t k = 0; k < d; k++)
                sums[k] += row[k * column_stride] - offset[k];
        }
    }
    return changed;
}

SKGMM_CLONED(int, skgmm_lloyd_sums_f64, skgmm_lloyd_sums_body,
             (const double *X, ptrdiff_t n_rows, ptrdiff_t n_features, ptrdiff_t row_stride,
              ptrdiff_t column_stride, const double *offset, const double *weight, const int32_t *labels,
              int32_t *old_labels, double *center_sums, double *weight_sums, int update),
             (X, n_rows, n_features, row_stride, column_stride, offset, weight, labels, old_labels, center_sums,
              weight_sums, update))

/* One block of a certified Lloyd step: where every row's label is certain (returns 0), the labels
 * into `labels` (changed[0] = 1 if one changed) and, with `update`, the rows (x - offset) times their
 * weight (NULL: ones, and no product) added to their clusters' running sums in row order, as
 * assign_and_sum adds them.  Otherwise returns how many rows were too close to call and writes
 * nothing but new_labels (n_rows scratch). */
SKGMM_EXPORT ptrdiff_t skgmm_lloyd_step_f64(const double *X, ptrdiff_t n_rows, ptrdiff_t n_features,
                                            ptrdiff_t row_stride, ptrdiff_t column_stride,
                                            const double *SKGMM_RESTRICT offset,
                                            const double *SKGMM_RESTRICT weight,
                                            const double *SKGMM_RESTRICT centers, ptrdiff_t n_centers,
                                            double unit, double center_sq_bound, int32_t *SKGMM_RESTRICT labels,
                                            double *SKGMM_RESTRICT center_sums, double *SKGMM_RESTRICT weight_sums,
                                            int update, int32_t *SKGMM_RESTRICT changed,
                                            int32_t *SKGMM_RESTRICT new_labels, double *SKGMM_RESTRICT work)
{
    if (n_centers < 1 || n_centers > SKGMM_LLOYD_MAX_CENTERS)
        return n_rows > 0 ? n_rows : 1;
    const ptrdiff_t uncertain = skgmm_lloyd_labels_f64(X, n_rows, n_features, row_stride, column_stride, offset,
                                                       centers, n_centers, unit, center_sq_bound, new_labels, work);
    if (uncertain)
        return uncertain;
    changed[0] |= skgmm_lloyd_sums_f64(X, n_rows, n_features, row_stride, column_stride, offset, weight, new_labels,
                                       labels, center_sums, weight_sums, update);
    return 0;
}
