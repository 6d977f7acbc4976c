"""The default pipeline on real data: the accuracy promised in the README.

Marked ``realdata`` (``pytest -m "not realdata"`` skips them for a quick run);
CI runs them. The bundled datasets are always there; the Chinese reviews come
from ``../shared/datasets`` and skip with a reason when that folder is absent.
"""

import time

import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline

from sklstm import LSTMClassifier, TextSequencer
from sklstm.datasets import (
    load_financial_tweets,
    load_sentiment_sentences,
    load_waimai_reviews,
    shared_datasets_dir,
)

pytestmark = pytest.mark.realdata


def test_default_pipeline_on_financial_tweets_reaches_0815():
    train = load_financial_tweets(subset="train")
    valid = load_financial_tweets(subset="valid")
    model = make_pipeline(TextSequencer(), LSTMClassifier(random_state=0))
    start = time.perf_counter()
    model.fit(train.data, train.target)
    fit_s = time.perf_counter() - start
    acc = model.score(valid.data, valid.target)
    print(f"financial tweets: valid accuracy {acc:.4f}, fit {fit_s:.1f} s")
    # the defaults reached 0.825-0.833 over seeds 0-2, 2026-12-06 (the
    # members before label smoothing and concat pooling 0.824-0.831; one
    # network 0.809-0.821)
    assert acc >= 0.815
    # early stopping was on (auto: >= 1000 samples) and kept the best epoch
    lstm = model[-1]
    assert lstm.validation_scores_ is not None
    assert lstm.n_iter_ < 30  # early stopping ended it before the budget


def test_default_pipeline_on_uci_sentences_cv_reaches_080():
    X, y = load_sentiment_sentences(return_X_y=True)
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    model = make_pipeline(TextSequencer(), LSTMClassifier(random_state=0))
    scores = cross_val_score(model, X, y, cv=cv)
    print(
        f"UCI sentences: 5-fold CV accuracy {scores.mean():.4f} {np.round(scores, 3)}"
    )
    # 0.828 with the defaults, 2026-12-06 (0.824 with the members before
    # label smoothing and concat pooling; one network: 0.813)
    assert scores.mean() >= 0.81


def test_grid_search_with_two_jobs_on_real_text():
    X, y = load_sentiment_sentences(return_X_y=True)
    pipe = make_pipeline(TextSequencer(), LSTMClassifier(random_state=0))
    grid = GridSearchCV(
        pipe,
        {"textsequencer__max_len": [32, 64], "lstmclassifier__hidden_size": [32, 64]},
        cv=3,
        n_jobs=2,
    ).fit(X, y)
    assert grid.best_score_ > 0.74
    assert set(grid.cv_results_["param_textsequencer__max_len"]) == {32, 64}
    assert grid.predict(["great phone", "这家酒店很差"]).shape == (2,)


@pytest.mark.skipif(
    shared_datasets_dir() is None
    or not (shared_datasets_dir() / "waimai_10k" / "waimai_10k.csv").is_file(),
    reason="the Chinese waimai_10k reviews live in ../shared/datasets, absent here",
)
def test_default_pipeline_on_chinese_reviews():
    X, y = load_waimai_reviews(return_X_y=True)
    rng = np.random.default_rng(0)
    idx = rng.permutation(len(X))
    train, test = idx[:6000], idx[6000:8000]
    model = make_pipeline(TextSequencer(), LSTMClassifier(random_state=0))
    model.fit([X[i] for i in train], y[train])
    acc = model.score([X[i] for i in test], y[test])
    print(
        f"waimai reviews: test accuracy {acc:.4f} (majority class {1 - y.mean():.3f})"
    )
    # 0.881 with the defaults, 2026-12-06 (0.8765 with the members before
    # label smoothing and concat pooling)
    assert acc > 0.865
    assert list(model.predict(["很好吃，送餐很快", "太难吃了，送了两个小时"])) == [1, 0]


def _read_sst2(name):
    import csv

    path = shared_datasets_dir() / "sst2_glue" / name
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))[1:]
    return [r[1] for r in rows], np.array([int(r[0]) for r in rows])


@pytest.mark.skipif(
    shared_datasets_dir() is None
    or not (shared_datasets_dir() / "sst2_glue" / "train.tsv").is_file(),
    reason="SST-2 lives in ../shared/datasets, absent here",
)
def test_default_pipeline_on_sst2_phrases_reaches_0825():
    # 67k training phrases cut from 6.9k sentences: with the phrases of a
    # training sentence on the early-stopping side it trained 13-14 epochs to
    # 0.79 on dev; kept on one side (sklstm/_leakage.py), 0.81-0.835 with one
    # network, 0.833 with the three members (seed 0, 2026-12-03) and 0.844
    # with today's defaults (2026-12-06)
    X, y = _read_sst2("train.tsv")
    X_dev, y_dev = _read_sst2("dev.tsv")
    model = make_pipeline(TextSequencer(), LSTMClassifier(random_state=0))
    model.fit(X, y)
    acc = model.score(X_dev, y_dev)
    print(f"SST-2: dev accuracy {acc:.4f} after {model[-1].n_iter_} epochs")
    assert acc >= 0.825


def test_language_model_on_the_tweets_beats_a_unigram_model():
    # pre-training on real text (the bundled tweets: ~9.5k documents), small
    # and short: it must learn more than word frequencies
    from collections import Counter

    from sklstm import LSTMLanguageModel

    train = load_financial_tweets(subset="train").data
    valid = load_financial_tweets(subset="valid").data[:500]
    lm = LSTMLanguageModel(
        embedding_dim=64, hidden_size=64, max_epochs=2, lr=5e-3, random_state=0
    )
    lm.fit(train)
    seq = lm.sequencer_
    ids, lengths = seq._flat_ids(list(train))
    counts = Counter(ids.tolist())
    counts[0] += len(lengths)  # each document's end
    total = sum(counts.values()) + len(seq.vocabulary_) + 2
    v_ids, v_lengths = seq._flat_ids(list(valid))
    targets = v_ids.tolist() + [0] * len(v_lengths)
    unigram = np.exp(-np.mean([np.log((counts[i] + 1) / total) for i in targets]))
    ppl = lm.perplexity(valid)
    print(f"tweets: language model perplexity {ppl:.1f}, unigram {unigram:.1f}")
    # 181.6 vs 276.3 (2026-12-07)
    assert ppl < 0.75 * unigram
