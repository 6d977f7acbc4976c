"""
English sentiment on the bundled review sentences
=================================================

3,000 one-line reviews from Amazon, IMDb and Yelp (the UCI "Sentiment Labelled
Sentences" data, bundled with sklstm) labelled positive or negative. A
``TextSequencer`` + ``LSTMClassifier`` pipeline takes the raw strings; we
compare it, with cross-validation, to the classic bag-of-words baseline
(TF-IDF + logistic regression) and to ``LSTMClassifier(pretrained="en")``,
which starts from the English language model shipped with sklstm and reads
raw strings itself, and look at the sentences the pipeline gets wrong.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score, train_test_split
from sklearn.pipeline import make_pipeline

from sklstm import LSTMClassifier, TextSequencer
from sklstm.datasets import load_sentiment_sentences

data = load_sentiment_sentences()
X, y = np.asarray(data.data), np.asarray(data.target)
print(f"{len(X)} sentences, {np.mean(y):.0%} positive")
print("example:", X[0], "->", data.target_names[y[0]])

# %%
# Cross-validated accuracy of both models, on the same folds.
# ten epochs at most keep the example quick (the default budget is larger)
lstm = make_pipeline(TextSequencer(), LSTMClassifier(max_epochs=10, random_state=0))
bow = make_pipeline(TfidfVectorizer(ngram_range=(1, 2)), LogisticRegression(C=10))
cv = StratifiedKFold(n_splits=3, shuffle=True, random_state=0)
scores = {
    "TF-IDF + logistic regression": cross_val_score(bow, X, y, cv=cv),
    "TextSequencer + LSTMClassifier": cross_val_score(lstm, X, y, cv=cv),
    'LSTMClassifier(pretrained="en")': cross_val_score(
        LSTMClassifier(pretrained="en", random_state=0), X, y, cv=cv
    ),
}
for name, s in scores.items():
    print(f"{name:32s} {s.mean():.3f} +/- {s.std():.3f}")

fig, ax = plt.subplots(figsize=(6, 2.5))
ax.barh(
    list(scores),
    [s.mean() for s in scores.values()],
    xerr=[s.std() for s in scores.values()],
    color=["C7", "C0", "C2"],
)
ax.set_xlim(0.5, 1.0)
ax.set_xlabel("3-fold cross-validated accuracy")
fig.tight_layout()

# %%
# Fit on 80% and read the held-out sentences the model is least sure about
# or gets wrong.
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.2, stratify=y, random_state=0
)
lstm.fit(X_train, y_train)
proba = lstm.predict_proba(X_test)[:, 1]
print(f"held-out accuracy: {lstm.score(X_test, y_test):.3f}")
wrong = np.flatnonzero((proba > 0.5) != y_test)
for i in wrong[np.argsort(-np.abs(proba[wrong] - 0.5))][:5]:
    print(
        f"  p(positive)={proba[i]:.2f}  true={data.target_names[y_test[i]]:8s} {X_test[i]}"
    )

print(lstm.predict(["I loved every minute of it", "the worst service ever"]))
plt.show()
