"""skforecast: ForecasterRecursive with an LSTMRegressor, and its lag order."""

import numpy as np
import pandas as pd
import pytest
from tiny import EXACT

from sklstm import LSTMRegressor

skforecast = pytest.importorskip("skforecast", reason="skforecast is not installed")


@pytest.fixture(scope="module")
def series():
    t = np.arange(120)
    rng = np.random.default_rng(0)
    return pd.Series(np.sin(2 * np.pi * t / 12) + rng.normal(0, 0.05, 120))


def test_recursive_forecaster_fits_and_predicts(series):
    from skforecast.recursive import ForecasterRecursive

    fc = ForecasterRecursive(estimator=LSTMRegressor(**EXACT), lags=12)
    fc.fit(series)
    pred = fc.predict(steps=6)
    assert len(pred) == 6 and np.isfinite(pred.to_numpy()).all()
    assert pred.index[0] == series.index[-1] + 1


def test_lag_columns_are_newest_first(series):
    """What the docs say: column 0 is lag_1, the newest value, so the LSTM
    reads the window backwards in time (see the interop page for its effect)."""
    from skforecast.recursive import ForecasterRecursive

    fc = ForecasterRecursive(estimator=LSTMRegressor(**EXACT), lags=3)
    X, y = fc.create_train_X_y(series)
    assert list(X.columns) == ["lag_1", "lag_2", "lag_3"]
    row = X.index[0]
    np.testing.assert_allclose(
        X.loc[row].to_numpy(), series.loc[[row - 1, row - 2, row - 3]].to_numpy()
    )
    # the estimator sees exactly these columns, left to right
    fc.fit(series)
    assert fc.estimator.n_features_in_ == 3
    np.testing.assert_allclose(
        fc.estimator.predict(X.to_numpy()), fc.estimator.predict(X)
    )
