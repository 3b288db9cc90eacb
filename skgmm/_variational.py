"""Variational update rules of a Bayesian Gaussian mixture, as pure functions.

The variational fit of :class:`sklearn.mixture.BayesianGaussianMixture` is the
engine's EM loop with two pieces swapped:

- the M-step maps the same statistics (``nk``, means ``xk`` and covariances
  ``sk`` as ``_estimate_gaussian_parameters`` returns them) to the parameters
  of the variational posterior: :func:`variational_m_step`;
- the E-step is the ordinary Gaussian log-density ``log N(x | means,
  precisions_cholesky)`` of the returned ``means`` and ``precisions_cholesky``
  plus one constant per component (:func:`e_step_terms`), for all four
  covariance types: the ``- log w_k`` the EM kernel adds becomes these terms.

The bound (:func:`lower_bound`) needs one sum over rows besides the
parameters, ``sum_i w_i sum_k r_ik log r_ik``, taken with the responsibilities
of the E-step that fed the M-step.  :func:`estimate_resp_log_resp_sum` gets it
from that E-step's statistics (``resp_sum``, the scatter about the E-step
means, the summed log-normaliser), so no new per-row quantity is needed.

Sample weights: a row of weight ``w`` counts as ``w`` rows.  ``nk``, ``xk``,
``sk``, the scatter and the log-normaliser are ``w``-weighted sums, the
entropy sum is ``sum_i w_i sum_k r_ik log r_ik``, and the data covariance of
the default covariance prior has the frequency-weight denominator
``sum(w) - 1`` (``np.cov(X.T, fweights=w)``).  scikit-learn's
``BayesianGaussianMixture`` takes no weights; with integer weights every
function here gives what it gives on the repeated rows.

Everything is in scikit-learn's layout (``precision = L @ L.T``, ``L`` upper
triangular; 'tied' has one scalar ``degrees_of_freedom``).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from scipy.special import betaln, digamma, gammaln
from sklearn.utils import check_array

from skgmm._covariance import get_covariance_model
from skgmm._typing import FloatArray

LOG_2PI = math.log(2 * math.pi)
WEIGHT_CONCENTRATION_PRIOR_TYPES = ("dirichlet_process", "dirichlet_distribution")


class VariationalPriors(NamedTuple):
    """Hyper-parameters of the priors, defaults filled in (scikit-learn's ``*_prior_``).

    Attributes
    ----------
    weight_concentration_prior_type : {'dirichlet_process', 'dirichlet_distribution'}
    weight_concentration_prior : float
    mean_precision_prior : float
    mean_prior : ndarray of shape (n_features,)
    degrees_of_freedom_prior : float
    covariance_prior : ndarray or float
        (n_features, n_features) for 'full' and 'tied', (n_features,) for
        'diag', a float for 'spherical'.
    """

    weight_concentration_prior_type: str
    weight_concentration_prior: float
    mean_precision_prior: float
    mean_prior: FloatArray
    degrees_of_freedom_prior: float
    covariance_prior: FloatArray | float


class VariationalParams(NamedTuple):
    """Parameters of the variational posterior (``BayesianGaussianMixture._get_parameters``).

    Attributes
    ----------
    weight_concentration : tuple of two ndarrays of shape (n_components,) or ndarray
        Beta parameters of the stick lengths ('dirichlet_process'), or the
        Dirichlet parameters ('dirichlet_distribution').
    mean_precision : ndarray of shape (n_components,)
    means : ndarray of shape (n_components, n_features)
    degrees_of_freedom : ndarray of shape (n_components,), or float for 'tied'
    covariances : ndarray
        Wishart scale inverses divided by the degrees of freedom, shaped as
        ``GaussianMixture.covariances_``.
    precisions_cholesky : ndarray
        Upper Cholesky factors of the inverses of ``covariances``.
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
        Weighted covariance of the rows with denominator ``sum(w) - 1`` (that
        of ``np.cov``), or only its diagonal for 'diag' and 'spherical'.
    weight_concentration_prior_type : {'dirichlet_process', 'dirichlet_distribution'}
    weight_concentration_prior, mean_precision_prior : float or None
        Defaults ``1 / n_components`` and 1.
    mean_prior : array-like of shape (n_features,) or None
    degrees_of_freedom_prior : float or None
        Default ``n_features``; must exceed ``n_features - 1``.
    covariance_prior : array-like, float or None
        Default: the data covariance, its diagonal ('diag') or the mean of
        its diagonal ('spherical').

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

    ``posterior(nk, sk, diff, scaled_nk, priors)`` gives the degrees of freedom
    and normalised covariances of the Wishart posterior (``diff = xk -
    mean_prior``, ``scaled_nk = nk * mean_precision_prior / mean_precision``);
    ``log_det_cholesky`` the log-determinant of each precision factor;
    ``quadratic_sum`` ``sum_k trace(P_k S_k)`` of a scatter about the means.
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


def estimate_weight_concentration(nk, priors: VariationalPriors):
    """Posterior of the weights (``_estimate_weights``).

    Parameters
    ----------
    nk : ndarray of shape (n_components,)
    priors : VariationalPriors

    Returns
    -------
    weight_concentration : tuple of two ndarrays of shape (n_components,) or ndarray
        ``(1 + nk, prior + mass of the later components)`` for a Dirichlet
        process, ``prior + nk`` for a Dirichlet distribution.
    """
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
        Covariances as ``_estimate_gaussian_parameters`` returns them, which
        already hold ``reg_covar`` (so no ``reg_covar`` is taken here):

        - 'full' (n_components, n_features, n_features): ``sum w r (x - xk)
          (x - xk)^T / nk + reg_covar I``;
        - 'tied' (n_features, n_features): ``(sum_i w_i x_i x_i^T - sum_k nk
          xk xk^T) / sum(nk) + reg_covar I``, the *total* weighted second
          moment of all rows, which is the pooled within-component scatter
          only when each row's responsibilities sum to one;
        - 'diag' (n_components, n_features): the diagonal of 'full';
        - 'spherical' (n_components,): the mean of 'diag' over features.
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
    covariances = np.asarray(covariances)
    return VariationalParams(
        weight_concentration=estimate_weight_concentration(nk, priors),
        mean_precision=mean_precision,
        means=means,
        degrees_of_freedom=dof,
        covariances=covariances,
        precisions_cholesky=get_covariance_model(covariance_type).compute_precisions_cholesky(covariances),
    )


# -- E-step -------------------------------------------------------------------


def _is_process(weight_concentration) -> bool:
    return isinstance(weight_concentration, tuple)


def compute_log_weights(weight_concentration) -> FloatArray:
    """Expected log-weights ``E[log pi_k]`` (``_estimate_log_weights``).

    Parameters
    ----------
    weight_concentration : tuple of two ndarrays of shape (n_components,) or ndarray
        As :func:`estimate_weight_concentration` returns it.

    Returns
    -------
    log_weights : ndarray of shape (n_components,)
    """
    if _is_process(weight_concentration):
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
    if _is_process(weight_concentration):
        alpha, beta = weight_concentration
        total = alpha + beta
        weights = alpha / total * np.hstack((1, np.cumprod(beta[:-1] / total[:-1])))
        return weights / np.sum(weights)
    return weight_concentration / np.sum(weight_concentration)


def _log_lambda(degrees_of_freedom, n_features):
    # sum_j digamma((dof - j) / 2) + d log 2, the expected log-det of the Wishart precision
    halves = 0.5 * (np.asarray(degrees_of_freedom) - np.arange(n_features)[:, None])
    return n_features * math.log(2.0) + np.sum(digamma(halves), axis=0)


def e_step_terms(params: VariationalParams, covariance_type: str, n_features: int) -> FloatArray:
    """Per-component constants of the variational E-step.

    ``log N(x | params.means, params.precisions_cholesky) + e_step_terms(...)``
    is scikit-learn's ``_estimate_weighted_log_prob`` for every covariance type:
    the expected quadratic form ``d / mean_precision + dof (x - m)^T W (x - m)``
    is the Gaussian one of the normalised ``covariances`` plus a constant, and
    the rest (expected log-determinant, ``E[log pi]``) does not depend on ``x``.

    Parameters
    ----------
    params : VariationalParams
    covariance_type : {'full', 'tied', 'diag', 'spherical'}
    n_features : int

    Returns
    -------
    terms : ndarray of shape (n_components,)
        ``-d/2 log(dof) + (log_lambda - d / mean_precision) / 2 + E[log pi]``,
        to add where EM adds ``log weights``.
    """
    _wishart(covariance_type)
    dof = params.degrees_of_freedom
    log_lambda = _log_lambda(dof, n_features)
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
        ``sum w r (x - m_k)(x - m_k)^T`` about the E-step means
        ``params.means``: (n_components, n_features, n_features) for 'full',
        summed over components (n_features, n_features) for 'tied', the
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
        M-step (the row log-normaliser, although passed to scikit-learn's
        method, does not enter).
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
    halves = 0.5 * (np.asarray(dof) - np.arange(n_features)[:, None])
    log_gamma = np.sum(gammaln(halves), axis=0)
    log_wishart_norm = -(dof * log_det + dof * n_features * 0.5 * math.log(2.0) + log_gamma)
    # scikit-learn counts the shared 'tied' factor once per component
    log_wishart = np.sum(log_wishart_norm) * (n_components if wishart.shared else 1)
    weight_concentration = params.weight_concentration
    if _is_process(weight_concentration):
        log_norm_weight = -np.sum(betaln(*weight_concentration))
    else:
        log_norm_weight = gammaln(np.sum(weight_concentration)) - np.sum(gammaln(weight_concentration))
    return float(
        -resp_log_resp_sum
        - log_wishart
        - log_norm_weight
        - 0.5 * n_features * np.sum(np.log(params.mean_precision))
    )
