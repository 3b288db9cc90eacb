"""scikit-learn's estimator checks, for scikit-learn's covariance types and two of mclust's."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from skgmm import BayesianGaussianMixtureEM, GaussianMixtureEM

# mclust's other names are aliases of the four (the same strategies) or, like
# VEV (iterative M-step) and EEI (pooled shape), ParsimoniousCovariance strategies.
INSTANCES = [
    GaussianMixtureEM(n_components=3, covariance_type=covariance_type, random_state=0)
    for covariance_type in ("full", "tied", "diag", "spherical", "VEV", "EEI")
] + [
    BayesianGaussianMixtureEM(n_components=3, covariance_type=covariance_type, random_state=0)
    for covariance_type in ("full", "tied", "diag", "spherical")
]

EXPECTED_FAILED_CHECKS = {
    # The check shuffles the weighted rows and fits both estimators from the same
    # random_state, but the initialisation (k-means, like sklearn's KMeans, which
    # lists the same expected failure) draws its seeds from the rows, so the two
    # fits start from different points and end in permuted or different local
    # maxima.  The weight semantics themselves are tested exactly, from explicit
    # initial parameters, in tests/test_sample_weight.py.
    "check_sample_weight_equivalence_on_dense_data": "stochastic initialisation depends on row order and count",
}


@parametrize_with_checks(INSTANCES, expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
