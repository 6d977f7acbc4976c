"""Conformal intervals of LSTMRegressor and forecast (sklstm/_conformal.py)."""

import pickle

import numpy as np
import pytest
from _model_files import round_trip
from scipy import stats
from tiny import TINY

import sklstm
from sklstm import LSTMRegressor, forecast, make_windows
from sklstm._conformal import conformal_quantile

#: a small network with early stopping's split of 300 rows held out
SPLIT = dict(TINY, early_stopping=True, max_epochs=4, lr=1e-2, validation_fraction=0.3)


def _tolerance(n_cal, n_test, coverage, p=0.01):
    """Two-sided (1 - p) bound on |empirical coverage - its mean|.

    Given the held-out set, the coverage of split conformal is Beta(k, n + 1
    - k) with k = ceil((n + 1) coverage); the test set adds binomial noise.
    """
    k = np.ceil((n_cal + 1) * coverage)
    beta = stats.beta(k, n_cal + 1 - k)
    sd = np.sqrt(beta.var() + beta.mean() * (1 - beta.mean()) / n_test)
    return beta.mean(), stats.norm.ppf(1 - p / 2) * sd


def _hetero(rng, n):
    """Series whose target noise grows with the level of the last step."""
    X = rng.normal(size=(n, 6))
    y = X[:, -1] + (0.2 + np.abs(X[:, -1])) * rng.normal(size=n)
    return X, y


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(0)
    X, y = _hetero(rng, 1000)
    return LSTMRegressor(**SPLIT).fit(X, y)


def test_quantile_has_the_finite_sample_correction():
    scores = np.arange(1.0, 10.0)  # n = 9
    # ceil((9 + 1) * 0.8) = 8th smallest, not the plain 80% quantile
    assert conformal_quantile(scores, 0.8) == 8.0
    assert conformal_quantile(scores, 0.95) == np.inf  # needs 19 scores
    col = conformal_quantile(np.column_stack([scores, 2 * scores]), 0.8)
    np.testing.assert_array_equal(col, [8.0, 16.0])


def test_quantile_weights_count_like_duplicates():
    rng = np.random.default_rng(0)
    s = rng.exponential(size=50)
    w = rng.integers(1, 4, size=50)
    assert conformal_quantile(s, 0.9, w.astype(float)) == conformal_quantile(
        np.repeat(s, w), 0.9
    )
    # a zero weight removes a score; NaN marks a missing one
    s2 = np.append(s, [100.0, np.nan])
    assert conformal_quantile(s2, 0.9, np.append(np.ones(50), [0, 1])) == (
        conformal_quantile(s, 0.9)
    )


def test_exchangeable_scores_reach_the_nominal_coverage():
    """Over many draws, the corrected quantile covers k / (n + 1) exactly."""
    rng = np.random.default_rng(0)
    n, trials, coverage = 9, 20000, 0.8
    draws = rng.normal(size=(trials, n + 1)) ** 2
    q = np.array([conformal_quantile(d[:n], coverage) for d in draws])
    hit = np.mean(draws[:, n] <= q)
    expected = np.ceil((n + 1) * coverage) / (n + 1)
    assert abs(hit - expected) < 2.58 * np.sqrt(expected * (1 - expected) / trials)


@pytest.mark.parametrize("coverage", [0.8, 0.95])
def test_predict_interval_covers_new_data(fitted, coverage):
    rng = np.random.default_rng(1)
    X, y = _hetero(rng, 4000)
    lower, upper = fitted.predict_interval(X, coverage=coverage)
    assert lower.shape == upper.shape == y.shape
    pred = fitted.predict(X)
    assert np.all(lower <= pred) and np.all(pred <= upper)
    mean, tol = _tolerance(len(fitted.conformity_scores_), len(y), coverage)
    assert abs(np.mean((lower <= y) & (y <= upper)) - mean) < tol


def test_wider_coverage_gives_wider_intervals(fitted):
    X = np.zeros((1, 6))
    lo80, hi80 = fitted.predict_interval(X, coverage=0.8)
    lo95, hi95 = fitted.predict_interval(X, coverage=0.95)
    assert lo95[0] < lo80[0] and hi80[0] < hi95[0]


def test_multi_output_intervals_per_target():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 5))
    Y = np.column_stack([X[:, -1], 10 * X[:, -2]]) + rng.normal(size=(300, 2))
    model = LSTMRegressor(**TINY, max_epochs=3, calibration="split").fit(X, Y)
    lower, upper = model.predict_interval(X[:7], coverage=0.9)
    assert lower.shape == upper.shape == (7, 2)
    width = (upper - lower)[0]
    assert width[1] > 3 * width[0]  # the second target is ten times as large
    assert model.conformity_scores_.shape == (30, 2)  # 10% of 300


def test_cv_scores_every_sample_and_keeps_predict():
    rng = np.random.default_rng(0)
    X, y = _hetero(rng, 120)
    plain = LSTMRegressor(**TINY, max_epochs=3, calibration=None).fit(X, y)
    cv = LSTMRegressor(**TINY, max_epochs=3, calibration="cv").fit(X, y)
    assert cv.conformity_scores_.shape == (120, 1)
    np.testing.assert_array_equal(cv.predict(X), plain.predict(X))
    lower, upper = cv.predict_interval(X, coverage=0.9)
    assert np.all(upper - lower > 0)


@pytest.mark.parametrize("early_stopping", [True, False])
@pytest.mark.parametrize("method, n_scores", [("split", 12), ("cv", 120)])
def test_each_method_with_early_stopping_on_and_off(early_stopping, method, n_scores):
    """calibration="cv" scores every sample out of fold even when early
    stopping holds out a split of its own; "split" scores the held-out 10%
    either way."""
    rng = np.random.default_rng(0)
    X, y = _hetero(rng, 120)
    model = LSTMRegressor(
        **TINY, max_epochs=2, calibration=method, early_stopping=early_stopping
    ).fit(X, y)
    assert model.conformity_scores_.shape == (n_scores, 1)
    assert (model.validation_scores_ is not None) == early_stopping
    if method == "cv":
        assert model._calibration_rows is None


def test_split_without_early_stopping_holds_out_its_own_rows():
    rng = np.random.default_rng(0)
    X, y = _hetero(rng, 200)
    model = LSTMRegressor(**TINY, max_epochs=2, calibration="split").fit(X, y)
    assert model.conformity_scores_.shape == (20, 1)
    assert model.validation_scores_ is None


def test_sample_weight_weights_the_scores():
    rng = np.random.default_rng(0)
    X, y = _hetero(rng, 300)
    w = rng.integers(1, 4, size=300).astype(float)
    model = LSTMRegressor(**TINY, max_epochs=2, calibration="split").fit(X, y, w)
    rows = model._calibration_rows
    np.testing.assert_array_equal(model._conformity_weights, w[rows])


def test_no_scores_gives_a_clear_error(rng):
    X, y = _hetero(rng, 60)
    model = LSTMRegressor(**TINY, max_epochs=2).fit(X, y)  # auto, no split
    assert model.conformity_scores_ is None
    with pytest.raises(ValueError, match='calibration="split"'):
        model.predict_interval(X)
    with pytest.raises(ValueError, match="coverage"):
        model.predict_interval(X, coverage=90)


@pytest.mark.parametrize("how", ["joblib", "sklstm"])
def test_scores_survive_persistence(fitted, tmp_path, how):
    X = np.random.default_rng(2).normal(size=(5, 6))
    back = round_trip(fitted, tmp_path / "model", how)
    for a, b in zip(back.predict_interval(X), fitted.predict_interval(X)):
        np.testing.assert_array_equal(a, b)


def test_old_pickle_without_the_new_parameters(fitted):
    """A regressor pickled before calibration and quantile existed."""
    X = np.zeros((3, 6))
    state = fitted.__getstate__()
    gone = ("calibration", "quantile", "conformity_scores_", "_conformity_weights")
    state = {k: v for k, v in state.items() if k not in gone}
    old = LSTMRegressor.__new__(LSTMRegressor)
    old.__setstate__(state)
    params = old.get_params()
    assert params["calibration"] is None and params["quantile"] is None
    np.testing.assert_array_equal(old.predict(X), fitted.predict(X))
    with pytest.raises(ValueError, match="no conformity scores"):
        old.predict_interval(X)


def test_partial_fit_drops_the_scores(fitted):
    model = pickle.loads(pickle.dumps(fitted))
    model.partial_fit(np.zeros((4, 6)), np.zeros(4))
    assert model.conformity_scores_ is None


def test_quantile_loss_estimates_the_quantile(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 4))
    y = X[:, -1] + rng.normal(size=400)
    fit = dict(TINY, max_epochs=30, lr=2e-2, early_stopping=False)
    hi = LSTMRegressor(**fit, quantile=0.9).fit(X, y)
    lo = LSTMRegressor(**fit, quantile=0.1).fit(X, y)
    below_hi, below_lo = np.mean(y <= hi.predict(X)), np.mean(y <= lo.predict(X))
    assert 0.8 < below_hi < 0.97
    assert 0.03 < below_lo < 0.2
    # the loss is rebuilt on load: training continues with it
    path = tmp_path / "q.sklstm"
    sklstm.save(hi, path)
    back = sklstm.load(path)
    np.testing.assert_array_equal(back.predict(X), hi.predict(X))
    assert back.net_.criterion_.quantile == 0.9


# --- forecasting ------------------------------------------------------------
@pytest.fixture(scope="module")
def series():
    rng = np.random.default_rng(0)
    t = np.arange(400)
    return np.sin(2 * np.pi * t / 12) + 0.2 * rng.normal(size=400)


@pytest.mark.parametrize("n_outputs", [1, 6])
def test_forecast_intervals_recursive_and_direct(series, n_outputs):
    Xw, yw = make_windows(series, window=12, n_outputs=n_outputs)
    model = LSTMRegressor(**TINY, max_epochs=3, calibration="split").fit(Xw, yw)
    point = forecast(model, series, window=12, steps=6)
    y_future, (lower, upper) = forecast(model, series, window=12, steps=6, coverage=0.8)
    np.testing.assert_array_equal(y_future, point)
    assert lower.shape == upper.shape == (6,)
    assert np.all(lower < y_future) and np.all(y_future < upper)
    _, (lo95, hi95) = forecast(model, series, window=12, steps=6, coverage=0.95)
    assert np.all(hi95 - lo95 >= upper - lower)


def test_recursive_intervals_grow_when_errors_accumulate():
    """AR(1) with phi = 0.9: the 9-step error has 2.2 times the standard
    deviation of the 1-step error, and the per-step intervals of a one-step
    model fed its own forecasts must widen with it."""
    rng = np.random.default_rng(0)
    noise, ar = rng.normal(size=1500), np.zeros(1500)
    for i in range(1, 1500):
        ar[i] = 0.9 * ar[i - 1] + noise[i]
    Xw, yw = make_windows(ar, window=4)
    model = LSTMRegressor(**TINY, max_epochs=5, calibration="split").fit(Xw, yw)
    _, (lower, upper) = forecast(model, ar, window=4, steps=9, coverage=0.8)
    width = upper - lower
    assert width[8] > 1.2 * width[0]


def test_recursive_forecast_needs_held_out_windows(series):
    Xw, yw = make_windows(series, window=12)
    model = LSTMRegressor(**TINY, max_epochs=2, calibration="cv").fit(Xw, yw)
    with pytest.raises(ValueError, match="held-out windows"):
        forecast(model, series, window=12, steps=3, coverage=0.9)
    split = LSTMRegressor(**TINY, max_epochs=2, calibration="split").fit(Xw, yw)
    with pytest.raises(ValueError, match="fitted on"):
        forecast(split, series[:100], window=12, steps=3, coverage=0.9)
