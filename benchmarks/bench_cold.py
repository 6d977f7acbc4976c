"""Cold fits and prediction latency, each contender in a fresh process.

Run from the repository root::

    python benchmarks/bench_cold.py                      # 3 rounds, 8,000 documents
    python benchmarks/bench_cold.py --repeats 5 --threads 2 --out cold.json
    python benchmarks/bench_cold.py --parts predict     # latency only

Every measurement starts a new Python process, as a script, a CLI call or a
joblib worker would, and the contenders take turns (A, B, A, B, ...); the
median of ``--repeats`` rounds is reported.

``fit`` (target a): the workload of bench_training.py cut to ``--docs``
documents, one epoch. In each child: ``import torch`` (timed, the same for
both), the workload is built (untimed), then the clock runs over what a user
waits for: for sklstm ``import sklstm`` plus ``LSTMClassifier.fit``, for the
hand-written loop (bench_training.reference_epoch, fused Adam) the loop
alone. A second, warm fit in the same process shows what the first one paid.

``predict`` (target d): a network fitted on 512 documents (untimed), then
the first call (cold), the median of 200 one-document calls on different
documents, and 10,000 documents (median of 2 calls).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

_HERE = os.path.dirname(os.path.abspath(__file__))
_ROOT = os.path.dirname(_HERE)
CONTENDERS = ("reference", "sklstm")
N_LATENCY_CALLS = 200
N_PREDICT_DOCS = 10_000
TARGETS = {"fit": 1.05, "one_doc": 1.1, "many_docs": 1.0}


# --------------------------------------------------------------------------
# the children
# --------------------------------------------------------------------------
def _child_fit(who: str, n_docs: int, threads: int) -> dict:
    t0 = time.perf_counter()
    import torch

    torch_s = time.perf_counter() - t0
    torch.set_num_threads(threads)
    sys.path.insert(0, _HERE)
    import bench_training as bt

    X, y, _ = bt.make_workload(n_docs, 0)
    modules = len(sys.modules)
    t0 = time.perf_counter()
    if who == "sklstm":
        import sklstm  # noqa: F401  (part of what the user waits for)

        import_s = time.perf_counter() - t0
        bt.sklstm_fit(X, y, 0, clip=False)
    else:
        import_s = 0.0
        bt.reference_epoch(X, y, 0)
    cold_s = time.perf_counter() - t0
    new_modules = len(sys.modules) - modules
    t0 = time.perf_counter()
    if who == "sklstm":
        bt.sklstm_fit(X, y, 1, clip=False)
    else:
        bt.reference_epoch(X, y, 1)
    warm_s = time.perf_counter() - t0
    return {
        "torch_import_s": torch_s,
        "import_s": import_s,
        "cold_s": cold_s,
        "warm_s": warm_s,
        "first_fit_cost_s": cold_s - warm_s,
        "modules_imported": new_modules,
    }


def _child_predict(who: str, threads: int) -> dict:
    import numpy as np
    import torch

    torch.set_num_threads(threads)
    sys.path.insert(0, _HERE)
    import bench_training as bt

    X, y, _ = bt.make_workload(512 + N_LATENCY_CALLS, 0)
    Xp, _, _ = bt.make_workload(N_PREDICT_DOCS, 1)
    if who == "sklstm":
        model, _ = bt.sklstm_fit(X[:512], y[:512], 0, clip=False)
        one, many = model.predict_proba, model.predict_proba
    else:
        model, _ = bt.reference_epoch(X[:512], y[:512], 0)
        model.eval()
        # as a service would: flush denormals once, process-wide
        torch.set_flush_denormal(True)

        def one(row):
            return bt.reference_predict_one(model, row)

        def many(rows):
            return bt.reference_predict_many(model, rows)

    rows = X[512:]
    t0 = time.perf_counter()
    one(rows[:1])
    first_s = time.perf_counter() - t0
    for i in range(50):  # warm-up
        one(rows[i : i + 1])
    times = []
    for i in range(N_LATENCY_CALLS):
        t0 = time.perf_counter()
        one(rows[i : i + 1])
        times.append(time.perf_counter() - t0)
    many(Xp[:2000])  # warm-up
    many_times = []
    for _ in range(2):
        t0 = time.perf_counter()
        out = many(Xp)
        many_times.append(time.perf_counter() - t0)
    assert np.isfinite(out).all()
    return {
        "first_call_s": first_s,
        "one_doc_s": statistics.median(times),
        "many_docs_s": statistics.median(many_times),
    }


# --------------------------------------------------------------------------
# the parent
# --------------------------------------------------------------------------
def _run_child(part: str, who: str, args) -> dict:
    env = dict(os.environ)
    env["OMP_NUM_THREADS"] = str(args.threads)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (_ROOT, os.environ.get("PYTHONPATH")) if p
    )
    cmd = [sys.executable, os.path.abspath(__file__), "--child", part, who]
    cmd += ["--docs", str(args.docs), "--threads", str(args.threads)]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{part}/{who} child failed:\n{proc.stderr[-3000:]}")
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    res["process_s"] = time.perf_counter() - t0
    return res


def _median(runs: list, key: str) -> float:
    return float(statistics.median(r[key] for r in runs))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--docs", type=int, default=8000)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--parts", nargs="+", default=["fit", "predict"])
    p.add_argument("--out", default=None)
    p.add_argument("--child", nargs=2, default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        part, who = args.child
        if part == "fit":
            res = _child_fit(who, args.docs, args.threads)
        else:
            res = _child_predict(who, args.threads)
        print(json.dumps(res))
        return 0

    print(
        f"{args.repeats} rounds, {args.threads} thread(s), fresh processes, "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    results = {part: {c: [] for c in CONTENDERS} for part in args.parts}
    for r in range(args.repeats):
        for part in args.parts:
            for who in CONTENDERS:
                res = _run_child(part, who, args)
                results[part][who].append(res)
                shown = ", ".join(f"{k} {v:.4g}" for k, v in res.items())
                print(f"  round {r + 1} {part:<7} {who:<9} {shown}", flush=True)

    ratios = {}
    if "fit" in results:
        ref, skl = results["fit"]["reference"], results["fit"]["sklstm"]
        print(f"\ncold fit, {args.docs} documents, 1 epoch (medians, s)")
        print("| contender | import torch | import sklstm | cold fit | warm fit |")
        for name, runs in (("reference", ref), ("sklstm", skl)):
            print(
                f"| {name} | {_median(runs, 'torch_import_s'):.2f} | "
                f"{_median(runs, 'import_s'):.2f} | {_median(runs, 'cold_s'):.2f} | "
                f"{_median(runs, 'warm_s'):.2f} |"
            )
        ratios["fit"] = _median(skl, "cold_s") / _median(ref, "cold_s")
        ratios["fit_without_import"] = (
            _median(skl, "cold_s") - _median(skl, "import_s")
        ) / _median(ref, "cold_s")
        ratios["fit_with_torch_import"] = (
            _median(skl, "cold_s") + _median(skl, "torch_import_s")
        ) / (_median(ref, "cold_s") + _median(ref, "torch_import_s"))
        ratios["warm_fit"] = _median(skl, "warm_s") / _median(ref, "warm_s")
    if "predict" in results:
        ref, skl = results["predict"]["reference"], results["predict"]["sklstm"]
        for key in ("first_call_s", "one_doc_s", "many_docs_s"):
            a, b = _median(skl, key), _median(ref, key)
            print(f"predict {key}: sklstm {a * 1e3:.3f} ms, reference {b * 1e3:.3f} ms")
            ratios[key[:-2]] = a / b
    print("\n| ratio sklstm / reference | value | target |")
    for key, value in ratios.items():
        target = TARGETS.get(key)
        shown = f"<= {target}x" if target else ""
        print(f"| {key} | {value:.3f}x | {shown} |")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(
                {"args": vars(args), "runs": results, "ratios": ratios}, f, indent=2
            )
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
