/* Exported names, restrict and forced inlining, for every skgmm C library (common.h and hc.c). */
#ifndef SKGMM_CKERNELS_EXPORT_H
#define SKGMM_CKERNELS_EXPORT_H

#if defined(_WIN32)
#define SKGMM_EXPORT __declspec(dllexport)
#else
#define SKGMM_EXPORT __attribute__((visibility("default")))
#endif

#if defined(_MSC_VER) && !defined(__clang__)
#define SKGMM_RESTRICT __restrict
#define SKGMM_INLINE static __forceinline
#else
#define SKGMM_RESTRICT restrict
#define SKGMM_INLINE static inline __attribute__((always_inline))
#endif

#endif
