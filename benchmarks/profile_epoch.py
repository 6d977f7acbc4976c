"""Where a warm sklstm epoch spends its time, op by op (torch.profiler).

Run from the repository root::

    python benchmarks/profile_epoch.py                 # 4,000 documents, 1 thread
    python benchmarks/profile_epoch.py --docs 20000 --threads 2

One untimed fit warms the process up; then one epoch of
``LSTMClassifier.fit`` (default gradient clipping) on the bench_training.py
workload runs under ``torch.profiler`` and the self time of every op is
summed into: the LSTM forward and backward, the embedding and its gradient,
the output layer and loss, the optimizer step, gradient clipping, and the
rest of the ops. What the ops do not cover of the epoch's wall time is
Python (skorch, batching, callbacks) and the profiler itself. The LSTM's
real-token work is set against the float32 GEMM peak measured in the same
process.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import torch

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, _HERE)
sys.path.insert(0, os.path.dirname(_HERE))
import bench_training as bt  # noqa: E402

#: op-name fragments -> category (first match wins)
CATEGORIES = (
    ("lstm backward", ("rnn_backward", "lstm_backward", "mkldnn_rnn_layer_backward")),
    ("lstm forward", ("mkldnn_rnn", "aten::lstm", "_thnn_fused_lstm", "rnn_layer")),
    ("embedding gradient", ("embedding_dense_backward", "embedding_backward")),
    ("embedding forward", ("aten::embedding", "index_select")),
    (
        "gradient clipping",
        ("vector_norm", "_foreach_norm", "clip_grad", "_foreach_mul"),
    ),
    ("optimizer step", ("_fused_adam", "adam", "_foreach_add")),
    ("zero_grad / fill", ("aten::zero_", "aten::fill_")),
    ("model set-up (initialisation)", ("aten::normal_", "aten::uniform_")),
    (
        "output layer and loss",
        ("linear", "addmm", "aten::mm", "log_softmax", "nll_loss"),
    ),
    ("autograd engine", ("autograd::engine",)),
)


def categorise(name: str) -> str:
    low = name.lower()
    for cat, keys in CATEGORIES:
        if any(k in low for k in keys):
            return cat
    return "other ops"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--docs", type=int, default=4000)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    X, y, lengths = bt.make_workload(args.docs, 0)
    n_tokens = int(lengths.sum())
    bt.sklstm_fit(X[:1000], y[:1000], 1, clip=True)  # warm-up
    peak = bt.gemm_peak(args.threads)["gflops"]

    t0 = time.perf_counter()
    bt.sklstm_fit(X, y, 0, clip=True)
    plain = time.perf_counter() - t0
    with torch.profiler.profile(
        activities=[torch.profiler.ProfilerActivity.CPU]
    ) as prof:
        t0 = time.perf_counter()
        bt.sklstm_fit(X, y, 0, clip=True)
        wall = time.perf_counter() - t0
    totals: dict = {}
    top: dict = {}
    for evt in prof.key_averages():
        cat = categorise(evt.key)
        sec = evt.self_cpu_time_total / 1e6
        totals[cat] = totals.get(cat, 0.0) + sec
        top.setdefault(cat, []).append((sec, evt.key))
    ops = sum(totals.values())
    totals["Python (skorch, batching, callbacks) and profiler"] = max(wall - ops, 0.0)
    flops = bt.train_flops(n_tokens, args.docs)
    print(
        f"{args.docs} documents, {n_tokens:,} real tokens, {args.threads} thread(s); "
        f"epoch {plain:.2f} s unprofiled, {wall:.2f} s profiled; "
        f"{flops / 1e9:.0f} GFLOP of real-token work = {flops / 1e9 / plain:.0f} GFLOP/s "
        f"({100 * flops / 1e9 / plain / peak:.0f}% of the {peak:.0f} GFLOP/s GEMM peak)"
    )
    print("| part | s | share | largest ops |")
    for cat, sec in sorted(totals.items(), key=lambda kv: -kv[1]):
        names = ", ".join(k for _, k in sorted(top.get(cat, []), reverse=True)[:3])
        print(f"| {cat} | {sec:.2f} | {100 * sec / wall:.1f}% | {names} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
