"""The main job: train and evaluate sklstm on bundled real data.

Run ``python -m sklstm`` (``--help`` for options). By default it fine-tunes
``LSTMClassifier(pretrained="en")`` (the English language model shipped with
sklstm; raw text in) on the bundled Twitter financial news sentiment training
set (Bearish / Bullish / Neutral) and prints the accuracy on its validation
set, next to the TF-IDF + logistic regression baseline trained on the same
split. ``--from-scratch`` trains ``make_pipeline(TextSequencer(),
LSTMClassifier())`` instead.
"""

from __future__ import annotations

import argparse
import time

from sklearn.metrics import accuracy_score, classification_report
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import Pipeline, make_pipeline

from sklstm import LSTMClassifier, TextSequencer
from sklstm._baselines import text_baseline
from sklstm.datasets import load_financial_tweets, load_sentiment_sentences


def _pipeline(random_state, verbose, from_scratch=False):
    """The model the main job trains: raw text in."""
    if from_scratch:
        return make_pipeline(
            TextSequencer(), LSTMClassifier(random_state=random_state, verbose=verbose)
        )
    return LSTMClassifier(pretrained="en", random_state=random_state, verbose=verbose)


def _describe(model) -> str:
    if isinstance(model, Pipeline):
        return "make_pipeline(TextSequencer(), LSTMClassifier()), from scratch"
    return (
        'LSTMClassifier(pretrained="en"), fine-tuned from the English language '
        "model shipped with sklstm (--from-scratch: without it)"
    )


def run_tweets(random_state: int, verbose: int, from_scratch: bool = False) -> float:
    train = load_financial_tweets(subset="train")
    valid = load_financial_tweets(subset="valid")
    print(
        f"Twitter financial news sentiment: {len(train.data)} training and "
        f"{len(valid.data)} validation tweets, classes "
        f"{', '.join(map(str, train.target_names))}"
    )
    model = _pipeline(random_state, verbose, from_scratch)
    print(f"model: {_describe(model)}")
    start = time.perf_counter()
    model.fit(train.data, train.target)
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    pred = model.predict(valid.data)
    pred_s = time.perf_counter() - start
    acc = accuracy_score(valid.target, pred)
    lstm = model[-1] if isinstance(model, Pipeline) else model
    best = lstm.best_validation_score_
    stopping = "" if best is None else f", best validation accuracy {best:.3f}"
    print(
        f"fit: {fit_s:.1f} s ({lstm.n_iter_} epochs{stopping}); predict: {pred_s:.2f} s"
    )
    print(
        classification_report(
            valid.target,
            pred,
            target_names=valid.target_names,
            digits=3,
            zero_division=0,
        )
    )
    start = time.perf_counter()
    baseline = text_baseline().fit(train.data, train.target)
    base_s = time.perf_counter() - start
    base_acc = accuracy_score(valid.target, baseline.predict(valid.data))
    print(f"validation accuracy: {acc:.4f}")
    print(
        f"baseline (TF-IDF word 1-2 grams + LogisticRegression(C=10), same split): "
        f"{base_acc:.4f} (fit {base_s:.1f} s); sklstm - baseline: "
        f"{100 * (acc - base_acc):+.1f} points"
    )
    return acc


def run_sentences(random_state: int, verbose: int, from_scratch: bool = False) -> float:
    X, y = load_sentiment_sentences(return_X_y=True)
    print(f"UCI sentiment labelled sentences: {len(X)} sentences, 5-fold stratified CV")
    cv = StratifiedKFold(5, shuffle=True, random_state=random_state)
    start = time.perf_counter()
    model = _pipeline(random_state, verbose, from_scratch)
    print(f"model: {_describe(model)}")
    scores = cross_val_score(model, X, y, cv=cv)
    print(
        f"5 fits: {time.perf_counter() - start:.1f} s; fold accuracies "
        f"{', '.join(f'{s:.3f}' for s in scores)}"
    )
    base = cross_val_score(text_baseline(), X, y, cv=cv)
    print(f"mean CV accuracy: {scores.mean():.4f}")
    print(
        f"baseline (TF-IDF word 1-2 grams + LogisticRegression(C=10), same folds): "
        f"{base.mean():.4f}; sklstm - baseline: "
        f"{100 * (scores.mean() - base.mean()):+.1f} points"
    )
    return float(scores.mean())


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m sklstm", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--dataset",
        choices=["tweets", "sentences"],
        default="tweets",
        help="tweets: financial tweets train -> valid (default); sentences: UCI "
        "sentences, 5-fold CV",
    )
    parser.add_argument("--random-state", type=int, default=0)
    parser.add_argument(
        "--verbose",
        type=int,
        default=1,
        help="the estimator's verbose: 1 (default) prints a line per epoch while "
        "it trains, 2 adds a progress bar over batches, 0 is quiet",
    )
    parser.add_argument(
        "--from-scratch",
        action="store_true",
        help="train make_pipeline(TextSequencer(), LSTMClassifier()) from scratch "
        'instead of fine-tuning LSTMClassifier(pretrained="en")',
    )
    args = parser.parse_args(argv)
    if args.dataset == "tweets":
        run_tweets(args.random_state, args.verbose, args.from_scratch)
    else:
        run_sentences(args.random_state, args.verbose, args.from_scratch)


if __name__ == "__main__":
    main()
