"""Where one document's prediction time goes: the hand-written path, then
sklstm's layers added one at a time.

Run from the repository root::

    python benchmarks/latency_ladder.py            # 7 rounds, one thread

Each step predicts the same 200 full-length documents one call at a time
(median per round); the steps take turns, and the median over rounds is
printed against the hand-written path (bench_training.reference_predict_one).
docs/performance.rst (target d) records the result.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, _HERE)

import bench_training as bt  # noqa: E402  (puts this checkout on sys.path)

from sklstm._inference import _few_token_sequences  # noqa: E402
from sklstm._validation import check_sequences  # noqa: E402


def steps(model, ref):
    """name -> one-document predictor, from the hand-written path up."""
    m = model.net_.module_
    emb, lstm = m.embedding, m.forward_layers[0]
    w64, b64 = m.head.weight.detach().double(), m.head.bias.detach().double()

    def length(row):
        nz = np.flatnonzero(row[0])
        return int(nz[-1]) + 1 if nz.size else 1

    def same_layers(row):
        x = torch.from_numpy(row[:, : length(row)])
        with torch.inference_mode():
            out, _ = lstm(emb(x))
            logits = F.linear(out[:, -1].double(), w64, b64)
            return torch.softmax(logits, dim=1).numpy()

    def module_forward(row):
        L = length(row)
        x = torch.from_numpy(row[:, :L])
        with torch.inference_mode():
            return torch.softmax(m(x, torch.tensor([L])), dim=1).numpy()

    def validation_and_path(row):
        spec = model._input_spec()
        seqs = check_sequences(model, row, reset=False, fitted=spec)[0]
        return _few_token_sequences(m, seqs, model._n_tokens, torch.device("cpu"))

    return {
        "hand-written path": lambda row: bt.reference_predict_one(ref, row),
        "same layers, float64 output layer": same_layers,
        "SequenceNet.forward": module_forward,
        "+ validation and latency path": validation_and_path,
        "predict_proba": model.predict_proba,
    }


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    X, y, _ = bt.make_workload(512 + 200, 0)
    model, _ = bt.sklstm_fit(X[:512], y[:512], 0, clip=False)
    ref, _ = bt.reference_epoch(X[:512], y[:512], 0)
    ref.eval()
    rows = X[512:]
    funcs = steps(model, ref)
    times = {name: [] for name in funcs}
    for _ in range(args.rounds):
        for name, f in funcs.items():
            per_call = []
            for i in range(len(rows)):
                row = rows[i : i + 1]
                t0 = time.perf_counter_ns()
                f(row)
                per_call.append(time.perf_counter_ns() - t0)
            times[name].append(statistics.median(per_call) / 1e3)
    base = statistics.median(times["hand-written path"])
    print("| step | µs per document | vs hand-written |\n|---|---:|---:|")
    for name, ts in times.items():
        t = statistics.median(ts)
        print(f"| {name} | {t:.0f} | {t / base:.2f}x |")


if __name__ == "__main__":
    main()
