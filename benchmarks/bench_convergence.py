"""Length-bucketed batches converge as well as random batches, and faster.

Trains ``make_pipeline(TextSequencer(), LSTMClassifier(n_members=1))`` (one
network at the single-network defaults: the batch order is what is compared) on
the bundled financial tweets twice per seed: with sklstm's length-bucketed
batches (sequences of similar length, shuffled between and within pools of 50
batches every epoch) and with plain random batches (pools of one batch), each
batch padded to its own longest member in both cases. Prints validation
accuracy, epochs and fit time per seed and their means.

Run: ``python benchmarks/bench_convergence.py [--seeds 0 1 2]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sklearn.pipeline import make_pipeline  # noqa: E402

import sklstm._batching as sklstm_batching  # noqa: E402
from sklstm import LSTMClassifier, TextSequencer  # noqa: E402
from sklstm.datasets import load_financial_tweets  # noqa: E402


def run(pool_batches: int, seed: int, train, valid) -> tuple[float, int, float]:
    before = sklstm_batching.TRAIN_POOL_BATCHES
    sklstm_batching.TRAIN_POOL_BATCHES = pool_batches
    try:
        model = make_pipeline(
            TextSequencer(), LSTMClassifier(n_members=1, random_state=seed)
        )
        start = time.perf_counter()
        model.fit(train.data, train.target)
        fit_s = time.perf_counter() - start
    finally:
        sklstm_batching.TRAIN_POOL_BATCHES = before
    return model.score(valid.data, valid.target), model[-1].n_iter_, fit_s


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args(argv)
    train = load_financial_tweets(subset="train")
    valid = load_financial_tweets(subset="valid")
    modes = {"bucketed (pools of 50 batches)": 50, "random batches": 1}
    results = {name: [] for name in modes}
    print("| batches | seed | valid accuracy | epochs | fit s | s/epoch |")
    print("|---|---|---|---|---|---|")
    for seed in args.seeds:
        for name, pool in modes.items():  # interleaved
            acc, epochs, fit_s = run(pool, seed, train, valid)
            results[name].append((acc, epochs, fit_s))
            print(
                f"| {name} | {seed} | {acc:.4f} | {epochs} | {fit_s:.1f} | {fit_s / epochs:.2f} |"
            )
    for name, rows in results.items():
        accs = [r[0] for r in rows]
        per_epoch = [r[2] / r[1] for r in rows]
        print(
            f"{name}: mean accuracy {statistics.mean(accs):.4f}, "
            f"median s/epoch {statistics.median(per_epoch):.2f}"
        )


if __name__ == "__main__":
    main()
