"""Per-iteration monitors; ``verbose`` installs the printing one."""

from __future__ import annotations

from time import perf_counter


class FitMonitor:
    """Does nothing; subclasses override the hooks they need."""

    def on_init_begin(self, init: int) -> None:
        """Called before initialisation ``init`` starts."""

    def on_iteration_end(self, n_iter: int, lower_bound: float, change: float) -> None:
        """Called after each EM iteration."""

    def on_init_end(self, lower_bound: float, converged: bool) -> None:
        """Called when an initialisation has run its iterations."""


class VerbosePrinter(FitMonitor):
    """Prints progress in scikit-learn's ``GaussianMixture`` format."""

    def __init__(self, verbose: int, verbose_interval: int, print_fn=print):
        self.verbose = verbose
        self.verbose_interval = verbose_interval
        self.print = print_fn

    def on_init_begin(self, init):
        self.print(f"Initialization {init}")
        self._init_start = self._iter_start = perf_counter()

    def on_iteration_end(self, n_iter, lower_bound, change):
        if n_iter % self.verbose_interval:
            return
        if self.verbose == 1:
            self.print(f"  Iteration {n_iter}")
        else:
            now = perf_counter()
            self.print(
                f"  Iteration {n_iter}\t time lapse {now - self._iter_start:.5f}s\t ll change {change:.5f}"
            )
            self._iter_start = now

    def on_init_end(self, lower_bound, converged):
        status = "converged" if converged else "did not converge"
        if self.verbose == 1:
            self.print(f"Initialization {status}.")
        else:
            elapsed = perf_counter() - self._init_start
            self.print(f"Initialization {status}. time lapse {elapsed:.5f}s\t lower bound {lower_bound:.5f}.")


def monitor_for(verbose: int, verbose_interval: int) -> FitMonitor:
    """The monitor a ``verbose`` level asks for."""
    return VerbosePrinter(verbose, verbose_interval) if verbose else FitMonitor()
