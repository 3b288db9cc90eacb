/* The fused row kernel for one input type: included by full.c with REAL and NAME defined.
 *
 * One call does a block's whole E-step and its sufficient statistics: the
 * log-densities of every component, the log-sum-exp over components, the
 * responsibilities and the sums of r, r (x - mu_k) and r (x - mu_k)(x - mu_k)^T,
 * centred on each component's mean.  Everything is computed in float64,
 * whatever the rows' type, CHUNK rows at a time: the chunk's centred rows are
 * transposed into feature-major scratch, so every inner loop runs along the
 * rows and vectorises.  This replaces, on data with few features, the
 * whitening products, the separate log-sum-exp and the mapping back of
 * whitened sums, whose dozens of numpy calls cost more than the arithmetic.
 *
 * `parameters` holds, in float64, the origin subtracted from every row (d),
 * the means centred on it (K, d), the precisions and the constants
 * log det L_k + log w_k - d/2 log(2 pi) (K).  Precisions are upper-triangular
 * Cholesky factors L_k (K, d, d), y = (x - mu_k) L_k, or (diagonal_precision)
 * their diagonals (K, d).
 * The scatter is stored in full (K, d, d) or (diagonal_scatter) its diagonals (K, d).
 *
 * mode 0: E-step and sums; mode 1: sums of given weighted responsibilities
 * `resp` (n_rows, K); mode 2: only the weighted log-densities, into `resp`.
 * `out` is [log-likelihood, resp_sum (K), x_sum (K d), scatter (K d d or K d)].
 * The log-sum-exp is the engine's (skgmm/engine/logsumexp.py): the terms are
 * raised to `exp_floor` below the row's peak before exp, a row whose every
 * term is -inf has log-likelihood -inf (and responsibilities 1/K), NaN propagates.
 * Returns 0, or 3 when scratch memory cannot be allocated.
 */

SKGMM_INLINE int NAME(fused_rows_body)(const REAL *SKGMM_RESTRICT X, ptrdiff_t n_rows, ptrdiff_t n_features,
                                       const REAL *SKGMM_RESTRICT weights, const double *SKGMM_RESTRICT parameters,
                                       ptrdiff_t n_components, int diagonal_precision, int diagonal_scatter,
                                       int mode, double exp_floor, REAL *SKGMM_RESTRICT resp,
                                       double *SKGMM_RESTRICT out)
{
    const ptrdiff_t d = n_features, K = n_components, B = n_rows < FUSED_CHUNK ? (n_rows > 0 ? n_rows : 1) : FUSED_CHUNK;
    const double *SKGMM_RESTRICT origin = parameters;
    const double *SKGMM_RESTRICT means = origin + d;
    const double *SKGMM_RESTRICT precision = means + K * d;
    const double *SKGMM_RESTRICT constant = precision + (diagonal_precision ? K * d : K * d * d);
    const ptrdiff_t scatter_size = diagonal_scatter ? d : d * d;
    /* xc, diff: (d, B); lp (then r): (K, B); q, rd, peak, scale, impossible: (B) */
    double *scratch = (double *)malloc(sizeof(double) * (size_t)((2 * d + K + 5) * B));
    if (scratch == NULL)
        return 3;
    double *SKGMM_RESTRICT xc = scratch;
    double *SKGMM_RESTRICT diff = xc + d * B;
    double *SKGMM_RESTRICT lp = diff + d * B;
    double *SKGMM_RESTRICT q = lp + K * B;
    double *SKGMM_RESTRICT rd = q + B;
    double *SKGMM_RESTRICT peak = rd + B;
    double *SKGMM_RESTRICT scale = peak + B;
    double *SKGMM_RESTRICT impossible = scale + B;
    double *SKGMM_RESTRICT resp_sum = out + 1;
    double *SKGMM_RESTRICT x_sum = resp_sum + K;
    double *SKGMM_RESTRICT scatter = x_sum + K * d;
    double log_likelihood = 0;
    for (ptrdiff_t e = 0; e < 1 + K + K * d + K * scatter_size; e++)
        out[e] = 0;

    for (ptrdiff_t c = 0; c < n_rows; c += B) {
        const ptrdiff_t n = n_rows - c < B ? n_rows - c : B;
        const REAL *SKGMM_RESTRICT rows = X + c * d;
        for (ptrdiff_t i = 0; i < d; i++)
            for (ptrdiff_t b = 0; b < n; b++)
                xc[i * B + b] = (double)rows[b * d + i] - origin[i];

        if (mode != 1) {
            /* the weighted log-densities lp[k, b] */
            for (ptrdiff_t k = 0; k < K; k++) {
                const double *SKGMM_RESTRICT mu = means + k * d;
                for (ptrdiff_t b = 0; b < n; b++)
                    q[b] = 0;
                if (diagonal_precision) {
                    const double *SKGMM_RESTRICT p = precision + k * d;
                    for (ptrdiff_t i = 0; i < d; i++) {
                        SKGMM_PRAGMA(omp simd)
                        for (ptrdiff_t b = 0; b < n; b++) {
                            const double y = (xc[i * B + b] - mu[i]) * p[i];
                            q[b] += y * y;
                        }
                    }
                } else {
                    const double *SKGMM_RESTRICT L = precision + k * d * d;
                    for (ptrdiff_t i = 0; i < d; i++)
                        for (ptrdiff_t b = 0; b < n; b++)
                            diff[i * B + b] = xc[i * B + b] - mu[i];
                    /* y_j = sum_{i <= j} diff_i L[i, j] (L upper triangular) */
                    for (ptrdiff_t j = 0; j < d; j++) {
                        double *SKGMM_RESTRICT y = rd;
                        const double l0 = L[j];
                        SKGMM_PRAGMA(omp simd)
                        for (ptrdiff_t b = 0; b < n; b++)
                            y[b] = diff[b] * l0;
                        for (ptrdiff_t i = 1; i <= j; i++) {
                            const double lij = L[i * d + j];
                            const double *SKGMM_RESTRICT di = diff + i * B;
                            SKGMM_PRAGMA(omp simd)
                            for (ptrdiff_t b = 0; b < n; b++)
                                y[b] += di[b] * lij;
                        }
                        SKGMM_PRAGMA(omp simd)
                        for (ptrdiff_t b = 0; b < n; b++)
                            q[b] += y[b] * y[b];
                    }
                }
                const double ck = constant[k];
                double *SKGMM_RESTRICT lpk = lp + k * B;
                SKGMM_PRAGMA(omp simd)
                for (ptrdiff_t b = 0; b < n; b++)
                    lpk[b] = ck - 0.5 * q[b];
            }
            if (mode == 2) {
                for (ptrdiff_t b = 0; b < n; b++)
                    for (ptrdiff_t k = 0; k < K; k++)
                        resp[(c + b) * K + k] = (REAL)lp[k * B + b];
                continue;
            }
            /* log-sum-exp over components; lp becomes r = w exp(lp - log p(x)) */
            for (ptrdiff_t b = 0; b < n; b++)
                peak[b] = -INFINITY;
            for (ptrdiff_t k = 0; k < K; k++)
                for (ptrdiff_t b = 0; b < n; b++) {
                    const double v = lp[k * B + b];
                    if (v > peak[b] || v != v) /* a NaN term makes the peak NaN, as numpy's maximum */
                        peak[b] = v;
                }
            for (ptrdiff_t b = 0; b < n; b++) {
                impossible[b] = peak[b] == -INFINITY;
                if (!isfinite(peak[b]))
                    peak[b] = 0; /* -inf: every term is raised to the floor; +inf: as numpy */
                scale[b] = 0;
            }
            for (ptrdiff_t k = 0; k < K; k++) {
                double *SKGMM_RESTRICT lpk = lp + k * B;
                for (ptrdiff_t b = 0; b < n; b++) {
                    double t = lpk[b] - peak[b];
                    t = t < exp_floor ? exp_floor : t; /* NaN stays NaN */
                    lpk[b] = exp(t);
                    scale[b] += lpk[b];
                }
            }
            for (ptrdiff_t b = 0; b < n; b++) {
                const double norm = scale[b];
                const double w = weights == NULL ? 1.0 : (double)weights[c + b];
                const double row = impossible[b] ? -INFINITY : peak[b] + log(norm);
                log_likelihood += w * row;
                scale[b] = w / norm;
            }
            for (ptrdiff_t k = 0; k < K; k++) {
                double *SKGMM_RESTRICT lpk = lp + k * B;
                SKGMM_PRAGMA(omp simd)
                for (ptrdiff_t b = 0; b < n; b++)
                    lpk[b] *= scale[b];
            }
        } else {
            for (ptrdiff_t b = 0; b < n; b++)
                for (ptrdiff_t k = 0; k < K; k++)
                    lp[k * B + b] = (double)resp[(c + b) * K + k];
        }

        /* the sums of every component, centred on its mean */
        for (ptrdiff_t k = 0; k < K; k++) {
            const double *SKGMM_RESTRICT mu = means + k * d;
            const double *SKGMM_RESTRICT r = lp + k * B;
            double total = 0;
            SKGMM_PRAGMA(omp simd reduction(+ : total))
            for (ptrdiff_t b = 0; b < n; b++)
                total += r[b];
            resp_sum[k] += total;
            for (ptrdiff_t i = 0; i < d; i++) {
                double *SKGMM_RESTRICT di = diff + i * B;
                double sum = 0;
                SKGMM_PRAGMA(omp simd reduction(+ : sum))
                for (ptrdiff_t b = 0; b < n; b++) {
                    di[b] = xc[i * B + b] - mu[i];
                    sum += r[b] * di[b];
                }
                x_sum[k * d + i] += sum;
            }
            double *SKGMM_RESTRICT S = scatter + k * scatter_size;
            for (ptrdiff_t i = 0; i < d; i++) {
                const double *SKGMM_RESTRICT di = diff + i * B;
                SKGMM_PRAGMA(omp simd)
                for (ptrdiff_t b = 0; b < n; b++)
                    rd[b] = r[b] * di[b];
                if (diagonal_scatter) {
                    double sum = 0;
                    SKGMM_PRAGMA(omp simd reduction(+ : sum))
                    for (ptrdiff_t b = 0; b < n; b++)
                        sum += rd[b] * di[b];
                    S[i] += sum;
                    continue;
                }
                for (ptrdiff_t j = i; j < d; j++) {
                    const double *SKGMM_RESTRICT dj = diff + j * B;
                    double sum = 0;
                    SKGMM_PRAGMA(omp simd reduction(+ : sum))
                    for (ptrdiff_t b = 0; b < n; b++)
                        sum += rd[b] * dj[b];
                    S[i * d + j] += sum;
                }
            }
        }
    }
    if (!diagonal_scatter)
        for (ptrdiff_t k = 0; k < K; k++)
            for (ptrdiff_t i = 1; i < d; i++)
                for (ptrdiff_t j = 0; j < i; j++)
                    scatter[k * d * d + i * d + j] = scatter[k * d * d + j * d + i];
    free(scratch);
    out[0] = log_likelihood;
    return 0;
}

SKGMM_CLONED(int, NAME(fused_rows), NAME(fused_rows_body),
             (const REAL *X, ptrdiff_t n_rows, ptrdiff_t n_features, const REAL *weights, const double *parameters,
              ptrdiff_t n_components, int diagonal_precision, int diagonal_scatter, int mode, double exp_floor,
              REAL *resp, double *out),
             (X, n_rows, n_features, weights, parameters, n_components, diagonal_precision, diagonal_scatter, mode,
              exp_floor, resp, out))
