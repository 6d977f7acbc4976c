"""
Chinese review sentiment
========================

:class:`~sklstm.TextSequencer` splits Chinese (and Japanese, Korean) text into
one token per character while keeping Latin words whole, so Chinese text needs
no segmenter. This example trains on the waimai_10k food-delivery reviews when
a local copy exists (``../shared/datasets`` or ``SKLSTM_SHARED_DATASETS``;
sklstm does not ship them, their license is unknown), and on a tiny built-in
demo corpus otherwise.
"""

# %%
# Tokens of mixed Chinese and English text
# ----------------------------------------
import numpy as np
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline

from sklstm import LSTMClassifier, TextSequencer
from sklstm.datasets import load_waimai_reviews

seq = TextSequencer(min_frequency=1).fit(["苹果 iPhone 15 很好用，送货很快！"])
print(seq.inverse_transform(seq.transform(["苹果 iPhone 15 很好用，送货很快！"])))

# %%
# Data
# ----
try:
    X, y = load_waimai_reviews(return_X_y=True)
    print(f"waimai_10k: {len(X)} reviews, {y.mean():.0%} positive")
except FileNotFoundError:
    print("waimai_10k not found locally: using a small demo corpus")
    pos = ["很好吃", "送餐很快", "味道不错，下次还点", "服务很好", "分量足，好吃"]
    neg = ["太难吃了", "送餐太慢", "味道很差，不会再点", "服务很差", "分量少，难吃"]
    X = (pos + neg) * 30
    y = np.array(([1] * len(pos) + [0] * len(neg)) * 30)

# a subset keeps the example around a minute on a CPU
X_train, X_test, y_train, y_test = train_test_split(
    X,
    y,
    train_size=min(4000, len(X) // 2),
    test_size=min(2000, len(X) // 2),
    stratify=y,
    random_state=0,
)

# %%
# Train and evaluate
# ------------------
model = make_pipeline(TextSequencer(), LSTMClassifier(random_state=0))
model.fit(X_train, y_train)
print(
    f"test accuracy {model.score(X_test, y_test):.3f} "
    f"(majority class {max(np.mean(y_test), 1 - np.mean(y_test)):.3f})"
)
print(model.predict(["很好吃，送餐很快", "太难吃了，送了两个小时"]))
