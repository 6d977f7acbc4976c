"""scikit-learn's own estimator checks."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from sklstm import LSTMClassifier, LSTMRegressor, TextSequencer

# Small, fast settings for the checks' tiny datasets, kept in one table. They
# change only size and speed, never what the estimator promises.
FAST = dict(hidden_size=16, embedding_dim=8, lr=1e-2, max_epochs=50, random_state=0)
CHECKED = [
    LSTMClassifier(**FAST),
    LSTMRegressor(**FAST, batch_size=16),
    TextSequencer(),
]

# The one check that cannot hold, as for scikit-learn's own MLPClassifier: it
# wants a weighted fit and a fit on repeated rows to agree to rtol=1e-7. The two
# see the rows in another order, so float32 sums round differently, and Adam's
# normalised steps turn those last-bit differences in near-zero gradients into
# full-size updates; after 50 epochs the models differ by up to ~0.1 in a
# probability (measured). Without dropout and in one batch the loss is the
# same function of the weights, and tests/test_training.py checks that the
# weighted and repeated fits agree (rtol 1e-4 after 4 epochs).
_WEIGHTS = (
    "float32 rounding differs with row order and Adam amplifies it, so weighted "
    "and repeated fits do not agree to 1e-7; equivalence is tested in "
    "tests/test_training.py"
)


def _expected_failed_checks(estimator):
    if isinstance(estimator, LSTMClassifier | LSTMRegressor):
        return {"check_sample_weight_equivalence_on_dense_data": _WEIGHTS}
    return {}


@parametrize_with_checks(CHECKED, expected_failed_checks=_expected_failed_checks)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
