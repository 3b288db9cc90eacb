/* Shared by skgmm's C kernels: exported names, restrict, and the per-CPU copies.
 *
 * The libraries are plain shared objects called through ctypes (which
 * releases the GIL), so no Python header is needed to build them.
 *
 * SKGMM_CLONED(ret, name, body, params, args) defines the exported function
 * `name` from the inlined function `body`: on x86 with GCC or clang, three
 * copies compiled for AVX-512, AVX2 + FMA and the baseline instruction set,
 * and a dispatcher that picks the best one this CPU runs (looked up once).
 * Elsewhere, or with -DSKGMM_NO_CLONES, `name` is the body alone.
 */
#ifndef SKGMM_CKERNELS_COMMON_H
#define SKGMM_CKERNELS_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "export.h"

/* `#pragma omp simd` needs -fopenmp-simd (no OpenMP runtime); compilers without it ignore it. */
#define SKGMM_PRAGMA(text) _Pragma(#text)

#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__) && !defined(SKGMM_NO_CLONES)
#define SKGMM_HAS_CLONES 1

/* 2: AVX-512 (F, VL, DQ), 1: AVX2 + FMA, 0: baseline; -1 until looked up. */
static int skgmm_level = -1;
static int skgmm_level_cap = 2;

static int skgmm_cpu_level(void)
{
    int level = __atomic_load_n(&skgmm_level, __ATOMIC_RELAXED);
    if (level < 0) {
        __builtin_cpu_init();
        if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl")
            && __builtin_cpu_supports("avx512dq"))
            level = 2;
        else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
            level = 1;
        else
            level = 0;
        __atomic_store_n(&skgmm_level, level, __ATOMIC_RELAXED);
    }
    int cap = __atomic_load_n(&skgmm_level_cap, __ATOMIC_RELAXED);
    return level < cap ? level : cap;
}

static void skgmm_store_cap(int cap) { __atomic_store_n(&skgmm_level_cap, cap, __ATOMIC_RELAXED); }

#define SKGMM_CLONED(ret, name, body, params, args) SKGMM_CLONED_(ret, name, body, params, args)
#define SKGMM_CLONED_(ret, name, body, params, args)                                                \
    __attribute__((target("avx512f,avx512vl,avx512dq,avx2,fma"))) static ret name##_avx512 params \
    {                                                                                          \
        return body args;                                                               \
    }                                                                                          \
    __attribute__((target("avx2,fma"))) static ret name##_avx2 params { return body args; } \
    static ret name##_baseline params { return body args; }                             \
    SKGMM_EXPORT ret name params                                                               \
    {                                                                                          \
        switch (skgmm_cpu_level()) {                                                           \
        case 2: return name##_avx512 args;                                                     \
        case 1: return name##_avx2 args;                                                       \
        default: return name##_baseline args;                                                  \
        }                                                                                      \
    }

#else
#define SKGMM_HAS_CLONES 0
static int skgmm_cpu_level(void) { return 0; }
static void skgmm_store_cap(int cap) { (void)cap; }
#define SKGMM_CLONED(ret, name, body, params, args) SKGMM_CLONED_(ret, name, body, params, args)
#define SKGMM_CLONED_(ret, name, body, params, args) \
    SKGMM_EXPORT ret name params { return body args; }
#endif

/* The instruction set the cloned kernels run with (2: AVX-512, 1: AVX2 + FMA, 0: baseline). */
#define SKGMM_DEFINE_LEVEL_FUNCTIONS(prefix)                                                 \
    SKGMM_EXPORT int prefix##_simd_level(void) { return skgmm_cpu_level(); }                 \
    /* Caps the level (tests run every copy); returns the level now used. */                 \
    SKGMM_EXPORT int prefix##_cap_simd_level(int cap)                                        \
    {                                                                                        \
        skgmm_store_cap(cap < 0 ? 0 : cap);                                               \
        return skgmm_cpu_level();                                                            \
    }

#endif
