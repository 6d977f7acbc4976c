"""
Which words drive a prediction: tweets and Chinese reviews
==========================================================

:func:`sklstm.explain` attributes a prediction to the words of the raw text
(integrated gradients on the embeddings, from an out-of-vocabulary baseline,
inside each document's own length). Each document's attributions sum to the
explained probability minus the probability at the baseline.

Here: the words that push stock-market tweets towards Bullish and Bearish,
and the characters that make a Chinese food-delivery review positive
(waimai_10k, when a local copy of the shared datasets exists).
"""

# %%
# A model of the financial tweets
# -------------------------------
from collections import defaultdict

import matplotlib.pyplot as plt
import numpy as np
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline

from sklstm import LSTMClassifier, TextSequencer, explain
from sklstm.datasets import load_financial_tweets, load_waimai_reviews

train = load_financial_tweets(subset="train")
valid = load_financial_tweets(subset="valid")
names = list(train.target_names)
# six epochs keep the example quick; the default (early stopping) reaches
# about 0.82
model = make_pipeline(TextSequencer(), LSTMClassifier(max_epochs=6, random_state=0))
model.fit(train.data, train.target)
print(f"validation accuracy {model.score(valid.data, valid.target):.3f}")

# %%
# One tweet at a time
# -------------------
# Green words raise the probability of the explained class, red ones lower
# it. In a notebook the explanation shows as highlighted text.
tweets = [
    "$AAPL beats estimates, shares jump after strong iPhone sales",
    "Tesla cut to sell at Goldman, stock slides",
]
e = explain(model, tweets)
for text, label, p in zip(tweets, e.targets, e.outputs):
    print(f"{names[label]} ({p:.2f}): {text}")
e  # noqa: B018 (the last expression of a cell renders as HTML)

# %%
# The same with matplotlib:
fig, axes = plt.subplots(2, 1, figsize=(9, 2.6))
for i, ax in enumerate(axes):
    e.plot(i, ax=ax)
    ax.set_title(f"{names[e.targets[i]]}: p = {e.outputs[i]:.2f}", loc="left")
fig.tight_layout()

# %%
# The words that drive Bullish and Bearish
# ----------------------------------------
# Explain 200 validation tweets for each class and average each word's
# attribution over the tweets that contain it (words seen 3 times or more).
X = valid.data[:200]


def top_words(target, k=10):
    totals, counts = defaultdict(float), defaultdict(int)
    for pairs in explain(model, X, target=target):
        for word, a in pairs:
            totals[word] += a
            counts[word] += 1
    mean = {w: totals[w] / counts[w] for w in totals if counts[w] >= 3}
    return sorted(mean.items(), key=lambda item: -item[1])[:k]


fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
for ax, label, colour in zip(axes, ["Bullish", "Bearish"], ["tab:green", "tab:red"]):
    words, scores = zip(*top_words(names.index(label)))
    ax.barh(words[::-1], scores[::-1], color=colour)
    ax.set_title(f"raise p({label})")
    ax.set_xlabel("mean attribution")
fig.tight_layout()

# %%
# Chinese reviews, one token per character
# ----------------------------------------
# :class:`~sklstm.TextSequencer` reads Chinese one character per token, so the
# explanation highlights characters. A small subset keeps the example quick.
try:
    Xw, yw = load_waimai_reviews(return_X_y=True)
except FileNotFoundError:
    print("waimai_10k not found locally: using a small demo corpus")
    pos = ["很好吃", "送餐很快", "味道不错，下次还点", "服务很好", "分量足，好吃"]
    neg = ["太难吃了", "送餐太慢", "味道很差，不会再点", "服务很差", "分量少，难吃"]
    Xw = (pos + neg) * 30
    yw = np.array(([1] * len(pos) + [0] * len(neg)) * 30)
Xw_train, Xw_test, yw_train, yw_test = train_test_split(
    Xw, yw, train_size=min(1000, len(Xw) // 2), stratify=yw, random_state=0
)
chinese = make_pipeline(TextSequencer(), LSTMClassifier(max_epochs=4, random_state=0))
chinese.fit(Xw_train, yw_train)
print(f"test accuracy {chinese.score(Xw_test[:500], yw_test[:500]):.3f}")
explain(chinese, ["很好吃，送餐很快，下次还点", "太难吃了，送了两个小时"], target=1)
