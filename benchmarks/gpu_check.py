"""One prepared GPU run: correctness, portability and speed of sklstm on CUDA.

Everything the GPU issue asks to be shown, in one process, in under 6 minutes
on one GPU; each section reports on its own (a failure is printed and the
next section runs)::

    python benchmarks/gpu_check.py                  # on a CUDA machine
    python benchmarks/gpu_check.py --quick --device cpu   # dry run (CI-size)

Sections:

1. agreement: for every cell (and a bidirectional, stacked LSTM), a model
   trained on the CPU, loaded onto the GPU, predicts the same probabilities
   there (float32, tolerance ``AGREE_TOL``);
2. portability: a model fitted on the GPU (``precision="auto"``), written with
   ``sklstm.save`` and with joblib, loaded and predicted in a child process
   that sees no GPU (``CUDA_VISIBLE_DEVICES=""``), matches the GPU's float32
   predictions;
3. determinism: two GPU fits with one ``random_state`` and
   ``deterministic=True`` are identical; the same with ``deterministic=False``
   is reported, and what determinism costs per epoch;
4. epoch: one epoch of the standard workload of ``bench_training.py`` scaled
   up (200,000 documents), sklstm against a hand-written loop (cuDNN
   ``nn.LSTM``, the same length-bucketed batches, fused Adam, clipping), in
   float32 and bfloat16 mixed precision, at hidden size 128 and 512;
5. predict memory: peak GPU memory while predicting 100,000 and 1,000,000
   documents (it must not grow with the rows);
6. cells: a training step of the peephole and CIFG layers against the fused
   ``nn.LSTM`` (batch 64, 40 steps, 128 inputs and units);
7. explain: ``sklstm.explain`` of models trained on the CPU and loaded onto
   the GPU (a bidirectional, stacked LSTM with mean pooling; a peephole cell
   with attention pooling) agrees with the CPU's attributions (relative
   ``EXPLAIN_TOL`` of the largest one), adds up (completeness within 1e-2),
   and ``attention_weights`` agree; the time to explain 1,000 documents
   against predicting them on the GPU is reported (issue 14);
8. pretraining: tokens/s of ``LSTMLanguageModel.fit`` (the default network and
   hidden 512) in float32 and bfloat16 (issue 33).

On the lent GPU machine (no network, no skorch), from the repository root,
with the skorch wheel in ``.whl/`` (``pip download --no-deps -d .whl
skorch==1.4.0``; ``.whl`` is listed in ``.git/info/exclude`` and carried)::

    python3 -m pip install -q --no-index --no-deps --target /tmp/site .whl/*.whl \
      && PYTHONPATH=/tmp/site:. PYTHONUNBUFFERED=1 python3 benchmarks/gpu_check.py \
         --out $OUT/gpu_check.json

Targets (issue 16): sklstm epoch <= 1.05x the hand-written loop in each
precision; bf16 >= 1.5x faster than fp32 at hidden size 512; peak predict
memory flat in the row count; custom cells <= 2x ``nn.LSTM``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import traceback

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for _p in (_ROOT, os.path.join(_ROOT, "benchmarks")):
    if _p not in sys.path:
        sys.path.insert(0, _p)

from bench_training import (  # noqa: E402
    BATCH,
    EMBED,
    LR,
    VOCAB,
    bucketed_batches,
    init_like_sklstm,
    lengths_from_tokens,
    make_workload,
)

#: CPU vs GPU probabilities, float32 both sides
AGREE_TOL = 1e-4
#: CPU vs GPU attributions, relative to the largest absolute attribution
EXPLAIN_TOL = 1e-3
CELLS = ["lstm", "gru", "rnn", "peephole", "cifg"]
TARGETS = {
    "epoch_vs_reference": ("<=", 1.05),
    "bf16_speedup_h512": (">=", 1.5),
    "predict_memory_growth": ("<=", 1.10),
    "custom_cell_vs_lstm": ("<=", 2.0),
}


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed(device, fn, *args, **kwargs):
    _sync(device)
    t = time.perf_counter()
    out = fn(*args, **kwargs)
    _sync(device)
    return time.perf_counter() - t, out


def _estimator(cls, **kw):
    from sklstm import LSTMClassifier, LSTMRegressor

    # one network: every comparison here is with one hand-written network
    # or with the same model on the CPU
    kw.setdefault("n_members", 1)
    return {"classifier": LSTMClassifier, "regressor": LSTMRegressor}[cls](**kw)


def _cpu_and_gpu(device, X, y, quick, *, hidden, embedding, **params):
    """A classifier fitted on the CPU, and its copy loaded onto ``device``
    through ``sklstm.save`` (float32 on both sides)."""
    import sklstm

    est = _estimator(
        "classifier",
        hidden_size=8 if quick else hidden,
        embedding_dim=8 if quick else embedding,
        max_epochs=1 if quick else 2,
        random_state=0,
        **params,
    ).fit(X, y)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "m.sklstm")
        sklstm.save(est, path)
        on_gpu = sklstm.load(path, device=str(device))
    on_gpu.net_.precision = "32"  # the float32 path on both sides
    return est, on_gpu


# --------------------------------------------------------------------------
# 1. agreement
# --------------------------------------------------------------------------
def agreement(device, quick):

    X, y, _ = make_workload(200 if quick else 3000, seed=1)
    X = X[:, :80]
    rows = []
    variants = [(c, {}) for c in (["peephole"] if quick else CELLS)]
    variants += [("lstm", {"bidirectional": True, "num_layers": 2})]
    for cell, extra in variants:
        est, on_gpu = _cpu_and_gpu(
            device, X, y, quick, cell=cell, hidden=32, embedding=16, **extra
        )
        gap = float(np.abs(on_gpu.predict_proba(X) - est.predict_proba(X)).max())
        name = cell + ("+bi+2 layers" if extra else "")
        rows.append({"cell": name, "max_abs_diff": gap, "ok": gap <= AGREE_TOL})
    return rows


# --------------------------------------------------------------------------
# 2. portability: fit on the GPU, load on a machine without one
# --------------------------------------------------------------------------
_CHILD = r"""
import io, json, sys, joblib, numpy as np, torch
import sklstm
X = np.load(sys.argv[1])
a = sklstm.load(sys.argv[2]).predict_proba(X)
b = joblib.load(sys.argv[3]).predict_proba(X)
print(json.dumps({"cuda_visible": torch.cuda.is_available(),
                  "save": a.tolist(), "joblib": b.tolist()}))
"""


def portability(device, quick):
    import joblib

    import sklstm

    X, y, _ = make_workload(200 if quick else 4000, seed=2)
    X = X[:, :80]
    est = _estimator(
        "classifier",
        hidden_size=8 if quick else 64,
        embedding_dim=8 if quick else 128,
        max_epochs=1 if quick else 2,
        random_state=0,
        device=str(device),
    ).fit(X, y)
    precision = est.net_.precision
    est.net_.precision = "32"
    reference = est.predict_proba(X[:200])
    est.net_.precision = precision
    with tempfile.TemporaryDirectory() as tmp:
        np.save(os.path.join(tmp, "X.npy"), X[:200])
        sklstm.save(est, os.path.join(tmp, "m.sklstm"))
        joblib.dump(est, os.path.join(tmp, "m.joblib"))
        env = dict(os.environ, CUDA_VISIBLE_DEVICES="")
        out = subprocess.run(
            [
                sys.executable,
                "-c",
                _CHILD,
                os.path.join(tmp, "X.npy"),
                os.path.join(tmp, "m.sklstm"),
                os.path.join(tmp, "m.joblib"),
            ],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
    if out.returncode:
        return {"ok": False, "error": out.stderr[-2000:]}
    got = json.loads(out.stdout.strip().splitlines()[-1])
    gap_save = float(np.abs(np.asarray(got["save"]) - reference).max())
    gap_joblib = float(np.abs(np.asarray(got["joblib"]) - reference).max())
    return {
        "trained_precision": precision,
        "child_saw_cuda": got["cuda_visible"],
        "save_max_abs_diff": gap_save,
        "joblib_max_abs_diff": gap_joblib,
        "ok": max(gap_save, gap_joblib) <= AGREE_TOL and not got["cuda_visible"],
    }


# --------------------------------------------------------------------------
# 3. determinism
# --------------------------------------------------------------------------
def determinism(device, quick):
    X, y, _ = make_workload(200 if quick else 20000, seed=3)
    X = X[:, :80] if quick else X
    size = {"hidden_size": 8, "embedding_dim": 8} if quick else {}
    res = {}
    for det in (True, False):
        probs, times = [], []
        for _ in range(2):
            est = _estimator(
                "classifier",
                num_layers=2,
                dropout=0.2,
                max_epochs=1,
                early_stopping=False,
                random_state=0,
                deterministic=det,
                device=str(device),
                **size,
            )
            t, _ = _timed(device, est.fit, X, y)
            times.append(t)
            probs.append(est.predict_proba(X[:500]))
        res[f"deterministic={det}"] = {
            "identical": bool(np.array_equal(probs[0], probs[1])),
            "max_abs_diff": float(np.abs(probs[0] - probs[1]).max()),
            "fit_s": min(times),
        }
    res["cost"] = (
        res["deterministic=True"]["fit_s"] / res["deterministic=False"]["fit_s"]
    )
    res["ok"] = res["deterministic=True"]["identical"]
    return res


# --------------------------------------------------------------------------
# 4. one epoch: sklstm against the hand-written loop
# --------------------------------------------------------------------------
class _RefNet(nn.Module):
    def __init__(self, hidden):
        super().__init__()
        self.emb = nn.Embedding(VOCAB, EMBED, padding_idx=0)
        self.lstm = nn.LSTM(EMBED, hidden, batch_first=True)
        self.head = nn.Linear(hidden, 2)
        init_like_sklstm(self.emb, self.lstm)

    def forward(self, x, last):
        out, _ = self.lstm(self.emb(x))
        return self.head(out[torch.arange(out.shape[0], device=x.device), last])


def reference_epoch(X, y, hidden, precision, device, seed=0):
    """The hand-written loop: bucketed batches moved one by one, cuDNN LSTM."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    lengths = lengths_from_tokens(X)
    model = _RefNet(hidden).to(device).train()
    fused = {"fused": True} if device.type == "cuda" else {}
    opt = torch.optim.Adam(model.parameters(), lr=LR, **fused)
    yt = torch.from_numpy(y)
    dtype = torch.bfloat16 if precision == "bf16-mixed" else None
    for idx in bucketed_batches(lengths, BATCH, rng):
        L = lengths[idx]
        xb = torch.from_numpy(X[idx, : int(L.max())]).to(device, non_blocking=True)
        last = torch.from_numpy(L - 1).to(device, non_blocking=True)
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            logits = model(xb, last)
        loss = F.cross_entropy(logits.float(), yt[idx].to(device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    return loss.item()


def sklstm_epoch(X, y, hidden, precision, device, seed=0):
    est = _estimator(
        "classifier",
        embedding_dim=EMBED,
        hidden_size=hidden,
        batch_size=BATCH,
        lr=LR,
        max_epochs=1,
        early_stopping=False,
        token_dropout=0.0,
        dropout=0.0,
        precision=precision,
        deterministic=False,
        random_state=seed,
        device=str(device),
    )
    est.fit(X, y)
    return est.loss_curve_[-1]


def epochs(device, quick, repeats):
    n = 300 if quick else 200_000
    hiddens = (8, 16) if quick else (128, 512)
    X, y, _ = make_workload(n, seed=4)
    precisions = ["32"]
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        precisions.append("bf16-mixed")
    rows = []
    for hidden in hiddens:
        for precision in precisions:
            times = {"sklstm": [], "reference": []}
            # one untimed warm-up each (cuDNN plans, allocator), then interleaved
            for fn in (sklstm_epoch, reference_epoch):
                if not quick:
                    warm = 4 * BATCH * 50
                    fn(X[:warm], y[:warm], hidden, precision, device)
            for _ in range(repeats):
                for name, fn in (
                    ("sklstm", sklstm_epoch),
                    ("reference", reference_epoch),
                ):
                    t, _ = _timed(device, fn, X, y, hidden, precision, device)
                    times[name].append(t)
            s, r = (
                float(np.median(times["sklstm"])),
                float(np.median(times["reference"])),
            )
            rows.append(
                {
                    "hidden": hidden,
                    "precision": precision,
                    "sklstm_s": s,
                    "reference_s": r,
                    "ratio": s / r,
                }
            )
            print(
                f"  epoch hidden={hidden} {precision}: sklstm {s:.2f}s, "
                f"hand-written {r:.2f}s, ratio {s / r:.3f}",
                flush=True,
            )
    return rows


# --------------------------------------------------------------------------
# 5. peak memory of prediction
# --------------------------------------------------------------------------
def predict_memory(device, quick):
    X, y, _ = make_workload(200 if quick else 2000, seed=5)
    size = {"hidden_size": 8, "embedding_dim": 8} if quick else {}
    est = _estimator(
        "classifier", max_epochs=1, random_state=0, device=str(device), **size
    ).fit(X, y)
    sizes = (1_000, 5_000) if quick else (100_000, 1_000_000)
    res = {}
    for n in sizes:
        Xn = np.resize(X, (n, X.shape[1]))  # rows repeated: the same lengths
        if device.type == "cuda":
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(device)
            base = torch.cuda.memory_allocated(device)
        t, _ = _timed(device, est.predict_proba, Xn)
        peak = (
            torch.cuda.max_memory_allocated(device) - base
            if device.type == "cuda"
            else 0
        )
        res[n] = {"seconds": t, "peak_extra_MiB": peak / 2**20}
    small, large = (res[k]["peak_extra_MiB"] for k in sizes)
    res["growth"] = large / small if small else 1.0
    return res


# --------------------------------------------------------------------------
# 6. custom cells against nn.LSTM
# --------------------------------------------------------------------------
def cells(device, quick):
    from sklstm._cells import CIFGLSTM, PeepholeLSTM

    B, T, H = (8, 10, 16) if quick else (64, 40, 128)
    steps = 2 if quick else 50
    x = torch.randn(B, T, H, device=device)
    res = {}
    for name, layer in (
        ("lstm", nn.LSTM(H, H, batch_first=True)),
        ("peephole", PeepholeLSTM(H, H, batch_first=True)),
        ("cifg", CIFGLSTM(H, H, batch_first=True)),
    ):
        layer = layer.to(device)

        def step(layer=layer):
            out, _ = layer(x)
            out.sum().backward()

        for _ in range(3):
            step()
        t, _ = _timed(device, lambda: [step() for _ in range(steps)])
        res[name] = t / steps * 1e3
    for name in ("peephole", "cifg"):
        res[f"{name}_vs_lstm"] = res[name] / res["lstm"]
    return res


# --------------------------------------------------------------------------
# 7. explain on the GPU (issue 14)
# --------------------------------------------------------------------------
def explain_check(device, quick):
    import sklstm

    X, y, _ = make_workload(200 if quick else 3000, seed=2)
    X = X[:, :60]
    n = 50 if quick else 1000
    rows = []
    variants = [
        (
            "lstm+bi+2 layers, mean",
            dict(bidirectional=True, num_layers=2, pooling="mean"),
        ),
        ("peephole, attention", dict(cell="peephole", pooling="attention")),
    ]
    for name, extra in variants:
        est, on_gpu = _cpu_and_gpu(
            device, X, y, quick, hidden=64, embedding=32, **extra
        )
        cpu = sklstm.explain(est, X[:n])
        _sync(device)
        t0 = time.perf_counter()
        gpu = sklstm.explain(on_gpu, X[:n])
        _sync(device)
        explain_s = time.perf_counter() - t0
        predict_s, _ = _timed(device, on_gpu.predict_proba, X[:n])
        scale = max(float(np.abs(a).max()) for a in cpu)
        gap = max(float(np.abs(a - b).max()) for a, b in zip(cpu, gpu)) / scale
        delta = gpu.outputs - gpu.baseline_outputs
        sums = np.array([a.sum() for a in gpu])
        complete = float(
            (np.abs(sums - delta) / np.maximum(np.abs(delta), 1e-12)).max()
        )
        row = {
            "model": name,
            "max_rel_diff": gap,
            "worst_completeness": complete,
            "explain_s": explain_s,
            "x_predict": explain_s / predict_s,
        }
        if extra.get("pooling") == "attention":
            w_cpu = est.attention_weights(X[:n])
            w_gpu = on_gpu.attention_weights(X[:n])
            row["attention_max_diff"] = max(
                float(np.abs(a - b).max()) for a, b in zip(w_cpu, w_gpu)
            )
        row["ok"] = gap <= EXPLAIN_TOL and row.get("attention_max_diff", 0) <= 1e-4
        rows.append(row)
    return rows


# --------------------------------------------------------------------------
def pretraining(device, quick):
    """Tokens/s of ``LSTMLanguageModel.fit`` on the device, float32 and bf16.

    The default network (embedding 256, LSTM 256, adaptive softmax over the
    vocabulary of a generated corpus of 20,000 distinct words; hidden 512 too)
    on a corpus of generated documents; bf16 runs the same fit inside
    ``torch.autocast(dtype=torch.bfloat16)`` (the library has no precision
    setting for language models yet).
    """
    from sklstm import LSTMLanguageModel

    rng = np.random.default_rng(0)
    n_words = 200 if quick else 20000
    words = np.array([f"w{i}" for i in range(n_words)])
    # Zipf-like word frequencies, documents of 20-200 words
    p = 1 / np.arange(1, n_words + 1)
    p /= p.sum()
    n_docs = 100 if quick else 20000
    docs = [
        " ".join(words[rng.choice(n_words, size=rng.integers(20, 200), p=p)])
        for _ in range(n_docs)
    ]
    rows = []
    sizes = [16] if quick else [256, 512]
    precisions = ["32"] if device.type == "cpu" else ["32", "bf16"]
    for hidden in sizes:
        for precision in precisions:
            lm = LSTMLanguageModel(
                embedding_dim=hidden // 2 if quick else 256,
                hidden_size=hidden,
                device=str(device),
                random_state=0,
            )
            start = time.perf_counter()
            if precision == "bf16":
                with torch.autocast(device.type, dtype=torch.bfloat16):
                    lm.fit(docs)
            else:
                lm.fit(docs)
            _sync(device)
            seconds = time.perf_counter() - start
            rows.append(
                {
                    "hidden": hidden,
                    "precision": precision,
                    "tokens": lm.n_tokens_seen_,
                    "seconds": seconds,
                    "tokens_per_s": lm.n_tokens_seen_ / seconds,
                    "loss": lm.loss_curve_[-1],
                }
            )
    return rows


def environment(device):
    import sklearn
    import skorch

    import sklstm

    info = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version(),
        "sklstm": sklstm.__version__,
        "skorch": skorch.__version__,
        "scikit-learn": sklearn.__version__,
        "device": str(device),
    }
    if device.type == "cuda":
        info["card"] = torch.cuda.get_device_name(device)
        info["bf16"] = torch.cuda.is_bf16_supported()
    return info


def _check(name, value):
    op, bound = TARGETS[name]
    ok = value <= bound if op == "<=" else value >= bound
    return f"{name}: {value:.3f} (target {op} {bound}) {'MET' if ok else 'MISSED'}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--quick", action="store_true", help="small sizes (dry run)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--only", nargs="*", help="sections to run")
    parser.add_argument("--out", help="write the results as JSON here")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        parser.error("no CUDA device here; use --device cpu for a dry run")
    started = time.perf_counter()
    threads = torch.get_num_threads()
    if device.type == "cpu" and args.quick:
        torch.set_num_threads(1)  # a dry run: small work, maybe a busy machine
    try:
        results = _run(args, device)
    finally:
        torch.set_num_threads(threads)
    results["wall_s"] = time.perf_counter() - started
    print(f"\ntotal {results['wall_s']:.0f} s")
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=1, default=str)
    return results


def _run(args, device):
    results = {"environment": environment(device)}
    print(json.dumps(results["environment"], indent=1), flush=True)
    sections = {
        "agreement": lambda: agreement(device, args.quick),
        "portability": lambda: portability(device, args.quick),
        "determinism": lambda: determinism(device, args.quick),
        "epochs": lambda: epochs(device, args.quick, 1 if args.quick else args.repeats),
        "predict_memory": lambda: predict_memory(device, args.quick),
        "cells": lambda: cells(device, args.quick),
        "explain": lambda: explain_check(device, args.quick),
        "pretraining": lambda: pretraining(device, args.quick),
    }
    for name, run in sections.items():
        if args.only and name not in args.only:
            continue
        t = time.perf_counter()
        try:
            results[name] = run()
        except Exception:  # report and go on: one run must show everything
            results[name] = {"error": traceback.format_exc()}
        print(f"\n== {name} ({time.perf_counter() - t:.1f} s)", flush=True)
        print(json.dumps(results[name], indent=1, default=str), flush=True)

    print("\n== targets")
    lines = []
    if isinstance(results.get("epochs"), list):
        for row in results["epochs"]:
            lines.append(
                f"[hidden {row['hidden']}, {row['precision']}] "
                + _check("epoch_vs_reference", row["ratio"])
            )
        by = {(r["hidden"], r["precision"]): r["sklstm_s"] for r in results["epochs"]}
        if (512, "bf16-mixed") in by:
            lines.append(
                _check("bf16_speedup_h512", by[(512, "32")] / by[(512, "bf16-mixed")])
            )
    if "growth" in results.get("predict_memory", {}):
        lines.append(
            _check("predict_memory_growth", results["predict_memory"]["growth"])
        )
    for cell in ("peephole", "cifg"):
        if f"{cell}_vs_lstm" in results.get("cells", {}):
            lines.append(
                f"[{cell}] "
                + _check("custom_cell_vs_lstm", results["cells"][f"{cell}_vs_lstm"])
            )
    for name in ("portability", "determinism"):
        if isinstance(results.get(name), dict) and "ok" in results[name]:
            lines.append(f"{name}: {'OK' if results[name]['ok'] else 'FAILED'}")
    if isinstance(results.get("agreement"), list):
        bad = [r["cell"] for r in results["agreement"] if not r["ok"]]
        lines.append(
            f"agreement (tol {AGREE_TOL}): {'OK' if not bad else 'FAILED ' + str(bad)}"
        )
    if isinstance(results.get("explain"), list):
        bad = [r["model"] for r in results["explain"] if not r["ok"]]
        lines.append(
            f"explain vs CPU (tol {EXPLAIN_TOL}): "
            + ("OK" if not bad else "FAILED " + str(bad))
        )
    print("\n".join(lines))
    results["targets"] = lines
    return results


if __name__ == "__main__":
    main()
