"""scikit-learn's own estimator checks, with no expected failures."""

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


@parametrize_with_checks(CHECKED)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
