"""How fit, predict and TextSequencer grow with the number of documents.

Run from the repository root::

    python benchmarks/bench_scale.py                         # 10k and 100k
    python benchmarks/bench_scale.py --sizes 10000 100000 1000000 --out scale.json
    python benchmarks/bench_scale.py --sizes 10000 1000000 --stages --ragged  # ragged fits only

Each (stage, size, input form) runs in a fresh process on the workload of
bench_training.py (log-normal lengths, median 40, max 400), one epoch, one
thread by default. Reported: seconds per 1,000 documents, and the peak
resident memory of the stage above what the process held before it (the
kernel's high-water mark is reset just before the stage starts), next to the
integer token array and the model plus its Adam state (weights, gradients and
two moments: 4x the parameters). ``objects`` is how many Python objects the
stage left behind (gc-tracked, after collection): it must not grow with the
number of documents.

Stages: ``fit`` (the padded int32 array, or ``--ragged``: a list of one
int32 array per document), ``predict`` (``predict_proba`` of a network fitted
on 2,000 documents), ``text`` (``TextSequencer().fit_transform`` of the same
documents written as words).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import time

_HERE = os.path.dirname(os.path.abspath(__file__))
_ROOT = os.path.dirname(_HERE)


def _rss_mib(field: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _reset_peak() -> bool:
    try:  # Linux >= 4.0: "5" resets the peak resident set size (VmHWM)
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _child(stage: str, n: int, ragged: bool, threads: int) -> dict:
    import numpy as np
    import torch

    torch.set_num_threads(threads)
    sys.path.insert(0, _HERE)
    import bench_training as bt

    from sklstm import TextSequencer

    X, y, lengths = bt.make_workload(n, 0)
    data = X
    if stage == "text":
        vocab = np.array([f"w{i}" for i in range(bt.VOCAB)], dtype=object)
        data = [" ".join(vocab[row[:k]]) for row, k in zip(X, lengths)]
        del X
    elif ragged:
        data = [row[:k].copy() for row, k in zip(X, lengths)]
        del X
    model = None
    if stage == "predict":
        Xf, yf, _ = bt.make_workload(2000, 1)
        model, _ = bt.sklstm_fit(Xf, yf, 0, clip=False)
        model.predict_proba(Xf[:64])
    gc.collect()
    objects = len(gc.get_objects())
    exact_peak = _reset_peak()
    before = _rss_mib("VmRSS")
    t0 = time.perf_counter()
    if stage == "fit":
        model, _ = bt.sklstm_fit(data, y, 0, clip=False)
        result = model
    elif stage == "predict":
        result = model.predict_proba(data)
    else:
        result = TextSequencer().fit_transform(data)
    seconds = time.perf_counter() - t0
    peak = _rss_mib("VmHWM")
    n_params = sum(p.numel() for p in model.net_.module_.parameters()) if model else 0
    del result
    gc.collect()
    return {
        "stage": stage,
        "n": n,
        "ragged": ragged,
        "seconds": seconds,
        "ms_per_1000_docs": 1e3 * seconds / n * 1000,
        "rss_before_mib": before,
        "peak_above_before_mib": peak - before,
        "peak_is_exact": exact_peak,
        "token_array_mib": n * bt.MAX_LEN * 4 / 2**20,
        "model_and_adam_mib": 4 * 4 * n_params / 2**20,
        "real_tokens": int(lengths.sum()),
        "objects_left": len(gc.get_objects()) - objects,
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    # --stages with no stage and --ragged: the ragged fits alone
    p.add_argument("--stages", nargs="*", default=["text", "predict", "fit"])
    p.add_argument("--ragged", action="store_true", help="also fit ragged lists")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default=None)
    p.add_argument("--child", nargs=3, default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        stage, n, ragged = args.child
        print(json.dumps(_child(stage, int(n), ragged == "1", args.threads)))
        return 0
    env = dict(os.environ)
    env["OMP_NUM_THREADS"] = str(args.threads)
    env["PYTHONPATH"] = os.pathsep.join(
        q for q in (_ROOT, os.environ.get("PYTHONPATH")) if q
    )
    runs = [(s, n, "0") for s in args.stages for n in args.sizes]
    if args.ragged:
        runs += [("fit", n, "1") for n in args.sizes]
    rows = []
    print(
        "| stage | input | docs | s | ms / 1000 docs | peak RSS above start (MiB) "
        "| token array (MiB) | model + Adam (MiB) | objects left |"
    )
    for stage, n, ragged in runs:
        cmd = [sys.executable, os.path.abspath(__file__), "--child", stage, str(n)]
        cmd += [ragged, "--threads", str(args.threads)]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            print(f"{stage} {n}: failed\n{proc.stderr[-2000:]}")
            continue
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        rows.append(r)
        form = (
            "text"
            if stage == "text"
            else ("ragged list" if r["ragged"] else "2-D int32")
        )
        print(
            f"| {stage} | {form} | {n:,} | {r['seconds']:.2f} | "
            f"{r['ms_per_1000_docs']:.1f} | {r['peak_above_before_mib']:.0f} | "
            f"{r['token_array_mib']:.0f} | {r['model_and_adam_mib']:.0f} | "
            f"{r['objects_left']} |",
            flush=True,
        )
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"args": vars(args), "runs": rows}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
