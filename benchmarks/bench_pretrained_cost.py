"""What ``pretrained="en"`` costs beside today's default, on the same host.

Fits ``LSTMClassifier(pretrained="en")`` and the default
``make_pipeline(TextSequencer(), LSTMClassifier())`` on the bundled tweets'
training split (seed ``--seed``), one after the other in one process on the
same threads, then times, for each fitted model:

* ``fit``: seconds (one fit each: the benchmark of record for accuracy,
  ``bench_pretraining.py``, gives the mean over seeds);
* prediction throughput: ``predict_proba`` on 10,000 tweets (the training
  and validation texts, repeated to 10,000), documents per second, median of
  ``--repeats`` rounds alternating between the two models;
* one-document latency: ``predict_proba`` on one tweet, median over
  ``--calls`` calls after a warm-up.

The ratios (pretrained / default) are what docs/pretraining.rst records.

    python benchmarks/bench_pretrained_cost.py
    OMP_NUM_THREADS=1 python benchmarks/bench_pretrained_cost.py --seed 1
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sklearn.pipeline import make_pipeline  # noqa: E402

from sklstm import LSTMClassifier, TextSequencer  # noqa: E402
from sklstm.datasets import load_financial_tweets  # noqa: E402


def models(seed: int) -> dict:
    return {
        "default": make_pipeline(TextSequencer(), LSTMClassifier(random_state=seed)),
        "en": LSTMClassifier(pretrained="en", random_state=seed),
    }


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--docs", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args(argv)
    train = load_financial_tweets(subset="train")
    valid = load_financial_tweets(subset="valid")
    pool = list(train.data) + list(valid.data)
    docs = (pool * (args.docs // len(pool) + 1))[: args.docs]
    print(f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}")

    fitted, result = {}, {}
    for name, model in models(args.seed).items():
        start = time.perf_counter()
        model.fit(train.data, train.target)
        result[name] = {"fit_s": time.perf_counter() - start}
        result[name]["accuracy"] = float(model.score(valid.data, valid.target))
        fitted[name] = model
        print(
            f"{name}: fit {result[name]['fit_s']:.1f} s, "
            f"valid accuracy {result[name]['accuracy']:.4f}"
        )

    rounds = {name: [] for name in fitted}
    for _ in range(args.repeats):
        for name, model in fitted.items():
            start = time.perf_counter()
            model.predict_proba(docs)
            rounds[name].append(time.perf_counter() - start)
    one = [valid.data[0]]
    for name, model in fitted.items():
        result[name]["docs_per_s"] = len(docs) / statistics.median(rounds[name])
        model.predict_proba(one)  # warm-up
        times = []
        for _ in range(args.calls):
            start = time.perf_counter()
            model.predict_proba(one)
            times.append(time.perf_counter() - start)
        result[name]["latency_ms"] = 1e3 * statistics.median(times)

    print(
        f"\n| model | fit s | valid accuracy | predict_proba docs/s "
        f"({len(docs):,}) | one document, ms |"
    )
    print("|---|---|---|---|---|")
    for name, r in result.items():
        print(
            f"| {name} | {r['fit_s']:.1f} | {r['accuracy']:.4f} | "
            f"{r['docs_per_s']:,.0f} | {r['latency_ms']:.2f} |"
        )
    en, de = result["en"], result["default"]
    print(
        f"\nen / default: fit {en['fit_s'] / de['fit_s']:.2f}x, "
        f"throughput {en['docs_per_s'] / de['docs_per_s']:.2f}x, "
        f"latency {en['latency_ms'] / de['latency_ms']:.2f}x"
    )
    return result


if __name__ == "__main__":
    main()
