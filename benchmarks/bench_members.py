"""What the three-member default costs at prediction, against one network.

Since 2026-12-03 ``LSTMClassifier`` trains three small networks for token ids
(``n_members="auto"``: hidden size and embedding 64 each) where it trained one
network of hidden size 128 with a 128-wide embedding before
(``n_members=1`` keeps that); since 2026-12-06 they pool the last state, the
mean and the maximum (``pooling="concat"``), where that network read the last
state. Issue 13 asks that prediction throughput stays
at least 0.8x what it was. This benchmark fits both on the financial tweets
(training split, a few epochs: prediction cost does not depend on how well
the weights are trained), then times, interleaved in one process and
after a warm-up call each:

* ``predict_proba`` of 10,000 documents (the validation split tiled), token
  ids in, as a fitted pipeline's classifier sees them; medians of
  ``--repeats`` rounds;
* ``predict_proba`` of one document, median of 200 calls on different
  documents, per round.

Throughput ratio = one network's time / the members' time (above 1: the
members are faster). Run::

    python benchmarks/bench_members.py [--repeats 5] [--threads 2]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sklstm import LSTMClassifier, TextSequencer  # noqa: E402
from sklstm.datasets import load_financial_tweets  # noqa: E402

#: name -> settings; "one network" is the default before 2026-12-03 (one
#: network of size 128 on the last state), what issue 13's "today" measured
CONTENDERS = {
    "one network (n_members=1, pooling='last')": {"n_members": 1, "pooling": "last"},
    # the default from 2026-12-03 to 2026-12-06
    "members, last state (n_members='auto', pooling='last')": {"pooling": "last"},
    "default (n_members='auto', pooling='auto')": {},
}


def _time(fn, *args):
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    p.add_argument("--epochs", type=int, default=3)
    args = p.parse_args(argv)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)

    tr = load_financial_tweets(subset="train")
    va = load_financial_tweets(subset="valid")
    seq = TextSequencer().fit(tr.data)
    X_tr, X_va = seq.transform(tr.data), seq.transform(va.data)
    many = np.concatenate([X_va] * (10_000 // len(X_va) + 1))[:10_000]
    ones = [many[i : i + 1] for i in range(200)]

    models = {}
    for name, settings in CONTENDERS.items():
        model = LSTMClassifier(**settings, max_epochs=args.epochs, random_state=0)
        t = _time(model.fit, X_tr, tr.target)
        models[name] = model
        print(f"fitted {name}: {t:.1f} s for {args.epochs} epochs", flush=True)
        model.predict_proba(many[:256])  # warm-up

    batch = {name: [] for name in models}
    single = {name: [] for name in models}
    for r in range(args.repeats):
        for name, model in models.items():
            batch[name].append(_time(model.predict_proba, many))
            single[name].append(
                statistics.median(_time(model.predict_proba, x) for x in ones)
            )
        print(
            f"round {r}: "
            + ", ".join(
                f"{n}: {batch[n][-1]:.2f} s / {single[n][-1] * 1e3:.2f} ms"
                for n in models
            ),
            flush=True,
        )

    per_batch = {name: statistics.median(t) for name, t in batch.items()}
    per_doc = {name: statistics.median(t) for name, t in single.items()}
    print()
    print("| contender | 10,000 documents, s | one document, ms |")
    print("|---|---|---|")
    for name in models:
        print(f"| {name} | {per_batch[name]:.3f} | {per_doc[name] * 1e3:.3f} |")
    one = next(iter(models))
    for name in list(models)[1:]:
        print(
            f"\nthroughput of {name} against one network: "
            f"{per_batch[one] / per_batch[name]:.2f}x (10,000), "
            f"{per_doc[one] / per_doc[name]:.2f}x (one document); target >= 0.8x"
        )


if __name__ == "__main__":
    main()
