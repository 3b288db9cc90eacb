"""The variational rules run on today's EM engine, unchanged, reproduce scikit-learn.

This is the thin-shell claim checked end to end: the blocked, threaded EM pass
(``_drivers.em_pass``) with the variational ``e_step_terms`` in place of the
log-weights, its statistics through ``_em.estimate_parameters`` into
:func:`variational_m_step`, and the entropy sum of the bound from the same
statistics.  It is the only test of the variational module that reaches into
the engine's internals (``PassKernel``, ``prepare_pass``, ``em_pass``,
``stats_from_resp``): adapt it when those move.
"""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import BayesianGaussianMixture
from sklearn.utils import check_random_state

from skgmm._variational import (
    check_variational_priors,
    compute_weights,
    e_step_terms,
    estimate_resp_log_resp_sum,
    estimate_tied_covariance,
    lower_bound,
    variational_m_step,
)
from skgmm.covariance import get_covariance_model
from skgmm.engine.blocks import em_pass, resp_stats
from skgmm.engine.mstep import MixtureParams, estimate_parameters, prepare_pass
from skgmm.engine.threads import BlockRunner

from .conftest import COVARIANCE_TYPES, INIT_PARAMS
from .test_variational import DATASETS, N_COMPONENTS, PRIOR_TYPES, REG_COVAR, initial_resp, params_of

SINGLE_ROW_STARTS = {"random_from_data", "k-means++"}


def variational_pass_kernel(model, params, dtype):
    """The EM kernel of the posterior means and precisions, E-step terms for log-weights."""
    weights = compute_weights(params.weight_concentration)  # only centres the pass
    pk = prepare_pass(model, MixtureParams(weights, params.means, None, params.precisions_cholesky), dtype)
    terms = e_step_terms(params, model.name, params.means.shape[1])
    return pk._replace(log_weights=terms.astype(dtype))


def engine_fit(runner, X, covariance_type, prior_type, init_params, seed=0, max_iter=100, tol=1e-3):
    model = get_covariance_model(covariance_type)
    dtype = X.dtype
    eps10 = 10 * np.finfo(dtype).eps
    data = resp_stats(runner, X, None, np.ones((len(X), 1)), get_covariance_model("full"), 1)
    data_mean = data.shift[0] + data.resp_x_sum[0] / data.resp_sum[0]
    data_scatter = data.scatter[0]  # about data_mean (recentred by stats_from_resp)
    priors = check_variational_priors(
        N_COMPONENTS,
        covariance_type,
        data_mean,
        data_scatter / (data.weight_sum - 1),
        weight_concentration_prior_type=prior_type,
    )

    def m_step(stats):
        nk = stats.resp_sum + eps10
        _, xk, sk = estimate_parameters(stats, model, REG_COVAR, dtype)
        return nk, xk, sk

    resp = initial_resp(X, init_params, check_random_state(seed))
    nk, xk, sk = m_step(resp_stats(runner, X, None, resp, model, N_COMPONENTS))
    if covariance_type == "tied" and init_params in SINGLE_ROW_STARTS:
        # scikit-learn's start takes the rows' second moment about the coordinate origin
        second_moment = data_scatter + data.weight_sum * np.outer(data_mean, data_mean)
        sk = estimate_tied_covariance(second_moment, nk, xk, REG_COVAR)
    params = variational_m_step(nk, xk, sk, priors, covariance_type)
    bound, bounds = -np.inf, []
    for _ in range(max_iter):
        previous = bound
        stats = em_pass(runner, X, None, variational_pass_kernel(model, params, dtype))
        # the statistics are centred on the pass means: the E-step means
        about_means = stats.recentred(np.asarray(params.means, np.float64))
        entropy_sum = estimate_resp_log_resp_sum(
            stats.resp_sum, about_means.scatter, stats.log_likelihood, params, covariance_type
        )
        params = variational_m_step(*m_step(stats), priors, covariance_type)
        bound = lower_bound(params, entropy_sum, covariance_type)
        bounds.append(bound)
        if abs(bound - previous) < tol:
            break
    return params, bounds


@pytest.mark.parametrize("data", ["iris", "mixture_10d"])
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("prior_type", PRIOR_TYPES)
@pytest.mark.parametrize("init_params", INIT_PARAMS)
def test_engine_runs_the_variational_fit(data, covariance_type, prior_type, init_params):
    X = DATASETS[data]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref = BayesianGaussianMixture(
            n_components=N_COMPONENTS,
            covariance_type=covariance_type,
            weight_concentration_prior_type=prior_type,
            init_params=init_params,
            reg_covar=REG_COVAR,
            random_state=0,
        ).fit(X)
    # small blocks on two threads: merged statistics, as in a real fit
    with BlockRunner(len(X), block_size=64, n_threads=2) as runner:
        params, bounds = engine_fit(runner, X, covariance_type, prior_type, init_params)
    assert len(bounds) == ref.n_iter_
    assert_allclose(bounds, np.ravel(ref.lower_bounds_), rtol=1e-6)
    ref_params = params_of(ref)
    for name in ("means", "covariances", "precisions_cholesky", "mean_precision", "degrees_of_freedom"):
        expected = getattr(ref_params, name)
        assert_allclose(getattr(params, name), expected, rtol=1e-6, atol=1e-6 * np.abs(expected).max())
    assert_allclose(compute_weights(params.weight_concentration), ref.weights_, rtol=1e-6, atol=1e-12)
    pk = variational_pass_kernel(get_covariance_model(covariance_type), params, X.dtype)
    log_prob = pk.model.weighted_log_prob_block(pk.kernel, X, pk.origin, pk.log_weights, {})
    assert_array_equal(np.argmax(log_prob, axis=1), ref.predict(X))
