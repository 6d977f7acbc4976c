"""
Calibrated probabilities and forecast intervals
===============================================

Two kinds of uncertainty from the same estimators:

* :class:`~sklstm.LSTMClassifier` with ``calibration="temperature"`` divides
  its logits by one temperature fitted on the held-out split, so that a
  predicted 80% is right about 80% of the time. The reliability diagram
  below compares the raw softmax with the calibrated probabilities.
* :func:`~sklstm.forecast` with ``coverage`` returns conformal intervals for
  every forecast step; a fan chart shows the 50%, 80% and 95% bands.

Small synthetic data and few epochs keep the example fast; see
:ref:`uncertainty` for the benchmark on real data.
"""

import matplotlib.pyplot as plt
import numpy as np
from scipy.special import softmax

from sklstm import LSTMClassifier, LSTMRegressor, forecast, make_windows

# %%
# A classifier on noisy series
# ----------------------------
# Each series is noise with a small bump; the label says whether the bump is
# positive. 1200 training series: early stopping holds out 10%, and the temperature is
# fitted there (``calibration="auto"`` would do the same).
rng = np.random.default_rng(0)
n, length = 2000, 20
y = rng.integers(0, 2, size=n)
X = rng.normal(size=(n, length))
X[:, 8:12] += np.where(y == 1, 0.5, -0.5)[:, None]
flip = rng.random(n) < 0.1  # label noise: no model can be sure
y = np.where(flip, 1 - y, y)
X_train, y_train, X_test, y_test = X[:1200], y[:1200], X[1200:], y[1200:]

clf = LSTMClassifier(
    hidden_size=16, max_epochs=8, calibration="temperature", random_state=0
).fit(X_train, y_train)
calibrated = clf.predict_proba(X_test)
# the same network's raw softmax (undo the temperature)
raw = softmax(clf.temperature_ * np.log(calibrated), axis=1)
print(f"temperature: {clf.temperature_:.2f}")


def reliability(proba, y, bins=10):
    conf = proba[:, 1]
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(conf, edges[1:-1]), 0, bins - 1)
    keep = [b for b in range(bins) if (which == b).any()]
    mean_p = [conf[which == b].mean() for b in keep]
    freq = [y[which == b].mean() for b in keep]
    return mean_p, freq


fig, ax = plt.subplots(figsize=(5, 5))
ax.plot([0, 1], [0, 1], "k:", label="perfectly calibrated")
for proba, name in ((raw, "raw softmax"), (calibrated, "temperature scaled")):
    mean_p, freq = reliability(proba, y_test)
    ax.plot(mean_p, freq, "o-", label=name)
ax.set_xlabel("predicted probability of class 1")
ax.set_ylabel("observed frequency of class 1")
ax.set_title("Reliability diagram (held-out series)")
ax.legend()
plt.show()

# %%
# A forecast fan chart
# --------------------
# A noisy seasonal series; a one-step model is applied recursively, and each
# horizon step is conformalised on its own from the held-out windows, so the
# bands widen with the horizon.
t = np.arange(400)
series = np.sin(2 * np.pi * t / 24) + 0.3 * rng.normal(size=400)
window, steps = 24, 24
X_win, target = make_windows(series, window=window)
model = LSTMRegressor(
    hidden_size=16, max_epochs=8, calibration="split", random_state=0
).fit(X_win, target)

fig, ax = plt.subplots(figsize=(8, 4))
history = np.arange(len(series) - 96, len(series))
future = np.arange(len(series), len(series) + steps)
ax.plot(history, series[history], color="k", label="observed")
for coverage, alpha in ((0.95, 0.15), (0.8, 0.25), (0.5, 0.35)):
    point, (lower, upper) = forecast(
        model, series, window=window, steps=steps, coverage=coverage
    )
    ax.fill_between(
        future, lower, upper, color="C0", alpha=alpha, label=f"{coverage:.0%}"
    )
ax.plot(future, point, color="C0", label="forecast")
ax.set_xlabel("time step")
ax.set_title("Recursive forecast with conformal bands per step")
ax.legend(loc="upper left", ncol=5, fontsize=8)
plt.show()
