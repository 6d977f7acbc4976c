"""cross_val_score of the default text pipeline with n_jobs=1 against n_jobs=2.

The data are the bundled UCI sentiment sentences (3,000 labelled sentences);
the pipeline is ``make_pipeline(TextSequencer(), LSTMClassifier(n_members=1,
random_state=0))``: one network of the single-network defaults (embedding 128,
hidden 128: large enough that one fit uses two threads), as measured before
the three-member default of 2026-12-03. Worker processes are started and warmed up before timing; the
two settings then run interleaved, ``--repeats`` times, and the medians are
reported.

Run: ``python benchmarks/bench_cv.py [--folds 4] [--repeats 3]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from joblib import Parallel, delayed
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from sklstm import LSTMClassifier, TextSequencer  # noqa: E402
from sklstm.datasets import load_sentiment_sentences  # noqa: E402


def _warm(texts, y):
    make_pipeline(TextSequencer(), LSTMClassifier(max_epochs=1, n_members=1)).fit(
        texts, y
    )
    return True


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)

    texts, y = load_sentiment_sentences(return_X_y=True)
    Parallel(n_jobs=2)(delayed(_warm)(texts[:200], y[:200]) for _ in range(2))

    def run(n_jobs):
        model = make_pipeline(
            TextSequencer(), LSTMClassifier(n_members=1, random_state=0)
        )
        start = time.perf_counter()
        scores = cross_val_score(model, texts, y, cv=args.folds, n_jobs=n_jobs)
        return time.perf_counter() - start, scores.mean()

    times = {1: [], 2: []}
    for _ in range(args.repeats):
        for n_jobs in (1, 2):
            dt, acc = run(n_jobs)
            times[n_jobs].append(dt)
            print(f"n_jobs={n_jobs}: {dt:.1f} s (mean accuracy {acc:.3f})", flush=True)
    t1, t2 = statistics.median(times[1]), statistics.median(times[2])
    print(
        f"cross_val_score, {args.folds} folds: n_jobs=1 {t1:.1f} s, n_jobs=2 "
        f"{t2:.1f} s -> speed-up {t1 / t2:.2f}x"
    )
    return {"n_jobs1_s": times[1], "n_jobs2_s": times[2], "speedup": t1 / t2}


if __name__ == "__main__":
    main()
