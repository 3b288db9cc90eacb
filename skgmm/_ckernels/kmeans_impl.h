/* The k-means kernels for one float type: included by kmeans.c with REAL and NAME defined.
 *
 * Every addition and product is rounded as in numpy and in scikit-learn's C
 * code, in the same order (kmeans.c is built with -ffp-contract=off and no
 * fast-math), so the numpy code of skgmm/_kmeans.py gives the same bits.
 * Arrays are C-ordered unless a stride is passed (in elements).
 */

/* Labels of one block of rows, and (with `update`) the rows added to their clusters' sums.
 *
 * block (n_rows, n_features), products (n_rows, n_clusters) = x.c, center_sq_norms
 * (n_clusters) = |c|^2; labels (n_rows) in: the previous labels, out: the first
 * smallest |c|^2 - 2 x.c of each row.  center_sums (n_clusters, n_features) and
 * weight_sums (n_clusters) are running sums; weight (n_rows) is read only when
 * `weighted` (else ones).  Returns whether a label changed, or -1 without clusters. */
SKGMM_INLINE int NAME(assign_and_sum_body)(const REAL *SKGMM_RESTRICT block, ptrdiff_t n_rows,
                                           ptrdiff_t n_features, const REAL *SKGMM_RESTRICT weight,
                                           int weighted, const REAL *SKGMM_RESTRICT products,
                                           ptrdiff_t n_clusters, const REAL *SKGMM_RESTRICT center_sq_norms,
                                           int32_t *SKGMM_RESTRICT labels, REAL *SKGMM_RESTRICT center_sums,
                                           REAL *SKGMM_RESTRICT weight_sums, int update)
{
    /* times -2 is exact, so one rounding, as in BLAS */
    const REAL minus_two = -2;
    int changed = 0;
    if (n_clusters < 1)
        return -1;
    for (ptrdiff_t i = 0; i < n_rows; i++) {
        const REAL *row_products = products + i * n_clusters;
        REAL min_sq_dist = center_sq_norms[0] + minus_two * row_products[0];
        int32_t label = 0;
        for (ptrdiff_t j = 1; j < n_clusters; j++) {
            /* selects, not a branch: with labels in no order, mispredicted branches took most of the loop */
            const REAL sq_dist = center_sq_norms[j] + minus_two * row_products[j];
            const int closer = sq_dist < min_sq_dist;
            min_sq_dist = closer ? sq_dist : min_sq_dist;
            label = closer ? (int32_t)j : label;
        }
        changed |= labels[i] != label;
        labels[i] = label;
        if (update) {
            const REAL *x = block + i * n_features;
            REAL *sums = center_sums + label * n_features;
            if (weighted) {
                const REAL w = weight[i];
                weight_sums[label] += w;
                for (ptrdiff_t k = 0; k < n_features; k++)
                    sums[k] += x[k] * w;
            } else {
                /* x * 1 is x: the same sums without the products */
                weight_sums[label] += 1;
                for (ptrdiff_t k = 0; k < n_features; k++)
                    sums[k] += x[k];
            }
        }
    }
    return changed;
}

/* Squared distances of a block's rows to a few centres, as scikit-learn's seeding forms them.
 *
 * max(0, -2 x.c + |c|^2 + |x|^2), added in that order in double (products
 * (n_centers, n_rows), center_sq_norms, row_sq_norms), then rounded to REAL; with
 * `take_min`, its minimum with closest (n_rows) as np.minimum takes it (NaN wins).
 * Row j goes to out + j * out_stride (out may be closest itself when not
 * `take_min`).  running (n_centers) carries on the sum of weight * out over the
 * rows (np.cumsum's additions, in REAL); weight is read only when `weighted`. */
SKGMM_INLINE void NAME(seed_distances_body)(const double *SKGMM_RESTRICT products, ptrdiff_t n_centers,
                                            ptrdiff_t n_rows, const double *SKGMM_RESTRICT center_sq_norms,
                                            const double *SKGMM_RESTRICT row_sq_norms, const REAL *closest,
                                            REAL *out, ptrdiff_t out_stride, int take_min,
                                            const REAL *SKGMM_RESTRICT weight, int weighted,
                                            REAL *SKGMM_RESTRICT running)
{
    const REAL zero = 0;
    for (ptrdiff_t j = 0; j < n_centers; j++) {
        const double *center_products = products + j * n_rows;
        const double center_sq_norm = center_sq_norms[j];
        REAL *distances = out + j * out_stride;
        REAL total = running[j];
        for (ptrdiff_t i = 0; i < n_rows; i++) {
            REAL distance = (REAL)(-2.0 * center_products[i] + center_sq_norm + row_sq_norms[i]);
            if (distance < zero)
                distance = zero;
            if (take_min) {
                const REAL current = closest[i];
                if (current <= distance || current != current)
                    distance = current;
            }
            distances[i] = distance;
            total += weighted ? weight[i] * distance : distance;
        }
        running[j] = total;
    }
}

/* Sums down the columns of X (n_samples, n_features; strides in elements), one row
 * after another, or of (X - offset) ** 2 with `square`, into out (n_features). */
SKGMM_INLINE void NAME(column_sums_body)(const REAL *X, ptrdiff_t n_samples, ptrdiff_t n_features,
                                         ptrdiff_t row_stride, ptrdiff_t column_stride,
                                         const REAL *SKGMM_RESTRICT offset, int square,
                                         REAL *SKGMM_RESTRICT out)
{
    for (ptrdiff_t k = 0; k < n_features; k++)
        out[k] = 0;
    for (ptrdiff_t i = 0; i < n_samples; i++) {
        const REAL *row = X + i * row_stride;
        if (square) {
            for (ptrdiff_t k = 0; k < n_features; k++) {
                const REAL deviation = row[k * column_stride] - offset[k];
                out[k] += deviation * deviation;
            }
        } else {
            for (ptrdiff_t k = 0; k < n_features; k++)
                out[k] += row[k * column_stride];
        }
    }
}

SKGMM_CLONED(int, NAME(assign_and_sum), NAME(assign_and_sum_body),
             (const REAL *block, ptrdiff_t n_rows, ptrdiff_t n_features, const REAL *weight, int weighted,
              const REAL *products, ptrdiff_t n_clusters, const REAL *center_sq_norms, int32_t *labels,
              REAL *center_sums, REAL *weight_sums, int update),
             (block, n_rows, n_features, weight, weighted, products, n_clusters, center_sq_norms, labels,
              center_sums, weight_sums, update))
SKGMM_CLONED(void, NAME(seed_distances), NAME(seed_distances_body),
             (const double *products, ptrdiff_t n_centers, ptrdiff_t n_rows, const double *center_sq_norms,
              const double *row_sq_norms, const REAL *closest, REAL *out, ptrdiff_t out_stride, int take_min,
              const REAL *weight, int weighted, REAL *running),
             (products, n_centers, n_rows, center_sq_norms, row_sq_norms, closest, out, out_stride, take_min,
              weight, weighted, running))
SKGMM_CLONED(void, NAME(column_sums), NAME(column_sums_body),
             (const REAL *X, ptrdiff_t n_samples, ptrdiff_t n_features, ptrdiff_t row_stride,
              ptrdiff_t column_stride, const REAL *offset, int square, REAL *out),
             (X, n_samples, n_features, row_stride, column_stride, offset, square, out))

/* Rows per block of feature_moments: a block of 16 float64 features is 64 KiB, in the second-level cache. */
#ifndef SKGMM_MOMENT_BLOCK
#define SKGMM_MOMENT_BLOCK 512
#endif

/* Per-feature weight total, mean, centred second moment, minimum and maximum of the rows of X
 * (n_samples, n_features; strides in elements), weighted by w (or NULL: ones), in float64.
 * Each block of rows is summed about its own mean, then merged as skgmm/engine/degenerate.py's
 * merge_moments does (Chan, Golub and LeVeque), so no large moments are subtracted.  A block of
 * total weight 0 adds its minimum and maximum only; a constant feature gets its value and 0 exactly.
 * work: 2 n_features doubles.  The minimum and
 * maximum skip NaN: callers check the means for NaN (which any NaN entry gives). */
SKGMM_INLINE void NAME(feature_moments_body)(const REAL *X, ptrdiff_t n_samples, ptrdiff_t n_features,
                                             ptrdiff_t row_stride, ptrdiff_t column_stride,
                                             const double *SKGMM_RESTRICT w, double *SKGMM_RESTRICT total,
                                             double *SKGMM_RESTRICT mean, double *SKGMM_RESTRICT m2,
                                             double *SKGMM_RESTRICT low, double *SKGMM_RESTRICT high,
                                             double *SKGMM_RESTRICT work)
{
    const ptrdiff_t d = n_features;
    double *SKGMM_RESTRICT block_mean = work, *SKGMM_RESTRICT block_m2 = work + d;
    double so_far = 0;
    for (ptrdiff_t k = 0; k < d; k++) {
        mean[k] = 0;
        m2[k] = 0;
        low[k] = INFINITY;
        high[k] = -INFINITY;
    }
    for (ptrdiff_t a = 0; a < n_samples; a += SKGMM_MOMENT_BLOCK) {
        const ptrdiff_t b = n_samples - a < SKGMM_MOMENT_BLOCK ? n_samples : a + SKGMM_MOMENT_BLOCK;
        double weight = 0;
        for (ptrdiff_t k = 0; k < d; k++)
            block_mean[k] = 0;
        for (ptrdiff_t i = a; i < b; i++) {
            const REAL *row = X + i * row_stride;
            const double wi = w == NULL ? 1.0 : w[i];
            weight += wi;
            for (ptrdiff_t k = 0; k < d; k++) {
                const double x = (double)row[k * column_stride];
                block_mean[k] += wi * x;
                low[k] = x < low[k] ? x : low[k];
                high[k] = x > high[k] ? x : high[k];
            }
        }
        if (!(weight > 0))
            continue;
        for (ptrdiff_t k = 0; k < d; k++) {
            block_mean[k] /= weight;
            block_m2[k] = 0;
        }
        for (ptrdiff_t i = a; i < b; i++) {
            const REAL *row = X + i * row_stride;
            const double wi = w == NULL ? 1.0 : w[i];
            for (ptrdiff_t k = 0; k < d; k++) {
                const double deviation = (double)row[k * column_stride] - block_mean[k];
                block_m2[k] += wi * deviation * deviation;
            }
        }
        const double merged = so_far + weight, share = weight / merged;
        for (ptrdiff_t k = 0; k < d; k++) {
            const double delta = block_mean[k] - mean[k];
            mean[k] += delta * share;
            m2[k] += block_m2[k] + delta * delta * so_far * share;
        }
        so_far = merged;
    }
    for (ptrdiff_t k = 0; k < d; k++) {
        total[k] = so_far;
        if (so_far > 0 && low[k] == high[k]) {
            /* a constant feature: exactly, as the data-scale check needs (a weighted mean may round) */
            mean[k] = low[k];
            m2[k] = 0;
        }
    }
}

SKGMM_CLONED(void, NAME(feature_moments), NAME(feature_moments_body),
             (const REAL *X, ptrdiff_t n_samples, ptrdiff_t n_features, ptrdiff_t row_stride,
              ptrdiff_t column_stride, const double *w, double *total, double *mean, double *m2, double *low,
              double *high, double *work),
             (X, n_samples, n_features, row_stride, column_stride, w, total, mean, m2, low, high, work))

/* Per-label weight total, mean and centred second moment of every feature (the statistics of a
 * hard-label start for a diagonal scatter), in float64.  Row i belongs to label labels[i]
 * (0 <= label < n_labels; any other value: to none).  As feature_moments: each block of rows is
 * summed per label about that label's mean in the block, then merged into the label's running
 * moments (Chan, Golub and LeVeque).  A label of total weight 0 gets mean 0 and m2 0.
 * total: n_labels; mean, m2: n_labels x n_features; work: n_labels (2 n_features + 1) doubles. */
SKGMM_INLINE void NAME(label_moments_body)(const REAL *X, ptrdiff_t n_samples, ptrdiff_t n_features,
                                           ptrdiff_t row_stride, ptrdiff_t column_stride,
                                           const int64_t *SKGMM_RESTRICT labels, ptrdiff_t n_labels,
                                           const double *SKGMM_RESTRICT w, double *SKGMM_RESTRICT total,
                                           double *SKGMM_RESTRICT mean, double *SKGMM_RESTRICT m2,
                                           double *SKGMM_RESTRICT work)
{
    const ptrdiff_t d = n_features;
    double *SKGMM_RESTRICT block_weight = work;
    double *SKGMM_RESTRICT block_mean = work + n_labels;
    double *SKGMM_RESTRICT block_m2 = block_mean + n_labels * d;
    for (ptrdiff_t l = 0; l < n_labels; l++) {
        total[l] = 0;
        for (ptrdiff_t k = 0; k < d; k++) {
            mean[l * d + k] = 0;
            m2[l * d + k] = 0;
        }
    }
    for (ptrdiff_t a = 0; a < n_samples; a += SKGMM_MOMENT_BLOCK) {
        const ptrdiff_t b = n_samples - a < SKGMM_MOMENT_BLOCK ? n_samples : a + SKGMM_MOMENT_BLOCK;
        for (ptrdiff_t l = 0; l < n_labels; l++) {
            block_weight[l] = 0;
            for (ptrdiff_t k = 0; k < d; k++) {
                block_mean[l * d + k] = 0;
                block_m2[l * d + k] = 0;
            }
        }
        for (ptrdiff_t i = a; i < b; i++) {
            const int64_t l = labels[i];
            if (l < 0 || l >= n_labels)
                continue;
            const REAL *row = X + i * row_stride;
            const double wi = w == NULL ? 1.0 : w[i];
            double *SKGMM_RESTRICT sums = block_mean + l * d;
            block_weight[l] += wi;
            for (ptrdiff_t k = 0; k < d; k++)
                sums[k] += wi * (double)row[k * column_stride];
        }
        for (ptrdiff_t l = 0; l < n_labels; l++) {
            if (block_weight[l] > 0)
                for (ptrdiff_t k = 0; k < d; k++)
                    block_mean[l * d + k] /= block_weight[l];
        }
        for (ptrdiff_t i = a; i < b; i++) {
            const int64_t l = labels[i];
            if (l < 0 || l >= n_labels || !(block_weight[l] > 0))
                continue;
            const REAL *row = X + i * row_stride;
            const double wi = w == NULL ? 1.0 : w[i];
            const double *SKGMM_RESTRICT centre = block_mean + l * d;
            double *SKGMM_RESTRICT squares = block_m2 + l * d;
            for (ptrdiff_t k = 0; k < d; k++) {
                const double deviation = (double)row[k * column_stride] - centre[k];
                squares[k] += wi * deviation * deviation;
            }
        }
        for (ptrdiff_t l = 0; l < n_labels; l++) {
            const double weight = block_weight[l];
            if (!(weight > 0))
                continue;
            const double so_far = total[l], merged = so_far + weight, share = weight / merged;
            for (ptrdiff_t k = 0; k < d; k++) {
                const double delta = block_mean[l * d + k] - mean[l * d + k];
                mean[l * d + k] += delta * share;
                m2[l * d + k] += block_m2[l * d + k] + delta * delta * so_far * share;
            }
            total[l] = merged;
        }
    }
}

SKGMM_CLONED(void, NAME(label_moments), NAME(label_moments_body),
             (const REAL *X, ptrdiff_t n_samples, ptrdiff_t n_features, ptrdiff_t row_stride,
              ptrdiff_t column_stride, const int64_t *labels, ptrdiff_t n_labels, const double *w,
              double *total, double *mean, double *m2, double *work),
             (X, n_samples, n_features, row_stride, column_stride, labels, n_labels, w, total, mean, m2, work))
