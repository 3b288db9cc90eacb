"""Tests of skgmm.plotting with the Agg backend: the figures hold the expected artists."""

import sys
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.base import BaseEstimator
from sklearn.datasets import load_iris, make_blobs
from sklearn.decomposition import PCA
from sklearn.mixture import GaussianMixture

import skgmm
from skgmm import GaussianMixtureEM
from skgmm.plotting import ConvergenceDisplay, CriterionDisplay, MixtureDisplay, full_covariances

COVARIANCE_TYPES = ["full", "tied", "diag", "spherical"]


@pytest.fixture
def pyplot():
    """matplotlib.pyplot on the Agg backend; closes every figure afterwards."""
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    yield plt
    plt.close("all")


@pytest.fixture(scope="module")
def blobs():
    X, _ = make_blobs(n_samples=150, centers=3, n_features=2, random_state=0)
    return X


def _ellipse_axes(ellipse):
    return ellipse.get_width(), ellipse.get_height()


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_full_covariances_matches_sklearn_precisions(covariance_type):
    # Independent reference: sklearn's precisions, inverted and expanded by hand.
    X = load_iris().data
    gm = GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(X)
    full = full_covariances(gm.covariances_, covariance_type, 3, 4)
    expand = {
        "full": lambda p: p,
        "tied": lambda p: np.broadcast_to(p, (3, 4, 4)),
        "diag": lambda p: np.stack([np.diag(row) for row in p]),
        "spherical": lambda p: np.stack([np.eye(4) * value for value in p]),
    }[covariance_type]
    precisions = expand(gm.precisions_)
    assert_allclose(full @ precisions, np.broadcast_to(np.eye(4), (3, 4, 4)), atol=1e-8)


def test_full_covariances_rejects_unknown_type():
    with pytest.raises(ValueError, match="covariance_type must be one of"):
        full_covariances(np.ones(2), "banana", 2, 2)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_mixture_display_2d_ellipses(pyplot, blobs, covariance_type):
    gm = GaussianMixtureEM(3, covariance_type=covariance_type, random_state=0).fit(blobs)
    display = MixtureDisplay.from_estimator(gm, blobs)
    assert display.ax_.figure is display.figure_
    assert len(display.ellipses_) == 3 and all(len(e) == 3 for e in display.ellipses_)
    assert len(display.ax_.patches) == 9
    assert [t.get_text() for t in display.texts_] == ["0", "1", "2"]
    assert display.scatter_.get_offsets().shape == (150, 2)
    full = full_covariances(gm.covariances_, covariance_type, 3, 2)
    for k in range(3):
        eigenvalues = np.sort(np.linalg.eigvalsh(full[k]))[::-1]
        for radius, ellipse in zip((1, 2, 3), display.ellipses_[k], strict=True):
            assert_allclose(ellipse.center, gm.means_[k], rtol=1e-12)
            assert_allclose(_ellipse_axes(ellipse), 2 * radius * np.sqrt(eigenvalues), rtol=1e-10)


def test_mixture_display_ellipse_orientation(pyplot):
    # A component stretched along the diagonal: its long axis is at 45 degrees.
    rng = np.random.RandomState(0)
    X = rng.multivariate_normal([0, 0], [[2.0, 1.8], [1.8, 2.0]], size=400)
    gm = GaussianMixtureEM(1, random_state=0).fit(X)
    ellipse = MixtureDisplay.from_estimator(gm, X).ellipses_[0][0]
    assert ellipse.get_width() > ellipse.get_height()
    assert abs(((ellipse.get_angle() - 45.0) + 90) % 180 - 90) < 5.0


def test_mixture_display_chosen_features_by_name(pyplot):
    iris = load_iris(as_frame=True)
    gm = GaussianMixtureEM(3, random_state=0).fit(iris.data)
    features = ["petal length (cm)", "sepal width (cm)"]
    display = MixtureDisplay.from_estimator(gm, iris.data, features=features)
    assert display.ax_.get_xlabel() == features[0] and display.ax_.get_ylabel() == features[1]
    columns = [2, 1]
    for k in range(3):
        assert_allclose(display.ellipses_[k][0].center, gm.means_[k, columns])
        cov = gm.covariances_[k][np.ix_(columns, columns)]
        width, height = _ellipse_axes(display.ellipses_[k][0])
        # The 1-sigma ellipse has area pi * sqrt(det(marginal covariance)).
        assert_allclose(width * height / 4, np.sqrt(np.linalg.det(cov)), rtol=1e-10)


def test_mixture_display_principal_axes(pyplot):
    X = load_iris().data
    gm = GaussianMixtureEM(3, covariance_type="diag", random_state=0).fit(X)
    display = MixtureDisplay.from_estimator(gm, X)
    assert display.ax_.get_xlabel() == "principal axis 1"
    pca = PCA(2).fit(X)
    expected = pca.transform(gm.means_)
    centers = np.array([display.ellipses_[k][0].center for k in range(3)])
    # Principal axes are defined up to sign.
    assert_allclose(np.abs(centers), np.abs(expected), rtol=1e-8, atol=1e-10)
    projected = np.einsum(
        "id,kde,je->kij", pca.components_, full_covariances(gm.covariances_, "diag", 3, 4), pca.components_
    )
    for k in range(3):
        width, height = _ellipse_axes(display.ellipses_[k][0])
        assert_allclose(width * height / 4, np.sqrt(np.linalg.det(projected[k])), rtol=1e-8)


def test_mixture_display_without_data_and_with_given_axes(pyplot):
    X = load_iris().data
    gm = GaussianMixtureEM(2, random_state=0).fit(X)
    fig, ax = pyplot.subplots()
    display = MixtureDisplay.from_estimator(gm, ax=ax, n_std=(1, 2))
    assert display.ax_ is ax and display.scatter_ is None
    assert len(ax.patches) == 4
    display.plot()  # a fresh figure
    assert display.ax_ is not ax and len(display.ax_.patches) == 4


def test_mixture_display_one_feature(pyplot):
    rng = np.random.RandomState(0)
    X = np.concatenate([rng.normal(-3, 1, 200), rng.normal(3, 0.5, 100)])[:, None]
    gm = GaussianMixtureEM(2, random_state=0).fit(X)
    display = MixtureDisplay.from_estimator(gm, X)
    assert len(display.lines_) == 3
    grid, density = display.lines_[0].get_data()
    assert_allclose(np.trapezoid(density, grid), 1.0, atol=1e-3)
    assert_allclose(np.exp(gm.score_samples(grid[:, None])), density, rtol=1e-8)
    assert len(display.ax_.patches) > 0  # the histogram bars


def test_mixture_display_accepts_selector_like(pyplot, blobs):
    class Selector(BaseEstimator):
        def __init__(self, best=None):
            self.best_estimator_ = best

        def fit(self, X):
            return self

        def __sklearn_is_fitted__(self):
            return True

    gm = GaussianMixtureEM(3, random_state=0).fit(blobs)
    display = MixtureDisplay.from_estimator(Selector(gm), blobs)
    assert len(display.ellipses_) == 3


def test_mixture_display_wrong_width(pyplot, blobs):
    gm = GaussianMixtureEM(2, random_state=0).fit(blobs)
    with pytest.raises(ValueError):
        MixtureDisplay.from_estimator(gm, np.ones((5, 3)))


def test_criterion_display_from_table(pyplot):
    values = {"full": [30.0, 20.0, 25.0], "diag": [32.0, np.nan, 19.0]}
    display = CriterionDisplay.from_table([1, 2, 3], values).plot()
    assert display.best_ == (3, "diag")
    assert set(display.lines_) == {"full", "diag"}
    assert_allclose(display.lines_["full"].get_ydata(), values["full"])
    assert_allclose(display.best_marker_.get_ydata(), [19.0])
    assert [t.get_text() for t in display.ax_.get_legend().get_texts()][:2] == ["full", "diag"]


def test_criterion_display_from_cv_results(pyplot):
    rng = np.random.RandomState(0)
    ks = np.array([1, 2, 3, 1, 2, 3])
    covs = np.array(["full"] * 3 + ["spherical"] * 3, dtype=object)
    bic = rng.uniform(size=6)
    order = rng.permutation(6)  # rows in any order
    results = {"param_n_components": ks[order], "param_covariance_type": covs[order], "bic": bic[order]}
    display = CriterionDisplay.from_cv_results(results)
    assert_allclose(display.values["full"], bic[:3])
    assert_allclose(display.values["spherical"], bic[3:])
    best = int(np.argmin(bic))
    assert display.best_ == (int(ks[best]), str(covs[best]))
    with pytest.raises(ValueError, match="no 'icl' column"):
        CriterionDisplay.from_cv_results(results, criterion="icl")


def test_criterion_display_from_selector(pyplot, blobs):
    selector = skgmm.GaussianMixtureIC(
        n_components=[1, 2, 3], covariance_type=["full", "diag"], random_state=0
    )
    selector.fit(blobs)
    display = CriterionDisplay.from_estimator(selector)
    assert set(display.lines_) == {"full", "diag"}
    assert display.best_ == (selector.n_components_, selector.covariance_type_)


def test_criterion_display_draws_every_mclust_model(pyplot):
    """Every covariance type of the registry gets its own curve, marker and legend entry (#14)."""
    from skgmm.covariance import COVARIANCE_MODELS

    names = list(COVARIANCE_MODELS)
    assert {"VEV", "EII", "VVV", "EVE", "E", "V"} <= set(names)
    rng = np.random.RandomState(0)
    values = {name: rng.uniform(size=3) for name in names}
    display = CriterionDisplay.from_table([1, 2, 3], values).plot()
    assert list(display.lines_) == names
    styles = {(line.get_marker(), line.get_linestyle(), line.get_color()) for line in display.lines_.values()}
    assert len(styles) == len(names)
    assert len({line.get_marker() for line in display.lines_.values()}) == len(names)
    texts = [t.get_text() for t in display.ax_.get_legend().get_texts()]
    assert texts[: len(names)] == names and len(texts) == len(names) + 1  # and the best model


def test_criterion_display_from_selector_with_mclust_names(pyplot, blobs):
    covariance_types = ["VEV", "EII", "VVI", "EEE", "EVE"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        selector = skgmm.GaussianMixtureIC(
            n_components=[1, 2, 3], covariance_type=covariance_types, n_init=1, random_state=0
        ).fit(blobs)
    display = CriterionDisplay.from_estimator(selector)
    assert list(display.lines_) == covariance_types
    assert len(display.ax_.get_legend().get_texts()) == len(covariance_types) + 1
    assert len({line.get_marker() for line in display.lines_.values()}) == len(covariance_types)
    assert display.best_ == (selector.n_components_, selector.covariance_type_)


def test_convergence_display(pyplot, blobs):
    gm = GaussianMixtureEM(3, random_state=0, tol=1e-8).fit(blobs)
    display = ConvergenceDisplay.from_estimator(gm)
    assert_allclose(display.line_.get_ydata(), gm.lower_bounds_)
    assert_allclose(display.line_.get_xdata(), np.arange(1, gm.n_iter_ + 1))
    assert "converged" in display.ax_.get_title()


def test_displays_write_non_empty_images(pyplot, blobs, tmp_path):
    gm = GaussianMixtureEM(3, random_state=0).fit(blobs)
    fig, axes = pyplot.subplots(1, 2)
    MixtureDisplay.from_estimator(gm, blobs, ax=axes[0])
    ConvergenceDisplay.from_estimator(gm, ax=axes[1])
    for suffix in ("png", "svg"):
        path = tmp_path / f"figure.{suffix}"
        fig.savefig(path)
        assert path.stat().st_size > 1000


def test_unfitted_estimator_raises(pyplot):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        MixtureDisplay.from_estimator(GaussianMixtureEM(2))
    with pytest.raises(NotFittedError):
        ConvergenceDisplay.from_estimator(GaussianMixtureEM(2))


def test_missing_matplotlib_names_the_extra(monkeypatch, blobs):
    gm = GaussianMixtureEM(2, random_state=0).fit(blobs)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r"pip install 'skgmm\[plot\]'"):
        MixtureDisplay.from_estimator(gm, blobs)
