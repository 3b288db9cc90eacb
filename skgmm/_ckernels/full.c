/* skgmm's 'full'-covariance kernels (the E-step's distances, the M-step's scatter matrices),
 * and, on data with few features, the fused row kernel of every strategy (fused_impl.h) and the
 * precision factors of small covariance stacks (factors.h).
 *
 * Built with -ffp-contract=fast -fassociative-math -fno-signed-zeros
 * -fno-trapping-math (see setup.py): multiply-adds may fuse and sums along the
 * rows may be reassociated (so vectorised), as the numba kernels of earlier
 * releases allowed (fastmath "reassoc", "contract").  No finite-math
 * assumption: NaN and infinities propagate as in numpy.  Exported for float64
 * (`_f64`) and float32 (`_f32`).
 */
#include <math.h>
#include <stdlib.h>

#include "common.h"

/* Features per tile of weighted_scatter (rows_of tables are padded to a multiple). */
#define TILE 4
/* Bytes of each row of whitened that weighted_scatter's tiles take at a time. */
#define CHUNK_BYTES 2048
/* log(2 pi), in the fused kernel's constants. */
#define SKGMM_LOG_2PI 1.8378770664093454836

SKGMM_EXPORT int skgmm_full_tile(void) { return TILE; }
SKGMM_DEFINE_LEVEL_FUNCTIONS(skgmm_full)

#include "fused_core.h"

/* Four rows of a 4 x 4 block stored as the fused kernel's outputs (fused_impl.h's fused_to_rows). */
SKGMM_INLINE void skgmm_fused_store4_f64(double *to, skgmm_v4d v) { memcpy(to, &v, sizeof v); }
SKGMM_INLINE void skgmm_fused_store4_f32(float *to, skgmm_v4d v)
{
    const skgmm_v4f f = __builtin_convertvector(v, skgmm_v4f);
    memcpy(to, &f, sizeof f);
}

#define REAL double
#define NAME(name) skgmm_##name##_f64
#include "full_impl.h"
#include "fused_impl.h"
#undef REAL
#undef NAME

#define REAL float
#define NAME(name) skgmm_##name##_f32
#include "full_impl.h"
#include "fused_impl.h"
#undef REAL
#undef NAME

#include "factors.h"
