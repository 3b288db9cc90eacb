/* The whole mclust M-step in one call: mclust_mstep.mclust_m_step for every model, included by mstep.c.
 *
 * Per EM iteration the numpy M-step is a dozen calls on (K, d) and (K, d, d)
 * arrays (a batched eigh, the covariances' rebuild, the non-singularity
 * reductions), microseconds apiece against the sub-microsecond arithmetic of
 * mclust's usual sizes.  Here one call adds the regularisation (to a copy:
 * the caller's scatter is left as it was, so that numpy can start afresh on
 * a case left to it), runs the model's closed form or inner loop (the loops
 * above), and writes the decomposition, the covariances and the verdict of
 * _check_nonsingular's first test.  The conventions are the numpy code's:
 * decreasing eigenvalues with their eigenvectors (cyclic Jacobi here, syevd
 * there: the eigenvectors' signs may differ, which no covariance, shape or
 * later M-step depends on), the diagonal models' shapes in feature order,
 * EVE's and VVE's in the order of the common axes.
 *
 * Non-finite inputs (those the model reads) are left to numpy
 * (MSTEP_FALLBACK), as are the loops' own such cases. */

/* The models, in the order of parsimonious.MULTIVARIATE_MODELS ('E' is EII's code, 'V' VII's). */
enum {
    MODEL_EII, MODEL_VII, MODEL_EEI, MODEL_VEI, MODEL_EVI, MODEL_VVI, MODEL_EEE,
    MODEL_VEE, MODEL_EVE, MODEL_VVE, MODEL_EEV, MODEL_VEV, MODEL_EVV, MODEL_VVV,
    MODEL_COUNT
};

/* The diagonal models (their orientation is the identity, which the caller supplies). */
#define IS_DIAGONAL(model) ((model) <= MODEL_VVI)

/* Split the positive variances (d) of one axis system into volume (returned) and shape (in place). */
static double volume_and_shape(ptrdiff_t d, double *values)
{
    const double volume = geometric_mean(values, d);
    for (ptrdiff_t j = 0; j < d; j++)
        values[j] /= volume;
    return volume;
}

/* Eigenvalues (decreasing, rows of 'values', K x d) and eigenvectors (columns of each
 * d x d matrix of 'vectors') of the K matrices of 'matrices'; 'work' holds d * d. */
static int eigen_stack(ptrdiff_t K, ptrdiff_t d, const double *matrices, double *values, double *vectors,
                       double *work)
{
    for (ptrdiff_t k = 0; k < K; k++)
        if (symmetric_eigen(d, matrices + k * d * d, values + k * d, vectors + k * d * d, work) != 0)
            return MSTEP_FALLBACK;
    return 0;
}

/* VEI's and VEV's fixed point from the shape 'start' (d) on the variances along the axes (K x d):
 * the volumes into 'scale' (K) and the common shape into every row of 'shape' (K x d); 'result'
 * holds K + d.  Returns the loop's iteration count (or its negative status). */
static int64_t common_shape_into(ptrdiff_t K, ptrdiff_t d, const double *nk, const double *axis_scatter,
                                 const double *start, double tol, int64_t max_iter, double *result, double *scale,
                                 double *shape)
{
    const int64_t n_iter = skgmm_mstep_common_shape(K, d, nk, axis_scatter, start, tol, max_iter, result);
    if (n_iter < 0)
        return n_iter;
    memcpy(scale, result, sizeof(double) * (size_t)K);
    for (ptrdiff_t k = 0; k < K; k++)
        memcpy(shape + k * d, result + K, sizeof(double) * (size_t)d);
    return n_iter;
}

/* Column sums (d) of a K x d array, in 'sums'. */
static void column_sums(ptrdiff_t K, ptrdiff_t d, const double *values, double *sums)
{
    for (ptrdiff_t j = 0; j < d; j++)
        sums[j] = values[j];
    for (ptrdiff_t k = 1; k < K; k++)
        for (ptrdiff_t j = 0; j < d; j++)
            sums[j] += values[k * d + j];
}

static double total(const double *values, ptrdiff_t count)
{
    double sum = 0.0;
    for (ptrdiff_t i = 0; i < count; i++)
        sum += values[i];
    return sum;
}

/* The model's scale (K), shape (K x d) and orientation (K x d x d, not for the
 * diagonal models); 'w' is the regularised scatter (K x d x d, or its
 * diagonals K x d for the diagonal models), which may be overwritten.
 * Returns the inner iteration count, or a negative code. */
static int64_t model_estimate(int model, int weigh_volumes, ptrdiff_t K, ptrdiff_t d, const double *nk, double *w,
                              const double *prev_scale, const double *prev_shape, const double *prev_orientation,
                              double tol, int64_t max_iter, double *scale, double *shape, double *orientation,
                              double *work)
{
    const ptrdiff_t dd = d * d;
    const double nk_total = total(nk, K);
    int64_t n_iter = 0;
    switch (model) {
    case MODEL_EII:
    case MODEL_VII: {
        double traces_total = 0.0;
        for (ptrdiff_t k = 0; k < K; k++) {
            const double trace = total(w + k * d, d);
            traces_total += trace;
            scale[k] = trace / nk[k] / (double)d;
        }
        for (ptrdiff_t k = 0; k < K; k++) {
            if (model == MODEL_EII)
                scale[k] = traces_total / nk_total / (double)d;
            for (ptrdiff_t j = 0; j < d; j++)
                shape[k * d + j] = 1.0;
        }
        break;
    }
    case MODEL_EEI:
    case MODEL_VEI: {
        if (model == MODEL_VEI) {
            double *start = work;
            for (ptrdiff_t j = 0; j < d; j++)
                start[j] = prev_shape == NULL ? 1.0 : prev_shape[j];
            n_iter = common_shape_into(K, d, nk, w, start, tol, max_iter, work + d, scale, shape);
            break;
        }
        column_sums(K, d, w, shape);
        const double volume = volume_and_shape(d, shape) / nk_total;
        for (ptrdiff_t k = 0; k < K; k++)
            scale[k] = volume;
        for (ptrdiff_t k = 1; k < K; k++)
            memcpy(shape + k * d, shape, sizeof(double) * (size_t)d);
        break;
    }
    case MODEL_EVI:
    case MODEL_VVI: {
        double volumes = 0.0;
        for (ptrdiff_t k = 0; k < K; k++) {
            double *row = shape + k * d;
            for (ptrdiff_t j = 0; j < d; j++)
                row[j] = model == MODEL_VVI ? w[k * d + j] / nk[k] : w[k * d + j];
            scale[k] = volume_and_shape(d, row);
            volumes += scale[k];
        }
        if (model == MODEL_EVI)
            for (ptrdiff_t k = 0; k < K; k++)
                scale[k] = volumes / nk_total;
        break;
    }
    case MODEL_EEE: {
        double *pooled = work, *eigen_work = work + dd;
        for (ptrdiff_t i = 0; i < dd; i++) {
            double sum = w[i];
            for (ptrdiff_t k = 1; k < K; k++)
                sum += w[k * dd + i];
            pooled[i] = sum / nk_total;
        }
        if (symmetric_eigen(d, pooled, shape, orientation, eigen_work) != 0)
            return MSTEP_FALLBACK;
        const double volume = volume_and_shape(d, shape);
        for (ptrdiff_t k = 0; k < K; k++) {
            scale[k] = volume;
            if (k > 0) {
                memcpy(shape + k * d, shape, sizeof(double) * (size_t)d);
                memcpy(orientation + k * dd, orientation, sizeof(double) * (size_t)dd);
            }
        }
        break;
    }
    case MODEL_VEE: {
        double *result = work; /* [scale (K), shape (d), orientation (d x d)] */
        n_iter = skgmm_mstep_vee(K, d, nk, w, tol, max_iter, result);
        if (n_iter < 0)
            return n_iter;
        memcpy(scale, result, sizeof(double) * (size_t)K);
        for (ptrdiff_t k = 0; k < K; k++) {
            memcpy(shape + k * d, result + K, sizeof(double) * (size_t)d);
            memcpy(orientation + k * dd, result + K + d, sizeof(double) * (size_t)dd);
        }
        break;
    }
    case MODEL_EVE:
    case MODEL_VVE: {
        /* the start: the identity, or the previous orientation and inverse (volume-weighted) shapes */
        double *inverse_shapes = NULL;
        if (prev_orientation == NULL) {
            set_identity(d, orientation);
        } else {
            memcpy(orientation, prev_orientation, sizeof(double) * (size_t)dd);
            inverse_shapes = work;
            for (ptrdiff_t k = 0; k < K; k++)
                for (ptrdiff_t j = 0; j < d; j++)
                    inverse_shapes[k * d + j] =
                        1.0 / (weigh_volumes ? prev_scale[k] * prev_shape[k * d + j] : prev_shape[k * d + j]);
        }
        n_iter = skgmm_mstep_common_orientation(K, d, nk, w, orientation, inverse_shapes, tol, max_iter,
                                                weigh_volumes, shape);
        if (n_iter < 0)
            return n_iter;
        double volumes = 0.0;
        for (ptrdiff_t k = 0; k < K; k++) {
            double *row = shape + k * d;
            if (model == MODEL_VVE)
                for (ptrdiff_t j = 0; j < d; j++)
                    row[j] /= nk[k];
            scale[k] = volume_and_shape(d, row);
            volumes += scale[k];
            if (k > 0)
                memcpy(orientation + k * dd, orientation, sizeof(double) * (size_t)dd);
        }
        if (model == MODEL_EVE)
            for (ptrdiff_t k = 0; k < K; k++)
                scale[k] = volumes / nk_total;
        break;
    }
    case MODEL_EEV:
    case MODEL_VEV:
    case MODEL_EVV:
    case MODEL_VVV: {
        if (model == MODEL_VVV)
            for (ptrdiff_t k = 0; k < K; k++)
                for (ptrdiff_t i = 0; i < dd; i++)
                    w[k * dd + i] /= nk[k];
        if (eigen_stack(K, d, w, shape, orientation, work) != 0)
            return MSTEP_FALLBACK;
        if (model == MODEL_EEV || model == MODEL_VEV) {
            /* the common shape: EEV's, and VEV's first start */
            double *common = work, *result = work + d;
            if (model == MODEL_VEV && prev_shape != NULL) {
                memcpy(common, prev_shape, sizeof(double) * (size_t)d);
            } else {
                column_sums(K, d, shape, common);
                const double volume = volume_and_shape(d, common) / nk_total;
                for (ptrdiff_t k = 0; k < K; k++)
                    scale[k] = volume;
            }
            if (model == MODEL_VEV) {
                /* the loop reads the eigenvalues (K x d) in 'shape', then overwrites it */
                n_iter = common_shape_into(K, d, nk, shape, common, tol, max_iter, result, scale, shape);
            } else {
                for (ptrdiff_t k = 0; k < K; k++)
                    memcpy(shape + k * d, common, sizeof(double) * (size_t)d);
            }
        } else {
            double volumes = 0.0;
            for (ptrdiff_t k = 0; k < K; k++) {
                scale[k] = volume_and_shape(d, shape + k * d);
                volumes += scale[k];
            }
            if (model == MODEL_EVV)
                for (ptrdiff_t k = 0; k < K; k++)
                    scale[k] = volumes / nk_total;
        }
        break;
    }
    default:
        return MSTEP_FALLBACK;
    }
    return n_iter;
}

/* Flags of skgmm_mstep_mclust's options, beside the model's code (the low byte;
 * one integer: each argument of a ctypes call costs about 0.1 us). */
#define MSTEP_WEIGH_VOLUMES 0x100 /* VVE's likelihood orientation */
#define MSTEP_DIAGONAL_INPUT 0x200 /* the scatter is given as its diagonals (K x d) */

/* The M-step of mclust model 'options & 0xff' (the enum above) from the
 * weights nk (K) and the scatter (K x d x d, or its diagonals K x d with
 * MSTEP_DIAGONAL_INPUT, for the diagonal models), with
 * reg_covar * nk_k added to the diagonals of (a copy of) the scatter.
 * prev_scale (K), prev_shape (K x d) and prev_orientation (K x d x d) are the
 * previous M-step's decomposition, or NULL: VEI and VEV read the first row of
 * prev_shape, EVE and VVE all three (prev_scale only with weigh_volumes) and
 * the first matrix of prev_orientation.
 *
 * out = [covariances (K x d x d), scale (K), shape (K x d), singular (1),
 * factored (1), orientation (K x d x d; absent for the diagonal models),
 * precision factors (K x d x d: the upper-triangular C^-T of each covariance,
 * as factors.h computes them; written when 'factored' is 1.0)].  'singular'
 * is 0.0 when _check_nonsingular's first test passes: every covariance entry
 * finite, every scale in (0, inf), every shape's smallest entry above 10 d eps
 * times its largest; 1.0 otherwise (the caller then names the failing
 * components).  Returns the inner iteration count (0 for the closed forms),
 * MSTEP_NO_MEMORY, or MSTEP_FALLBACK for a case left to numpy (out is then
 * unspecified). */
SKGMM_EXPORT int64_t skgmm_mstep_mclust(int64_t options, ptrdiff_t n_components, ptrdiff_t n_features,
                                        const double *SKGMM_RESTRICT nk,
                                        const double *SKGMM_RESTRICT scatter, double reg_covar,
                                        const double *prev_scale, const double *prev_shape,
                                        const double *prev_orientation, double tol, int64_t max_iter,
                                        double *SKGMM_RESTRICT out)
{
    const ptrdiff_t K = n_components, d = n_features, dd = d * d;
    const int model = (int)(options & 0xff), weigh_volumes = (options & MSTEP_WEIGH_VOLUMES) != 0;
    const int diagonal_input = (options & MSTEP_DIAGONAL_INPUT) != 0;
    if (model < 0 || model >= MODEL_COUNT || (diagonal_input && !IS_DIAGONAL(model)) || K < 1 || d < 1)
        return MSTEP_FALLBACK;
    const int diagonal = IS_DIAGONAL(model);
    /* the previous decomposition is read by the warm-started models alone, and all of it or none */
    const int common_orientation = model == MODEL_EVE || model == MODEL_VVE;
    if (common_orientation) {
        if (!weigh_volumes)
            prev_scale = NULL;
        if (prev_orientation == NULL || prev_shape == NULL || (weigh_volumes && prev_scale == NULL))
            prev_orientation = prev_shape = prev_scale = NULL;
    } else {
        prev_scale = prev_orientation = NULL;
        if (model != MODEL_VEI && model != MODEL_VEV)
            prev_shape = NULL;
    }
    if (!isfinite(reg_covar) || !all_finite(nk, K) ||
        (prev_shape != NULL && !all_finite(prev_shape, common_orientation ? K * d : d)) ||
        (prev_scale != NULL && !all_finite(prev_scale, K)) ||
        (prev_orientation != NULL && !all_finite(prev_orientation, dd)))
        return MSTEP_FALLBACK;
    /* the regularised scatter, or its diagonals for the diagonal models; then scratch */
    const ptrdiff_t w_size = diagonal ? K * d : K * dd;
    const ptrdiff_t work_size = 2 * dd + 2 * d + K * d + K;
    double *buffer = malloc(sizeof(double) * (size_t)(w_size + work_size));
    if (buffer == NULL)
        return MSTEP_NO_MEMORY;
    double *w = buffer, *work = buffer + w_size;
    for (ptrdiff_t k = 0; k < K; k++) {
        const double added = reg_covar * nk[k];
        for (ptrdiff_t j = 0; j < d; j++) {
            if (diagonal) {
                const double value = diagonal_input ? scatter[k * d + j] : scatter[k * dd + j * d + j];
                w[k * d + j] = reg_covar != 0.0 ? value + added : value;
            } else {
                memcpy(w + k * dd + j * d, scatter + k * dd + j * d, sizeof(double) * (size_t)d);
                if (reg_covar != 0.0)
                    w[k * dd + j * d + j] += added;
            }
        }
    }
    if (!all_finite(w, w_size)) {
        free(buffer);
        return MSTEP_FALLBACK;
    }
    double *covariances = out, *scale = out + K * dd, *shape = scale + K, *singular = shape + K * d;
    double *factored = singular + 1;
    double *orientation = diagonal ? NULL : factored + 1;
    double *factors = factored + 1 + (diagonal ? 0 : K * dd);
    *factored = 0.0;
    const int64_t n_iter = model_estimate(model, weigh_volumes, K, d, nk, w, prev_scale, prev_shape,
                                          prev_orientation, tol, max_iter, scale, shape, orientation, work);
    free(buffer);
    if (n_iter < 0)
        return n_iter;
    /* Sigma_k = D_k diag(scale_k shape_k) D_k^T, exactly symmetric */
    double *variances = work;
    for (ptrdiff_t k = 0; k < K; k++) {
        double *sigma = covariances + k * dd;
        for (ptrdiff_t j = 0; j < d; j++)
            variances[j] = scale[k] * shape[k * d + j];
        if (diagonal) {
            memset(sigma, 0, sizeof(double) * (size_t)dd);
            for (ptrdiff_t j = 0; j < d; j++)
                sigma[j * d + j] = variances[j];
            continue;
        }
        const double *axes = orientation + k * dd;
        for (ptrdiff_t i = 0; i < d; i++)
            for (ptrdiff_t j = i; j < d; j++) {
                double sum = 0.0;
                for (ptrdiff_t l = 0; l < d; l++)
                    sum += axes[i * d + l] * variances[l] * axes[j * d + l];
                sigma[i * d + j] = sigma[j * d + i] = sum;
            }
    }
    /* _check_nonsingular's first test (NaNs fail every comparison) */
    const double ratio = 10.0 * (double)d * DBL_EPSILON;
    int fails = !all_finite(covariances, K * dd);
    for (ptrdiff_t k = 0; k < K && !fails; k++) {
        const double *row = shape + k * d;
        double low = row[0], high = row[0];
        for (ptrdiff_t j = 1; j < d; j++) {
            low = row[j] < low || isnan(row[j]) ? row[j] : low;
            high = row[j] > high || isnan(row[j]) ? row[j] : high;
        }
        fails = !(scale[k] > 0.0 && scale[k] < INFINITY && low > ratio * high);
    }
    *singular = fails ? 1.0 : 0.0;
    /* the precision factors the EM loop needs next, while the covariances are at hand */
    if (!fails) {
        const ptrdiff_t failed = skgmm_precision_factors_body(covariances, K, d, factors);
        if (failed == -2)
            return MSTEP_NO_MEMORY;
        *factored = failed == -1 ? 1.0 : 0.0;
    }
    return n_iter;
}
