/* The fused row kernel for one input type: included by full.c with REAL and NAME defined.
 *
 * One call does a block's whole E-step and its sufficient statistics: the
 * log-densities of every component, the log-sum-exp over components, the
 * responsibilities and the sums of r, r (x - mu_k) and r (x - mu_k)(x - mu_k)^T,
 * centred on each component's mean.  Everything is computed in float64,
 * whatever the rows' type, a chunk of rows at a time: this file converts the
 * chunk's rows, less the origin, into feature-major scratch (so every inner
 * loop runs along the rows and vectorises) and fused_core.h does the
 * arithmetic.  This replaces, on data with few features, the whitening
 * products, the separate log-sum-exp and the mapping back of whitened sums,
 * whose dozens of numpy calls cost more than the arithmetic.
 *
 * `parameters` holds, in float64, the origin subtracted from every row (d),
 * the means centred on it (K, d), the precisions and the log-weights (K); the
 * kernel adds log det L_k - d/2 log(2 pi) to the log-weights itself (the
 * log-determinants are sums of logs of the factors' diagonals).  Precisions are upper-triangular
 * Cholesky factors L_k (K, d, d), y = (x - mu_k) L_k, or (diagonal_precision)
 * their diagonals (K, d).
 * The scatter is stored in full (K, d, d) or (diagonal_scatter) its diagonals (K, d).
 *
 * mode 0: E-step and sums; mode 1: sums of given weighted responsibilities
 * `resp` (n_rows, K); mode 2: only the weighted log-densities, into `resp`;
 * mode 3: each row's first largest weighted log-density into `rows_out` and
 * its component into `labels` (numpy's argmax: a NaN term is the largest);
 * mode 4: each row's log-likelihood into `rows_out` (and out[0] their weighted sum).
 * `out` is [log-likelihood, resp_sum (K), x_sum (K d), scatter (K d d or K d)]
 * (modes 0 and 1; mode 4 only its first element).
 * The log-sum-exp is the engine's (skgmm/engine/logsumexp.py): the terms are
 * raised to `exp_floor` below the row's peak before exp, a row whose every
 * term is -inf has log-likelihood -inf (and responsibilities 1/K), NaN propagates.
 * Returns 0, or 3 when scratch memory cannot be allocated (only with hundreds of components).
 */

/* xc[i, b] = rows[b, i] - origin[i] for D <= 8 features (D a constant: the loop vectorises). */
SKGMM_INLINE void NAME(fused_centre)(const int D, const REAL *SKGMM_RESTRICT rows, ptrdiff_t n, ptrdiff_t B,
                                     const double *SKGMM_RESTRICT origin, double *SKGMM_RESTRICT xc)
{
#define FUSED_FEATURE(i) if (D > i) xc[i * B + b] = (double)rows[b * D + i] - origin[i];
    SKGMM_PRAGMA(omp simd)
    for (ptrdiff_t b = 0; b < n; b++) {
        FUSED_FEATURE(0) FUSED_FEATURE(1) FUSED_FEATURE(2) FUSED_FEATURE(3)
        FUSED_FEATURE(4) FUSED_FEATURE(5) FUSED_FEATURE(6) FUSED_FEATURE(7)
    }
#undef FUSED_FEATURE
}

/* rows[b, k] = lp[k, b] (n, K) of the rows' type, through 4 x 4 blocks transposed in vector registers:
 * one element at a time, the stores (or loads) of mode 2 (mode 1) took most of the call. */
SKGMM_INLINE void NAME(fused_to_rows)(const double *SKGMM_RESTRICT lp, ptrdiff_t B, ptrdiff_t n, ptrdiff_t K,
                                      REAL *SKGMM_RESTRICT rows)
{
    const ptrdiff_t n4 = n & ~(ptrdiff_t)3, K4 = K & ~(ptrdiff_t)3;
    for (ptrdiff_t b = 0; b < n4; b += 4) {
        for (ptrdiff_t k = 0; k < K4; k += 4) {
            skgmm_v4d block[4];
            skgmm_transpose4(lp + k * B + b, B, block);
            for (int j = 0; j < 4; j++)
                NAME(fused_store4)(rows + (b + j) * K + k, block[j]);
        }
        for (ptrdiff_t k = K4; k < K; k++)
            for (ptrdiff_t j = 0; j < 4; j++)
                rows[(b + j) * K + k] = (REAL)lp[k * B + b + j];
    }
    for (ptrdiff_t b = n4; b < n; b++)
        for (ptrdiff_t k = 0; k < K; k++)
            rows[b * K + k] = (REAL)lp[k * B + b];
}

/* lp[k, b] = rows[b, k] in float64, the inverse of fused_to_rows. */
SKGMM_INLINE void NAME(fused_from_rows)(const REAL *SKGMM_RESTRICT rows, ptrdiff_t n, ptrdiff_t K, ptrdiff_t B,
                                        double *SKGMM_RESTRICT lp)
{
    const ptrdiff_t n4 = n & ~(ptrdiff_t)3, K4 = K & ~(ptrdiff_t)3;
    for (ptrdiff_t b = 0; b < n4; b += 4) {
        for (ptrdiff_t k = 0; k < K4; k += 4) {
            double block[16];
            for (int j = 0; j < 4; j++)
                for (int i = 0; i < 4; i++)
                    block[j * 4 + i] = (double)rows[(b + j) * K + k + i];
            skgmm_v4d columns[4];
            skgmm_transpose4(block, 4, columns);
            for (int i = 0; i < 4; i++)
                memcpy(lp + (k + i) * B + b, &columns[i], sizeof columns[i]);
        }
        for (ptrdiff_t k = K4; k < K; k++)
            for (ptrdiff_t j = 0; j < 4; j++)
                lp[k * B + b + j] = (double)rows[(b + j) * K + k];
    }
    for (ptrdiff_t b = n4; b < n; b++)
        for (ptrdiff_t k = 0; k < K; k++)
            lp[k * B + b] = (double)rows[b * K + k];
}

SKGMM_INLINE int NAME(fused_rows_body)(const REAL *SKGMM_RESTRICT X, ptrdiff_t n_rows, ptrdiff_t n_features,
                                       const REAL *SKGMM_RESTRICT weights, const double *SKGMM_RESTRICT parameters,
                                       ptrdiff_t n_components, int diagonal_precision, int diagonal_scatter,
                                       int mode, double exp_floor, REAL *SKGMM_RESTRICT resp,
                                       REAL *SKGMM_RESTRICT rows_out, int64_t *SKGMM_RESTRICT labels,
                                       double *SKGMM_RESTRICT out)
{
    const ptrdiff_t d = n_features, K = n_components;
    const double *SKGMM_RESTRICT origin = parameters;
    /* xc (d, B), lp (K, B), weights (B), work (4 B), and for the tiles of wide data (2 d + 1) B */
    const int wide = d > FUSED_UNROLLED && !(diagonal_precision && diagonal_scatter);
    const ptrdiff_t per_row = d + K + 5 + (wide ? 2 * d + 1 : 0);
    double stack[FUSED_SCRATCH_BYTES / sizeof(double)] __attribute__((aligned(64)));
    const ptrdiff_t stack_size = (ptrdiff_t)(sizeof stack / sizeof *stack);
    /* as many rows as the scratch holds, a multiple of 8; at least 64 so that the per-chunk
     * reductions stay a small part (then the scratch is allocated) */
    /* (and the K constants after them) */
    /* wide data: chunks of rows in the second-level cache instead (the tiles' reductions are per chunk) */
    const ptrdiff_t budget = wide ? FUSED_WIDE_SCRATCH_BYTES / (ptrdiff_t)sizeof(double) : stack_size;
    ptrdiff_t B = ((budget > K ? budget - K : 0) / per_row) & ~(ptrdiff_t)7;
    B = B < 64 ? 64 : B > 512 ? 512 : B;
    if (n_rows < B)
        B = n_rows > 0 ? n_rows : 1;
    double *scratch = stack;
    void *allocated = NULL;
    if (per_row * B + K > stack_size) {
        /* on a cache line: the tiles' vectors then never straddle two (measured: some addresses ran 1.6x slower) */
        allocated = malloc(sizeof(double) * (size_t)(per_row * B + K) + 64);
        if (allocated == NULL)
            return 3;
        scratch = (double *)(((uintptr_t)allocated + 63) & ~(uintptr_t)63);
    }
    double *SKGMM_RESTRICT xc = scratch;
    double *SKGMM_RESTRICT lp = xc + d * B;
    double *SKGMM_RESTRICT row_weights = lp + K * B;
    double *SKGMM_RESTRICT work = row_weights + B;
    double *SKGMM_RESTRICT constant = scratch + per_row * B;
    /* constant_k = log w_k + log det L_k - d/2 log(2 pi): the log-determinants from the factors' diagonals */
    const double *precision = origin + d + K * d;
    const double *log_weights = precision + (diagonal_precision ? K * d : K * d * d);
    for (ptrdiff_t k = 0; k < K; k++) {
        double log_det = 0;
        for (ptrdiff_t i = 0; i < d; i++)
            log_det += log(diagonal_precision ? precision[k * d + i] : precision[(k * d + i) * d + i]);
        constant[k] = log_weights[k] + log_det - 0.5 * (double)d * SKGMM_LOG_2PI;
    }
    const struct fused_problem problem = {
        .d = d, .K = K, .B = B,
        .means = origin + d,
        .precision = precision,
        .constant = constant,
        .diagonal_precision = diagonal_precision, .diagonal_scatter = diagonal_scatter, .mode = mode,
        .exp_floor = exp_floor,
    };
    const skgmm_fused_chunk_fn chunk = skgmm_fused_chunk();
    const ptrdiff_t scatter_size = diagonal_scatter ? d : d * d;
    for (ptrdiff_t e = 0; e < 1 + K + K * d + K * scatter_size; e++)
        out[e] = 0;

    for (ptrdiff_t c = 0; c < n_rows; c += B) {
        const ptrdiff_t n = n_rows - c < B ? n_rows - c : B;
        const REAL *SKGMM_RESTRICT rows = X + c * d;
        switch (d) {
#define FUSED_CASE(D_)                                                                                              \
    case D_: NAME(fused_centre)(D_, rows, n, B, origin, xc); break;
            FUSED_CASES(FUSED_CASE)
#undef FUSED_CASE
        default:
            for (ptrdiff_t i = 0; i < d; i++)
                for (ptrdiff_t b = 0; b < n; b++)
                    xc[i * B + b] = (double)rows[b * d + i] - origin[i];
        }
        for (ptrdiff_t b = 0; b < n; b++)
            row_weights[b] = weights == NULL ? 1.0 : (double)weights[c + b];
        if (mode == 1)
            NAME(fused_from_rows)(resp + c * K, n, K, B, lp);
        chunk(&problem, n, xc, row_weights, lp, work, out);
        if (mode == 2)
            NAME(fused_to_rows)(lp, B, n, K, resp + c * K);
        if (mode == 3) {
            /* the first component whose term is the peak (NaN: the first NaN), as a double in work[B, 2 B) */
            const double *SKGMM_RESTRICT peak = work;
            double *SKGMM_RESTRICT first = work + B;
            for (ptrdiff_t k = K - 1; k >= 0; k--) {
                const double *SKGMM_RESTRICT lpk = lp + k * B;
                SKGMM_PRAGMA(omp simd)
                for (ptrdiff_t b = 0; b < n; b++) {
                    const double v = lpk[b], top = peak[b];
                    first[b] = v == top || (v != v && top != top) ? (double)k : (k == K - 1 ? 0.0 : first[b]);
                }
            }
            for (ptrdiff_t b = 0; b < n; b++) {
                labels[c + b] = (int64_t)first[b];
                rows_out[c + b] = (REAL)peak[b];
            }
        }
        if (mode == 4)
            for (ptrdiff_t b = 0; b < n; b++)
                rows_out[c + b] = (REAL)work[2 * B + b];
    }
    /* the chunks summed the upper triangle */
    double *SKGMM_RESTRICT scatter = out + 1 + K + K * d;
    if (!diagonal_scatter)
        for (ptrdiff_t k = 0; k < K; k++)
            for (ptrdiff_t i = 1; i < d; i++)
                for (ptrdiff_t j = 0; j < i; j++)
                    scatter[k * d * d + i * d + j] = scatter[k * d * d + j * d + i];
    free(allocated);
    return 0;
}

SKGMM_CLONED(int, NAME(fused_rows), NAME(fused_rows_body),
             (const REAL *X, ptrdiff_t n_rows, ptrdiff_t n_features, const REAL *weights, const double *parameters,
              ptrdiff_t n_components, int diagonal_precision, int diagonal_scatter, int mode, double exp_floor,
              REAL *resp, REAL *rows_out, int64_t *labels, double *out),
             (X, n_rows, n_features, weights, parameters, n_components, diagonal_precision, diagonal_scatter, mode,
              exp_floor, resp, rows_out, labels, out))
