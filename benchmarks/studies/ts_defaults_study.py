"""Time-series classification with sklstm's default hyperparameters.

Fits ``LSTMClassifier`` on three UCR/UEA datasets (GunPoint: 50 train x 150
steps x 1 channel; BasicMotions: 40 x 100 x 6; JapaneseVowels: 270 x 7-29 x
12, unequal lengths passed as a list) under several configurations and
seeds, and prints test accuracy (mean and min over seeds), epochs and fit time
next to the 1-NN Euclidean baseline. Optionally also fits the default text
pipeline on the bundled financial tweets, to check that a change of defaults
does not make large data train longer or worse.

Every configuration is spelled out with explicit values, so the table keeps
its meaning when the package defaults change: ``old`` is the defaults of
sklstm 0.x before the study (30 epochs, batches of 64, lr 1e-3, last-state
pooling), ``new`` the recommended ones.

A configuration may use *rules* that depend on the number of training
samples ``n`` (they become estimator parameters per dataset; ``steps_per_epoch
= ceil(n / batch_size)``):

``max_steps=S``
    room for ``S`` optimizer steps: ``max_epochs = max(max_epochs,
    ceil(S / steps_per_epoch))``.
``min_steps=S``
    without a validation set (``n < 1000`` with ``early_stopping="auto"``),
    the training-loss stop rule counts no epoch within the first ``S``
    optimizer steps, so an early plateau cannot end training.
``patience_steps=P``
    the stop rule's patience spans at least ``P`` optimizer steps:
    ``n_iter_no_change = max(n_iter_no_change, ceil(P / steps_per_epoch))``.
``batch_div=k``
    at least ``k`` batches per epoch: ``batch_size = min(batch_size,
    max(8, ceil(n / k)))``.
``schedule=plateau|cosine``
    a learning-rate schedule (ReduceLROnPlateau on the training loss, halving
    after ``n_iter_no_change // 2`` epochs; or cosine over ``max_epochs``).

``min_steps`` and an old sklstm without ``lr_schedule`` need a study subclass
that swaps sklstm's early-stopping callback; it relies on the private
``_configure`` step of ``_BaseLSTM._fit_unsafe``.

Run (from the repository root)::

    python benchmarks/studies/ts_defaults_study.py                       # old, new, defaults
    python benchmarks/studies/ts_defaults_study.py --configs old new --seeds 0 1 2 3 4
    python benchmarks/studies/ts_defaults_study.py --grid pooling=last,mean lr=1e-3,3e-3
    python benchmarks/studies/ts_defaults_study.py --jobs 8 --text       # + tweets

``--jobs N`` runs fits in N processes with one torch thread each (timings
then assume N free cores); the default is one process. Data come from
``sklstm.datasets.shared_datasets_dir()`` (``../shared/datasets`` or the
environment variable ``SKLSTM_SHARED_DATASETS``) or ``--data-dir``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import platform
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np  # noqa: E402

DATASETS = ("GunPoint", "BasicMotions", "JapaneseVowels")

#: accuracy the defaults should reach on each dataset
TARGETS = {"GunPoint": 0.913, "BasicMotions": 0.90, "JapaneseVowels": 0.95}

#: sklstm's defaults before this study, spelled out
OLD = dict(
    hidden_size=128,
    num_layers=1,
    dropout=0.2,
    pooling="last",
    max_epochs=30,
    batch_size=64,
    lr=1e-3,
    max_grad_norm=1.0,
    early_stopping="auto",
    n_iter_no_change=5,
    tol=1e-4,
)

#: the recommended defaults, as rules (docs/time_series.rst describes them)
NEW = dict(OLD, hidden_size=64, dropout=0.5, lr=3e-3, max_steps=800, min_steps=400)

#: whatever the installed sklstm's defaults are
DEFAULTS: dict = {}

PRESETS = {"old": OLD, "new": NEW, "defaults": DEFAULTS}

_RULES = ("max_steps", "min_steps", "patience_steps", "batch_div", "schedule")


def estimator_params(config: dict, n: int) -> dict:
    """Plain ``LSTMClassifier`` parameters of ``config`` for ``n`` samples.

    ``_min_epochs`` (the ``min_steps`` rule) is not an estimator parameter:
    :func:`_estimator` turns it into a stop rule.
    """
    params = {k: v for k, v in config.items() if k not in _RULES}
    if config.get("batch_div"):
        k = config["batch_div"]
        params["batch_size"] = min(params["batch_size"], max(8, math.ceil(n / k)))
    steps_per_epoch = math.ceil(n / params.get("batch_size", 64))
    if config.get("max_steps"):
        params["max_epochs"] = max(
            params.get("max_epochs", 30),
            math.ceil(config["max_steps"] / steps_per_epoch),
        )
    if config.get("patience_steps"):
        params["n_iter_no_change"] = max(
            params.get("n_iter_no_change", 5),
            math.ceil(config["patience_steps"] / steps_per_epoch),
        )
    if config.get("min_steps") and n < 1000:
        params["_min_epochs"] = math.ceil(config["min_steps"] / steps_per_epoch)
    return params


def load(name: str, data_dir: Path):
    from sklstm.datasets import load_ts_file

    folder = data_dir / "ts" / "classification" / name
    X_train, y_train = load_ts_file(folder / f"{name}_TRAIN.ts")
    X_test, y_test = load_ts_file(folder / f"{name}_TEST.ts")
    return X_train, y_train, X_test, y_test


def _resample(series: np.ndarray, length: int) -> np.ndarray:
    """Linear interpolation of a ``(T, F)`` series to ``length`` steps."""
    t = np.linspace(0, len(series) - 1, length)
    steps = np.arange(len(series))
    return np.stack(
        [np.interp(t, steps, series[:, j]) for j in range(series.shape[1])], axis=1
    )


def one_nn(X_train, y_train, X_test, y_test) -> float:
    """1-NN Euclidean test accuracy; unequal lengths resampled to the longest."""
    if isinstance(X_train, list):
        length = max(len(x) for x in [*X_train, *X_test])
        X_train = np.stack([_resample(x, length) for x in X_train])
        X_test = np.stack([_resample(x, length) for x in X_test])
    a = X_train.reshape(len(X_train), -1)
    b = X_test.reshape(len(X_test), -1)
    d = (b**2).sum(1)[:, None] - 2 * b @ a.T + (a**2).sum(1)[None, :]
    return float(np.mean(y_train[d.argmin(axis=1)] == y_test))


def _min_epochs_early_stopping(early_stopping, min_epochs: int):
    """``early_stopping`` that counts its patience only after ``min_epochs``."""
    from skorch.callbacks import EarlyStopping

    class _AfterMinEpochs(EarlyStopping):
        def on_epoch_end(self, net, **kwargs):
            if len(net.history) <= min_epochs:
                self.misses_ = 0  # an early plateau never stops training
            super().on_epoch_end(net, **kwargs)

    params = early_stopping.get_params()
    params.pop("min_epochs", None)  # sklstm's own stop rule has it built in
    return _AfterMinEpochs(**params)


def _estimator(config: dict, params: dict, seed: int):
    from sklstm import LSTMClassifier

    schedule, min_epochs = config.get("schedule"), params.pop("_min_epochs", 0)
    if schedule and "lr_schedule" in LSTMClassifier().get_params():
        params["lr_schedule"], schedule = schedule, None
    if not schedule and not min_epochs:
        return LSTMClassifier(random_state=seed, **params)

    class _Study(LSTMClassifier):
        # not a parameter: this study class is never cloned. The fit's
        # callbacks are set in _configure (sklstm/_base.py); swap the stop
        # rule there (without a validation set) and add the schedule.
        def _configure(self, net, train_ds, full, valid_idx, early, seed):
            snapshot = super()._configure(net, train_ds, full, valid_idx, early, seed)
            net.callbacks = [
                (name, _min_epochs_early_stopping(cb, min_epochs))
                if name == "early_stopping" and not early
                else (name, cb)
                for name, cb in net.callbacks
            ]
            if schedule:
                net.callbacks.insert(0, ("lr_schedule", _scheduler(schedule, self)))
            return snapshot

    return _Study(random_state=seed, **params)


def _scheduler(schedule: str, est):
    import torch
    from skorch.callbacks import LRScheduler

    if schedule == "plateau":
        return LRScheduler(
            torch.optim.lr_scheduler.ReduceLROnPlateau,
            monitor="train_loss",
            factor=0.5,
            patience=max(1, est.n_iter_no_change // 2),
        )
    return LRScheduler(torch.optim.lr_scheduler.CosineAnnealingLR, T_max=est.max_epochs)


def _warm_up(threads: int = 1) -> None:
    """One tiny fit, so a worker's first timed fit does not pay torch's start-up."""
    import torch

    from sklstm import LSTMClassifier

    torch.set_num_threads(threads)
    rng = np.random.default_rng(0)
    LSTMClassifier(max_epochs=1, hidden_size=8).fit(
        rng.normal(size=(8, 5, 2)), [0, 1] * 4
    )


def fit_one(task: dict) -> dict:
    """Fit one (config, dataset, seed) and return the measurements."""
    import torch

    torch.set_num_threads(task["threads"])
    name, config, seed = task["dataset"], task["config"], task["seed"]
    if name == "tweets":
        from sklearn.pipeline import make_pipeline

        from sklstm import TextSequencer
        from sklstm.datasets import load_financial_tweets

        train = load_financial_tweets(subset="train")
        valid = load_financial_tweets(subset="valid")
        X_train, y_train = train.data, train.target
        X_test, y_test = valid.data, valid.target
    else:
        X_train, y_train, X_test, y_test = load(name, Path(task["data_dir"]))
    params = estimator_params(config, len(X_train))
    est = _estimator(config, params, seed)
    model = make_pipeline(TextSequencer(), est) if name == "tweets" else est
    start = time.perf_counter()
    model.fit(X_train, y_train)
    fit_s = time.perf_counter() - start
    return {
        "config": task["config_name"],
        "dataset": name,
        "seed": seed,
        "accuracy": float(model.score(X_test, y_test)),
        "train_accuracy": float(model.score(X_train, y_train)),
        "epochs": int(est.n_iter_),
        "max_epochs": est.max_epochs,
        "batch_size": est.batch_size,
        "n_iter_no_change": est.n_iter_no_change,
        "fit_s": fit_s,
    }


def _parse_value(text: str):
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return {"True": True, "False": False, "None": None}.get(text, text)


def expand_grid(base: dict, grid: list[str]) -> dict[str, dict]:
    """Configurations ``base`` updated with every combination of ``k=v1,v2``."""
    axes = []
    for item in grid:
        key, _, values = item.partition("=")
        axes.append([(key, _parse_value(v)) for v in values.split(",")])
    configs = {}
    for combo in itertools.product(*axes):
        name = " ".join(f"{k}={v}" for k, v in combo)
        configs[name] = {**base, **dict(combo)}
    return configs


def summarise(results: list[dict], baselines: dict) -> str:
    rows = [
        "| config | dataset | mean acc | min acc | seeds >= target | 1-NN | "
        "epochs | batch | mean fit s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    groups: dict = {}
    for r in results:
        groups.setdefault((r["config"], r["dataset"]), []).append(r)
    for (config, dataset), rs in groups.items():
        acc = [r["accuracy"] for r in rs]
        target = TARGETS.get(dataset)
        hits = "-" if target is None else f"{sum(a >= target for a in acc)}/{len(acc)}"
        base = baselines.get(dataset)
        rows.append(
            f"| {config} | {dataset} | {statistics.mean(acc):.3f} | {min(acc):.3f} "
            f"| {hits} | {'-' if base is None else f'{base:.3f}'} "
            f"| {statistics.mean(r['epochs'] for r in rs):.0f}/{rs[0]['max_epochs']} "
            f"| {rs[0]['batch_size']} "
            f"| {statistics.mean(r['fit_s'] for r in rs):.1f} |"
        )
    return "\n".join(rows)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--configs", nargs="+", default=["old", "new", "defaults"], choices=PRESETS
    )
    parser.add_argument(
        "--grid",
        nargs="+",
        default=None,
        metavar="KEY=V1,V2",
        help="instead of --configs: every combination on top of --base",
    )
    parser.add_argument("--base", default="old", choices=sorted(PRESETS))
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--text", action="store_true", help="also fit the tweets")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1, help="torch threads/fit")
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=None, help="JSON results")
    parser.add_argument("--log", type=Path, default=None, help="JSON line per fit")
    args = parser.parse_args(argv)

    from sklstm.datasets import shared_datasets_dir

    data_dir = args.data_dir or shared_datasets_dir()
    if data_dir is None:
        sys.exit("No shared datasets: pass --data-dir or set SKLSTM_SHARED_DATASETS.")
    if args.grid:
        configs = expand_grid(PRESETS[args.base], args.grid)
    else:
        configs = {name: PRESETS[name] for name in args.configs}

    baselines = {name: one_nn(*load(name, data_dir)) for name in args.datasets}
    datasets = list(args.datasets) + (["tweets"] if args.text else [])

    # slow fits first, so the pool does not end waiting on one of them
    order = {"tweets": 0, "GunPoint": 1, "BasicMotions": 3, "JapaneseVowels": 2}
    tasks = [
        {
            "config_name": cname,
            "config": config,
            "dataset": dname,
            "seed": seed,
            "threads": args.threads,
            "data_dir": str(data_dir),
        }
        for dname in sorted(datasets, key=order.get)
        for cname, config in configs.items()
        for seed in args.seeds
    ]
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    start = time.perf_counter()
    results = []
    log = open(args.log, "a") if args.log else None  # noqa: SIM115
    if args.jobs > 1:
        pool = ProcessPoolExecutor(
            args.jobs, initializer=_warm_up, initargs=(args.threads,)
        )
        done = (
            f.result() for f in as_completed(pool.submit(fit_one, t) for t in tasks)
        )
    else:
        _warm_up(args.threads)
        done = (fit_one(t) for t in tasks)
    for result in done:
        results.append(result)
        if log:
            log.write(json.dumps(result) + "\n")
            log.flush()
    if args.jobs > 1:
        pool.shutdown()
    wall = time.perf_counter() - start
    results.sort(key=lambda r: (list(configs).index(r["config"]), r["dataset"]))
    print(summarise(results, baselines))
    print(
        f"\n{len(results)} fits in {wall:.0f} s ({args.jobs} processes x "
        f"{args.threads} torch threads, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs)"
    )
    if args.out:
        args.out.write_text(
            json.dumps(
                {"configs": configs, "baselines": baselines, "results": results},
                indent=1,
            )
        )


if __name__ == "__main__":
    main()
