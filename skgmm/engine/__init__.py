"""The EM engine: pure functions over sufficient statistics.

- :mod:`~skgmm.engine.stats`: :class:`SufficientStats`, centred, merged exactly.
- :mod:`~skgmm.engine.mstep`: parameters, the per-pass kernel, the M-step.
- :mod:`~skgmm.engine.logsumexp`: the one log-sum-exp of every E-step.
- :mod:`~skgmm.engine.blocks`: passes over the row blocks of an in-memory array.
- :mod:`~skgmm.engine.threads`: block sizes, the thread pool, the BLAS limiter.
- :mod:`~skgmm.engine.loop`: the EM loop (starts, iterations, best run).
- :mod:`~skgmm.engine.degenerate`, :mod:`~skgmm.engine.guard`: data-scale
  checks and empty components.

Nothing here is imported by ``import skgmm.engine``: each module on its own.
"""
