"""Fitting a file larger than the memory a process may allocate (numpy.memmap).

Writes ``--rows`` x ``--features`` float64 rows to an .npy file, then fits
``skgmm.GaussianMixtureEM`` and ``sklearn.mixture.GaussianMixture`` on
``np.load(path, mmap_mode="r")``, each in a child process whose private
(anonymous) memory is capped at ``--limit-mb`` above its size after imports,
with ``RLIMIT_DATA``. File pages
of a read-only memmap are not private memory, so the cap plays the part of a
machine whose RAM is smaller than the file. Each child reports its peak
anonymous resident memory (RssAnon, sampled every 10 ms) and peak resident set
(VmHWM, which also counts file pages the kernel can evict).

Both use ``init_params="random_from_data"``: the default ``"kmeans"`` runs
scikit-learn's KMeans, which copies X.

Run: python benchmarks/bench_memmap.py [--rows 20000000] [--limit-mb 512]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np


def write_file(path, n_rows, n_features, n_components=4, chunk=1_000_000):
    """Write a mixture to ``path`` chunk by chunk (never all in memory)."""
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float64, shape=(n_rows, n_features))
    centers = np.random.RandomState(0).normal(scale=3.0, size=(n_components, n_features))
    for start in range(0, n_rows, chunk):
        rng = np.random.RandomState(start)
        n = min(chunk, n_rows - start)
        out[start : start + n] = centers[rng.randint(n_components, size=n)] + rng.normal(size=(n, n_features))
    out.flush()
    del out


def _status_kib(field):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


class PeakAnonymous:
    """Samples RssAnon in a thread; ``peak`` is the largest value seen (MiB)."""

    def __init__(self, interval=0.01):
        self.peak = 0.0
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, _status_kib("RssAnon") / 1024)
            time.sleep(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _status_kib("RssAnon") / 1024)


def child(args):
    """Fit one library on the memmap under the memory cap; print a JSON line."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    warnings.simplefilter("ignore", ConvergenceWarning)
    if args.library == "skgmm":
        from skgmm import GaussianMixtureEM as Mixture
    else:
        from sklearn.mixture import GaussianMixture as Mixture
    X = np.load(args.path, mmap_mode="r")
    np.ones((256, 256)) @ np.ones((256, 256))  # let BLAS allocate its buffers first
    baseline = _status_kib("RssAnon") / 1024
    # RLIMIT_DATA caps *virtual* private memory: allow the cap on top of what
    # the interpreter and libraries have mapped after import.
    limit = _status_kib("VmData") * 1024 + args.limit_mb * 2**20
    resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
    result = {"library": args.library, "baseline_anon_mib": baseline}
    start = time.perf_counter()
    with PeakAnonymous() as peak:
        try:
            model = Mixture(
                args.components,
                init_params="random_from_data",
                max_iter=args.max_iter,
                tol=0.0,
                random_state=0,
            ).fit(X)
            result.update(ok=True, lower_bound=float(model.lower_bound_), means_0=model.means_[0].tolist())
        except MemoryError as error:
            result.update(ok=False, error=f"MemoryError {error}"[:120])
    result.update(
        seconds=time.perf_counter() - start,
        peak_anon_mib=peak.peak,
        peak_rss_mib=_status_kib("VmHWM") / 1024,
    )
    print(json.dumps(result))


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=20_000_000)
    parser.add_argument("--features", type=int, default=8)
    parser.add_argument("--components", type=int, default=4)
    parser.add_argument("--max-iter", type=int, default=2)
    parser.add_argument("--limit-mb", type=int, default=512)
    parser.add_argument("--path", default=None, help="existing .npy file to reuse (else a temporary one)")
    parser.add_argument("--child", dest="library", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.library:
        child(args)
        return

    with tempfile.TemporaryDirectory() as folder:
        path = args.path or os.path.join(folder, "data.npy")
        if not os.path.exists(path):
            start = time.perf_counter()
            write_file(path, args.rows, args.features)
            print(f"wrote {path} in {time.perf_counter() - start:.0f} s")
        size_mib = os.path.getsize(path) / 2**20
        print(
            f"file: {args.rows} x {args.features} float64 = {size_mib:.0f} MiB; "
            f"private memory capped at {args.limit_mb} MiB (RLIMIT_DATA); K={args.components}, "
            f"{args.max_iter} EM iterations\n"
        )
        print(
            "| library | result | time | RssAnon after imports | peak RssAnon | peak RSS (incl. file pages) |"
        )
        print("|---|---|---|---|---|---|")
        results = {}
        for library in ("skgmm", "sklearn"):
            command = [
                sys.executable,
                __file__,
                "--child",
                library,
                "--path",
                path,
                "--limit-mb",
                str(args.limit_mb),
                "--components",
                str(args.components),
                "--max-iter",
                str(args.max_iter),
            ]
            # One malloc arena: per-thread arenas reserve 64 MiB of address space each.
            # OpenBLAS reserves a buffer per thread: one thread, for both libraries.
            env = {**os.environ, "MALLOC_ARENA_MAX": "1", "OPENBLAS_NUM_THREADS": "1"}
            completed = subprocess.run(command, capture_output=True, text=True, env=env)
            lines = [line for line in completed.stdout.splitlines() if line.startswith("{")]
            if not lines:
                tail = (completed.stderr.strip().splitlines() or ["no output"])[-1]
                print(f"| {library} | crashed: {tail[:80]} | | | | |")
                continue
            result = json.loads(lines[-1])
            results[library] = result
            outcome = f"fitted, lower bound {result['lower_bound']:.4f}" if result["ok"] else result["error"]
            print(
                f"| {library} | {outcome} | {result['seconds']:.1f} s | {result['baseline_anon_mib']:.0f} MiB | "
                f"{result['peak_anon_mib']:.0f} MiB | "
                f"{result['peak_rss_mib']:.0f} MiB |"
            )
        if "skgmm" in results and results["skgmm"]["ok"]:
            growth = results["skgmm"]["peak_anon_mib"] - results["skgmm"]["baseline_anon_mib"]
            print(
                f"\nskgmm's private memory grew by {growth:.0f} MiB while fitting, "
                f"{growth / size_mib:.1%} of the file size."
            )


if __name__ == "__main__":
    main()
