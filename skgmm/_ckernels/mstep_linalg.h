/* Small dense linear algebra of the mclust M-steps, in float64: included once by mstep.c.
 *
 * The helpers of the inner loops, cyclic Jacobi for symmetric eigen-decompositions
 * (LAPACK's syevd in the numpy code) and one-sided Jacobi for the polar factor
 * U V^T of an SVD (gesdd there), written out for the small d of mclust's models.
 */
#ifndef SKGMM_MSTEP_LINALG_H
#define SKGMM_MSTEP_LINALG_H

/* ---------------------------------------------------------------- helpers */

static int all_finite(const double *values, ptrdiff_t count)
{
    for (ptrdiff_t i = 0; i < count; i++)
        if (!isfinite(values[i]))
            return 0;
    return 1;
}

static void set_identity(ptrdiff_t d, double *matrix)
{
    memset(matrix, 0, sizeof(double) * (size_t)(d * d));
    for (ptrdiff_t i = 0; i < d; i++)
        matrix[i * d + i] = 1.0;
}

/* out = a b (transposed_b: a b^T) of d x d matrices, each entry summed over l in order. */
static void multiply(ptrdiff_t d, const double *a, const double *b, int transposed_b, double *out)
{
    for (ptrdiff_t i = 0; i < d; i++)
        for (ptrdiff_t j = 0; j < d; j++) {
            double sum = 0.0;
            for (ptrdiff_t l = 0; l < d; l++)
                sum += a[i * d + l] * (transposed_b ? b[j * d + l] : b[l * d + j]);
            out[i * d + j] = sum;
        }
}

/* exp(mean(log(values))): numpy's _geometric_mean, by logarithms against over- and underflow */
static double geometric_mean(const double *values, ptrdiff_t count)
{
    double sum = 0.0;
    for (ptrdiff_t i = 0; i < count; i++)
        sum += log(values[i]);
    return exp(sum / (double)count);
}

/* |objective - old| / (1 + |objective|), the change the loops on an objective stop on */
static double objective_change(double objective, double old)
{
    return fabs(objective - old) / (1.0 + fabs(objective));
}

/* The exponent e of a power of two that brings the largest |values| into
 * [0.5, 1): the factorisations scale their matrices by 2^-e, which rounds
 * nothing (short of subnormal numbers), so that their squares neither
 * overflow nor underflow. */
static int scale_exponent(const double *values, ptrdiff_t count)
{
    double largest = 0.0;
    for (ptrdiff_t i = 0; i < count; i++)
        largest = fabs(values[i]) > largest ? fabs(values[i]) : largest;
    int exponent = 0;
    frexp(largest, &exponent);
    return exponent;
}

/* The rotation (c, s, t = s / c) of Jacobi's method that zeroes the term
 * 'off' of the symmetric 2 x 2 matrix [[app, off], [off, aqq]], the smaller
 * of the two angles (Rutishauser's formulas, with one division fewer).  The
 * terms are scaled (scale_exponent), and 'off' is not negligible. */
SKGMM_INLINE void jacobi_rotation(double app, double aqq, double off, double *c, double *s, double *t)
{
    const double diff = aqq - app;
    const double root = sqrt(diff * diff + 4.0 * off * off);
    double tangent = 2.0 * off / (fabs(diff) + root);
    if (diff < 0.0)
        tangent = -tangent;
    *c = 1.0 / sqrt(tangent * tangent + 1.0);
    *s = tangent * *c;
    *t = tangent;
}

/* ------------------------------------------- symmetric eigen-decomposition */

/* Eigenvalues (decreasing) and eigenvectors (columns of 'vectors', unless
 * it is NULL) of the symmetric d x d matrix whose lower triangle is 'matrix'
 * (as syevd reads it).  'work' holds d * d doubles.  Returns 0, or
 * MSTEP_FALLBACK for a non-finite matrix or when a sweep limit is reached
 * (it is not, on finite input).
 *
 * Cyclic Jacobi: each rotation zeroes one off-diagonal term; a term is
 * left once it is below eps times the diagonal terms' geometric mean (which
 * keeps small eigenvalues of positive definite matrices accurate) or below
 * eps^2 times the matrix's norm (its effect on the eigenvalues is below their
 * rounding then). */
static int symmetric_eigen(ptrdiff_t d, const double *matrix, double *values, double *vectors, double *work)
{
    double *a = work, norm = 0.0;
    /* (numpy's eigh raises on a non-finite matrix: the caller's fallback does the same) */
    for (ptrdiff_t i = 0; i < d; i++)
        for (ptrdiff_t j = 0; j <= i; j++)
            if (!isfinite(matrix[i * d + j]))
                return MSTEP_FALLBACK;
    const int exponent = scale_exponent(matrix, d * d);
    const double down = ldexp(1.0, -exponent), up = ldexp(1.0, exponent);
    for (ptrdiff_t i = 0; i < d; i++)
        for (ptrdiff_t j = 0; j <= i; j++) {
            a[i * d + j] = a[j * d + i] = matrix[i * d + j] * down;
            norm += (i == j ? 1.0 : 2.0) * a[i * d + j] * a[i * d + j];
        }
    const double floor = DBL_EPSILON * DBL_EPSILON * sqrt(norm), eps2 = DBL_EPSILON * DBL_EPSILON;
    if (vectors != NULL)
        set_identity(d, vectors);
    int converged = d < 2;
    for (int sweep = 0; sweep < MAX_SWEEPS && !converged; sweep++) {
        converged = 1;
        for (ptrdiff_t p = 0; p < d - 1; p++)
            for (ptrdiff_t q = p + 1; q < d; q++) {
                const double off = a[p * d + q], app = a[p * d + p], aqq = a[q * d + q];
                if (off * off <= eps2 * fabs(app * aqq) || fabs(off) <= floor)
                    continue;
                converged = 0;
                double c, s, t;
                jacobi_rotation(app, aqq, off, &c, &s, &t);
                for (ptrdiff_t k = 0; k < d; k++) {
                    if (k == p || k == q)
                        continue;
                    const double akp = a[k * d + p], akq = a[k * d + q];
                    a[k * d + p] = a[p * d + k] = c * akp - s * akq;
                    a[k * d + q] = a[q * d + k] = s * akp + c * akq;
                }
                a[p * d + p] = app - t * off;
                a[q * d + q] = aqq + t * off;
                a[p * d + q] = a[q * d + p] = 0.0;
                for (ptrdiff_t k = 0; vectors != NULL && k < d; k++) {
                    const double vkp = vectors[k * d + p], vkq = vectors[k * d + q];
                    vectors[k * d + p] = c * vkp - s * vkq;
                    vectors[k * d + q] = s * vkp + c * vkq;
                }
            }
    }
    if (!converged)
        return MSTEP_FALLBACK;
    for (ptrdiff_t i = 0; i < d; i++)
        values[i] = a[i * d + i] * up;
    /* Decreasing order, the columns with their values: numpy's order, the
     * reverse of syevd's increasing one, which keeps equal eigenvalues in the
     * order of their axes when no rotation mixed them (a diagonal matrix, as
     * the scatter of an empty or one-point component is): equal values in the
     * reverse order of their axes, as numpy then has them.  The eigenvectors
     * of equal eigenvalues are not unique; this keeps the covariances of the
     * models with a common shape (EEV, VEV) numpy's on such components.
     * (Insertion sort, each value moved before the values equal to it: d is small.) */
    for (ptrdiff_t i = 1; i < d; i++) {
        ptrdiff_t j = i;
        while (j > 0 && values[j - 1] <= values[j]) {
            const double swap = values[j - 1];
            values[j - 1] = values[j];
            values[j] = swap;
            for (ptrdiff_t k = 0; vectors != NULL && k < d; k++) {
                const double v = vectors[k * d + j - 1];
                vectors[k * d + j - 1] = vectors[k * d + j];
                vectors[k * d + j] = v;
            }
            j--;
        }
    }
    return 0;
}

/* ------------------------------------------------------------ polar factor */

/* Below this ratio to the largest singular value, a singular value leaves
 * the polar factor with fewer than half the digits: numpy's gesdd and this
 * code would then round to different factors, so such a matrix is left to
 * numpy (in the M-steps: a stack of one component, whose bound in the first
 * MM update is singular). */
#define POLAR_CONDITION_LIMIT 1.4901161193847656e-08 /* sqrt(DBL_EPSILON) */

/* Whether row and column j of the d x d matrix v are exactly those of the identity. */
static int is_axis(ptrdiff_t d, const double *v, ptrdiff_t j)
{
    for (ptrdiff_t i = 0; i < d; i++)
        if (v[i * d + j] != (i == j ? 1.0 : 0.0) || v[j * d + i] != (i == j ? 1.0 : 0.0))
            return 0;
    return 1;
}

/* The only column of the d x d matrix g that is exactly zero, -1 if none, -2 if several. */
static ptrdiff_t zero_column(ptrdiff_t d, const double *g)
{
    ptrdiff_t found = -1;
    for (ptrdiff_t j = 0; j < d; j++) {
        ptrdiff_t i = 0;
        while (i < d && g[i * d + j] == 0.0)
            i++;
        if (i == d)
            found = found == -1 ? j : -2;
    }
    return found;
}

/* Column j of the orthogonal u (d x d) from its other, orthonormal columns:
 * the unit vector orthogonal to them, from the coordinate axis farthest from
 * their span (Gram-Schmidt twice, which is enough in floating point).  Its
 * sign is arbitrary, as the polar factor's is along a null vector.  'residual'
 * holds d doubles. */
static void complete_basis(ptrdiff_t d, double *u, ptrdiff_t j, double *residual)
{
    ptrdiff_t best_axis = 0;
    double best = -1.0;
    for (ptrdiff_t axis = 0; axis < d; axis++) {
        double squares = 1.0; /* ||e_axis - projection||^2 = 1 - sum of squared projections */
        for (ptrdiff_t i = 0; i < d; i++)
            if (i != j)
                squares -= u[axis * d + i] * u[axis * d + i];
        if (squares > best) {
            best = squares;
            best_axis = axis;
        }
    }
    for (ptrdiff_t m = 0; m < d; m++)
        residual[m] = m == best_axis ? 1.0 : 0.0;
    for (int pass = 0; pass < 2; pass++)
        for (ptrdiff_t i = 0; i < d; i++) {
            if (i == j)
                continue;
            double dot = 0.0;
            for (ptrdiff_t m = 0; m < d; m++)
                dot += u[m * d + i] * residual[m];
            for (ptrdiff_t m = 0; m < d; m++)
                residual[m] -= dot * u[m * d + i];
        }
    double squares = 0.0;
    for (ptrdiff_t m = 0; m < d; m++)
        squares += residual[m] * residual[m];
    const double norm = sqrt(squares);
    for (ptrdiff_t m = 0; m < d; m++)
        u[m * d + j] = residual[m] / norm;
}

/* The polar factor U V^T of the SVD matrix = U S V^T of a d x d matrix, into
 * 'polar'.  'right' holds an orthogonal start for V and receives V; 'work'
 * holds d * d + 2 d doubles.
 *
 * One-sided Jacobi (Hestenes): rotations on the right orthogonalise the
 * columns of matrix V, accumulated in V; the columns are then U S.  In the
 * MM loop each update's matrix changes little from one iteration to the
 * next, so the previous V nearly orthogonalises it already: from there
 * Jacobi needs about half the sweeps it needs from the identity.
 *
 * A matrix with one column exactly zero (the second MM update's, when the
 * components' largest inverse shapes lie on one axis) has that axis for
 * null vector: its factor is unique but for the sign of its column there,
 * and the matching column of U is the unit vector orthogonal to the others.
 * That sign does not matter to the M-steps (flipping a column of the
 * orientation D flips the same column of both gradients and of the next D,
 * and leaves every D^T W_k D diagonal unchanged).  Returns 0, or
 * MSTEP_FALLBACK for a non-finite matrix or one singular otherwise
 * (POLAR_CONDITION_LIMIT), whose factor is gesdd's to choose. */
static int polar_factor(ptrdiff_t d, const double *matrix, double *right, double *polar, double *work)
{
    double *g = work, *v = right, *norms = work + d * d, *residual = norms + d;
    if (!all_finite(matrix, d * d))
        return MSTEP_FALLBACK;
    const ptrdiff_t null_column = zero_column(d, matrix);
    if (null_column == -2)
        return MSTEP_FALLBACK;
    /* Jacobi cannot orthogonalise a column of rounding errors: the zero column
     * must stay exactly zero, so V must keep that axis, as it does when the
     * last matrix had the same zero column; else start V afresh. */
    if (null_column >= 0 && !is_axis(d, v, null_column))
        set_identity(d, v);
    multiply(d, matrix, v, 0, g);
    /* (the factor of a positive multiple is the same) */
    const double down = ldexp(1.0, -scale_exponent(g, d * d));
    for (ptrdiff_t i = 0; i < d * d; i++)
        g[i] *= down;
    const double tol = (double)d * DBL_EPSILON, tol2 = tol * tol;
    int converged = d < 2;
    for (int sweep = 0; sweep < MAX_SWEEPS && !converged; sweep++) {
        converged = 1;
        for (ptrdiff_t p = 0; p < d - 1; p++)
            for (ptrdiff_t q = p + 1; q < d; q++) {
                double alpha = 0.0, beta = 0.0, gamma = 0.0;
                for (ptrdiff_t i = 0; i < d; i++) {
                    alpha += g[i * d + p] * g[i * d + p];
                    beta += g[i * d + q] * g[i * d + q];
                    gamma += g[i * d + p] * g[i * d + q];
                }
                if (gamma * gamma <= tol2 * (alpha * beta))
                    continue;
                converged = 0;
                double c, s, t;
                jacobi_rotation(alpha, beta, gamma, &c, &s, &t);
                for (ptrdiff_t i = 0; i < d; i++) {
                    const double gp = g[i * d + p], gq = g[i * d + q];
                    g[i * d + p] = c * gp - s * gq;
                    g[i * d + q] = s * gp + c * gq;
                    const double vp = v[i * d + p], vq = v[i * d + q];
                    v[i * d + p] = c * vp - s * vq;
                    v[i * d + q] = s * vp + c * vq;
                }
            }
    }
    if (!converged)
        return MSTEP_FALLBACK;
    /* the singular values: the columns' norms; U: the columns over them */
    double largest = 0.0;
    for (ptrdiff_t j = 0; j < d; j++) {
        double squares = 0.0;
        for (ptrdiff_t i = 0; i < d; i++)
            squares += g[i * d + j] * g[i * d + j];
        norms[j] = sqrt(squares);
        largest = norms[j] > largest ? norms[j] : largest;
    }
    for (ptrdiff_t j = 0; j < d; j++) {
        if (j == null_column)
            continue;
        if (!(norms[j] > POLAR_CONDITION_LIMIT * largest))
            return MSTEP_FALLBACK;
        for (ptrdiff_t i = 0; i < d; i++)
            g[i * d + j] /= norms[j];
    }
    if (null_column >= 0)
        complete_basis(d, g, null_column, residual);
    multiply(d, g, v, 1, polar); /* U V^T */
    return 0;
}

#endif
