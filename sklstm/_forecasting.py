"""Forecasting with sequence models: sliding windows over one time series.

An LSTM regressor learns ``window -> future value(s)`` from many overlapping
windows cut from one long series. :func:`make_windows` cuts them,
:func:`last_window` gives the window that ends at the last observation (the
input for forecasting the unknown future) and :func:`forecast` predicts the
next steps with a fitted model, feeding its own predictions back in when the
model predicts fewer steps at a time than asked for (recursive forecasting).

Windowing changes the number of samples and builds the target from the
series itself, so it is a function applied once before ``fit``, not a
transformer inside a :class:`~sklearn.pipeline.Pipeline` (whose steps may
change ``X`` but never ``y`` nor the number of rows).
"""

from __future__ import annotations

from numbers import Integral

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from sklstm._conformal import check_coverage, conformal_quantile

__all__ = ["forecast", "last_window", "make_windows"]


def _check_int(value, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(
            f"{name} must be an integer >= {minimum}, got {value!r} of type "
            f"{type(value).__name__}."
        )
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value}.")
    return int(value)


def _check_series(a, name: str) -> tuple[np.ndarray, bool]:
    """``a`` as a float64 (n_timesteps, n_columns) array; also whether it was 1-D."""
    if isinstance(a, str | bytes):
        raise TypeError(f"{name} must be an array of numbers, got a string.")
    try:
        arr = np.asarray(a, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"{name} must hold numbers only; converting it to float failed: {exc}"
        ) from exc
    if arr.ndim not in (1, 2):
        raise ValueError(
            f"{name} must be 1-D (n_timesteps,) or 2-D (n_timesteps, n_columns) "
            f"with time along the first axis, got an array of shape {arr.shape}."
        )
    if arr.size == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape}); it needs values.")
    was_1d = arr.ndim == 1
    arr = arr.reshape(len(arr), -1)
    bad = ~np.isfinite(arr)
    if bad.any():
        step = int(np.argwhere(bad)[0][0])
        raise ValueError(
            f"{name} contains NaN or infinity (first at time step {step}). Fill or "
            "drop missing values before windowing, for example with pandas' "
            "interpolate() or ffill()."
        )
    return arr, was_1d


def _features(y, X) -> tuple[np.ndarray, bool, int]:
    """Stack target columns and exogenous columns: (n_timesteps, n_features)."""
    y2, y_1d = _check_series(y, "y")
    if X is not None:
        X2, _ = _check_series(X, "X")
        if len(X2) != len(y2):
            raise ValueError(
                f"X has {len(X2)} time steps but y has {len(y2)}; the exogenous "
                "columns must be aligned with the series, one row per time step."
            )
        return np.hstack([y2, X2]), y_1d, y2.shape[1]
    return y2, y_1d, y2.shape[1]


def make_windows(y, *, window, horizon=1, n_outputs=1, X=None):
    """Cut a time series into supervised samples for a sequence regressor.

    Sample ``i`` is the window of ``window`` consecutive time steps starting at
    step ``i`` (the target series, followed by the exogenous columns ``X``),
    and its target is the value of ``y`` ``horizon`` steps after the window's
    last step, or, with ``n_outputs > 1``, the ``n_outputs`` consecutive values
    starting there (a direct multi-step forecast learnt as multi-output
    regression). Samples are in time order, so
    :class:`~sklearn.model_selection.TimeSeriesSplit` validates on later
    samples than it trains on; pass ``gap=horizon + n_outputs - 2`` so that no
    training target lies after a validation window's last step.

    Parameters
    ----------
    y : array-like of shape (n_timesteps,) or (n_timesteps, n_series)
        The series to forecast, oldest first. Several columns are forecast
        jointly. No NaN: fill or drop missing values first.

    window : int
        Number of past time steps in each input window (>= 1).

    horizon : int, default=1
        How many steps after the window's last step the (first) target lies:
        1 is the next step.

    n_outputs : int, default=1
        Number of consecutive future steps per target, from ``horizon`` on.

    X : array-like of shape (n_timesteps,) or (n_timesteps, n_exog), default=None
        Exogenous series aligned with ``y`` (one row per time step). Their
        values over each window are extra input features; they are not
        forecast.

    Returns
    -------
    X_windows : ndarray of shape (n_samples, window, n_features)
        Float64 input windows, ``n_features = n_series + n_exog``: the columns
        of ``y`` first, then those of ``X``. ``n_samples = n_timesteps -
        window - horizon - n_outputs + 2``.

    targets : ndarray of shape (n_samples,) or (n_samples, n_targets)
        1-D when ``y`` is 1-D and ``n_outputs=1``; otherwise 2-D with
        ``n_targets = n_outputs * n_series`` columns ordered step by step
        (column ``k * n_series + j`` is series ``j`` at the ``k``-th step).

    See Also
    --------
    last_window : The input window that ends at the last observation.
    forecast : Predict the steps after the end of a series.

    Examples
    --------
    >>> import numpy as np
    >>> from sklstm import make_windows
    >>> X_win, target = make_windows(np.arange(6.0), window=3)
    >>> X_win[:, :, 0]
    array([[0., 1., 2.],
           [1., 2., 3.],
           [2., 3., 4.]])
    >>> target
    array([3., 4., 5.])
    >>> X_win, target = make_windows(np.arange(6.0), window=2, n_outputs=2)
    >>> target
    array([[2., 3.],
           [3., 4.],
           [4., 5.]])
    """
    window = _check_int(window, "window")
    horizon = _check_int(horizon, "horizon")
    n_outputs = _check_int(n_outputs, "n_outputs")
    feats, y_1d, n_series = _features(y, X)
    n_timesteps = len(feats)
    needed = window + horizon + n_outputs - 1
    if n_timesteps < needed:
        raise ValueError(
            f"The series has {n_timesteps} time steps, too few for one sample with "
            f"window={window}, horizon={horizon} and n_outputs={n_outputs}: that "
            f"needs at least window + horizon + n_outputs - 1 = {needed}. Use a "
            "longer series or a smaller window, horizon or n_outputs."
        )
    n_samples = n_timesteps - needed + 1
    # (n_windows, n_features, window) view -> (n_samples, window, n_features) copy
    views = sliding_window_view(feats, window, axis=0)[:n_samples]
    X_windows = np.ascontiguousarray(views.transpose(0, 2, 1))
    first = window + horizon - 1
    target_view = sliding_window_view(feats[first:, :n_series], n_outputs, axis=0)
    # (n_samples, n_series, n_outputs) -> step-major columns
    targets = target_view[:n_samples].transpose(0, 2, 1).reshape(n_samples, -1)
    if y_1d and n_outputs == 1:
        targets = targets[:, 0]
    return X_windows, np.ascontiguousarray(targets)


def last_window(y, *, window, X=None):
    """The input window that ends at the last time step of a series.

    Its prediction is the forecast after the end of the series: the next
    ``n_outputs`` steps for a model trained on ``make_windows(y, window=window,
    n_outputs=n_outputs)``.

    Parameters
    ----------
    y : array-like of shape (n_timesteps,) or (n_timesteps, n_series)
        The observed series, oldest first.

    window : int
        Window length the model was trained with.

    X : array-like of shape (n_timesteps,) or (n_timesteps, n_exog), default=None
        Exogenous series aligned with ``y``, as given to :func:`make_windows`.

    Returns
    -------
    X_last : ndarray of shape (1, window, n_features)
        One float64 window: the last ``window`` rows of ``y`` and ``X``.

    See Also
    --------
    make_windows : Cut a series into training windows.
    forecast : Predict several steps ahead, recursively if needed.

    Examples
    --------
    >>> import numpy as np
    >>> from sklstm import last_window
    >>> last_window(np.arange(6.0), window=3)[0, :, 0]
    array([3., 4., 5.])
    """
    window = _check_int(window, "window")
    feats, _, _ = _features(y, X)
    if len(feats) < window:
        raise ValueError(
            f"The series has {len(feats)} time steps, fewer than window={window}."
        )
    return np.ascontiguousarray(feats[None, -window:, :])


def forecast(estimator, y, *, window, steps, X=None, X_future=None, coverage=None):
    """Forecast the ``steps`` values after the end of a series.

    ``estimator`` is a fitted regressor trained on ``make_windows(y_train,
    window=window, n_outputs=k, X=...)`` with the default ``horizon=1``, so
    that it predicts the next ``k`` steps from a window. When ``k >= steps``
    one prediction gives the forecast (direct forecasting). Otherwise the ``k``
    predicted steps are appended to the series and the model is applied again
    to the new last window, until ``steps`` values are forecast (recursive
    forecasting; errors can accumulate).

    Parameters
    ----------
    estimator : fitted regressor
        Any regressor whose ``predict`` takes windows of shape ``(n, window,
        n_features)``, such as :class:`~sklstm.LSTMRegressor`.

    y : array-like of shape (n_timesteps,) or (n_timesteps, n_series)
        The observed series, oldest first (at least ``window`` steps).

    window : int
        Window length the model was trained with.

    steps : int
        Number of future steps to forecast.

    X : array-like of shape (n_timesteps, n_exog), default=None
        Exogenous series aligned with ``y``, if the model was trained with them.

    X_future : array-like of shape (n_future, n_exog), default=None
        The exogenous values after the end of ``y``, needed with ``X`` when the
        forecast is recursive: one row per step that is fed back in.

    coverage : float, default=None
        If given (in (0, 1)), also return conformal prediction intervals
        that hold each step's true value with this probability. Each step is
        conformalised on its own, so the intervals widen as errors grow with
        the horizon. Direct forecasts use the model's
        :meth:`~sklstm.LSTMRegressor.predict_interval` (one output column
        per step). Recursive forecasts are rerun from every held-out
        window of the model's ``calibration="split"`` fit, and each step's
        absolute error on the observed values after that window is a
        conformity score; ``y`` (and ``X``) must then be the series the
        model was fitted on.

    Returns
    -------
    y_future : ndarray of shape (steps,) or (steps, n_series)
        The forecast, 1-D when ``y`` is 1-D.

    (lower, upper) : tuple of ndarray, each shaped like ``y_future``
        Only with ``coverage``: the interval bounds.

    See Also
    --------
    make_windows : Cut a series into training windows.
    last_window : The input window that ends at the last observation.
    LSTMRegressor.predict_interval : Conformal intervals for any input.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LinearRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import FunctionTransformer
    >>> from sklstm import forecast, make_windows
    >>> y = np.arange(20.0)
    >>> X_win, target = make_windows(y, window=3)
    >>> flatten = FunctionTransformer(lambda X: X.reshape(len(X), -1))
    >>> model = make_pipeline(flatten, LinearRegression()).fit(X_win, target)
    >>> forecast(model, y, window=3, steps=4).round(6)
    array([20., 21., 22., 23.])
    """
    window = _check_int(window, "window")
    steps = _check_int(steps, "steps")
    if coverage is not None:
        coverage = check_coverage(coverage)
    if not hasattr(estimator, "predict"):
        raise TypeError(
            f"estimator must be a fitted regressor with a predict method, got "
            f"{type(estimator).__name__}."
        )
    feats, y_1d, n_series = _features(y, X)
    if len(feats) < window:
        raise ValueError(f"y has {len(feats)} time steps, fewer than window={window}.")
    n_exog = feats.shape[1] - n_series
    future_exog = None
    if X_future is not None:
        if X is None:
            raise ValueError(
                "X_future was given without X: pass the observed exogenous "
                "series X too, or neither."
            )
        future_exog, _ = _check_series(X_future, "X_future")
        if future_exog.shape[1] != n_exog:
            raise ValueError(
                f"X_future has {future_exog.shape[1]} columns but X has {n_exog}; "
                "they must be the same exogenous series."
            )
        future_exog = future_exog[None]

    y_future, per_window = _recursive(
        estimator, feats[None, -window:], steps, n_series, future_exog
    )
    y_future = y_future[0]
    if coverage is None:
        return y_future[:, 0] if y_1d else y_future
    if per_window >= steps:
        half = _direct_half_width(estimator, feats[None, -window:], coverage)
        half = half.reshape(per_window, n_series)[:steps]
    else:
        half = _recursive_half_width(
            estimator, feats, window, steps, n_series, coverage
        )
    lower, upper = y_future - half, y_future + half
    if y_1d:
        return y_future[:, 0], (lower[:, 0], upper[:, 0])
    return y_future, (lower, upper)


def _recursive(estimator, windows, steps: int, n_series: int, future_exog=None):
    """Forecasts ``(n, steps, n_series)`` from each of ``windows``, feeding
    predictions back in; also the number of steps one prediction gives.

    ``future_exog`` is ``(n, n_future, n_exog)``: the exogenous values of
    the steps after each window.
    """
    n, window, n_features = windows.shape
    n_exog = n_features - n_series
    history, chunks, done = windows, [], 0
    while True:
        pred = np.asarray(estimator.predict(history[:, -window:, :]), float)
        pred = pred.reshape(n, -1)
        if pred.shape[1] == 0 or pred.shape[1] % n_series:
            raise ValueError(
                f"The estimator predicted {pred.shape[1]} values per window, not a "
                f"multiple of the {n_series} series in y; was it trained on "
                "make_windows of this series?"
            )
        chunk = pred.reshape(n, -1, n_series)  # (n, steps predicted, n_series)
        chunks.append(chunk)
        done += chunk.shape[1]
        if done >= steps:
            break
        if n_exog:
            have = 0 if future_exog is None else future_exog.shape[1]
            if have < done:
                raise ValueError(
                    f"A recursive forecast of {steps} steps with exogenous X needs "
                    f"X_future with at least {done} rows (the exogenous values of "
                    f"the steps fed back in), got {have}."
                )
            exog = future_exog[:, done - chunk.shape[1] : done]
            chunk = np.concatenate([chunk, exog], axis=2)
        history = np.concatenate([history, chunk], axis=1)[:, -window:]
    return np.concatenate(chunks, axis=1)[:, :steps], chunks[0].shape[1]


def _direct_half_width(estimator, last, coverage: float) -> np.ndarray:
    """Half-widths of a direct forecast: the model's own intervals."""
    if not hasattr(estimator, "predict_interval"):
        raise TypeError(
            f"forecast(coverage=...) needs an estimator with predict_interval, "
            f"such as sklstm.LSTMRegressor; got {type(estimator).__name__}."
        )
    lower, upper = estimator.predict_interval(last, coverage=coverage)
    return (np.asarray(upper, float) - np.asarray(lower, float)).reshape(-1) / 2


def _recursive_half_width(estimator, feats, window, steps, n_series, coverage):
    """Per-step half-widths ``(steps, n_series)`` of a recursive forecast,
    conformalised on the model's held-out windows of the series ``feats``."""
    state = getattr(estimator, "__dict__", {})
    rows = state.get("_calibration_rows")
    if rows is None:
        raise ValueError(
            "A recursive forecast with coverage conformalises each step on the "
            "model's held-out windows, but this model has none. Fit an "
            'sklstm.LSTMRegressor with calibration="split" on make_windows of '
            "this series, or train a direct model (n_outputs >= steps), whose "
            'intervals also work with calibration="cv".'
        )
    rows = np.asarray(rows)
    n_windows = len(feats) - window + 1
    if rows.max() >= n_windows:
        raise ValueError(
            f"The model held out window {int(rows.max())}, but y has only "
            f"{n_windows} windows of {window} steps: pass the series (and X) the "
            "model was fitted on."
        )
    # what is observed after each held-out window (NaN beyond the end)
    n_series_cols = slice(0, n_series)
    padded = np.vstack([feats, np.full((steps, feats.shape[1]), np.nan)])
    starts = rows[:, None] + np.arange(window)
    after = rows[:, None] + window + np.arange(steps)
    exog = np.nan_to_num(padded[after][:, :, n_series:])  # unobserved: unused
    pred, _ = _recursive(estimator, feats[starts], steps, n_series, exog)
    scores = np.abs(padded[after][:, :, n_series_cols] - pred)
    weights = state.get("_conformity_weights")
    return conformal_quantile(scores.reshape(len(rows), -1), coverage, weights).reshape(
        steps, n_series
    )
