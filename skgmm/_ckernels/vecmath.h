/* Vectorisable exp and log in float64 (within 1 ulp of numpy's): included by fused_core.h.
 *
 * libm's exp and log are not vectorised without -ffast-math; these are
 * branch-free, so `omp simd` loops over the rows of a chunk vectorise with them.
 * fused_core.h includes this inside its no-reassociation region: the range
 * reductions rely on the order of their operations.
 */
#ifndef SKGMM_VECMATH_H
#define SKGMM_VECMATH_H

SKGMM_INLINE uint64_t skgmm_bits(double x)
{
    uint64_t bits;
    memcpy(&bits, &x, sizeof bits);
    return bits;
}

SKGMM_INLINE double skgmm_from_bits(uint64_t bits)
{
    double x;
    memcpy(&x, &bits, sizeof x);
    return x;
}

/* 2^k for an integer-valued double k in [-1022, 1023]: k + 2^52 + 1023 holds k + 1023 in its low bits. */
SKGMM_INLINE double skgmm_exp2i(double k) { return skgmm_from_bits(skgmm_bits(k + 0x1.00000000003ffp52) << 52); }

/* exp(x) within 1 ulp of the correctly rounded value (numpy's, on every double tested), vectorisable.
 *
 * x = k ln2 + r with |r| <= ln2/2 (Cody and Waite: ln2 in two parts, the first
 * with 11 trailing zero bits so k c1 is exact), exp(r) by its Taylor series to
 * r^13 (truncation below 0.02 ulp), then times 2^k in two factors so that
 * subnormal results and 2^1024 * (r < 0) come out right.  x is clamped to
 * [-746, 710] first: exp rounds to 0 below and overflows to inf above; NaN
 * passes the clamps (comparisons are false) and propagates.
 */
SKGMM_INLINE double skgmm_exp(double x)
{
    SKGMM_IN_ORDER
    const double shift = 0x1.8p52; /* adding it rounds to an integer */
    x = x < -746.0 ? -746.0 : x;
    x = x > 710.0 ? 710.0 : x;
    double k = x * 0x1.71547652b82fep0 + shift;
    k -= shift;
    double r = x - k * 0x1.62e42fee00000p-1;
    r = r - k * 0x1.a39ef35793c76p-33;
    double p = 1.0 / 6227020800.0;
    p = p * r + 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    /* 1 + (r + r^2 p): the small part first, so that the last rounding dominates */
    p = 1.0 + (r + (r * r) * p);
    const double half = (k * 0.5 + shift) - shift;
    return p * skgmm_exp2i(half) * skgmm_exp2i(k - half);
}

/* log(x) within 1 ulp (fdlibm's __ieee754_log, without its branches), vectorisable.
 *
 * x = 2^e m with m in [sqrt(2)/2, sqrt(2)), log(m) = 2 atanh(f / (2 + f)) for
 * f = m - 1 by fdlibm's polynomial.  Subnormals are scaled by 2^54 first;
 * log(0) = -inf, log(inf) = inf, negative and NaN give NaN.
 */
SKGMM_INLINE double skgmm_log(double x)
{
    SKGMM_IN_ORDER
    const double tiny = 0x1p-1022;
    const double scaled = x < tiny ? x * 0x1p54 : x;
    const uint64_t bits = skgmm_bits(scaled);
    /* the mantissa in [1, 2), halved where that puts it in [sqrt(2)/2, sqrt(2)) (compared as doubles:
     * SSE2 has no 64-bit integer comparison) */
    const double m1 = skgmm_from_bits((bits & 0x000fffffffffffffULL) | 0x3ff0000000000000ULL);
    const int halve = m1 >= 0x1.6a09e667f3bcdp0;
    const double m = halve ? 0.5 * m1 : m1;
    /* the exponent field as a double without an int64 conversion (AVX2 has none) */
    const double field = skgmm_from_bits((bits >> 52) | 0x4330000000000000ULL) - 0x1p52;
    const double e = field - 1023.0 + (halve ? 1.0 : 0.0) - (x < tiny ? 54.0 : 0.0);
    const double f = m - 1.0;
    const double hfsq = 0.5 * f * f;
    const double s = f / (2.0 + f);
    const double z = s * s;
    const double w = z * z;
    const double t1 = w * (3.999999999940941908e-01 + w * (2.222219843214978396e-01 + w * 1.531383769920937332e-01));
    const double t2 = z * (6.666666666666735130e-01
                           + w * (2.857142874366239149e-01 + w * (1.818357216161805012e-01 + w * 1.479819860511658591e-01)));
    const double R = t2 + t1;
    double y = e * 6.93147180369123816490e-01 - ((hfsq - (s * (hfsq + R) + e * 1.90821492927058770002e-10)) - f);
    y = x == INFINITY ? x : y;
    y = x == 0.0 ? -INFINITY : y;
    return x >= 0.0 ? y : NAN; /* NaN and negative */
}

#endif
