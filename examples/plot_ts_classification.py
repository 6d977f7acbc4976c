"""
Classifying multivariate series of unequal length
=================================================

:class:`~sklstm.LSTMClassifier` reads numeric sequences as well as text. Here
it learns to recognise 9 speakers from the Japanese Vowels recordings (UCI,
part of the UEA archive): each utterance of /ae/ is a series of 12 LPC cepstrum
coefficients, 7 to 29 steps long. The series go in as a plain list of ``(n_steps,
12)`` arrays, without padding: each keeps its own length. The model is compared
with the classic baseline of time-series classification, the 1-nearest
neighbour with Euclidean distance.

The data are read from a local copy of the UEA files
(``../shared/datasets/ts`` or ``SKLSTM_SHARED_DATASETS``); without one the
example runs on small synthetic series instead.
"""

# %%
# Data
# ----
# :func:`~sklstm.datasets.load_ts_file` reads the ``.ts`` format of aeon and
# sktime straight into sklstm's layout: batch first, channels last, and a list
# when the lengths differ. (Data already loaded by aeon, sktime or tsai are
# channels first: :func:`~sklstm.datasets.from_channels_first` converts them.)
import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import ConfusionMatrixDisplay

from sklstm import LSTMClassifier, from_long_format, to_long_format
from sklstm.datasets import load_ts_file, shared_datasets_dir

shared = shared_datasets_dir()
folder = None if shared is None else shared / "ts/classification/JapaneseVowels"
if folder is not None and folder.is_dir():
    X_train, y_train = load_ts_file(folder / "JapaneseVowels_TRAIN.ts")
    X_test, y_test = load_ts_file(folder / "JapaneseVowels_TEST.ts")
    title = "Japanese Vowels"
else:
    print("JapaneseVowels not found locally: using synthetic series")
    rng = np.random.default_rng(0)

    def make(n):
        """Noisy 3-channel sine waves whose frequency depends on the class."""
        X, y = [], []
        for i in range(n):
            label = i % 3
            t = np.arange(rng.integers(15, 40))
            freq = 0.15 + 0.1 * label
            X.append(
                np.stack([np.sin(freq * t + k) for k in range(3)], axis=1)
                + 0.3 * rng.normal(size=(len(t), 3))
            )
            y.append(str(label + 1))
        return X, np.array(y)

    X_train, y_train = make(150)
    X_test, y_test = make(150)
    title = "synthetic sine waves"

lengths = [len(x) for x in X_train]
print(
    f"{title}: {len(X_train)} training and {len(X_test)} test series, "
    f"{X_train[0].shape[1]} channels, {min(lengths)}-{max(lengths)} steps, "
    f"{len(np.unique(y_train))} classes"
)

# %%
# The same series as a long-format table
# --------------------------------------
# Databases and tools such as neuralforecast keep series "long": one row per
# (series id, time step). :func:`~sklstm.to_long_format` writes the training
# series that way (pandas here; ``backend="polars"`` works too) and
# :func:`~sklstm.from_long_format` reads such a table back, sorting the rows
# of each series by time, keeping unequal lengths as a list and refusing
# duplicated (id, time) rows. Shuffled rows come back as the same series.
channels = [f"c{j}" for j in range(X_train[0].shape[1])]
table = to_long_format(X_train, y=y_train, value_cols=channels)
print(table.head(3))
shuffled = table.sample(frac=1.0, random_state=0)
data = from_long_format(shuffled, value_cols=channels, label_col="label")
assert all(np.array_equal(a, b) for a, b in zip(data.X, X_train))
assert np.array_equal(data.y, y_train)
print(f"{len(table)} rows -> {len(data.X)} series of {data.X[0].shape[1]} channels")

# %%
# A few series
# ------------
# The first channel of three utterances of three speakers: lengths differ
# within and between classes.
fig, axes = plt.subplots(1, 3, figsize=(10, 3), sharey=True)
for ax, label in zip(axes, np.unique(y_train)[:3]):
    for i in np.flatnonzero(y_train == label)[:3]:
        ax.plot(X_train[i][:, 0], marker=".")
    ax.set_title(f"class {label}")
    ax.set_xlabel("time step")
axes[0].set_ylabel("channel 1")
fig.tight_layout()

# %%
# Train and evaluate
# ------------------
# The default estimator: inputs are standardised per channel inside the
# model, and each series is read up to its own last step.
model = LSTMClassifier(random_state=0)
model.fit(X_train, y_train)
accuracy = model.score(X_test, y_test)


# %%
# The baseline: 1-nearest neighbour with Euclidean distance, on the series
# resampled to a common length (linear interpolation), since Euclidean distance
# needs equal lengths.
def resample(x, n_steps):
    t = np.linspace(0, len(x) - 1, n_steps)
    return np.stack(
        [np.interp(t, np.arange(len(x)), x[:, j]) for j in range(x.shape[1])], axis=1
    )


n_steps = max(len(x) for x in [*X_train, *X_test])
A = np.stack([resample(x, n_steps).ravel() for x in X_train])
B = np.stack([resample(x, n_steps).ravel() for x in X_test])
dist = (B**2).sum(1)[:, None] - 2 * B @ A.T + (A**2).sum(1)[None, :]
nn_accuracy = np.mean(y_train[dist.argmin(axis=1)] == y_test)
print(f"LSTMClassifier test accuracy {accuracy:.3f}, 1-NN {nn_accuracy:.3f}")

# %%
# Confusion matrix
# ----------------
ConfusionMatrixDisplay.from_predictions(
    y_test, model.predict(X_test), colorbar=False
).ax_.set_title(f"LSTMClassifier on {title}: accuracy {accuracy:.3f}")
plt.show()
