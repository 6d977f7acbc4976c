"""
Grid search over the tokenizer and the network
===============================================

Because ``TextSequencer`` and ``LSTMClassifier`` are ordinary scikit-learn
estimators, one ``GridSearchCV`` tunes the text side (``max_len``,
``min_frequency``) and the network side (``hidden_size``, ``cell``) together,
with ``n_jobs=2`` running two fits at a time (each worker limits torch to its
share of the cores). The results table goes straight into pandas and a plot.
"""

# %%
import matplotlib.pyplot as plt
import pandas as pd
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import make_pipeline

from sklstm import LSTMClassifier, TextSequencer
from sklstm.datasets import load_sentiment_sentences

X, y = load_sentiment_sentences(return_X_y=True)
pipe = make_pipeline(TextSequencer(), LSTMClassifier(max_epochs=8, random_state=0))
grid = {
    "textsequencer__max_len": [8, 32],
    "lstmclassifier__hidden_size": [16, 64],
    "lstmclassifier__cell": ["lstm", "gru"],
}
search = GridSearchCV(
    pipe, grid, cv=StratifiedKFold(3, shuffle=True, random_state=0), n_jobs=2
)
search.fit(X, y)
print("best:", search.best_params_, f"accuracy {search.best_score_:.3f}")

# %%
results = pd.DataFrame(search.cv_results_)
table = results.pivot_table(
    index=["param_lstmclassifier__cell", "param_lstmclassifier__hidden_size"],
    columns="param_textsequencer__max_len",
    values="mean_test_score",
)
print(table.round(3))

# %%
fig, ax = plt.subplots(figsize=(6, 3.5))
for (cell, hidden), row in table.iterrows():
    ax.plot(row.index, row.values, "o-", label=f"{cell}, hidden_size={hidden}")
ax.set_xscale("log", base=2)
ax.set_xticks(table.columns, [str(c) for c in table.columns])
ax.set_xlabel("TextSequencer max_len (tokens kept per sentence)")
ax.set_ylabel("mean cross-validated accuracy")
ax.legend(fontsize=8)
ax.set_title("Truncating sentences to 8 tokens loses the signal")
fig.tight_layout()
plt.show()
