/* skgmm's mclust M-steps: the inner loops of VEI, VEV, VEE, EVE and VVE, in float64, and
 * (mstep_model.h, included at the end) the whole M-step of every model in one call.
 *
 * The same loops as skgmm/covariance/parsimonious.py (its numpy code is the
 * reference and the fallback): the same start, updates, stopping rule and
 * iteration count, step for step; the sums run in another order, so the
 * results agree to rounding.  Each loop is a few operations on (K, d) and
 * (K, d, d) arrays per inner iteration, which numpy spends microseconds on
 * apiece; here one call runs the whole loop.
 *
 * The two matrix factorisations numpy takes from LAPACK are written out for
 * small d: cyclic Jacobi for symmetric eigen-decompositions (syevd there) and
 * one-sided Jacobi for the polar factor U V^T of an SVD (gesdd there).  Both
 * are accurate to a few ulps of the largest eigen- or singular value; the
 * quantities the loops use do not depend on the eigenvectors' signs, and a
 * polar factor of a nonsingular matrix is unique.
 *
 * Each exported function returns its inner iteration count (>= 0), or
 * MSTEP_NO_MEMORY, or MSTEP_FALLBACK where a case is left to the numpy code:
 * non-finite inputs, a polar factor input singular otherwise than by one
 * zero column (its factor is then gesdd's choice; see polar_factor) or a
 * factorisation that did not converge.  The caller then runs the
 * numpy loop from the start, so that those cases fail (or not) as it does.
 * A loop that meets a component without volume stops as the numpy one does
 * and returns its non-finite values, which the caller's checks report.
 *
 * Arrays are C-ordered; setup.py builds this file without fast-math or fused
 * multiply-adds (IEEE NaN and infinity propagation is part of the contract).
 */
#include <float.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "export.h"

#if defined(__FAST_MATH__)
#error "mstep.c must be built without fast-math: its loops must stop where the numpy code's do"
#endif

#define MSTEP_NO_MEMORY (-1)
#define MSTEP_FALLBACK (-2)
/* Jacobi converges quadratically: a handful of sweeps for the d of mclust's models. */
#define MAX_SWEEPS 60

#include "mstep_linalg.h"
#define SKGMM_FACTORS_BODIES_ONLY
#include "factors.h"

/* ------------------------------------------------- VEI, VEV: common shape */

/* Volumes and one common shape for variances along known axes, (K, d):
 * parsimonious._common_shape_fixed_point.  'shape' is the start (d); the
 * result goes to out = [scale (K), shape (d)]. */
SKGMM_EXPORT int64_t skgmm_mstep_common_shape(ptrdiff_t n_components, ptrdiff_t n_features,
                                              const double *SKGMM_RESTRICT nk,
                                              const double *SKGMM_RESTRICT axis_scatter,
                                              const double *SKGMM_RESTRICT shape, double tol, int64_t max_iter,
                                              double *SKGMM_RESTRICT out)
{
    const ptrdiff_t K = n_components, d = n_features, size = K + d;
    if (!all_finite(nk, K) || !all_finite(axis_scatter, K * d) || !all_finite(shape, d))
        return MSTEP_FALLBACK;
    /* [volumes, shape] of an iteration and of the one before, swapped each iteration; 1 / shape */
    double *buffer = malloc(sizeof(double) * (size_t)(2 * size + d));
    if (buffer == NULL)
        return MSTEP_NO_MEMORY;
    double *state = out, *previous = buffer, *inverse_shape = buffer + size;
    const double *current_shape = shape;
    double change = INFINITY;
    int64_t n_iter = 0;
    while (change >= tol && n_iter < max_iter) {
        n_iter++;
        double *swap = previous;
        previous = state;
        state = swap;
        double *scale = state, *shape_new = state + K;
        for (ptrdiff_t j = 0; j < d; j++)
            inverse_shape[j] = 1.0 / current_shape[j];
        for (ptrdiff_t k = 0; k < K; k++) {
            double sum = 0.0;
            for (ptrdiff_t j = 0; j < d; j++)
                sum += axis_scatter[k * d + j] * inverse_shape[j];
            scale[k] = sum / ((double)d * nk[k]);
        }
        for (ptrdiff_t j = 0; j < d; j++)
            shape_new[j] = 0.0;
        for (ptrdiff_t k = 0; k < K; k++) {
            const double inverse_scale = 1.0 / scale[k];
            for (ptrdiff_t j = 0; j < d; j++)
                shape_new[j] += inverse_scale * axis_scatter[k * d + j];
        }
        const double mean = geometric_mean(shape_new, d);
        for (ptrdiff_t j = 0; j < d; j++)
            shape_new[j] /= mean;
        current_shape = shape_new;
        if (n_iter == 1) {
            if (!all_finite(state, size))
                break; /* a component without volume: the caller's check reports it */
        } else {
            /* the largest |new - old| / (1 + |new|), NaN (which stops) if one is */
            change = 0.0;
            for (ptrdiff_t i = 0; i < size; i++) {
                const double term = fabs(state[i] - previous[i]) / (1.0 + fabs(state[i]));
                if (isnan(term)) {
                    change = NAN;
                    break;
                }
                change = term > change ? term : change;
            }
        }
    }
    if (state != out)
        memcpy(out, state, sizeof(double) * (size_t)size);
    free(buffer);
    return n_iter;
}

/* ------------------------------------------ VEE: volumes and common C */

/* Volumes and one common shape-and-orientation matrix: parsimonious._m_step_vee.
 * scatter is (K, d, d); out = [scale (K), shape (d, decreasing), orientation
 * (d, d), its columns the axes of the shape's entries]. */
SKGMM_EXPORT int64_t skgmm_mstep_vee(ptrdiff_t n_components, ptrdiff_t n_features, const double *SKGMM_RESTRICT nk,
                                     const double *SKGMM_RESTRICT scatter, double tol, int64_t max_iter,
                                     double *SKGMM_RESTRICT out)
{
    const ptrdiff_t K = n_components, d = n_features, dd = d * d;
    if (!all_finite(nk, K) || !all_finite(scatter, K * dd))
        return MSTEP_FALLBACK;
    double *buffer = malloc(sizeof(double) * (size_t)(3 * dd + K));
    if (buffer == NULL)
        return MSTEP_NO_MEMORY;
    double *pooled = buffer, *inverse = buffer + dd, *work = buffer + 2 * dd, *inverse_scale = buffer + 3 * dd;
    double *scale = out, *shape = out + K, *orientation = out + K + d;
    double total = 0.0;
    for (ptrdiff_t k = 0; k < K; k++) {
        total += nk[k];
        scale[k] = 1.0; /* mclust restarts VEE each M-step */
    }
    double objective_old = INFINITY, change = INFINITY;
    int64_t n_iter = 0;
    while (change >= tol && n_iter < max_iter) {
        n_iter++;
        for (ptrdiff_t k = 0; k < K; k++)
            inverse_scale[k] = 1.0 / scale[k];
        for (ptrdiff_t i = 0; i < dd; i++) {
            double sum = 0.0;
            for (ptrdiff_t k = 0; k < K; k++)
                sum += inverse_scale[k] * scatter[k * dd + i];
            pooled[i] = sum;
        }
        if (symmetric_eigen(d, pooled, shape, orientation, work) != 0) {
            free(buffer);
            return MSTEP_FALLBACK;
        }
        const double mean = geometric_mean(shape, d);
        for (ptrdiff_t j = 0; j < d; j++)
            shape[j] /= mean;
        /* inverse = D diag(1 / shape) D^T, by the columns of D over the shape */
        double *scaled_axes = work;
        for (ptrdiff_t i = 0; i < d; i++)
            for (ptrdiff_t l = 0; l < d; l++)
                scaled_axes[i * d + l] = orientation[i * d + l] / shape[l];
        multiply(d, scaled_axes, orientation, 1, inverse);
        double objective = 0.0;
        for (ptrdiff_t k = 0; k < K; k++) {
            double trace = 0.0; /* tr(W_k inverse) */
            for (ptrdiff_t i = 0; i < d; i++)
                for (ptrdiff_t j = 0; j < d; j++)
                    trace += scatter[k * dd + i * d + j] * inverse[j * d + i];
            scale[k] = trace / ((double)d * nk[k]);
            objective += nk[k] * log(scale[k]);
        }
        objective = (double)d * (objective + total);
        change = objective_change(objective, objective_old);
        objective_old = objective;
        if (!isfinite(objective))
            break;
    }
    free(buffer);
    return n_iter;
}

/* ---------------------------------------- EVE, VVE: common orientation */

/* rotated_k = W_k D for each component (a row of W_k times D at a time: contiguous rows) */
static void rotate(ptrdiff_t K, ptrdiff_t d, const double *scatter, const double *orientation, double *rotated)
{
    for (ptrdiff_t row = 0; row < K * d; row++) {
        const double *w = scatter + row * d;
        double *out = rotated + row * d;
        for (ptrdiff_t j = 0; j < d; j++)
            out[j] = w[0] * orientation[j];
        for (ptrdiff_t l = 1; l < d; l++)
            for (ptrdiff_t j = 0; j < d; j++)
                out[j] += w[l] * orientation[l * d + j];
    }
}

/* parsimonious._orientation_step: two MM updates of the common orientation D
 * (in place), and rotated = W_k D for the new D.  'right' holds the right
 * singular vectors of each update's last polar factor (2 d * d doubles, the
 * start of the next), 'gradient' d * d doubles, 'work' d * d + 2 d. */
static int orientation_step(ptrdiff_t K, ptrdiff_t d, const double *scatter, double *orientation, double *rotated,
                            const double *inverse_shapes, const double *largest, double *right, double *gradient,
                            double *work)
{
    /* -G = -sum_k (W_k - w_k I) D B_k: column j is D_:j sum_k w_k B_k,jj less sum_k [W_k D]_:j B_k,jj */
    for (ptrdiff_t j = 0; j < d; j++) {
        double weight = 0.0;
        for (ptrdiff_t k = 0; k < K; k++)
            weight += largest[k] * inverse_shapes[k * d + j];
        for (ptrdiff_t i = 0; i < d; i++) {
            double sum = 0.0;
            for (ptrdiff_t k = 0; k < K; k++)
                sum += rotated[(k * d + i) * d + j] * inverse_shapes[k * d + j];
            gradient[i * d + j] = orientation[i * d + j] * weight - sum;
        }
    }
    if (polar_factor(d, gradient, right, orientation, work) != 0)
        return MSTEP_FALLBACK;
    /* -G = sum_k W_k D (b_k I - B_k), b_k the largest entry of B_k */
    rotate(K, d, scatter, orientation, rotated);
    memset(gradient, 0, sizeof(double) * (size_t)(d * d));
    for (ptrdiff_t k = 0; k < K; k++) {
        double bound = inverse_shapes[k * d];
        for (ptrdiff_t j = 1; j < d; j++)
            bound = inverse_shapes[k * d + j] > bound ? inverse_shapes[k * d + j] : bound;
        for (ptrdiff_t i = 0; i < d; i++)
            for (ptrdiff_t j = 0; j < d; j++)
                gradient[i * d + j] += rotated[(k * d + i) * d + j] * (bound - inverse_shapes[k * d + j]);
    }
    if (polar_factor(d, gradient, right + d * d, orientation, work) != 0)
        return MSTEP_FALLBACK;
    rotate(K, d, scatter, orientation, rotated);
    return 0;
}

/* Common orientation D and the variances along it: parsimonious._common_orientation.
 * 'orientation' (d, d) holds the start and receives the result; 'inverse_shapes'
 * (K, d) are the start's B_k, or NULL to start from the identity (passed in
 * 'orientation') with a first iteration that only evaluates f.  out receives
 * the (K, d) variances diag(D^T W_k D). */
SKGMM_EXPORT int64_t skgmm_mstep_common_orientation(ptrdiff_t n_components, ptrdiff_t n_features,
                                                    const double *SKGMM_RESTRICT nk,
                                                    const double *SKGMM_RESTRICT scatter,
                                                    double *SKGMM_RESTRICT orientation,
                                                    const double *SKGMM_RESTRICT inverse_shapes_start, double tol,
                                                    int64_t max_iter, int weigh_volumes,
                                                    double *SKGMM_RESTRICT axis_scatter)
{
    const ptrdiff_t K = n_components, d = n_features, dd = d * d;
    if (!all_finite(nk, K) || !all_finite(scatter, K * dd) || !all_finite(orientation, dd) ||
        (inverse_shapes_start != NULL && !all_finite(inverse_shapes_start, K * d)))
        return MSTEP_FALLBACK;
    double *buffer = malloc(sizeof(double) * (size_t)(K * dd + K * d + K + 5 * dd + 3 * d));
    if (buffer == NULL)
        return MSTEP_NO_MEMORY;
    double *rotated = buffer, *inverse_shapes = rotated + K * dd, *largest = inverse_shapes + K * d;
    double *gradient = largest + K, *eigen_work = gradient + dd, *values = eigen_work + dd, *work = values + d;
    double *right = work + dd + 2 * d;
    set_identity(d, right);
    set_identity(d, right + dd);
    int status = 0;
    /* w_k, the largest eigenvalue of each W_k, bounds it in the first MM update */
    for (ptrdiff_t k = 0; k < K && status == 0; k++) {
        status = symmetric_eigen(d, scatter + k * dd, values, NULL, eigen_work);
        largest[k] = values[0];
    }
    int64_t first = 1, n_iter = 0;
    if (inverse_shapes_start == NULL) {
        memcpy(rotated, scatter, sizeof(double) * (size_t)(K * dd));
    } else {
        memcpy(inverse_shapes, inverse_shapes_start, sizeof(double) * (size_t)(K * d));
        first = 0;
        rotate(K, d, scatter, orientation, rotated);
    }
    double objective_old = INFINITY, change = INFINITY;
    while (status == 0 && change >= tol && n_iter < max_iter) {
        n_iter++;
        if (n_iter > first) {
            status = orientation_step(K, d, scatter, orientation, rotated, inverse_shapes, largest, right, gradient,
                                      work);
            if (status != 0)
                break;
        }
        for (ptrdiff_t k = 0; k < K; k++)
            for (ptrdiff_t i = 0; i < d; i++) {
                double sum = 0.0;
                for (ptrdiff_t j = 0; j < d; j++)
                    sum += rotated[(k * d + j) * d + i] * orientation[j * d + i];
                axis_scatter[k * d + i] = sum;
            }
        double objective = 0.0;
        for (ptrdiff_t k = 0; k < K; k++) {
            const double *variances = axis_scatter + k * d;
            double *inverse = inverse_shapes + k * d;
            if (weigh_volumes) {
                double logs = 0.0;
                for (ptrdiff_t i = 0; i < d; i++) {
                    inverse[i] = nk[k] / variances[i];
                    logs += log(variances[i] / nk[k]);
                }
                objective += nk[k] * logs;
            } else {
                /* (a component without volume makes f NaN, which stops the loop) */
                const double mean = geometric_mean(variances, d);
                for (ptrdiff_t i = 0; i < d; i++) {
                    inverse[i] = mean / variances[i];
                    objective += variances[i] * inverse[i];
                }
            }
        }
        change = objective_change(objective, objective_old);
        objective_old = objective;
        if (!isfinite(objective))
            break;
    }
    free(buffer);
    return status != 0 ? status : n_iter;
}

/* ------------------------------------------------ the whole M-step, any model */

#include "mstep_model.h"
