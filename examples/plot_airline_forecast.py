"""
Forecasting airline passengers
==============================

An LSTM forecasts the monthly international airline passengers of 1960 (the
Box & Jenkins "Airline" series, 1949-1960) from the 132 months before.
:func:`~sklstm.make_windows` cuts the series into windows of past months and
the months to predict; :class:`~sklstm.LSTMRegressor` learns all 12 future
months at once (multi-output regression); :func:`~sklstm.forecast` predicts
from the last window. The series is read from a local copy of the shared
datasets (``../shared/datasets`` or ``SKLSTM_SHARED_DATASETS``); without one,
the example runs on a synthetic series of the same shape.
"""

# %%
# Data
# ----
# 144 monthly totals, in thousands of passengers. The last 12 months are kept
# for testing.
import csv
import time

import matplotlib.pyplot as plt
import numpy as np
from sklearn.model_selection import TimeSeriesSplit, cross_val_score

from sklstm import LSTMRegressor, forecast, make_windows
from sklstm.datasets import shared_datasets_dir

shared = shared_datasets_dir()
path = None if shared is None else shared / "ts" / "forecasting" / "Airline.csv"
if path is not None and path.is_file():
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    months = [row["Date"] for row in rows]
    passengers = np.array([float(row["Passengers"]) for row in rows])
    print(f"Airline: {len(passengers)} months, {months[0]} to {months[-1]}")
else:
    print("Airline.csv not found locally: using a synthetic series of the same shape")
    t = np.arange(144)
    rng = np.random.default_rng(0)
    seasonal = 1 + 0.2 * np.sin(2 * np.pi * (t - 3) / 12)
    passengers = np.round(110 * np.exp(0.01 * t) * seasonal + rng.normal(0, 5, 144))
    months = [f"{1949 + i // 12}-{i % 12 + 1:02d}" for i in t]

train, test = passengers[:-12], passengers[-12:]

# %%
# A baseline: the seasonal naive forecast
# ---------------------------------------
# Each month of the test year is predicted by the same month one year before.
seasonal_naive = train[-12:]
naive_mae = np.abs(seasonal_naive - test).mean()
print(f"seasonal naive MAE: {naive_mae:.1f}")

# %%
# What the network learns
# -----------------------
# Neural networks do not extrapolate a trend beyond the values they were
# trained on, and this series grows and its seasonal swings grow with it. Its
# log seasonal difference, ``log(y[t]) - log(y[t - 12])`` (the growth over the
# same month one year before), has neither trend nor seasonality. The network
# forecasts that growth; the seasonal naive forecast is the special case of
# zero growth.
log_train = np.log(train)
growth = log_train[12:] - log_train[:-12]
print(f"{len(growth)} months of yearly growth, mean {growth.mean():.3f}")

# %%
# Windows
# -------
# Each sample is 12 past months of growth; its target is the next 12 months
# (a direct multi-step forecast, one output per month ahead).
window, steps = 12, 12
X_win, target = make_windows(growth, window=window, n_outputs=steps)
print(f"windows {X_win.shape}, targets {target.shape}")

# %%
# Validation in time order
# ------------------------
# :class:`~sklearn.model_selection.TimeSeriesSplit` validates on windows that
# come after the ones it trains on. ``gap=steps - 1`` drops the training
# windows whose 12 target months run past the start of the validation
# windows' forecasts.
model = LSTMRegressor(random_state=0)
cv = TimeSeriesSplit(n_splits=3, gap=steps - 1)
scores = -cross_val_score(
    model, X_win, target, cv=cv, scoring="neg_mean_absolute_error"
)
print("validation MAE of the log growth per split:", scores.round(3))

# %%
# Fit and forecast 1960
# ---------------------
start = time.perf_counter()
model.fit(X_win, target)
fit_s = time.perf_counter() - start
growth_future = forecast(model, growth, window=window, steps=steps)
lstm_pred = train[-12:] * np.exp(growth_future)
lstm_mae = np.abs(lstm_pred - test).mean()
print(
    f"direct LSTM MAE: {lstm_mae:.1f} (seasonal naive {naive_mae:.1f}), fit {fit_s:.1f} s"
)

# %%
# The same with a one-step model, applied recursively
# ---------------------------------------------------
# A model of the next month only; :func:`~sklstm.forecast` appends each
# prediction to the series and predicts again, 12 times.
X_one, target_one = make_windows(growth, window=window)
one_step = LSTMRegressor(random_state=0).fit(X_one, target_one)
recursive_pred = train[-12:] * np.exp(
    forecast(one_step, growth, window=window, steps=steps)
)
recursive_mae = np.abs(recursive_pred - test).mean()
print(f"recursive LSTM MAE: {recursive_mae:.1f}")

# %%
# Forecast against the truth
# --------------------------
x = np.arange(len(passengers))
fig, ax = plt.subplots(figsize=(9, 4))
ax.plot(x[-48:], passengers[-48:], "k.-", label="observed")
ax.plot(x[-12:], seasonal_naive, "--", color="gray", label="seasonal naive")
ax.plot(x[-12:], lstm_pred, "o-", label=f"LSTM, direct (MAE {lstm_mae:.1f})")
ax.plot(
    x[-12:],
    recursive_pred,
    "s-",
    markersize=4,
    label=f"LSTM, recursive (MAE {recursive_mae:.1f})",
)
ticks = x[-48::6]
ax.set_xticks(ticks, [months[i] for i in ticks])
ax.set_ylabel("passengers (thousands)")
ax.set_title("Forecast of the last 12 months")
ax.legend()
plt.show()
