"""
Stock-market tweet sentiment from raw text
==========================================

The default ``make_pipeline(TextSequencer(), LSTMClassifier())`` on the bundled
Twitter financial news sentiment data (Bearish / Bullish / Neutral), next to a
TF-IDF + logistic regression baseline.
"""

# %%
# Load the bundled data
# ---------------------
import time

import matplotlib.pyplot as plt
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import ConfusionMatrixDisplay, accuracy_score
from sklearn.pipeline import make_pipeline

from sklstm import LSTMClassifier, TextSequencer
from sklstm.datasets import load_financial_tweets

train = load_financial_tweets(subset="train")
valid = load_financial_tweets(subset="valid")
print(len(train.data), "training tweets, e.g.", train.data[0])

# %%
# Train the LSTM pipeline with default hyperparameters
# ----------------------------------------------------
lstm = make_pipeline(TextSequencer(), LSTMClassifier(random_state=0))
start = time.perf_counter()
lstm.fit(train.data, train.target)
print(f"fit in {time.perf_counter() - start:.1f} s, {lstm[-1].n_iter_} epochs")
lstm_acc = accuracy_score(valid.target, lstm.predict(valid.data))

# %%
# A bag-of-words baseline
# -----------------------
tfidf = make_pipeline(TfidfVectorizer(), LogisticRegression(max_iter=1000, C=10))
tfidf.fit(train.data, train.target)
tfidf_acc = accuracy_score(valid.target, tfidf.predict(valid.data))
print(
    f"validation accuracy: LSTM {lstm_acc:.3f}, TF-IDF + logistic regression {tfidf_acc:.3f}"
)

# %%
# Where the LSTM errs
# -------------------
ConfusionMatrixDisplay.from_estimator(
    lstm, valid.data, valid.target, display_labels=valid.target_names, normalize="true"
)
plt.title("LSTM on the validation tweets")
plt.show()

# %%
# Probabilities for new headlines
# -------------------------------
new = ["$AAPL beats estimates, shares jump", "$TSLA cut to sell at Goldman"]
for text, proba in zip(new, lstm.predict_proba(new)):
    print(text, dict(zip(valid.target_names.tolist(), proba.round(3).tolist())))
