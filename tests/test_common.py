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
# compares weighted and repeated fits to rtol=1e-7, but minibatch training in
# float32 sums in a different order (and dropout draws one mask per row), so
# the two fits agree only to about 1e-4. tests/test_training.py checks the
# equivalence itself on a deterministic setup.
_WEIGHTS = (
    "a weighted row and its repeats agree to ~1e-4, not 1e-7 (float32 "
    "minibatch training, per-row dropout masks); see tests/test_training.py"
)


def _expected_failed_checks(estimator):
    if isinstance(estimator, LSTMClassifier | LSTMRegressor):
        return {"check_sample_weight_equivalence_on_dense_data": _WEIGHTS}
    return {}


@parametrize_with_checks(CHECKED, expected_failed_checks=_expected_failed_checks)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
