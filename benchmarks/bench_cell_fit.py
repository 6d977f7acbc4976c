"""A whole fit with each cell, in fresh processes, on 1 and 2 threads.

Run from the repository root::

    python benchmarks/bench_cell_fit.py                 # 3 rounds, threads 1 and 2
    python benchmarks/bench_cell_fit.py --repeats 5 --threads 2 --out cells.json

The performance issue's target (c): ``LSTMClassifier.fit`` with
``cell="peephole"`` or ``"cifg"`` at most 1.3x the same fit with
``cell="lstm"``. Workload: 1,500 sequences of 40 token ids (vocabulary
2,000), ``hidden_size=128``, ``embedding_dim=128``, ``batch_size=64`` (large
enough that sklstm really trains on two threads when given two: smaller
networks are kept on one, see ``sklstm._runtime.training_threads``), one
epoch, no early stopping.

Each measurement starts a new Python process, and the cells take turns
(lstm, peephole, cifg, lstm, ...). In the child the data are built and
``sklstm`` imported first (untimed), then two fits are timed: the first
(cold: it pays torch's first-step imports, the same for every cell) and a
second in the same process (warm: the cell's own cost). Medians of
``--repeats`` rounds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

CELLS = ("lstm", "peephole", "cifg")
TARGET = 1.3


def _child(cell: str, threads: int) -> dict:
    import numpy as np
    import torch

    torch.set_num_threads(threads)
    from sklstm import LSTMClassifier

    rng = np.random.default_rng(0)
    X = rng.integers(2, 2002, size=(1500, 40))
    y = rng.integers(0, 2, size=1500)
    params = dict(
        cell=cell,
        hidden_size=128,
        embedding_dim=128,
        n_members=1,
        pooling="last",
        batch_size=64,
        max_epochs=1,
        early_stopping=False,
        random_state=0,
    )
    out = {}
    for name in ("cold", "warm"):
        t0 = time.perf_counter()
        LSTMClassifier(**params).fit(X, y)
        out[name] = time.perf_counter() - t0
    return out


def _run_child(cell: str, threads: int) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    code = (
        "import json, sys; sys.path.insert(0, sys.argv[1]);"
        "import bench_cell_fit as b;"
        "print(json.dumps(b._child(sys.argv[2], int(sys.argv[3]))))"
    )
    here = os.path.dirname(os.path.abspath(__file__))
    done = subprocess.run(
        [sys.executable, "-c", code, here, cell, str(threads)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--out", default=None, help="write the results as JSON")
    args = parser.parse_args(argv)
    results = {}
    for threads in args.threads:
        runs = {cell: [] for cell in CELLS}
        for r in range(args.repeats):
            for cell in CELLS:
                runs[cell].append(_run_child(cell, threads))
                print(
                    f"threads {threads} round {r} {cell}: cold "
                    f"{runs[cell][-1]['cold']:.2f} s, warm {runs[cell][-1]['warm']:.2f} s",
                    flush=True,
                )
        results[threads] = {
            cell: {
                kind: statistics.median(run[kind] for run in runs[cell])
                for kind in ("cold", "warm")
            }
            for cell in CELLS
        }
    print()
    print("| threads | cell | cold fit s | warm fit s | cold / lstm | warm / lstm |")
    print("|---|---|---|---|---|---|")
    for threads, by_cell in results.items():
        base = by_cell["lstm"]
        for cell, t in by_cell.items():
            cold, warm = t["cold"] / base["cold"], t["warm"] / base["warm"]
            verdict = ""
            if cell != "lstm":
                verdict = " MET" if max(cold, warm) <= TARGET else " MISSED"
            print(
                f"| {threads} | {cell} | {t['cold']:.2f} | {t['warm']:.2f} | "
                f"{cold:.2f}x | {warm:.2f}x{verdict} |"
            )
    print(f"\ntarget: at most {TARGET}x the lstm fit")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
