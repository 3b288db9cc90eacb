"""Dask driver overhead and scaling against the in-memory engine (issue #8).

Per-iteration time of ``GaussianMixtureEM.fit`` on a persisted Dask array on a
``LocalCluster`` (``--workers`` single-threaded worker processes), against the
in-memory engine (skgmm on the NumPy array, same rows, same start, as many
threads as workers) and, optionally, scikit-learn's ``GaussianMixture``, all in
one process; then a table of the time per iteration against the chunk size
(the number of tasks per pass).

Per-iteration time is ``(t(1 + N iterations) - t(1 iteration)) / N`` with
``tol=0``, so that what a fit does once (the scan pass, the final E-step of the
NumPy path, graph set-up) cancels out.  Engines are interleaved ``--repeats``
times and each ``t`` is the minimum over repeats: on a shared machine the
other load only ever adds time.

Example::

    python benchmarks/bench_dask.py                       # n=2e6, d=16, K=8, full
    python benchmarks/bench_dask.py --quick               # a smoke run
    python benchmarks/bench_dask.py --malloc-trim default # keep the nanny's allocator setting
"""

from __future__ import annotations

import argparse
import os
import pickle
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture
from threadpoolctl import threadpool_limits

from skgmm import GaussianMixtureEM


def make_data(da, n_samples, n_features, n_components, chunk_rows, seed=0):
    """A mixture generated on the workers: it never exists on the client."""
    rng = da.random.default_rng(seed)
    centres = np.random.default_rng(seed).normal(scale=3.0, size=(n_components, n_features))
    labels = rng.integers(0, n_components, size=(n_samples,), chunks=(chunk_rows,))
    noise = rng.standard_normal((n_samples, n_features), chunks=(chunk_rows, n_features))
    return noise + labels.map_blocks(
        lambda block: centres[block], new_axis=1, chunks=(labels.chunks[0], (n_features,))
    )


def starting_point(X_sample, n_components, covariance_type):
    """Parameters after a short fit on a sample: the same start for every run."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = GaussianMixtureEM(n_components, covariance_type=covariance_type, max_iter=3, random_state=0)
        model.fit(X_sample)
    return dict(weights_init=model.weights_, means_init=model.means_, precisions_init=model.precisions_)


def time_fit(make_model, X, n_iter):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = time.perf_counter()
        model = make_model(n_iter).fit(X)
        elapsed = time.perf_counter() - start
    assert model.n_iter_ == n_iter
    return elapsed


class PerIteration:
    """Collects ``t(1)`` and ``t(1 + N)`` over repeats; the value uses their minima."""

    def __init__(self, n_iter):
        self.n_iter, self.short, self.long = n_iter, [], []

    def measure(self, make_model, X):
        self.short.append(time_fit(make_model, X, 1))
        self.long.append(time_fit(make_model, X, 1 + self.n_iter))

    @property
    def value(self):
        return (min(self.long) - min(self.short)) / self.n_iter


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n-samples", type=float, default=2e6)
    parser.add_argument("--n-features", type=int, default=16)
    parser.add_argument("--n-components", type=int, default=8)
    parser.add_argument("--covariance-type", default="full")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--chunk-rows", type=float, default=250_000, help="chunk size of the overhead comparison"
    )
    parser.add_argument(
        "--scaling-chunks",
        type=str,
        default="1000000,500000,250000,125000,62500,31250,15625",
        help="comma-separated chunk sizes for the scaling table",
    )
    parser.add_argument("--tiny-rows", type=int, default=1000, help="rows per chunk of the fixed-cost table")
    parser.add_argument(
        "--tiny-chunks", type=str, default="8,64,512", help="chunk counts of the fixed-cost table"
    )
    parser.add_argument(
        "--skip-overhead", action="store_true", help="skip the engine comparison and scaling tables"
    )
    parser.add_argument("--iterations", type=int, default=4, help="timed iterations per measurement")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sklearn", action="store_true", help="also time sklearn's GaussianMixture")
    parser.add_argument(
        "--malloc-trim",
        choices=["unset", "default"],
        default="unset",
        help="'unset' removes the nanny's MALLOC_TRIM_THRESHOLD_=65536 from the workers' environment",
    )
    parser.add_argument("--work-stealing", choices=["on", "off"], default="off")
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke run")
    args = parser.parse_args(argv)
    if args.quick:
        args.n_samples, args.chunk_rows, args.scaling_chunks = 2e5, 25_000, "100000,25000"
        args.iterations, args.repeats = 2, 1

    import dask
    import dask.array as da
    from distributed import Client, LocalCluster

    n_samples, chunk_rows = int(args.n_samples), int(args.chunk_rows)
    K, d, cov = args.n_components, args.n_features, args.covariance_type
    config = {"distributed.scheduler.work-stealing": args.work_stealing == "on"}
    if args.malloc_trim == "unset":
        config["distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_"] = None
    saved_env = dict(os.environ)
    with (
        dask.config.set(config),
        LocalCluster(
            n_workers=args.workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=":0",
        ) as cluster,
        Client(cluster) as client,
    ):
        os.environ.clear()  # the in-process nannies leak their worker environment here
        os.environ.update(saved_env)
        print(
            f"n={n_samples:.3g} d={d} K={K} covariance={cov}; LocalCluster {args.workers} workers x 1 thread; "
            f"work-stealing {args.work_stealing}; nanny MALLOC_TRIM_THRESHOLD_ {args.malloc_trim}; "
            f"dask {dask.__version__}; minima over {args.repeats} repeats, {args.iterations} timed iterations"
        )
        X_dask = make_data(da, n_samples, d, K, chunk_rows).persist()
        X = X_dask.compute()
        init = starting_point(X[:20_000], K, cov)

        def skgmm_model(n_iter):
            return GaussianMixtureEM(K, covariance_type=cov, tol=0, max_iter=n_iter, **init)

        def sklearn_model(n_iter):
            return GaussianMixture(K, covariance_type=cov, tol=0, max_iter=n_iter, **init)

        def engine_tables():
            # -- overhead: cluster vs in-memory engine on the same rows --------------
            names = ["skgmm, dask LocalCluster", "skgmm, numpy in memory", "skgmm, dask threaded (no client)"]
            if args.sklearn:
                names.append("sklearn GaussianMixture, numpy")
            rows = {name: PerIteration(args.iterations) for name in names}
            X_local = da.from_array(X, chunks=(chunk_rows, d))
            with threadpool_limits(limits=args.workers):
                for _ in range(args.repeats):
                    rows["skgmm, dask LocalCluster"].measure(skgmm_model, X_dask)
                    rows["skgmm, numpy in memory"].measure(skgmm_model, X)
                    with dask.config.set(scheduler="threads", num_workers=args.workers):
                        rows["skgmm, dask threaded (no client)"].measure(skgmm_model, X_local)
                    if args.sklearn:
                        rows["sklearn GaussianMixture, numpy"].measure(sklearn_model, X)
            reference = rows["skgmm, numpy in memory"].value
            print(f"\nchunks of {chunk_rows} rows ({len(X_dask.chunks[0])} tasks per pass)")
            print(f"{'engine':36s} {'s / iteration':>14s} {'vs numpy skgmm':>15s}")
            for name, timing in rows.items():
                print(f"{name:36s} {timing.value:14.3f} {timing.value / reference:14.2f}x")

            # Reduction payload: one chunk's statistics as they travel between processes.
            from skgmm._dask import _chunk_em_stats

            from skgmm.engine.mstep import prepare_pass

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                model = skgmm_model(1).fit(X[:50_000])
            pk = prepare_pass(model_strategy(cov), model._fitted_params(X.dtype), X.dtype)
            payload = len(pickle.dumps(_chunk_em_stats(X[:1000], None, pk)))
            print(f"statistics payload per chunk (pickled): {payload} bytes")

            # -- scaling with the number of chunks ------------------------------------
            print(f"\n{'chunk rows':>10s} {'tasks/pass':>10s} {'s / iteration':>14s} {'vs numpy skgmm':>15s}")
            for rows_per_chunk in (int(float(c)) for c in args.scaling_chunks.split(",")):
                X_chunked = X_dask.rechunk((rows_per_chunk, d)).persist()
                client.rebalance()
                timing = PerIteration(args.iterations)
                for _ in range(args.repeats):
                    timing.measure(skgmm_model, X_chunked)
                value = timing.value
                print(
                    f"{rows_per_chunk:10d} {len(X_chunked.chunks[0]):10d} {value:14.3f} {value / reference:14.2f}x"
                )
                del X_chunked

        if not args.skip_overhead:
            engine_tables()

        # -- fixed costs: tiny chunks, so that scheduling dominates ---------------
        print(f"\ntiny data ({args.tiny_rows} rows per chunk): scheduler cost per iteration")
        print(f"{'tasks/pass':>10s} {'ms / iteration':>15s} {'ms / task':>10s}")
        for n_chunks in (int(c) for c in args.tiny_chunks.split(",")):
            X_tiny = make_data(da, n_chunks * args.tiny_rows, d, K, args.tiny_rows, seed=1).persist()
            timing = PerIteration(args.iterations)
            for _ in range(args.repeats):
                timing.measure(skgmm_model, X_tiny)
            print(f"{n_chunks:10d} {1e3 * timing.value:15.1f} {1e3 * timing.value / n_chunks:10.2f}")
            del X_tiny


def model_strategy(covariance_type):
    from skgmm.covariance import get_covariance_model

    return get_covariance_model(covariance_type)


if __name__ == "__main__":  # workers are spawned: guard the cluster start
    main()
