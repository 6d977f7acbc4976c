"""
Which time steps and channels drive a prediction
================================================

For numeric series :func:`sklstm.explain` returns, per series, an array of
shape ``(length, n_features)``: integrated gradients from the training mean
of each channel (what the network standardises by) to the series, so the
attributions of a series sum to the explained probability minus the
probability of a flat, average series.

BasicMotions (UEA archive): 3-D accelerometer and gyroscope readings of a
smartwatch, 6 channels x 100 steps, while walking, resting, running or playing
badminton. Read from a local copy of the shared datasets
(``../shared/datasets/ts``); synthetic series stand in without one.
"""

# %%
# Data and model
# --------------
import matplotlib.pyplot as plt
import numpy as np

from sklstm import LSTMClassifier, explain
from sklstm.datasets import load_ts_file, shared_datasets_dir

shared = shared_datasets_dir()
folder = None if shared is None else shared / "ts/classification/BasicMotions"
if folder is not None and folder.is_dir():
    X_train, y_train = load_ts_file(folder / "BasicMotions_TRAIN.ts")
    X_test, y_test = load_ts_file(folder / "BasicMotions_TEST.ts")
else:
    print("BasicMotions not found locally: using synthetic series")
    rng = np.random.default_rng(0)
    y_all = np.repeat(["resting", "walking"], 40)
    X_all = rng.normal(0, 0.2, size=(80, 100, 6))
    X_all[y_all == "walking", :, :3] += np.sin(np.linspace(0, 20, 100))[:, None]
    order = rng.permutation(80)
    X_train, X_test = X_all[order[:40]], X_all[order[40:]]
    y_train, y_test = y_all[order[:40]], y_all[order[40:]]

clf = LSTMClassifier(pooling="max", max_epochs=40, random_state=0)
clf.fit(X_train, y_train)
print(f"test accuracy {clf.score(X_test, y_test):.3f}, classes {clf.classes_}")

# %%
# One series: time x channel
# --------------------------
# Each row of the heatmap is a channel (the series drawn over it), each column
# a time step; green raises the probability of the predicted class.
e = explain(clf, X_test[:8])
for i in (0, 5):
    ax = e.plot(i)
    ax.set_title(
        f"predicted {e.targets[i]} (p = {e.outputs[i]:.2f}), true {y_test[i]}",
        loc="left",
    )
    ax.set_yticks(range(6), ["acc x", "acc y", "acc z", "gyro x", "gyro y", "gyro z"])

# %%
# Completeness: each series' attributions add up to what changed between the
# baseline and the series. Max pooling is only piecewise smooth (its maximum
# jumps from step to step along the path), so 50 fixed steps miss on most of
# these series; :func:`~sklstm.explain` then integrates those rows again by
# adaptive bisection of the path, which places its nodes where the jumps are.
print(np.round([a.sum() for a in e], 3))
print(np.round(e.outputs - e.baseline_outputs, 3))

# %%
# Which channels matter, per class
# --------------------------------
# The share of absolute attribution each channel gets, averaged over the
# test series of each predicted class.
e = explain(clf, X_test)
share = np.array([np.abs(a).sum(0) / np.abs(a).sum() for a in e])
fig, ax = plt.subplots(figsize=(7, 3))
width = 0.8 / len(clf.classes_)
for k, label in enumerate(clf.classes_):
    rows = e.targets == label
    if rows.any():
        ax.bar(np.arange(6) + k * width, share[rows].mean(0), width, label=str(label))
ax.set_xticks(
    np.arange(6) + 0.4 - width / 2,
    ["acc x", "acc y", "acc z", "gyro x", "gyro y", "gyro z"],
)
ax.set_ylabel("share of attribution")
ax.legend(fontsize=8)
fig.tight_layout()
plt.show()
