"""Explaining documents against predicting them: tweets and short texts.

Two cases (``--cases``, both by default):

* ``tweets``: the default pipeline ``make_pipeline(TextSequencer(),
  LSTMClassifier(random_state=0))`` fitted on the training tweets, the first
  ``--docs`` validation tweets explained. Targets (issue 14): at most 60x
  predict, under 30 s on 2 cores.
* ``short`` (issue 34): 200 generated documents of 6-25 words from a
  300-word vocabulary, the same pipeline with ``hidden_size=32`` and
  ``max_epochs=8`` (default pooling and members) fitted on 2,000 more; the
  label says whether words of the first 30 outnumber those of the last 30.
  Short documents leave a prediction little padding to waste, so here the
  ratio shows what explaining costs per token.

Each case times, as the median of ``--repeats`` runs after a warm-up call,
``pipe.predict_proba`` and ``sklstm.explain(pipe, X)`` (50 Gauss-Legendre
steps), and gives the worst completeness error (``|sum - (f(x) -
f(baseline))| / |f(x) - f(baseline)|``). The tweets are bundled.

Run: ``python benchmarks/bench_explain.py [--docs 1000] [--n-steps 50]``;
``--figure docs/images/explain_tweets.png`` also draws the figure of
docs/explanations.rst (three validation tweets, explained for Bullish).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.pipeline import make_pipeline

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from sklstm import LSTMClassifier, TextSequencer, explain  # noqa: E402
from sklstm.datasets import load_financial_tweets  # noqa: E402


def _median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _tweets(n_docs: int):
    """(pipeline, documents to explain, validation set) of the tweets case."""
    train = load_financial_tweets(subset="train")
    valid = load_financial_tweets(subset="valid")
    pipe = make_pipeline(TextSequencer(), LSTMClassifier(random_state=0))
    return pipe.fit(train.data, train.target), list(valid.data[:n_docs]), valid


#: the short case: words per document, vocabulary, documents fitted / explained
SHORT_WORDS, SHORT_VOCABULARY, SHORT_FIT, SHORT_EXPLAIN = (6, 25), 300, 2000, 200
#: ... and how many words at each end of the vocabulary carry the label
SHORT_SIGNAL = 30


def _short_docs(rng, n: int):
    words = np.array([f"w{i}" for i in range(SHORT_VOCABULARY)])
    docs, y = [], []
    for _ in range(n):
        size = rng.integers(SHORT_WORDS[0], SHORT_WORDS[1] + 1)
        ids = rng.integers(0, SHORT_VOCABULARY, size=size)
        docs.append(" ".join(words[ids]))
        high = (ids >= SHORT_VOCABULARY - SHORT_SIGNAL).sum()
        y.append(int((ids < SHORT_SIGNAL).sum() > high))
    return docs, np.array(y)


def _short(n_docs: int):
    """(pipeline, documents to explain, None) of the short-text case."""
    rng = np.random.default_rng(0)
    X_fit, y_fit = _short_docs(rng, SHORT_FIT)
    X, _ = _short_docs(rng, n_docs)
    clf = LSTMClassifier(hidden_size=32, max_epochs=8, random_state=0)
    return make_pipeline(TextSequencer(), clf).fit(X_fit, y_fit), X, None


CASES = {"tweets": _tweets, "short": _short}


def run_case(name: str, n_docs: int, n_steps: int, repeats: int):
    start = time.perf_counter()
    pipe, X, valid = CASES[name](n_docs)
    fit_s = time.perf_counter() - start
    pipe.predict_proba(X)  # warm-up
    explain(pipe, X[:5], n_steps=n_steps)
    predict_s = _median_time(lambda: pipe.predict_proba(X), repeats)
    result = {}

    def run():
        result["e"] = explain(pipe, X, n_steps=n_steps)

    explain_s = _median_time(run, repeats)
    e = result["e"]
    sums = np.array([sum(a for _, a in doc) for doc in e])
    delta = e.outputs - e.baseline_outputs
    rel = np.abs(sums - delta) / np.maximum(np.abs(delta), 1e-12)
    words = np.mean([len(doc) for doc in e])
    print(
        f"{name}: {len(X)} docs of {words:.1f} tokens on average, torch threads "
        f"{torch.get_num_threads()}, fit {fit_s:.1f} s"
    )
    print(f"{'what':<28} {'seconds':>8} {'x predict':>10}")
    print(f"{'predict_proba':<28} {predict_s:8.3f} {1.0:10.1f}")
    print(
        f"{f'explain (n_steps={n_steps})':<28} {explain_s:8.3f} "
        f"{explain_s / predict_s:10.1f}"
    )
    print(
        f"completeness: median relative error {np.median(rel):.1e}, "
        f"worst {rel.max():.1e} (|f(x) - f(baseline)| > 0.01: "
        f"{rel[np.abs(delta) > 0.01].max():.1e})\n"
    )
    return pipe, valid


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", choices=list(CASES), default=list(CASES))
    parser.add_argument(
        "--docs", type=int, default=None, help="documents (1000 tweets, 200 short)"
    )
    parser.add_argument("--n-steps", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--figure", default=None, help="save a figure there")
    args = parser.parse_args(argv)
    for name in args.cases:
        default = 1000 if name == "tweets" else SHORT_EXPLAIN
        pipe, valid = run_case(name, args.docs or default, args.n_steps, args.repeats)
        if args.figure and name == "tweets":
            _figure(pipe, valid, args.figure)


def _figure(pipe, valid, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    bullish = list(valid.target_names).index("Bullish")
    rows = [i for i, t in enumerate(valid.target) if t == bullish][:3]
    e = explain(pipe, [valid.data[i] for i in rows], target=bullish)
    fig, axes = plt.subplots(len(rows), 1, figsize=(9, 1.3 * len(rows)))
    for i, ax in enumerate(axes):
        e.plot(i, ax=ax)
        ax.set_title(f"p(Bullish) {e.outputs[i]:.2f}", fontsize=9, loc="left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
