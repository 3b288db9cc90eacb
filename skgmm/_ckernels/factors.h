/* Precision factors of small covariance stacks: included by full.c (which exports them) and mstep.c
 * (with SKGMM_FACTORS_BODIES_ONLY: the bodies alone, for the mclust M-step's own factors).
 *
 * For each (d, d) covariance S_k: the lower Cholesky factor C (S = C C^T),
 * then the upper-triangular precision factor U = C^-T (precision = U U^T),
 * as numpy's cholesky and a triangular inverse give it, without their
 * per-call overhead (tens of microseconds for a stack on small data, more
 * than the E-step).  Only the lower triangle of S is read.
 *
 * Returns -1, or the first component whose covariance is not positive
 * definite to working precision (a pivot <= 0 or not finite, or a factor
 * that is not finite); the factors after it are then not written.
 */
static inline ptrdiff_t skgmm_precision_factors_body(const double *SKGMM_RESTRICT covariances, ptrdiff_t n_components,
                                              ptrdiff_t d, double *SKGMM_RESTRICT factors)
{
    double *chol = (double *)malloc(sizeof(double) * (size_t)(2 * d * d));
    if (chol == NULL)
        return -2;
    double *inverse = chol + d * d;
    for (ptrdiff_t k = 0; k < n_components; k++) {
        const double *S = covariances + k * d * d;
        for (ptrdiff_t j = 0; j < d; j++) {
            double pivot = S[j * d + j];
            for (ptrdiff_t m = 0; m < j; m++)
                pivot -= chol[j * d + m] * chol[j * d + m];
            if (!(pivot > 0) || !isfinite(pivot)) {
                free(chol);
                return k;
            }
            const double diagonal = sqrt(pivot);
            chol[j * d + j] = diagonal;
            for (ptrdiff_t i = j + 1; i < d; i++) {
                double value = S[i * d + j];
                for (ptrdiff_t m = 0; m < j; m++)
                    value -= chol[i * d + m] * chol[j * d + m];
                chol[i * d + j] = value / diagonal;
            }
        }
        /* inverse of the lower factor, column by column (forward substitution) */
        for (ptrdiff_t j = 0; j < d; j++) {
            inverse[j * d + j] = 1.0 / chol[j * d + j];
            for (ptrdiff_t i = j + 1; i < d; i++) {
                double value = 0;
                for (ptrdiff_t m = j; m < i; m++)
                    value -= chol[i * d + m] * inverse[m * d + j];
                inverse[i * d + j] = value / chol[i * d + i];
            }
        }
        /* U = (C^-1)^T: upper triangular, zeros below the diagonal */
        double *U = factors + k * d * d;
        double total = 0;
        for (ptrdiff_t i = 0; i < d; i++)
            for (ptrdiff_t j = 0; j < d; j++) {
                U[i * d + j] = j >= i ? inverse[j * d + i] : 0.0;
                total += U[i * d + j];
            }
        if (!isfinite(total)) { /* a factor too large for floating point (a nearly singular covariance) */
            free(chol);
            return k;
        }
    }
    free(chol);
    return -1;
}

#ifndef SKGMM_FACTORS_BODIES_ONLY
SKGMM_EXPORT ptrdiff_t skgmm_precision_factors(const double *covariances, ptrdiff_t n_components, ptrdiff_t d,
                                               double *factors)
{
    return skgmm_precision_factors_body(covariances, n_components, d, factors);
}
#endif


/* Scatter matrices about the new means, from sums centred on the old ones, optionally made covariances.
 *
 * With a = resp_x_sum[k] (the sums of r (x - shift_k)) and n = resp_sum[k], moving
 * the centre onto the new mean shift_k + a / nk changes the scatter by
 * -a a^T (2 nk - n) / nk^2 (skgmm.covariance.base.shift_correction).  `scatter` holds
 * K matrices, or one (tied: the sum over components, corrected by every
 * component's term).  The result is symmetrised, then divided by `divisor[m]`
 * (one per output matrix; NULL: not divided) and `reg` added to its diagonal.
 */
static inline void skgmm_centred_scatter_body(const double *SKGMM_RESTRICT resp_sum, const double *SKGMM_RESTRICT resp_x_sum,
                                       const double *SKGMM_RESTRICT scatter, const double *SKGMM_RESTRICT nk,
                                       ptrdiff_t n_components, ptrdiff_t d, int tied,
                                       const double *SKGMM_RESTRICT divisor, double reg, double *SKGMM_RESTRICT out)
{
    const ptrdiff_t n_out = tied ? 1 : n_components;
    for (ptrdiff_t e = 0; e < n_out * d * d; e++)
        out[e] = scatter[e];
    for (ptrdiff_t k = 0; k < n_components; k++) {
        const double factor = (2 * nk[k] - resp_sum[k]) / (nk[k] * nk[k]);
        const double *a = resp_x_sum + k * d;
        double *S = out + (tied ? 0 : k * d * d);
        for (ptrdiff_t i = 0; i < d; i++)
            for (ptrdiff_t j = 0; j < d; j++)
                S[i * d + j] -= a[i] * a[j] * factor;
    }
    for (ptrdiff_t m = 0; m < n_out; m++) {
        double *S = out + m * d * d;
        for (ptrdiff_t i = 0; i < d; i++)
            for (ptrdiff_t j = 0; j < i; j++) {
                const double mean = 0.5 * (S[i * d + j] + S[j * d + i]);
                S[i * d + j] = S[j * d + i] = mean;
            }
        if (divisor != NULL)
            for (ptrdiff_t e = 0; e < d * d; e++)
                S[e] /= divisor[m];
        for (ptrdiff_t i = 0; i < d; i++)
            S[i * d + i] += reg;
    }
}

#ifndef SKGMM_FACTORS_BODIES_ONLY
SKGMM_EXPORT void skgmm_centred_scatter(const double *resp_sum, const double *resp_x_sum, const double *scatter,
                                        const double *nk, ptrdiff_t n_components, ptrdiff_t d, int tied,
                                        const double *divisor, double reg, double *out)
{
    skgmm_centred_scatter_body(resp_sum, resp_x_sum, scatter, nk, n_components, d, tied, divisor, reg, out);
}
#endif

