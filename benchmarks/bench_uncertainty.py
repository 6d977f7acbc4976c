"""Calibrated probabilities and conformal intervals, measured.

Three tables, side by side:

1. Classification: expected calibration error (ECE, 15 equal-width bins of
   the top-class probability), log loss and accuracy of the default text
   pipeline (``TextSequencer`` + ``LSTMClassifier``) before and after
   temperature scaling on the early-stopping split: financial tweets
   (train -> valid, the mean over ``--seeds``, default 0-5), SST-2 (train -> dev) and UCI sentences (5-fold). The
   "before" figures are the same network's raw softmax (one fit: the
   temperature is undone), so accuracy is the same by construction.
2. Regression: empirical coverage and mean width of 80% and 95% intervals
   of ``LSTMRegressor.predict_interval`` on Covid3Month (train -> test;
   140 training series, so ``calibration="cv"``) and on a synthetic
   heteroscedastic task (2000 training series, the default ``"auto"``:
   split conformal on the early-stopping split; and ``"cv"``, with early
   stopping still on: every one of the 2000 series scored out of fold).
3. Forecasting: rolling origins (``TimeSeriesSplit``) on Airline (12 months
   ahead, modelled as the yearly log growth, as in the Airline gallery
   example) and Uschange (consumption, 8 quarters ahead); a direct LSTM
   (``n_outputs=steps``, ``calibration="cv"``) beside the same conformal
   procedure (out-of-fold absolute errors on the same training windows, per
   step) around a seasonal-naive forecast.

The evaluation splits are validation splits (tweets ``valid``, SST-2 ``dev``,
cross-validation on UCI sentences), which is where the default of
``calibration`` was chosen (docs/uncertainty.rst).

Run from the repository root (data in ``../shared/datasets``)::

    python benchmarks/bench_uncertainty.py            # everything; SST-2 is slow
    python benchmarks/bench_uncertainty.py --quick    # without SST-2
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_accuracy import _sentences, _sst2, _ts, _tweets  # noqa: E402
from scipy.special import softmax  # noqa: E402
from sklearn.metrics import accuracy_score, log_loss  # noqa: E402
from sklearn.model_selection import TimeSeriesSplit  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402

from sklstm import (  # noqa: E402
    LSTMClassifier,
    LSTMRegressor,
    TextSequencer,
    forecast,
    last_window,
    make_windows,
)
from sklstm._conformal import conformal_quantile  # noqa: E402
from sklstm.datasets import shared_datasets_dir  # noqa: E402

COVERAGES = (0.8, 0.95)
ECE_BINS = 15


def ece(proba: np.ndarray, y: np.ndarray, bins: int = ECE_BINS) -> float:
    """Expected calibration error of the top-class probability."""
    conf = proba.max(axis=1)
    correct = proba.argmax(axis=1) == y
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(conf, edges[1:-1]), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            total += mask.mean() * abs(correct[mask].mean() - conf[mask].mean())
    return float(total)


# --- 1. classification ---------------------------------------------------------
CLASSIFICATION = {"tweets": _tweets, "sst2": _sst2, "sentences": _sentences}


#: sets small enough to run over several seeds (one split each)
SMALL_SETS = ("tweets",)


def classify(name, data, seeds=(0,), log=print) -> dict:
    """One row: the mean over the set's folds, or over ``seeds`` on a small set."""
    rows = []
    splits = CLASSIFICATION[name](data)
    runs = [
        (split, X_tr, y_tr, X_te, y_te, seed)
        for split, X_tr, y_tr, X_te, y_te in splits
        for seed in (seeds if name in SMALL_SETS else (0,))
    ]
    for split, X_tr, y_tr, X_te, y_te, seed in runs:
        start = time.perf_counter()
        model = make_pipeline(
            TextSequencer(),
            LSTMClassifier(calibration="temperature", random_state=seed),
        ).fit(X_tr, y_tr)
        clf = model[-1]
        cal = model.predict_proba(X_te)
        # the same network's raw softmax: T * log p_cal = logits + a constant
        raw = softmax(clf.temperature_ * np.log(np.clip(cal, 1e-300, None)), axis=1)
        y = np.searchsorted(clf.classes_, y_te)
        row = {
            "T": clf.temperature_,
            "ece": (ece(raw, y), ece(cal, y)),
            "nll": (log_loss(y, raw, labels=range(raw.shape[1])), log_loss(y, cal)),
            "acc": (
                accuracy_score(y, raw.argmax(1)),
                accuracy_score(y, cal.argmax(1)),
            ),
            "s": time.perf_counter() - start,
        }
        log(f"{name} {split} seed {seed}: {_fmt_class(row)}")
        rows.append(row)
    if len(splits) > 1:
        split = f"{len(splits)}-fold"
    elif len(runs) > 1:
        split = f"{split}, seeds {', '.join(str(r[-1]) for r in runs)}"
    out = {"set": name, "split": split}
    for key in ("T", "ece", "nll", "acc", "s"):
        out[key] = np.mean([r[key] for r in rows], axis=0)
    return out


def _fmt_class(r) -> str:
    return (
        f"T={r['T']:.2f} ECE {r['ece'][0]:.4f}->{r['ece'][1]:.4f} "
        f"NLL {r['nll'][0]:.4f}->{r['nll'][1]:.4f} "
        f"acc {r['acc'][0]:.4f}->{r['acc'][1]:.4f} ({r['s']:.0f} s)"
    )


def class_table(rows) -> str:
    head = (
        "| set | split | T | ECE before | ECE after | log loss before | "
        "log loss after | accuracy before | accuracy after | fit s |\n"
        "|---|---|---|---|---|---|---|---|---|---|"
    )
    lines = [
        f"| {r['set']} | {r['split']} | {r['T']:.2f} | {r['ece'][0]:.4f} | "
        f"{r['ece'][1]:.4f} | {r['nll'][0]:.4f} | {r['nll'][1]:.4f} | "
        f"{r['acc'][0]:.4f} | {r['acc'][1]:.4f} | {r['s']:.0f} |"
        for r in rows
    ]
    return "\n".join([head, *lines])


# --- 2. regression -------------------------------------------------------------
def _hetero(rng, n):
    X = rng.normal(size=(n, 12))
    level = X[:, -3:].sum(axis=1)
    y = level + (0.2 + 0.5 * np.abs(X[:, -1])) * rng.normal(size=n)
    return X, y


def _coverage_row(task, method, y, intervals, seconds) -> dict:
    row = {"task": task, "method": method, "s": seconds}
    for c, (lo, hi) in intervals.items():
        row[c] = (float(np.mean((lo <= y) & (y <= hi))), float(np.mean(hi - lo)))
    return row


def regress(data, log=print) -> list:
    rows = []
    (_, X_tr, y_tr, X_te, y_te) = _ts("regression", "Covid3Month")(data)[0]
    rng = np.random.default_rng(0)
    X_h, y_h = _hetero(rng, 2000)
    X_ht, y_ht = _hetero(rng, 2000)
    for task, method, X, y, Xt, yt in (
        ("Covid3Month", "cv", X_tr, y_tr, X_te, y_te),
        ("heteroscedastic", "auto", X_h, y_h, X_ht, y_ht),
        ("heteroscedastic", "cv", X_h, y_h, X_ht, y_ht),
    ):
        start = time.perf_counter()
        model = LSTMRegressor(calibration=method, random_state=0).fit(X, y)
        seconds = time.perf_counter() - start
        intervals = {c: model.predict_interval(Xt, coverage=c) for c in COVERAGES}
        rows.append(_coverage_row(task, method, yt, intervals, seconds))
        rows[-1]["scores"] = len(model.conformity_scores_)
        log(_fmt_cov(rows[-1]))
    return rows


def _fmt_cov(r) -> str:
    parts = [f"{c:.0%}: cover {r[c][0]:.3f} width {r[c][1]:.4g}" for c in COVERAGES]
    scored = f", {r['scores']} scores" if "scores" in r else ""
    return f"{r['task']} {r['method']}: {'; '.join(parts)} ({r['s']:.0f} s{scored})"


def cov_table(rows) -> str:
    head = (
        "| task | intervals | 80% coverage | 80% mean width | 95% coverage | "
        "95% mean width | fit s |\n|---|---|---|---|---|---|---|"
    )
    lines = [
        f"| {r['task']} | {r['method']} | {r[0.8][0]:.3f} | {r[0.8][1]:.4g} | "
        f"{r[0.95][0]:.3f} | {r[0.95][1]:.4g} | {r['s']:.0f} |"
        for r in rows
    ]
    return "\n".join([head, *lines])


# --- 3. forecasting ------------------------------------------------------------
def _airline(data):
    with open(data / "ts" / "forecasting" / "Airline.csv", newline="") as f:
        y = np.array([float(r["Passengers"]) for r in csv.DictReader(f)])
    return y


def _uschange(data):
    with open(data / "ts" / "forecasting" / "Uschange.csv", newline="") as f:
        return np.array([float(r["Consumption"]) for r in csv.DictReader(f)])


def _seasonal_naive(windows, steps, period):
    """Repeat the last season of each window: (n, steps). ``period=None``:
    the series is already a yearly growth, whose seasonal-naive forecast
    (this month = the same month a year ago) is 0."""
    if period is None:
        return np.zeros((len(windows), steps))
    last = windows[:, -period:, 0]
    return np.tile(last, (1, int(np.ceil(steps / period))))[:, :steps]


def _naive_half_width(series, window, steps, period, coverage):
    """The same conformal procedure around the seasonal-naive forecast:
    per-step absolute errors on the training windows (it fits nothing, so
    every window is out-of-sample for it)."""
    Xw, target = make_windows(series, window=window, n_outputs=steps)
    scores = np.abs(target - _seasonal_naive(Xw, steps, period))
    return conformal_quantile(scores, coverage)


def forecast_set(name, series, *, window, steps, period, n_splits, log=print):
    """Rolling-origin coverage and width of LSTM and seasonal-naive intervals.

    Airline is modelled as its yearly log growth g_t = log y_t - log y_{t-12}
    (seasonal naive: g = 0); intervals are mapped back to passengers with
    y_{t-12} * exp(g), which keeps their coverage.
    """
    if name == "Airline":
        base, target_series = series, np.log(series[12:]) - np.log(series[:-12])
    else:
        base, target_series = None, series
    hits = {(m, c): [] for m in ("lstm", "naive") for c in COVERAGES}
    widths = {(m, c): [] for m in ("lstm", "naive") for c in COVERAGES}
    start = time.perf_counter()
    cv = TimeSeriesSplit(n_splits=n_splits, test_size=steps)
    for train, test in cv.split(target_series):
        g = target_series[train]
        Xw, tw = make_windows(g, window=window, n_outputs=steps)
        model = LSTMRegressor(calibration="cv", random_state=0).fit(Xw, tw)
        naive = _seasonal_naive(last_window(g, window=window), steps, period)[0]
        for c in COVERAGES:
            _, (lo, hi) = forecast(model, g, window=window, steps=steps, coverage=c)
            half = _naive_half_width(g, window, steps, period, c)
            bands = {"lstm": (lo, hi), "naive": (naive - half, naive + half)}
            truth = target_series[test]
            for m, (a, b) in bands.items():
                if base is not None:  # back to passengers
                    prev = base[test]  # y_{t-12} of each test month
                    a, b, t = prev * np.exp(a), prev * np.exp(b), base[test + 12]
                else:
                    t = truth
                hits[m, c].extend((a <= t) & (t <= b))
                widths[m, c].extend(b - a)
    seconds = time.perf_counter() - start
    rows = []
    for m in ("lstm", "naive"):
        row = {"task": name, "method": m, "s": seconds if m == "lstm" else 0.0}
        for c in COVERAGES:
            row[c] = (float(np.mean(hits[m, c])), float(np.mean(widths[m, c])))
        rows.append(row)
        log(_fmt_cov(row))
    return rows


FORECASTS = {
    "Airline": (_airline, dict(window=12, steps=12, period=None, n_splits=3)),
    "Uschange": (_uschange, dict(window=8, steps=8, period=4, n_splits=3)),
}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip SST-2")
    parser.add_argument(
        "--parts",
        nargs="+",
        default=["classify", "regress", "forecast"],
        choices=["classify", "regress", "forecast"],
    )
    parser.add_argument(
        "--sets", nargs="+", choices=list(CLASSIFICATION), help="text sets to run"
    )
    parser.add_argument(
        "--seeds",
        nargs="+",
        type=int,
        default=[0, 1, 2, 3, 4, 5],
        help=f"seeds of the small text sets ({', '.join(SMALL_SETS)})",
    )
    parser.add_argument("--data-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    data = args.data_dir or shared_datasets_dir()
    if data is None:
        sys.exit("needs ../shared/datasets (or --data-dir)")
    start = time.perf_counter()
    tables = []
    if "classify" in args.parts:
        names = args.sets or (
            ["tweets", "sentences"] + ([] if args.quick else ["sst2"])
        )
        tables.append(class_table([classify(n, data, args.seeds) for n in names]))
    cov_rows = []
    if "regress" in args.parts:
        cov_rows += regress(data)
    if "forecast" in args.parts:
        for name, (load, kw) in FORECASTS.items():
            cov_rows += forecast_set(name, load(data), **kw)
    if cov_rows:
        tables.append(cov_table(cov_rows))
    print()
    print("\n\n".join(tables))
    print(f"\ntotal {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
