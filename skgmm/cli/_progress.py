"""The progress line drawn on a terminal while EM runs."""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from typing import TextIO


class Progress:
    """One self-rewriting status line on a terminal (EM iteration, log-likelihood, time)."""

    def __init__(self, stream: TextIO, delay: float = 0.3):
        self.stream = stream
        self.delay = delay
        self.start = time.perf_counter()
        self.last_draw = 0.0
        self.width = 0
        self.candidate = ""

    def set_candidate(self, text: str) -> None:
        self.candidate = text

    def monitor(self):
        """A fit monitor that reports EM iterations to this line."""
        from skgmm._callbacks import FitMonitor

        progress = self

        class _LineMonitor(FitMonitor):
            def on_init_begin(self, init):
                self.init = init
                self.tick = time.perf_counter()

            def on_iteration_end(self, n_iter, lower_bound, change):
                now = time.perf_counter()
                per_iteration, self.tick = now - self.tick, now
                progress.draw(
                    f"{progress.candidate}  init {self.init + 1}  iteration {n_iter}  "
                    f"log-likelihood {lower_bound:.5f}  {1e3 * per_iteration:.1f} ms/iteration"
                )

        return _LineMonitor()

    def draw(self, text: str, force: bool = False) -> None:
        now = time.perf_counter()
        if not force and (now - self.start < self.delay or now - self.last_draw < 0.1):
            return
        self.last_draw = now
        text = text[:150]
        self.stream.write("\r" + text.ljust(self.width))
        self.stream.flush()
        self.width = len(text)

    def clear(self) -> None:
        if self.width:
            self.stream.write("\r" + " " * self.width + "\r")
            self.stream.flush()
            self.width = 0


def _progress_for(args: argparse.Namespace) -> Progress | None:
    """A progress line on standard error when it is a terminal and ``--quiet`` is off."""
    return Progress(sys.stderr) if sys.stderr.isatty() and not args.quiet else None


@contextlib.contextmanager
def _monitoring(progress: Progress | None):
    """Route the estimators' per-iteration hook to ``progress`` while fitting."""
    import skgmm._estimator as estimator_module

    original = getattr(estimator_module, "monitor_for", None)
    if progress is None or original is None:
        yield
        return
    estimator_module.monitor_for = lambda verbose, verbose_interval: progress.monitor()
    try:
        yield
    finally:
        estimator_module.monitor_for = original
        progress.clear()
