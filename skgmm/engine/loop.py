"""The EM loop, written once above the data sources.

``n_init`` starts × ``max_iter`` iterations, the best run kept, re-seeding of
empty components and the convergence warning, as in scikit-learn's
``BaseMixture.fit_predict``.  The loop sees the data only through a source's
fused pass (:meth:`~skgmm.sources.base.DataSource.em_pass`).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from skgmm._warnings import warn_user
from skgmm.engine.mstep import MixtureParams, estimate_parameters, m_step, mean_log_likelihood


class EMSettings(NamedTuple):
    """The estimator's hyper-parameters the loop needs."""

    max_iter: int
    tol: float
    reg_covar: float
    #: mclust's rule: ``tol`` bounds ``|L - L_old| / (1 + |L|)`` of the total
    #: log-likelihood ``L`` rather than the change of the mean.
    relative: bool = False


class EMRun(NamedTuple):
    """What one run of EM iterations ends with."""

    params: MixtureParams
    lower_bound: float
    lower_bounds: list
    n_iter: int
    converged: bool


def run_em(
    em_pass, model, params, lower_bound, settings: EMSettings, monitor, dtype, guard=None, step=None
) -> EMRun:
    """EM iterations from ``params``.

    ``em_pass(params)`` returns the sufficient statistics of one fused E+M
    sweep over the data; ``lower_bound`` is the value the first change is
    measured from (``-inf`` for a new start).  ``step(stats, params)``, if
    given, replaces the M-step and the bound: it returns the next parameters
    and the lower bound of the iteration (a variational fit,
    :mod:`skgmm._bayesian`); by default :func:`m_step` and the mean
    log-likelihood.
    """
    lower_bounds = []
    converged = False
    n_iter = 0
    if guard is not None:
        guard.start_run()
    if settings.max_iter == 0:
        return EMRun(params, -np.inf, [], 0, False)
    for n_iter in range(1, settings.max_iter + 1):
        previous = lower_bound
        stats = em_pass(params)
        if step is None:
            new_params = m_step(stats, model, settings.reg_covar, dtype, previous=params)
            lower_bound = mean_log_likelihood(stats)
        else:
            new_params, lower_bound = step(stats, params)
        # Components left without data are re-seeded (see skgmm.engine.guard).
        params, reseeded = (new_params, []) if guard is None else guard.recover(new_params)
        lower_bounds.append(lower_bound)
        change = lower_bound - previous
        monitor.on_iteration_end(n_iter, lower_bound, change)
        if settings.relative:
            # the mean's change times the total weight over 1 + |total|
            total = stats.weight_sum
            measure = abs(change) * total / (1.0 + abs(lower_bound) * total)
        else:
            measure = abs(change)
        if reseeded:
            guard.warn_reseeded(reseeded)
        elif measure < settings.tol:
            converged = True
            break
    monitor.on_init_end(lower_bound, converged)
    return EMRun(params, lower_bound, lower_bounds, n_iter, converged)


def fit_best(
    source, model, start, settings: EMSettings, n_init, monitor, guard, warm=None, step=None
) -> EMRun:
    """EM from each start on ``source``; the run with the largest final lower bound.

    ``start(init)`` gives the initial parameters of start ``init``.  With
    ``n_init=0``, one run continues from ``warm = (params, lower_bound)`` (a
    warm start).  Warns when the kept run did not converge, and (with a
    ``guard``) about empty or collapsed components of the result.  ``step``
    as in :func:`run_em`.
    """
    best = None
    for init in range(max(n_init, 1)):
        monitor.on_init_begin(init)
        params, lower_bound = (start(init), -np.inf) if n_init else warm
        run = run_em(
            lambda p: source.em_pass(model, p),
            model,
            params,
            lower_bound,
            settings,
            monitor,
            source.dtype,
            guard,
            step,
        )
        if best is None or settings.max_iter == 0 or run.lower_bound > best.lower_bound:
            best = run
    if not best.converged and settings.max_iter > 0:
        warn_user(
            "Best performing initialization did not converge. Try different init "
            "parameters, or increase max_iter, tol, or check for degenerate data.",
            ConvergenceWarning,
        )
    if guard is not None:
        guard.warn_if_empty(best.params)
    return best


def start_parameters(source, model, inits, init_params, n_components, reg_covar, random_state, init=0):
    """Starting parameters of start ``init``: from ``init_params`` and the ``*_init`` arrays.

    The initialiser (:data:`skgmm._init.INITIALISERS`) gives responsibilities
    or labels on the rows of ``source.init_source(init)``; one M-step turns
    them into parameters (weights divided by the total row weight, as
    scikit-learn divides by ``n_samples``).  Given ``*_init`` arrays replace
    what they give.
    """
    from skgmm._init import INITIALISERS

    dtype = source.dtype
    weights, means, covariances = inits["weights"], inits["means"], None
    if any(value is None for value in inits.values()):
        rows = source.init_source(init)
        resp = INITIALISERS[init_params](rows.X, rows.sample_weight, n_components, random_state)
        est_weights, est_means, covariances = parameters_from_resp(rows, model, resp, n_components, reg_covar)
        weights = est_weights if weights is None else weights
        means = est_means if means is None else means
    if inits["precisions"] is None:
        covariances = covariances.astype(dtype)
        precisions_cholesky = model.compute_precisions_cholesky(covariances)
    else:
        precisions_cholesky = model.precisions_cholesky_from_precisions(inits["precisions"])
        covariances = model.covariances_from_precisions_cholesky(precisions_cholesky)
    return MixtureParams(
        weights=np.asarray(weights, dtype=dtype),
        means=np.asarray(means, dtype=dtype),
        covariances=np.asarray(covariances, dtype=dtype),
        precisions_cholesky=np.asarray(precisions_cholesky, dtype=dtype),
    )


def parameters_from_resp(rows, model, resp, n_components, reg_covar):
    """Weights, means and covariances (float64) of one M-step from initial responsibilities.

    ``rows`` is an in-memory source (a source's ``init_source``) and ``resp``
    an initialiser's output on its rows.  The weights are divided by the total
    row weight, as scikit-learn divides by ``n_samples``.
    """
    stats = rows.resp_stats(model, resp, n_components)
    return estimate_parameters(stats, model, reg_covar, rows.dtype, weight_total=stats.weight_sum)
