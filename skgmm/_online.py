"""Online EM: ``partial_fit`` by stepwise EM over running sufficient statistics.

Stepwise EM (Cappé & Moulines 2009, JRSS-B 71(3); Liang & Klein 2009) keeps
the sufficient statistics normalised per unit of row weight, ``s``, and after
each batch sets ``s <- (1 - eta_t) s + eta_t s_batch`` with
``eta_t = (t + learning_offset) ** -learning_decay``, then runs the ordinary
M-step (``skgmm.engine.mstep.m_step``) on ``s``.  The statistics of successive
batches are centred on different means, so they are combined with
:meth:`SufficientStats.scaled` and :func:`merge_stats` (which recentres
exactly), and the running statistics are recentred on the new means after each
step so that their sums stay small.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from sklearn.utils import check_random_state

from skgmm._validation import check_fitted_matches, check_initial_parameters
from skgmm.covariance import get_covariance_model
from skgmm.engine.loop import start_parameters
from skgmm.engine.mstep import m_step, mean_log_likelihood
from skgmm.engine.stats import SufficientStats, merge_stats
from skgmm.engine.threads import single_threaded_blas
from skgmm.sources import open_source


class OnlineState(NamedTuple):
    """Running statistics of ``partial_fit``, normalised: ``weight_sum == 1``.

    Stored as ``_online_state``; :meth:`GaussianMixtureEM.fit` removes it, so
    its presence marks statistics that belong to the current parameters (and
    survives pickling, unlike an identity test on ``means_``).
    """

    stats: SufficientStats


def step_size(n_steps: int, learning_decay: float, learning_offset: float) -> float:
    """Weight of batch number ``n_steps`` (0-based) in the running statistics."""
    if n_steps == 0:
        return 1.0
    return float((n_steps + learning_offset) ** -learning_decay)


def partial_fit(estimator, X, sample_weight=None):
    """One stepwise-EM update of ``estimator`` from the batch ``X``; see :func:`_partial_fit`."""
    # Tiny per-batch products: BLAS threads only add latency (as MiniBatchKMeans does).
    with single_threaded_blas:
        return _partial_fit(estimator, X, sample_weight)


def _partial_fit(estimator, X, sample_weight=None):
    """One stepwise-EM update of ``estimator`` from the batch ``X``.

    The first call (on an unfitted estimator) initialises the parameters from
    the batch with ``init_params`` and the ``*_init`` arrays, as ``fit`` does;
    later calls, and calls on a model fitted by ``fit``, start from the current
    parameters.

    Parameters
    ----------
    estimator : GaussianMixtureEM
    X : array-like of shape (n_samples, n_features)
    sample_weight : array-like of shape (n_samples,) or None

    Returns
    -------
    estimator : GaussianMixtureEM
        Updated in place.
    """
    fitted = hasattr(estimator, "means_")
    n_components = estimator.n_components
    model = get_covariance_model(estimator.covariance_type)
    source = open_source(
        estimator,
        X,
        sample_weight,
        model=model,
        n_components=n_components,
        reset=not fitted,
        n_required=1 if fitted else n_components,
        dtype=estimator.means_.dtype if fitted else None,
        n_threads=1,
    )
    if not fitted and source.n_samples < n_components:
        raise ValueError(
            "The first batch given to partial_fit initialises the mixture and needs "
            f"n_samples >= n_components, but got n_components = {n_components}, "
            f"n_samples = {source.n_samples}."
        )
    with source:
        if fitted:
            check_fitted_matches(estimator, model, source.n_features, "partial_fit")
            params = estimator._fitted_params()
        else:
            inits = check_initial_parameters(estimator, model, source.n_features)
            random_state = check_random_state(estimator.random_state)
            params = start_parameters(
                source, model, inits, estimator.init_params, n_components, estimator.reg_covar, random_state
            )
        batch = source.em_pass(model, params)

    state = getattr(estimator, "_online_state", None)
    if state is None or not fitted:
        # No running statistics for these parameters (first batch, or the
        # model was (re)fitted by ``fit``): they start from this batch.
        estimator.n_steps_ = 0
        estimator.n_samples_seen_ = 0
        estimator.lower_bounds_ = []
        state = None
    eta = step_size(estimator.n_steps_, estimator.learning_decay, estimator.learning_offset)
    batch_normalised = batch.scaled(1.0 / batch.weight_sum)
    if state is None:
        running = batch_normalised
    else:
        running = merge_stats(state.stats.scaled(1.0 - eta), batch_normalised.scaled(eta))

    params = m_step(running, model, estimator.reg_covar, source.dtype, previous=params)
    estimator._set_params_attributes(model, params)
    estimator._online_state = OnlineState(running.recentred(params.means.astype(np.float64)))
    estimator.n_steps_ += 1
    estimator.n_samples_seen_ += source.n_samples
    # The batch's mean log-likelihood under the parameters before this step.
    estimator.lower_bound_ = mean_log_likelihood(batch)
    estimator.lower_bounds_.append(estimator.lower_bound_)
    estimator.n_iter_ = estimator.n_steps_
    estimator.converged_ = False
    return estimator
