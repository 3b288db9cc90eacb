"""Shared helpers of the benchmark scripts: data, starting parameters, timing."""

from __future__ import annotations

import os
import platform
import time
import warnings

import numpy as np


def make_mixture(n_samples, n_features, n_components, seed=0, dtype=np.float64):
    """Well-separated synthetic mixture with random full covariances (fixed seed)."""
    rng = np.random.RandomState(seed)
    centers = rng.normal(scale=6.0, size=(n_components, n_features))
    mixing = rng.normal(size=(n_components, n_features, n_features)) / np.sqrt(n_features)
    mixing += np.eye(n_features) * 0.5
    labels = rng.randint(n_components, size=n_samples)
    X = np.empty((n_samples, n_features), dtype=dtype)
    step = 200_000
    for start in range(0, n_samples, step):
        stop = min(start + step, n_samples)
        noise = rng.normal(size=(stop - start, n_features))
        lab = labels[start:stop]
        X[start:stop] = centers[lab] + np.einsum("nd,nde->ne", noise, mixing[lab])
    return X


def explicit_init(X, n_components, covariance_type, seed=0):
    """Identical starting parameters for both libraries, in X's dtype."""
    rng = np.random.RandomState(seed)
    n_features = X.shape[1]
    means = X[rng.choice(len(X), n_components, replace=False)].astype(np.float64)
    variance = float(X[:100_000].astype(np.float64).var(axis=0).mean())
    precisions = {
        "full": np.tile(np.eye(n_features) / variance, (n_components, 1, 1)),
        "tied": np.eye(n_features) / variance,
        "diag": np.full((n_components, n_features), 1 / variance),
        "spherical": np.full(n_components, 1 / variance),
    }[covariance_type]
    weights = np.full(n_components, 1.0 / n_components)
    return {
        "weights_init": weights.astype(X.dtype),
        "means_init": means.astype(X.dtype),
        "precisions_init": precisions.astype(X.dtype),
    }


def make_estimators(n_components, covariance_type, init, max_iter):
    """(sklearn, skgmm) estimators with the same parameters and start."""
    from sklearn.mixture import GaussianMixture

    from skgmm import GaussianMixtureEM

    common = dict(
        n_components=n_components,
        covariance_type=covariance_type,
        tol=0.0,
        max_iter=max_iter,
        random_state=0,
        **init,
    )
    # With every *_init given sklearn still draws responsibilities from
    # init_params and runs one M-step; 'random_from_data' keeps that cheap
    # (it cancels in t(1 + iters) - t(1) anyway).
    return (
        GaussianMixture(init_params="random_from_data", **common),
        GaussianMixtureEM(init_params="random_from_data", **common),
    )


def warm_up(n_components, covariance_type, X):
    """One small fit of each library on ``X[:2000]``, untimed.

    What a process pays once (imports, loading skgmm's
    kernels for X's dtype) then never lands in ``t(1)`` or ``t(1 + iters)``.
    """
    sample = X[:2000]
    for estimator in make_estimators(
        n_components, covariance_type, explicit_init(sample, n_components, covariance_type), 2
    ):
        timed_fit(estimator, sample)


#: BLAS threads for scikit-learn's fits (None: its default). Set by --sklearn-blas-threads.
SKLEARN_BLAS_THREADS = [None]


def timed_fit(estimator, X, cpu=False):
    """Wall seconds of ``estimator.fit(X)`` (and process CPU seconds if ``cpu``).

    scikit-learn's fits run under ``SKLEARN_BLAS_THREADS[0]`` BLAS threads;
    skgmm sets its own threads.
    """
    import contextlib

    from threadpoolctl import threadpool_limits

    limit = SKLEARN_BLAS_THREADS[0]
    is_sklearn = type(estimator).__module__.startswith("sklearn")
    context = (
        threadpool_limits(limit, user_api="blas") if (is_sklearn and limit) else contextlib.nullcontext()
    )
    with warnings.catch_warnings(), context:
        warnings.simplefilter("ignore")
        start, start_cpu = time.perf_counter(), time.process_time()
        estimator.fit(X)
        wall, used = time.perf_counter() - start, time.process_time() - start_cpu
    return (wall, used) if cpu else wall


def load_average():
    try:
        return " ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:  # pragma: no cover
        return "n/a"


def machine_description():
    """One paragraph: CPU, cores, BLAS, library versions."""
    import numpy
    import sklearn
    from threadpoolctl import threadpool_info

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    blas = [
        f"{i.get('internal_api')} {i.get('version')} ({i.get('architecture')}, {i.get('num_threads')} threads)"
        for i in threadpool_info()
        if i.get("user_api") == "blas"
    ]
    return (
        f"{cpu}, {os.cpu_count()} logical CPUs; Python {platform.python_version()}, "
        f"numpy {numpy.__version__}, scikit-learn {sklearn.__version__}; BLAS: {'; '.join(blas)}; "
        f"skgmm 'full' kernels: {kernels_description()}"
    )


def kernels_description():
    """Which 'full' kernels skgmm runs: C (and the instruction set of its copy) or numpy, and why."""
    from skgmm.covariance.kernels import kernels_description

    return kernels_description()
