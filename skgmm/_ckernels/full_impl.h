/* The 'full' kernels for one float type: included by full.c with REAL and NAME defined.
 *
 * `whitened` is C-ordered (n_white_rows, n_rows): the whitened rows of every
 * component, stacked per slice of features.  `rows_of` (n_components,
 * n_features), C-ordered, gives the row of `whitened` that holds feature i of
 * component k; n_features is a multiple of TILE (padding points at a row of
 * zeros).  The loops run along the rows of the block (contiguous), which the
 * compiler vectorises: full.c is built to allow reassociation and FMA.
 */

/* Returns 0, or 1 when an entry of rows_of is outside whitened (nothing is read then). */
SKGMM_INLINE int NAME(rows_outside)(const ptrdiff_t *rows_of, ptrdiff_t n_entries, ptrdiff_t n_white_rows)
{
    for (ptrdiff_t e = 0; e < n_entries; e++)
        if (rows_of[e] < 0 || rows_of[e] >= n_white_rows)
            return 1;
    return 0;
}

/* out[k, b] = sum_i whitened[rows_of[k, i], b] ** 2 (the Mahalanobis distances). */
SKGMM_INLINE int NAME(sum_squares_body)(const REAL *SKGMM_RESTRICT whitened, ptrdiff_t n_white_rows,
                                        ptrdiff_t n_rows, const ptrdiff_t *SKGMM_RESTRICT rows_of,
                                        ptrdiff_t n_components, ptrdiff_t n_features,
                                        REAL *SKGMM_RESTRICT out)
{
    if (NAME(rows_outside)(rows_of, n_components * n_features, n_white_rows))
        return 1;
    for (ptrdiff_t k = 0; k < n_components; k++) {
        REAL *SKGMM_RESTRICT distances = out + k * n_rows;
        for (ptrdiff_t b = 0; b < n_rows; b++)
            distances[b] = 0;
        const ptrdiff_t *rows = rows_of + k * n_features;
        ptrdiff_t i = 0;
        /* four features per pass over `distances`, added in feature order */
        for (; i + 4 <= n_features; i += 4) {
            const REAL *SKGMM_RESTRICT y0 = whitened + rows[i] * n_rows;
            const REAL *SKGMM_RESTRICT y1 = whitened + rows[i + 1] * n_rows;
            const REAL *SKGMM_RESTRICT y2 = whitened + rows[i + 2] * n_rows;
            const REAL *SKGMM_RESTRICT y3 = whitened + rows[i + 3] * n_rows;
            SKGMM_PRAGMA(omp simd)
            for (ptrdiff_t b = 0; b < n_rows; b++)
                distances[b] = distances[b] + y0[b] * y0[b] + y1[b] * y1[b] + y2[b] * y2[b] + y3[b] * y3[b];
        }
        for (; i < n_features; i++) {
            const REAL *SKGMM_RESTRICT y = whitened + rows[i] * n_rows;
            SKGMM_PRAGMA(omp simd)
            for (ptrdiff_t b = 0; b < n_rows; b++)
                distances[b] += y[b] * y[b];
        }
    }
    return 0;
}

/* Adds sum_b r[b] u_i[b] v_j[b] over rows [0, n) to the 4 x 4 tile at `out`
 * (leading dimension ld): 16 accumulators, 8 loads per 16 multiply-adds. */
SKGMM_INLINE void NAME(add_tile_4x4)(const REAL *SKGMM_RESTRICT r, const REAL *u0, const REAL *u1,
                                     const REAL *u2, const REAL *u3, const REAL *v0, const REAL *v1,
                                     const REAL *v2, const REAL *v3, ptrdiff_t n, REAL *SKGMM_RESTRICT out,
                                     ptrdiff_t ld)
{
    REAL s00 = 0, s01 = 0, s02 = 0, s03 = 0, s10 = 0, s11 = 0, s12 = 0, s13 = 0;
    REAL s20 = 0, s21 = 0, s22 = 0, s23 = 0, s30 = 0, s31 = 0, s32 = 0, s33 = 0;
    for (ptrdiff_t b = 0; b < n; b++) {
        const REAL rb = r[b];
        const REAL x0 = u0[b] * rb, x1 = u1[b] * rb, x2 = u2[b] * rb, x3 = u3[b] * rb;
        const REAL y0 = v0[b], y1 = v1[b], y2 = v2[b], y3 = v3[b];
        s00 += x0 * y0; s01 += x0 * y1; s02 += x0 * y2; s03 += x0 * y3;
        s10 += x1 * y0; s11 += x1 * y1; s12 += x1 * y2; s13 += x1 * y3;
        s20 += x2 * y0; s21 += x2 * y1; s22 += x2 * y2; s23 += x2 * y3;
        s30 += x3 * y0; s31 += x3 * y1; s32 += x3 * y2; s33 += x3 * y3;
    }
    out[0] += s00; out[1] += s01; out[2] += s02; out[3] += s03; out += ld;
    out[0] += s10; out[1] += s11; out[2] += s12; out[3] += s13; out += ld;
    out[0] += s20; out[1] += s21; out[2] += s22; out[3] += s23; out += ld;
    out[0] += s30; out[1] += s31; out[2] += s32; out[3] += s33;
}

/* The same for a 2 x 4 tile: 8 accumulators, which fit in 16 vector registers. */
SKGMM_INLINE void NAME(add_tile_2x4)(const REAL *SKGMM_RESTRICT r, const REAL *u0, const REAL *u1,
                                     const REAL *v0, const REAL *v1, const REAL *v2, const REAL *v3,
                                     ptrdiff_t n, REAL *SKGMM_RESTRICT out, ptrdiff_t ld)
{
    REAL s00 = 0, s01 = 0, s02 = 0, s03 = 0, s10 = 0, s11 = 0, s12 = 0, s13 = 0;
    for (ptrdiff_t b = 0; b < n; b++) {
        const REAL rb = r[b];
        const REAL x0 = u0[b] * rb, x1 = u1[b] * rb;
        const REAL y0 = v0[b], y1 = v1[b], y2 = v2[b], y3 = v3[b];
        s00 += x0 * y0; s01 += x0 * y1; s02 += x0 * y2; s03 += x0 * y3;
        s10 += x1 * y0; s11 += x1 * y1; s12 += x1 * y2; s13 += x1 * y3;
    }
    out[0] += s00; out[1] += s01; out[2] += s02; out[3] += s03; out += ld;
    out[0] += s10; out[1] += s11; out[2] += s12; out[3] += s13;
}

/* Per component k: sum_b r y y^T into scatter[k] (n_features, n_features) and
 * sum_b r y into resp_y_sum[k], with y = whitened[rows_of[k], b] and r = resp[k, b].
 * The upper triangle is summed in tiles of 4 columns and mirrored.  Rows are
 * taken CHUNK at a time, so that the tiles of a component re-read its rows
 * from the first-level cache; with 32 vector registers (AVX-512) the tiles
 * have 4 rows, else 2 (16 accumulators would not fit). */
SKGMM_INLINE int NAME(weighted_scatter_body)(const REAL *SKGMM_RESTRICT whitened, ptrdiff_t n_white_rows,
                                             ptrdiff_t n_rows, const ptrdiff_t *SKGMM_RESTRICT rows_of,
                                             ptrdiff_t n_components, ptrdiff_t n_features,
                                             const REAL *SKGMM_RESTRICT resp, REAL *SKGMM_RESTRICT scatter,
                                             REAL *SKGMM_RESTRICT resp_y_sum)
{
    const ptrdiff_t chunk = CHUNK_BYTES / (ptrdiff_t)sizeof(REAL);
    const int tall = skgmm_cpu_level() == 2;
    if (n_features % TILE != 0)
        return 2;
    if (NAME(rows_outside)(rows_of, n_components * n_features, n_white_rows))
        return 1;
    for (ptrdiff_t k = 0; k < n_components; k++) {
        const ptrdiff_t *rows = rows_of + k * n_features;
        const REAL *SKGMM_RESTRICT r = resp + k * n_rows;
        REAL *SKGMM_RESTRICT tile = scatter + k * n_features * n_features;
        for (ptrdiff_t e = 0; e < n_features * n_features; e++)
            tile[e] = 0;
        for (ptrdiff_t c = 0; c < n_rows; c += chunk) {
            const ptrdiff_t n = n_rows - c < chunk ? n_rows - c : chunk;
#define Y(i) (whitened + rows[i] * n_rows + c)
            for (ptrdiff_t i0 = 0; i0 < n_features; i0 += tall ? 4 : 2) {
                for (ptrdiff_t j0 = i0 - i0 % TILE; j0 < n_features; j0 += TILE) {
                    REAL *out = tile + i0 * n_features + j0;
                    if (tall)
                        NAME(add_tile_4x4)(r + c, Y(i0), Y(i0 + 1), Y(i0 + 2), Y(i0 + 3), Y(j0), Y(j0 + 1),
                                           Y(j0 + 2), Y(j0 + 3), n, out, n_features);
                    else
                        NAME(add_tile_2x4)(r + c, Y(i0), Y(i0 + 1), Y(j0), Y(j0 + 1), Y(j0 + 2), Y(j0 + 3), n,
                                           out, n_features);
                }
            }
#undef Y
        }
        for (ptrdiff_t i = 0; i < n_features; i++) {
            const REAL *SKGMM_RESTRICT y = whitened + rows[i] * n_rows;
            REAL total = 0;
            for (ptrdiff_t b = 0; b < n_rows; b++)
                total += y[b] * r[b];
            resp_y_sum[k * n_features + i] = total;
            for (ptrdiff_t j = 0; j < i; j++)
                tile[i * n_features + j] = tile[j * n_features + i];
        }
    }
    return 0;
}

#define SKGMM_WHITENED_PARAMS                                                                     \
    const REAL *whitened, ptrdiff_t n_white_rows, ptrdiff_t n_rows, const ptrdiff_t *rows_of, \
        ptrdiff_t n_components, ptrdiff_t n_features

SKGMM_CLONED(int, NAME(sum_squares), NAME(sum_squares_body), (SKGMM_WHITENED_PARAMS, REAL *out),
             (whitened, n_white_rows, n_rows, rows_of, n_components, n_features, out))
SKGMM_CLONED(int, NAME(weighted_scatter), NAME(weighted_scatter_body),
             (SKGMM_WHITENED_PARAMS, const REAL *resp, REAL *scatter, REAL *resp_y_sum),
             (whitened, n_white_rows, n_rows, rows_of, n_components, n_features, resp, scatter, resp_y_sum))

#undef SKGMM_WHITENED_PARAMS
