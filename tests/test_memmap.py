"""Fitting a numpy.memmap: row blocks are streamed, X is never copied."""

import tracemalloc

import numpy as np
import pytest
from sklearn.utils.validation import validate_data

from skgmm import GaussianMixtureEM


def write_mixture(path, n_samples, seed=0, n_features=8):
    rng = np.random.RandomState(seed)
    centers = rng.normal(scale=4.0, size=(3, n_features))
    X = centers[rng.randint(3, size=n_samples)] + rng.normal(size=(n_samples, n_features))
    np.save(path, X)
    return np.load(path, mmap_mode="r")


def test_validate_data_does_not_copy_a_read_only_memmap(tmp_path):
    X = write_mixture(tmp_path / "x.npy", 1_000)
    gm = GaussianMixtureEM()
    for finite in (True, "allow-nan"):
        checked = validate_data(gm, X, dtype=[np.float64, np.float32], ensure_all_finite=finite)
        assert np.shares_memory(checked, X)


@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_memmap_fit_equals_in_memory_fit(tmp_path, covariance_type):
    X = write_mixture(tmp_path / "x.npy", 3_000)
    a = GaussianMixtureEM(3, covariance_type=covariance_type, random_state=0).fit(X)
    b = GaussianMixtureEM(3, covariance_type=covariance_type, random_state=0).fit(np.array(X))
    np.testing.assert_array_equal(a.means_, b.means_)
    np.testing.assert_array_equal(a.covariances_, b.covariances_)
    np.testing.assert_array_equal(a.predict(X), b.predict(np.array(X)))
    assert a.lower_bound_ == b.lower_bound_


def _peak_fit_memory(X):
    tracemalloc.start()
    try:
        GaussianMixtureEM(2, init_params="random_from_data", random_state=0, max_iter=2, tol=0.0).fit(X)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_memmap_fit_memory_does_not_grow_with_a_copy_of_x(tmp_path):
    # numpy reports its allocations to tracemalloc. Doubling the rows of the
    # file may add per-row arrays (initial labels, final labels, per-row
    # log-likelihoods: 8 bytes a row each against 64 for X, whose lifetimes
    # overlap differently with thread timing) but no copy of X: a copy would
    # add at least the added file size.
    small = write_mixture(tmp_path / "small.npy", 150_000)
    large = write_mixture(tmp_path / "large.npy", 300_000)
    _peak_fit_memory(small)  # warm up lazy imports and caches
    growth = _peak_fit_memory(large) - _peak_fit_memory(small)
    assert growth < 0.6 * (large.nbytes - small.nbytes)


def test_memmap_with_missing_values_equals_in_memory_fit(tmp_path):
    X = np.array(write_mixture(tmp_path / "x.npy", 2_000))
    X[np.random.RandomState(0).uniform(size=X.shape) < 0.1] = np.nan
    np.save(tmp_path / "nan.npy", X)
    mapped = np.load(tmp_path / "nan.npy", mmap_mode="r")
    a = GaussianMixtureEM(3, random_state=0).fit(mapped)
    b = GaussianMixtureEM(3, random_state=0).fit(X)
    np.testing.assert_array_equal(a.means_, b.means_)
    np.testing.assert_array_equal(a.score_samples(mapped), b.score_samples(X))
