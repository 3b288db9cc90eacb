"""Missing values (NaN): exact EM, marginal scoring, and the imputer."""

import warnings

import numpy as np
import pytest
from scipy import optimize, stats
from sklearn.exceptions import ConvergenceWarning
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import adjusted_rand_score
from sklearn.pipeline import make_pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

from skgmm import GaussianMixtureEM, GaussianMixtureImputer
from skgmm.covariance import get_covariance_model
from skgmm.engine.blocks import em_stats
from skgmm.engine.mstep import prepare_pass
from skgmm.sources import InMemorySource, MissingValuesSource, open_source
from skgmm.sources._patterns import missing_unit_stats, prepare_missing_pass
from tests.conftest import (
    COVARIANCE_TYPES,
    explicit_init,
    reference_m_step,
    reference_missing_e_step,
)


def correlated_data(n_samples=200, seed=0):
    rng = np.random.RandomState(seed)
    covariance = np.array([[2.0, 0.9, 0.4], [0.9, 1.0, 0.3], [0.4, 0.3, 1.5]])
    return rng.multivariate_normal([1.0, -2.0, 0.5], covariance, size=n_samples)


def with_missing(X, fraction, seed=0):
    rng = np.random.RandomState(seed)
    X = X.copy()
    X[rng.uniform(size=X.shape) < fraction] = np.nan
    return X


def observed_log_likelihood_k1(X, mean, covariance):
    """Sum over rows of log N(x_o | mean_o, covariance_oo), by scipy."""
    total = 0.0
    observed = ~np.isnan(X)
    for pattern in np.unique(observed, axis=0):
        if pattern.any():
            rows = X[(observed == pattern).all(axis=1)][:, pattern]
            law = stats.multivariate_normal(mean[pattern], covariance[np.ix_(pattern, pattern)])
            total += np.sum(law.logpdf(rows))
    return total


def three_blobs(n_samples=600, seed=0):
    rng = np.random.RandomState(seed)
    centers = np.array([[0.0, 0.0, 0.0, 0.0], [6.0, 6.0, 0.0, 0.0], [0.0, 6.0, 6.0, 6.0]])
    labels = rng.randint(3, size=n_samples)
    return centers[labels] + rng.normal(size=(n_samples, 4)), labels, centers


# -- exactness -----------------------------------------------------------------
def test_k1_em_reaches_the_observed_data_maximum_likelihood():
    # EM's fixed point must be the maximiser of the observed-data likelihood,
    # which a general optimiser finds on a Cholesky parametrisation.
    X = with_missing(correlated_data(150), 0.25, seed=1)
    gm = GaussianMixtureEM(1, reg_covar=0.0, tol=1e-12, max_iter=2000).fit(X)
    d = X.shape[1]
    tril = np.tril_indices(d)

    def unpack(theta):
        chol = np.zeros((d, d))
        chol[tril] = theta[d:]
        chol[np.diag_indices(d)] = np.exp(np.diagonal(chol))
        return theta[:d], chol @ chol.T

    start_chol = np.linalg.cholesky(np.diag(np.nanvar(X, axis=0)))
    start_chol[np.diag_indices(d)] = np.log(np.diagonal(start_chol))
    theta0 = np.concatenate([np.nanmean(X, axis=0), start_chol[tril]])
    result = optimize.minimize(
        lambda theta: -observed_log_likelihood_k1(X, *unpack(theta)),
        theta0,
        method="BFGS",
        options={"gtol": 1e-8, "maxiter": 2000},
    )
    mean, covariance = unpack(result.x)
    em_value = observed_log_likelihood_k1(X, gm.means_[0], gm.covariances_[0])
    assert em_value >= -result.fun - 1e-6
    np.testing.assert_allclose(gm.means_[0], mean, atol=1e-4)
    np.testing.assert_allclose(gm.covariances_[0], covariance, atol=1e-4)
    # lower_bound_ is that likelihood per row with an observed value.
    n_nonempty = int((~np.isnan(X)).any(axis=1).sum())
    assert gm.lower_bound_ == pytest.approx(em_value / n_nonempty, abs=1e-8)


def test_k1_diag_em_equals_per_feature_observed_moments():
    # Diagonal covariance, one component: the likelihood factorises over
    # features, so the maximum is each feature's observed mean and variance.
    X = with_missing(correlated_data(150), 0.3, seed=2)
    gm = GaussianMixtureEM(1, covariance_type="diag", reg_covar=0.0, tol=1e-14, max_iter=500).fit(X)
    np.testing.assert_allclose(gm.means_[0], np.nanmean(X, axis=0), rtol=1e-9)
    # EM converges linearly at the rate of the missing fraction: 1e-12 in the
    # bound leaves about 1e-7 relative in the variances.
    np.testing.assert_allclose(gm.covariances_[0], np.nanvar(X, axis=0), rtol=1e-6)


@pytest.mark.parametrize("covariance_type", ["full", "tied"])
def test_pattern_kernel_on_complete_rows_equals_engine(covariance_type):
    # The missing-data kernel with every coordinate observed is the engine's kernel.
    X = correlated_data(120)
    model = get_covariance_model(covariance_type)
    gm = GaussianMixtureEM(2, covariance_type=covariance_type, random_state=0).fit(X)
    params = gm._fitted_params()
    weights = np.random.RandomState(0).uniform(0.5, 2.0, size=len(X))
    engine = em_stats(prepare_pass(model, params, X.dtype), X, weights, [slice(None)], {})
    mk = prepare_missing_pass(model, params, np.ones((1, 3), dtype=bool))
    ours = missing_unit_stats(mk, (0, np.arange(len(X))), X, weights).recentred(engine.shift)
    for field in ("resp_sum", "resp_x_sum", "scatter"):
        np.testing.assert_allclose(getattr(ours, field), getattr(engine, field), rtol=1e-9, atol=1e-9)
    assert ours.log_likelihood == pytest.approx(engine.log_likelihood, rel=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_no_nan_uses_the_complete_data_path(covariance_type, dtype):
    X = three_blobs(200)[0].astype(dtype)
    model = get_covariance_model(covariance_type)
    estimator = GaussianMixtureEM(3, covariance_type=covariance_type)
    assert type(open_source(estimator, X, model=model, n_components=3, reset=True)) is InMemorySource
    X_nan = X.copy()
    X_nan[5, 1] = np.nan
    assert type(open_source(estimator, X_nan, model=model, n_components=3, reset=True)) is MissingValuesSource
    # What that means for users: the Dask driver rejects NaN, so it runs the
    # complete-data engine only, and with one chunk it sees the same single block
    # as the in-memory fit of these 200 rows.  Data without NaN give its results
    # bit for bit.
    da = pytest.importorskip("dask.array")
    dask = pytest.importorskip("dask")
    init = explicit_init(X, 3, covariance_type)
    params = dict(n_components=3, covariance_type=covariance_type, tol=0, max_iter=10, **init)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = GaussianMixtureEM(**params).fit(X)
        with dask.config.set(scheduler="synchronous"):
            engine = GaussianMixtureEM(**params).fit(da.from_array(X, chunks=(-1, -1)))
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
        np.testing.assert_array_equal(getattr(ours, name), getattr(engine, name), err_msg=name)
    assert ours.lower_bounds_ == engine.lower_bounds_
    with dask.config.set(scheduler="synchronous"):
        X_dask = da.from_array(X, chunks=(-1, -1))
        engine_log_prob = ours.score_samples(X_dask).compute()
        engine_proba = ours.predict_proba(X_dask).compute()
    np.testing.assert_array_equal(ours.score_samples(X), engine_log_prob)
    np.testing.assert_array_equal(ours.predict_proba(X), engine_proba)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_score_samples_is_the_marginal_density(covariance_type):
    X, _, _ = three_blobs(300)
    gm = GaussianMixtureEM(3, covariance_type=covariance_type, random_state=0).fit(X)
    X_test = with_missing(X[:40], 0.4, seed=3)
    X_test[0] = np.nan
    covariances = {
        "full": lambda c: c,
        "tied": lambda c: np.broadcast_to(c, (3, 4, 4)),
        "diag": lambda c: np.stack([np.diag(v) for v in c]),
        "spherical": lambda c: np.stack([v * np.eye(4) for v in c]),
    }[covariance_type](gm.covariances_)
    expected_log, expected_resp = [], []
    for row in X_test:
        obs = ~np.isnan(row)
        comp = np.array(
            [
                np.log(gm.weights_[k])
                + (
                    stats.multivariate_normal(gm.means_[k][obs], covariances[k][np.ix_(obs, obs)]).logpdf(
                        row[obs]
                    )
                    if obs.any()
                    else 0.0
                )
                for k in range(3)
            ]
        )
        total = np.logaddexp.reduce(comp)
        expected_log.append(total)
        expected_resp.append(np.exp(comp - total))
    np.testing.assert_allclose(gm.score_samples(X_test), expected_log, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(gm.predict_proba(X_test), expected_resp, atol=1e-9)
    np.testing.assert_allclose(gm.predict_proba(X_test[:1])[0], gm.weights_, rtol=1e-12)
    assert gm.score_samples(X_test[:1])[0] == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_em_increases_the_observed_data_likelihood(covariance_type):
    X = with_missing(three_blobs(400)[0], 0.3, seed=4)
    gm = GaussianMixtureEM(3, covariance_type=covariance_type, random_state=0, tol=1e-8, max_iter=60).fit(X)
    bounds = np.array(gm.lower_bounds_)
    assert np.all(np.diff(bounds) >= -1e-10)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_em_with_missing_values_equals_a_row_by_row_reference(covariance_type, weighted):
    X, _, centers = three_blobs(160, seed=3)
    X = with_missing(X, 0.3, seed=4)
    X = X[~np.isnan(X).all(axis=1)]  # rows with nothing observed are left out by both (documented)
    n_samples, n_features = X.shape
    sample_weight = np.random.RandomState(1).uniform(0.2, 3.0, n_samples) if weighted else np.ones(n_samples)
    # A start in EM's basin around the blobs: every iteration moves the parameters,
    # and errors of early iterations shrink instead of growing.
    weights = np.array([0.2, 0.3, 0.5])
    means = centers + np.random.RandomState(2).normal(scale=0.7, size=centers.shape)
    precisions = {
        "full": np.tile(0.6 * np.eye(n_features), (3, 1, 1)),
        "tied": 0.6 * np.eye(n_features),
        "diag": np.full((3, n_features), 0.6),
        "spherical": np.full(3, 0.6),
    }[covariance_type]
    n_iter = 6
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # tol=0: runs all n_iter iterations
        gm = GaussianMixtureEM(
            3,
            covariance_type=covariance_type,
            weights_init=weights,
            means_init=means,
            precisions_init=precisions,
            max_iter=n_iter,
            tol=0,
        ).fit(X, sample_weight=sample_weight if weighted else None)
    covariances = np.linalg.inv(precisions) if covariance_type in ("full", "tied") else 1 / precisions
    lower_bounds = []
    for _ in range(n_iter):
        resp, x_hat, cond_cov, log_likelihood = reference_missing_e_step(
            X, weights, means, covariances, covariance_type
        )
        lower_bounds.append(np.average(log_likelihood, weights=sample_weight))
        weights, means, covariances = reference_m_step(
            sample_weight, resp, x_hat, cond_cov, covariance_type, gm.reg_covar
        )
    # Both compute the same iterates in float64.  Each statistic is a sum of
    # n_samples terms of one sign (the conditional moments add solves with
    # Sigma_oo, whose condition number is below 3 here), so one iteration's
    # rounding is at most n_samples * eps relative (worst case of recursive
    # summation); from this start EM contracts, so n_iter iterations at most add
    # these up.  Measured: below 9 eps.  Leaving out the conditional covariance
    # moves them by 0.3 relative, and (for 'full' and 'tied') filling x_m with mu_m
    # instead of its regression on x_o by 0.1.
    rtol = n_iter * n_samples * np.finfo(np.float64).eps  # 1.3e-13
    assert gm.n_iter_ == n_iter
    np.testing.assert_allclose(gm.weights_, weights, rtol=0, atol=rtol)
    np.testing.assert_allclose(gm.means_, means, rtol=0, atol=rtol * np.abs(means).max())
    np.testing.assert_allclose(gm.covariances_, covariances, rtol=0, atol=rtol * np.abs(covariances).max())
    np.testing.assert_allclose(gm.lower_bounds_, lower_bounds, rtol=rtol)


def test_all_nan_rows_do_not_change_the_fit(covariance_type):
    X = with_missing(three_blobs(300)[0], 0.2, seed=5)
    init = explicit_init(np.nan_to_num(X), 3, covariance_type)
    a = GaussianMixtureEM(3, covariance_type=covariance_type, **init).fit(X)
    X_more = np.vstack([X, np.full((5, 4), np.nan)])
    b = GaussianMixtureEM(3, covariance_type=covariance_type, **init).fit(X_more)
    np.testing.assert_allclose(a.means_, b.means_, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(a.covariances_, b.covariances_, rtol=1e-10, atol=1e-10)
    assert a.lower_bound_ == pytest.approx(b.lower_bound_, rel=1e-12)


def test_integer_weights_equal_repetition_with_nan():
    X = with_missing(three_blobs(150)[0], 0.25, seed=6)
    weights = np.random.RandomState(0).randint(1, 4, size=len(X))
    init = explicit_init(np.nan_to_num(X), 3, "full")
    a = GaussianMixtureEM(3, tol=1e-10, **init).fit(X, sample_weight=weights)
    b = GaussianMixtureEM(3, tol=1e-10, **init).fit(np.repeat(X, weights, axis=0))
    np.testing.assert_allclose(a.means_, b.means_, rtol=1e-8, atol=1e-8)
    np.testing.assert_allclose(a.covariances_, b.covariances_, rtol=1e-8, atol=1e-8)


def test_fit_predict_equals_predict_and_float32_with_nan():
    X = with_missing(three_blobs(300)[0], 0.2, seed=7)
    gm = GaussianMixtureEM(3, random_state=0)
    labels = gm.fit_predict(X)
    np.testing.assert_array_equal(labels, gm.predict(X))
    gm32 = GaussianMixtureEM(3, random_state=0).fit(X.astype(np.float32))
    assert gm32.means_.dtype == np.float32
    assert gm32.score_samples(X.astype(np.float32)).dtype == np.float32
    np.testing.assert_allclose(gm32.means_, gm.means_, atol=1e-3)


def test_inf_still_raises_and_tags_allow_nan():
    X = three_blobs(50)[0]
    X[0, 0] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        GaussianMixtureEM(2).fit(X)
    assert GaussianMixtureEM().__sklearn_tags__().input_tags.allow_nan


def test_clear_errors_for_unusable_missing_data():
    X = three_blobs(50)[0]
    X[:, 1] = np.nan
    with pytest.raises(ValueError, match=r"Features \[1\] have no observed value"):
        GaussianMixtureEM(2).fit(X)
    X = np.full((10, 2), np.nan)
    X[0] = 1.0
    with pytest.raises(ValueError, match="Only 1 samples have an observed value"):
        GaussianMixtureEM(2).fit(X)


@pytest.mark.parametrize("fraction", [0.1, 0.4])
def test_mcar_degrades_gracefully(fraction):
    X, labels, centers = three_blobs(600)
    gm = GaussianMixtureEM(3, random_state=0).fit(with_missing(X, fraction, seed=8))
    order = [int(np.argmin(((gm.means_ - c) ** 2).sum(1))) for c in centers]
    error = np.abs(gm.means_[order] - centers).max()
    X_missing = with_missing(X, fraction, seed=8)
    ari = adjusted_rand_score(labels, gm.predict(X_missing))
    # The best possible labelling of rows with missing entries: the true model's.
    oracle = GaussianMixtureEM(
        3,
        max_iter=0,
        weights_init=np.full(3, 1 / 3),
        means_init=centers,
        precisions_init=np.tile(np.eye(4), (3, 1, 1)),
    ).fit(X_missing)
    oracle_ari = adjusted_rand_score(labels, oracle.predict(X_missing))
    # Thresholds from the curve in benchmarks/MISSING.md, with margin.
    assert error < (0.25 if fraction < 0.2 else 0.4)
    assert ari > oracle_ari - 0.05


# -- imputer -------------------------------------------------------------------
def test_imputer_conditional_expectation_matches_closed_form():
    X = with_missing(correlated_data(300), 0.2, seed=9)
    imputer = GaussianMixtureImputer(1, random_state=0).fit(X)
    mixture = imputer.mixture_
    row = np.array([[0.5, np.nan, np.nan]])
    mean, cov = mixture.means_[0], mixture.covariances_[0]
    expected = mean[1:] + cov[1:, :1] @ np.linalg.solve(cov[:1, :1], row[0, :1] - mean[:1])
    np.testing.assert_allclose(imputer.transform(row)[0, 1:], expected, rtol=1e-10)
    assert not np.isnan(imputer.transform(X)).any()
    observed = ~np.isnan(X)
    np.testing.assert_array_equal(imputer.transform(X)[observed], X[observed])


def test_imputer_beats_mean_imputation_and_draws_vary():
    X_true, _, _ = three_blobs(500, seed=1)
    X = with_missing(X_true, 0.2, seed=10)
    missing = np.isnan(X)
    imputed = GaussianMixtureImputer(3, random_state=0).fit_transform(X)
    rmse = np.sqrt(np.mean((imputed - X_true)[missing] ** 2))
    rmse_mean = np.sqrt(np.mean((SimpleImputer().fit_transform(X) - X_true)[missing] ** 2))
    assert rmse < 0.6 * rmse_mean
    draw_a = GaussianMixtureImputer(3, sample_posterior=True, random_state=0).fit_transform(X)
    draw_b = GaussianMixtureImputer(3, sample_posterior=True, random_state=1).fit_transform(X)
    assert not np.allclose(draw_a[missing], draw_b[missing])
    # Draws scatter around the conditional mean (spread of the conditional law).
    assert np.sqrt(np.mean((draw_a - imputed)[missing] ** 2)) > 0.3


def test_imputer_in_a_pipeline_before_a_classifier():
    X, labels, _ = three_blobs(300, seed=2)
    X = with_missing(X, 0.2, seed=11)
    pipe = make_pipeline(GaussianMixtureImputer(3, random_state=0), LogisticRegression()).fit(X, labels)
    assert pipe.score(X, labels) > 0.9


@parametrize_with_checks([GaussianMixtureImputer(random_state=0)])
def test_imputer_passes_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_imputer_keeps_feature_names():
    pandas = pytest.importorskip("pandas")
    X = pandas.DataFrame(with_missing(correlated_data(100), 0.2), columns=["a", "b", "c"])
    imputer = GaussianMixtureImputer(random_state=0).set_output(transform="pandas").fit(X)
    out = imputer.transform(X)
    assert list(out.columns) == ["a", "b", "c"] and not out.isna().any().any()


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_missing_pass_does_not_depend_on_threads():
    X = with_missing(three_blobs(3_000)[0], 0.2, seed=12)
    model = get_covariance_model("full")
    gm = GaussianMixtureEM(3, random_state=0, max_iter=3).fit(X)
    with MissingValuesSource(X, None, 3, model, n_threads=1) as source:
        one = source.em_pass(model, gm._fitted_params())
    with MissingValuesSource(X, None, 3, model, n_threads=2) as source:
        assert source._n_threads == 2 and len(source._units) > 2
        two = source.em_pass(model, gm._fitted_params())
    np.testing.assert_array_equal(one.scatter, two.scatter)
    assert one.log_likelihood == two.log_likelihood
