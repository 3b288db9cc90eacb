"""Variational update rules of a Bayesian Gaussian mixture, as pure functions.

scikit-learn's ``BayesianGaussianMixture`` is the engine's EM loop with two
pieces swapped.  The M-step maps the same statistics (``nk``, ``xk``, ``sk``
of ``_estimate_gaussian_parameters``) to the variational posterior
(:func:`variational_m_step`).  The E-step is the plain Gaussian log-density of
the returned ``means`` and ``precisions_cholesky`` plus one constant per
component (:func:`e_step_terms`), for all four covariance types: it replaces
the ``log weights`` that EM adds.  The bound (:func:`lower_bound`) needs one
sum over rows, ``sum_i w_i sum_k r_ik log r_ik`` of the E-step that fed the
M-step, which :func:`estimate_resp_log_resp_sum` gets from that E-step's
statistics (``resp_sum``, scatter about its means, summed log-normaliser).

Sample weights: a row of weight ``w`` counts as ``w`` rows.  ``nk``, ``xk``,
``sk``, the scatter, the log-normaliser and the entropy sum are ``w``-weighted
sums; the data covariance of the default prior divides by ``sum(w) - 1``
(``np.cov(X.T, fweights=w)``).  scikit-learn takes no weights; with integer
weights every function gives what it gives on the repeated rows.

scikit-learn's layout throughout: ``precision = L @ L.T`` with ``L`` upper
triangular, and one scalar ``degrees_of_freedom`` for 'tied'.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from scipy.special import betaln, digamma, gammaln
from sklearn.utils import check_array

from skgmm._typing import FloatArray
from skgmm.covariance import get_covariance_model

LOG_2PI = math.log(2 * math.pi)
WEIGHT_CONCENTRATION_PRIOR_TYPES = ("dirichlet_process", "dirichlet_distribution")


class VariationalPriors(NamedTuple):
    """Prior hyper-parameters, defaults filled in (scikit-learn's ``*_prior_``).

    ``mean_prior`` has shape (n_features,); ``covariance_prior`` (n_features,
    n_features) for 'full' and 'tied', (n_features,) for 'diag', a float for
    'spherical'.
    """

    weight_concentration_prior_type: str
    weight_concentration_prior: float
    mean_precision_prior: float
    mean_prior: FloatArray
    degrees_of_freedom_prior: float
    covariance_prior: FloatArray | float


class VariationalParams(NamedTuple):
    """Parameters of the variational posterior, in ``_get_parameters`` order.

    ``weight_concentration``: two (n_components,) arrays, the Beta parameters
    of the stick lengths ('dirichlet_process'), or the Dirichlet parameters
    ('dirichlet_distribution'); ``degrees_of_freedom`` is a float for 'tied';
    ``covariances``: Wishart scale inverses over the degrees of freedom,
    shaped as ``GaussianMixture.covariances_``, ``precisions_cholesky`` the
    upper Cholesky factors of their inverses.
    """

    weight_concentration: tuple[FloatArray, FloatArray] | FloatArray
    mean_precision: FloatArray
    means: FloatArray
    degrees_of_freedom: FloatArray | float
    covariances: FloatArray
    precisions_cholesky: FloatArray


# -- priors -------------------------------------------------------------------


def _check_shape(param, shape, name):
    if param.shape != shape:
        raise ValueError(f"The parameter '{name}' should have the shape of {shape}, but got {param.shape}")


def check_variational_priors(
    n_components: int,
    covariance_type: str,
    data_mean,
    data_covariance,
    *,
    weight_concentration_prior_type: str = "dirichlet_process",
    weight_concentration_prior=None,
    mean_precision_prior=None,
    mean_prior=None,
    degrees_of_freedom_prior=None,
    covariance_prior=None,
) -> VariationalPriors:
    """Check the prior hyper-parameters and fill in scikit-learn's defaults.

    The range checks of ``_parameter_constraints`` (positive floats, known
    strings) are the estimator's; this does what ``_check_parameters`` does.

    Parameters
    ----------
    n_components : int
    covariance_type : {'full', 'tied', 'diag', 'spherical'}
    data_mean : ndarray of shape (n_features,)
        Weighted mean of the rows: the default ``mean_prior``.
    data_covariance : ndarray of shape (n_features, n_features) or (n_features,)
        Weighted covariance of the rows, denominator ``sum(w) - 1``, or only
        its diagonal for 'diag' and 'spherical'.  The default
        ``covariance_prior``: all of it, its diagonal ('diag'), its mean ('spherical').
    weight_concentration_prior_type : {'dirichlet_process', 'dirichlet_distribution'}
    weight_concentration_prior, mean_precision_prior, mean_prior, degrees_of_freedom_prior, covariance_prior
        As given, or None for the defaults: ``1 / n_components``, 1,
        ``data_mean``, ``n_features`` (a given value must exceed ``n_features - 1``).

    Returns
    -------
    priors : VariationalPriors
    """
    if weight_concentration_prior_type not in WEIGHT_CONCENTRATION_PRIOR_TYPES:
        raise ValueError(
            f"Unknown weight_concentration_prior_type {weight_concentration_prior_type!r}; "
            f"valid types are {list(WEIGHT_CONCENTRATION_PRIOR_TYPES)}."
        )
    data_mean = np.asarray(data_mean)
    (n_features,) = data_mean.shape
    if mean_prior is None:
        mean_prior = data_mean
    else:
        mean_prior = check_array(mean_prior, dtype=[np.float64, np.float32], ensure_2d=False)
        _check_shape(mean_prior, (n_features,), "means")
    if degrees_of_freedom_prior is None:
        degrees_of_freedom_prior = n_features
    elif not degrees_of_freedom_prior > n_features - 1.0:
        raise ValueError(
            "The parameter 'degrees_of_freedom_prior' should be greater than "
            f"{n_features - 1:d}, but got {degrees_of_freedom_prior:.3f}."
        )
    return VariationalPriors(
        weight_concentration_prior_type=weight_concentration_prior_type,
        weight_concentration_prior=(
            1.0 / n_components if weight_concentration_prior is None else weight_concentration_prior
        ),
        mean_precision_prior=1.0 if mean_precision_prior is None else mean_precision_prior,
        mean_prior=mean_prior,
        degrees_of_freedom_prior=degrees_of_freedom_prior,
        covariance_prior=_check_covariance_prior(
            covariance_type, covariance_prior, data_covariance, n_features
        ),
    )


def _check_covariance_prior(covariance_type, covariance_prior, data_covariance, n_features):
    _wishart(covariance_type)  # unknown types: the registry's error
    if covariance_prior is None:
        data_covariance = np.asarray(data_covariance)
        if covariance_type in ("full", "tied"):
            return np.atleast_2d(data_covariance)
        variances = np.diagonal(data_covariance) if data_covariance.ndim == 2 else data_covariance
        return variances if covariance_type == "diag" else variances.mean()
    if covariance_type == "spherical":
        return covariance_prior
    prior = check_array(covariance_prior, dtype=[np.float64, np.float32], ensure_2d=False)
    if covariance_type == "diag":
        _check_shape(prior, (n_features,), "diag covariance_prior")
        if np.any(prior <= 0.0):
            raise ValueError("'diag precision' should be positive")
        return prior
    _check_shape(prior, (n_features, n_features), f"{covariance_type} covariance_prior")
    if not (np.allclose(prior, prior.T, rtol=1e-05, atol=1e-08) and np.all(np.linalg.eigvalsh(prior) > 0.0)):
        raise ValueError(f"'{covariance_type} precision' should be symmetric, positive-definite")
    return prior


# -- M-step -------------------------------------------------------------------


class _Wishart:
    """What depends on the covariance type in the variational updates.

    ``posterior(nk, sk, diff = xk - mean_prior, scaled_nk = nk * mean_precision_prior
    / mean_precision, priors)``: degrees of freedom and normalised covariances;
    ``log_det_cholesky``: per precision factor; ``quadratic_sum``: ``sum_k trace(P_k S_k)``.
    """

    shared = False  # one Wishart factor for all components ('tied')


class _FullWishart(_Wishart):
    def posterior(self, nk, sk, diff, scaled_nk, priors):
        dof = priors.degrees_of_freedom_prior + nk
        covariances = (
            priors.covariance_prior
            + nk[:, None, None] * sk
            + scaled_nk[:, None, None] * diff[:, :, None] * diff[:, None, :]
        )
        return dof, covariances / dof[:, None, None]

    def log_det_cholesky(self, precisions_cholesky, n_features):
        return np.log(np.diagonal(precisions_cholesky, axis1=1, axis2=2)).sum(axis=1)

    def quadratic_sum(self, precisions_cholesky, scatter):
        whitened = np.matmul(np.swapaxes(precisions_cholesky, 1, 2), scatter) @ precisions_cholesky
        return float(np.trace(whitened, axis1=1, axis2=2).sum())


class _TiedWishart(_Wishart):
    shared = True

    def posterior(self, nk, sk, diff, scaled_nk, priors):
        n_components = len(nk)
        dof = priors.degrees_of_freedom_prior + nk.sum() / n_components
        covariances = (
            priors.covariance_prior
            + sk * nk.sum() / n_components
            + (scaled_nk * diff.T) @ diff / n_components
        )
        return dof, covariances / dof

    def log_det_cholesky(self, precisions_cholesky, n_features):
        return np.log(np.diagonal(precisions_cholesky)).sum()

    def quadratic_sum(self, precisions_cholesky, scatter):
        return float(np.trace(precisions_cholesky.T @ scatter @ precisions_cholesky))


class _DiagWishart(_Wishart):
    def posterior(self, nk, sk, diff, scaled_nk, priors):
        dof = priors.degrees_of_freedom_prior + nk
        covariances = priors.covariance_prior + nk[:, None] * sk + scaled_nk[:, None] * diff**2
        return dof, covariances / dof[:, None]

    def log_det_cholesky(self, precisions_cholesky, n_features):
        return np.log(precisions_cholesky).sum(axis=1)

    def quadratic_sum(self, precisions_cholesky, scatter):
        return float(np.sum(precisions_cholesky**2 * scatter))


class _SphericalWishart(_Wishart):
    def posterior(self, nk, sk, diff, scaled_nk, priors):
        dof = priors.degrees_of_freedom_prior + nk
        covariances = priors.covariance_prior + nk * sk + scaled_nk * np.mean(diff**2, axis=1)
        return dof, covariances / dof

    def log_det_cholesky(self, precisions_cholesky, n_features):
        return n_features * np.log(precisions_cholesky)

    def quadratic_sum(self, precisions_cholesky, scatter):
        # scatter is the engine's per-feature diagonal (n_components, n_features)
        return float(np.sum(precisions_cholesky**2 * np.sum(scatter, axis=-1)))


_WISHARTS: dict[str, _Wishart] = {
    "full": _FullWishart(),
    "tied": _TiedWishart(),
    "diag": _DiagWishart(),
    "spherical": _SphericalWishart(),
}


def _wishart(covariance_type: str) -> _Wishart:
    try:
        return _WISHARTS[covariance_type]
    except KeyError:
        raise ValueError(
            f"Unknown covariance_type {covariance_type!r}; valid types are {sorted(_WISHARTS)}."
        ) from None


def _estimate_weight_concentration(nk, priors):
    # Beta stick-length parameters (1 + nk, prior + mass of the later components)
    # for a Dirichlet process, Dirichlet parameters prior + nk otherwise
    if priors.weight_concentration_prior_type == "dirichlet_process":
        later_mass = np.hstack((np.cumsum(nk[::-1])[-2::-1], 0))
        return (1.0 + nk, priors.weight_concentration_prior + later_mass)
    return priors.weight_concentration_prior + nk


def variational_m_step(nk, xk, sk, priors: VariationalPriors, covariance_type: str) -> VariationalParams:
    """Variational M-step: posterior parameters from the Gaussian statistics (``_m_step``).

    Parameters
    ----------
    nk : ndarray of shape (n_components,)
        Weighted responsibility sums plus ``10 * eps`` of the data dtype, as
        ``_estimate_gaussian_parameters`` returns them.
    xk : ndarray of shape (n_components, n_features)
        Component means ``sum w r x / nk``.
    sk : ndarray
        Covariances as ``_estimate_gaussian_parameters`` returns them, ``reg_covar``
        included (so none is taken here): 'full' (n_components, n_features,
        n_features) ``sum w r (x - xk)(x - xk)^T / nk + reg_covar I``; 'diag'
        (n_components, n_features) its diagonal; 'spherical' (n_components,)
        the mean of that; 'tied' (n_features, n_features), see
        :func:`estimate_tied_covariance`.
    priors : VariationalPriors
    covariance_type : {'full', 'tied', 'diag', 'spherical'}

    Returns
    -------
    params : VariationalParams

    Raises
    ------
    ValueError
        If a covariance is not positive definite.
    """
    wishart = _wishart(covariance_type)
    mean_precision = priors.mean_precision_prior + nk
    means = (priors.mean_precision_prior * priors.mean_prior + nk[:, None] * xk) / mean_precision[:, None]
    diff = xk - priors.mean_prior
    scaled_nk = nk * priors.mean_precision_prior / mean_precision
    dof, covariances = wishart.posterior(nk, sk, diff, scaled_nk, priors)
    return VariationalParams(
        weight_concentration=_estimate_weight_concentration(nk, priors),
        mean_precision=mean_precision,
        means=means,
        degrees_of_freedom=dof,
        covariances=covariances,
        precisions_cholesky=get_covariance_model(covariance_type).compute_precisions_cholesky(covariances),
    )


def estimate_tied_covariance(data_second_moment, nk, xk, reg_covar: float) -> FloatArray:
    """scikit-learn's 'tied' ``sk``: ``(sum_i w_i x_i x_i^T - sum_k nk xk xk^T) / sum(nk) + reg_covar I``.

    After an E-step this is the pooled within-component scatter (which the
    engine computes centred), but not at a start where only some rows carry
    responsibility ('random_from_data', 'k-means++'): it then depends on the
    coordinate origin, and only this formula reproduces scikit-learn.

    Parameters
    ----------
    data_second_moment : ndarray of shape (n_features, n_features)
        ``sum_i w_i x_i x_i^T`` about the coordinate origin, e.g.
        ``data_scatter + weight_sum * outer(data_mean, data_mean)``.
    nk : ndarray of shape (n_components,)
    xk : ndarray of shape (n_components, n_features)
    reg_covar : float

    Returns
    -------
    sk : ndarray of shape (n_features, n_features)
    """
    covariance = (data_second_moment - (nk * xk.T) @ xk) / nk.sum()
    return covariance + reg_covar * np.eye(len(covariance))


# -- E-step -------------------------------------------------------------------


def compute_log_weights(weight_concentration) -> FloatArray:
    """Expected log-weights ``E[log pi_k]`` (``_estimate_log_weights``).

    Parameters
    ----------
    weight_concentration : tuple of two ndarrays of shape (n_components,) or ndarray

    Returns
    -------
    log_weights : ndarray of shape (n_components,)
    """
    if isinstance(weight_concentration, tuple):  # a Dirichlet process
        alpha, beta = weight_concentration
        digamma_sum = digamma(alpha + beta)
        log_rest = np.cumsum(digamma(beta) - digamma_sum)[:-1]
        return digamma(alpha) - digamma_sum + np.hstack((0, log_rest))
    return digamma(weight_concentration) - digamma(np.sum(weight_concentration))


def compute_weights(weight_concentration) -> FloatArray:
    """Mixture weights ``weights_``: the expected weights, normalised (``_set_parameters``).

    Parameters
    ----------
    weight_concentration : tuple of two ndarrays of shape (n_components,) or ndarray

    Returns
    -------
    weights : ndarray of shape (n_components,)
    """
    if isinstance(weight_concentration, tuple):  # a Dirichlet process
        alpha, beta = weight_concentration
        total = alpha + beta
        weights = alpha / total * np.hstack((1, np.cumprod(beta[:-1] / total[:-1])))
        return weights / np.sum(weights)
    return weight_concentration / np.sum(weight_concentration)


def _half_dofs(degrees_of_freedom, n_features):
    # (dof - j) / 2 for j < n_features, shape (n_features, n_components) or (n_features, 1)
    return 0.5 * (np.asarray(degrees_of_freedom) - np.arange(n_features)[:, None])


def e_step_terms(params: VariationalParams, covariance_type: str, n_features: int) -> FloatArray:
    """Per-component constants of the variational E-step.

    ``log N(x | means, precisions_cholesky) + e_step_terms`` is scikit-learn's
    ``_estimate_weighted_log_prob`` for every covariance type: the expected
    quadratic form ``d / mean_precision + dof (x - m)^T W (x - m)`` is the
    Gaussian one of the normalised ``covariances`` plus a constant.

    Parameters
    ----------
    params : VariationalParams
    covariance_type : {'full', 'tied', 'diag', 'spherical'}
    n_features : int

    Returns
    -------
    terms : ndarray of shape (n_components,)
        ``-d/2 log(dof) + (log_lambda - d / mean_precision) / 2 + E[log pi]``.
    """
    _wishart(covariance_type)
    dof = params.degrees_of_freedom
    # expected log-det of the Wishart precision
    log_lambda = n_features * math.log(2.0) + np.sum(digamma(_half_dofs(dof, n_features)), axis=0)
    offsets = -0.5 * n_features * np.log(dof) + 0.5 * (log_lambda - n_features / params.mean_precision)
    return offsets + compute_log_weights(params.weight_concentration)


# -- lower bound ---------------------------------------------------------------


def estimate_resp_log_resp_sum(
    resp_sum, scatter, log_likelihood: float, params: VariationalParams, covariance_type: str
) -> float:
    """``sum_i w_i sum_k r_ik log r_ik`` of an E-step, from its statistics.

    With ``l_ik = log N(x_i | k) + t_k`` (``t = e_step_terms(params)``) and
    ``log r_ik = l_ik - logsumexp_k l_ik``, the sum is ``sum_k sum_i w r_ik l_ik
    - sum_i w_i logsumexp_k l_ik``, and the first part is linear in the
    statistics: ``sum_k nk_k (log det L_k - d/2 log 2 pi + t_k) - trace(P_k
    S_k) / 2``.  Valid when each row's responsibilities sum to one (any E-step).

    Parameters
    ----------
    resp_sum : ndarray of shape (n_components,)
        ``sum w r`` of the E-step (no ``10 * eps``).
    scatter : ndarray
        ``sum w r (x - m_k)(x - m_k)^T`` about the E-step means: (n_components,
        n_features, n_features), summed over components for 'tied', the
        diagonals (n_components, n_features) for 'diag' and 'spherical'.
    log_likelihood : float
        ``sum_i w_i logsumexp_k l_ik``, the E-step's log-normaliser sum.
    params : VariationalParams
        The parameters the E-step used.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}

    Returns
    -------
    resp_log_resp_sum : float
    """
    wishart = _wishart(covariance_type)
    n_features = params.means.shape[1]
    log_det = wishart.log_det_cholesky(params.precisions_cholesky, n_features)
    per_row = log_det - 0.5 * n_features * LOG_2PI + e_step_terms(params, covariance_type, n_features)
    expected = np.dot(resp_sum, per_row) - 0.5 * wishart.quadratic_sum(params.precisions_cholesky, scatter)
    return float(expected - log_likelihood)


def lower_bound(params: VariationalParams, resp_log_resp_sum: float, covariance_type: str) -> float:
    """scikit-learn's variational lower bound (``_compute_lower_bound``), up to its constants.

    Parameters
    ----------
    params : VariationalParams
        The parameters after the M-step.
    resp_log_resp_sum : float
        ``sum_i w_i sum_k r_ik log r_ik`` of the responsibilities that fed that
        M-step (the only row quantity: scikit-learn's ``log_prob_norm`` is unused).
    covariance_type : {'full', 'tied', 'diag', 'spherical'}

    Returns
    -------
    lower_bound : float
    """
    wishart = _wishart(covariance_type)
    n_components, n_features = params.means.shape
    dof = params.degrees_of_freedom
    # the Wishart of the normalised precision has log-det shifted by d/2 log(dof)
    log_det = wishart.log_det_cholesky(params.precisions_cholesky, n_features)
    log_det = log_det - 0.5 * n_features * np.log(dof)
    log_gamma = np.sum(gammaln(_half_dofs(dof, n_features)), axis=0)
    log_wishart_norm = -(dof * log_det + dof * n_features * 0.5 * math.log(2.0) + log_gamma)
    # scikit-learn counts the shared 'tied' factor once per component
    log_wishart = np.sum(log_wishart_norm) * (n_components if wishart.shared else 1)
    weight_concentration = params.weight_concentration
    if isinstance(weight_concentration, tuple):  # a Dirichlet process
        log_norm_weight = -np.sum(betaln(*weight_concentration))
    else:
        log_norm_weight = gammaln(np.sum(weight_concentration)) - np.sum(gammaln(weight_concentration))
    return float(
        -resp_log_resp_sum
        - log_wishart
        - log_norm_weight
        - 0.5 * n_features * np.sum(np.log(params.mean_precision))
    )
