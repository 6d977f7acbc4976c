"""
Training curves and early stopping
==================================

``loss_curve_`` holds the mean training loss of each epoch and
``validation_scores_`` the validation accuracy when early stopping is on. The
best epoch's weights are the ones kept.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np
from sklearn.pipeline import make_pipeline

from sklstm import LSTMClassifier, TextSequencer
from sklstm.datasets import load_sentiment_sentences

X, y = load_sentiment_sentences(return_X_y=True)
model = make_pipeline(
    TextSequencer(),
    LSTMClassifier(
        early_stopping=True, n_iter_no_change=5, max_epochs=30, random_state=0
    ),
)
model.fit(X, y)
lstm = model[-1]
print(
    f"{lstm.n_iter_} epochs, best validation accuracy {lstm.best_validation_score_:.3f}"
)

# %%
epochs = np.arange(1, lstm.n_iter_ + 1)
best = int(np.argmax(lstm.validation_scores_)) + 1
fig, ax1 = plt.subplots()
ax1.plot(epochs, lstm.loss_curve_, "o-", label="training loss")
ax1.set_xlabel("epoch")
ax1.set_ylabel("training loss")
ax2 = ax1.twinx()
ax2.plot(
    epochs,
    lstm.validation_scores_,
    "s-",
    color="tab:orange",
    label="validation accuracy",
)
ax2.set_ylabel("validation accuracy")
ax1.axvline(best, color="gray", linestyle="--")
ax1.set_title(f"weights of epoch {best} are kept")
fig.legend(loc="lower center")
plt.show()
