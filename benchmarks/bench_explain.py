"""Explaining 1,000 financial tweets against predicting them.

Fits the default pipeline ``make_pipeline(TextSequencer(),
LSTMClassifier(random_state=0))`` on the training tweets, then times, as the
median of ``--repeats`` runs, ``pipe.predict`` and ``sklstm.explain(pipe, X)``
(50 Gauss-Legendre steps) on the first ``--docs`` validation tweets, and the
worst completeness error (``|sum - (f(x) - f(baseline))| / |f(x) -
f(baseline)|``). Targets (issue 14): at most 60x predict, under 30 s on 2
cores. Needs the shared datasets (``load_financial_tweets``).

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


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=1000)
    parser.add_argument("--n-steps", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--figure", default=None, help="save a figure there")
    args = parser.parse_args(argv)

    train = load_financial_tweets(subset="train")
    valid = load_financial_tweets(subset="valid")
    X = list(valid.data[: args.docs])
    start = time.perf_counter()
    pipe = make_pipeline(TextSequencer(), LSTMClassifier(random_state=0))
    pipe.fit(train.data, train.target)
    fit_s = time.perf_counter() - start

    predict_s = _median_time(lambda: pipe.predict(X), args.repeats)
    result = {}

    def run():
        result["e"] = explain(pipe, X, n_steps=args.n_steps)

    explain_s = _median_time(run, args.repeats)
    e = result["e"]
    sums = np.array([sum(a for _, a in doc) for doc in e])
    delta = e.outputs - e.baseline_outputs
    rel = np.abs(sums - delta) / np.maximum(np.abs(delta), 1e-12)
    print(
        f"financial tweets, {len(X)} docs, torch threads {torch.get_num_threads()}, "
        f"fit {fit_s:.1f} s"
    )
    print(f"{'what':<28} {'seconds':>8} {'x predict':>10}")
    print(f"{'predict':<28} {predict_s:8.3f} {1.0:10.1f}")
    print(
        f"{f'explain (n_steps={args.n_steps})':<28} {explain_s:8.3f} "
        f"{explain_s / predict_s:10.1f}"
    )
    print(
        f"completeness: median relative error {np.median(rel):.1e}, "
        f"worst {rel.max():.1e} (|f(x) - f(baseline)| > 0.01: "
        f"{rel[np.abs(delta) > 0.01].max():.1e})"
    )
    if args.figure:
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
