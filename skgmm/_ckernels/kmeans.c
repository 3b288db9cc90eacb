/* skgmm's k-means kernels: the loops after the matrix products of the default start.
 *
 * These must give the same bits as numpy and scikit-learn: setup.py builds
 * this file with -ffp-contract=off and without fast-math (so no fused
 * multiply-add, no reassociation).  The copies for wider instruction sets
 * (common.h) only vectorise elementwise loops, which rounds as the baseline.
 * Exported for float64 (`_f64`) and float32 (`_f32`) data.
 */
#include <math.h>

#include "common.h"

#if defined(__FAST_MATH__)
#error "kmeans.c must be built without fast-math: its results must equal numpy's"
#endif

SKGMM_DEFINE_LEVEL_FUNCTIONS(skgmm_kmeans)

#define REAL double
#define NAME(name) skgmm_##name##_f64
#include "kmeans_impl.h"
#undef REAL
#undef NAME

#define REAL float
#define NAME(name) skgmm_##name##_f32
#include "kmeans_impl.h"
#undef REAL
#undef NAME

/* out = rows - offset, the difference in the type of rows, then converted to out's.
 * rows (n_rows, n_features) with strides in elements, offset (n_features), out C-ordered. */
#define SKGMM_SUBTRACT_ROWS(IN, OUT, SUFFIX)                                                        \
    SKGMM_INLINE void skgmm_subtract_rows_##SUFFIX##_body(const IN *rows, ptrdiff_t n_rows,           \
                                                          ptrdiff_t n_features, ptrdiff_t row_stride, \
                                                          ptrdiff_t column_stride,                    \
                                                          const IN *SKGMM_RESTRICT offset,            \
                                                          OUT *SKGMM_RESTRICT out)                    \
    {                                                                                               \
        for (ptrdiff_t i = 0; i < n_rows; i++) {                                                    \
            const IN *row = rows + i * row_stride;                                                  \
            OUT *out_row = out + i * n_features;                                                    \
            if (column_stride == 1)                                                                 \
                for (ptrdiff_t k = 0; k < n_features; k++)                                          \
                    out_row[k] = (OUT)(IN)(row[k] - offset[k]);                                     \
            else                                                                                    \
                for (ptrdiff_t k = 0; k < n_features; k++)                                          \
                    out_row[k] = (OUT)(IN)(row[k * column_stride] - offset[k]);                     \
        }                                                                                           \
    }                                                                                               \
    SKGMM_CLONED(void, skgmm_subtract_rows_##SUFFIX, skgmm_subtract_rows_##SUFFIX##_body,           \
                 (const IN *rows, ptrdiff_t n_rows, ptrdiff_t n_features, ptrdiff_t row_stride,     \
                  ptrdiff_t column_stride, const IN *offset, OUT *out),                             \
                 (rows, n_rows, n_features, row_stride, column_stride, offset, out))

SKGMM_SUBTRACT_ROWS(double, double, f64)
SKGMM_SUBTRACT_ROWS(float, float, f32)
SKGMM_SUBTRACT_ROWS(float, double, f32_f64)

#include "kmeans_seed.h"
#include "kmeans_lloyd.h"
