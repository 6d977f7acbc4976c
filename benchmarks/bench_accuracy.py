"""Accuracy of sklstm's defaults and of its stronger recipe beside simple baselines.

One table: set, split, baseline, sklstm defaults, the stronger recipe (see
docs/accuracy.rst), the ablation on the long series (the default's windows
without the LSTM), and fit seconds, each on the same split. Baselines: TF-IDF
word 1-2 grams (character 1-2 grams for Chinese) + ``LogisticRegression(C=10)``
for text; 1-NN Euclidean for series classification; ``RidgeCV`` on the
flattened, standardised series for regression (RMSE, lower is better). The
series, the tweets, UCI sentences and waimai run the defaults over seeds 0-2
(the estimators' ``random_state``; the split is the official one; SMS and
SST-2 seed 0; its dev and test rows score one fit); the table shows the
mean and, in brackets, half the spread. The defaults train three small networks for text
(``n_members="auto"``) and one for series. The recipe is, for text, the
defaults with five members instead of three (``n_members=5``, over the same
seeds as the defaults; until 2026-12-06, when ``pooling="concat"`` became the
default for text, the recipe was that pooling); for series, one ensemble of
three default networks (seeds 0, 1, 2).
``--contenders en`` (not run by default; English text sets only):
``LSTMClassifier(pretrained="en")``, fine-tuned from the English language
model shipped with sklstm, raw text in (docs/pretraining.rst has the
pre-training contenders: ``bench_pretraining.py``).
``--contenders single`` (not run by default): one network of the former
default size (``n_members=1``), what the members add. ``--contenders
members`` (series only, not run by default): ``n_members=3`` inside one
estimator, the built-in alternative to the series recipe (one seed).

Nothing here chooses defaults: they were chosen on validation splits carved
out of the training data (docs/accuracy.rst says which); this script only
reports the official splits.

Run from the repository root (data in ``../shared/datasets``)::

    python benchmarks/bench_accuracy.py            # every set, < 40 min on 2 cores
    python benchmarks/bench_accuracy.py --quick    # a subset, < 5 min
    python benchmarks/bench_accuracy.py --sets tweets OSULeaf --contenders default
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import os
import pickle
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sklearn.ensemble import VotingClassifier, VotingRegressor  # noqa: E402
from sklearn.metrics import accuracy_score  # noqa: E402
from sklearn.model_selection import StratifiedKFold, train_test_split  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402

from sklstm import LSTMClassifier, LSTMRegressor, TextSequencer  # noqa: E402
from sklstm._baselines import one_nn_predict, ridge_predict, text_baseline  # noqa: E402
from sklstm.datasets import (  # noqa: E402
    load_financial_tweets,
    load_sentiment_sentences,
    load_ts_file,
    load_waimai_reviews,
    shared_datasets_dir,
)

# --- contenders: what sklstm runs ---------------------------------------------
#: the stronger recipe for series documented in docs/accuracy.rst: the
#: defaults, trained with this many seeds and averaged (soft voting)
RECIPE_MEMBERS = 3
#: the stronger recipe for text: the defaults with these settings
TEXT_RECIPE = {"n_members": 5}


class PatchesWithoutLSTM:
    """Ablation: the default's windows without the LSTM.

    The same standardisation and windows (``sklstm._patching``) as the
    default on a long series, pooled over each series' windows (the mean, as
    the default pools, and the maximum, which keeps more of the shape) into
    one vector, then a linear layer trained with Adam (lr 3e-3, batches of
    64, 800 steps). If this were as good as the whole, the windows and not the
    LSTM would be doing the work.
    """

    def __init__(self, seed):
        self.seed = seed

    def _features(self, X):
        import torch

        from sklstm._patching import patch

        x = torch.as_tensor(np.asarray(X, dtype=np.float32))
        if x.dim() == 2:
            x = x[:, :, None]
        x = (x - self.mean_) / self.scale_
        lengths = torch.full((len(x),), x.shape[1])
        windows, n = patch(x, lengths, self.size_, max(1, self.size_ // 2))
        return torch.cat([windows.sum(1) / n[:, None], windows.amax(1)], dim=1)

    def fit(self, X, y):
        import torch

        from sklstm._defaults import resolve_patch

        x = np.asarray(X, dtype=np.float32)
        x3 = x[:, :, None] if x.ndim == 2 else x
        self.mean_ = torch.as_tensor(x3.mean(axis=(0, 1)))
        self.scale_ = torch.as_tensor(x3.std(axis=(0, 1)) + 1e-12)
        self.size_, _ = resolve_patch("auto", "numeric", x.shape[1])
        self.classes_, target = np.unique(y, return_inverse=True)
        g = torch.Generator().manual_seed(self.seed)
        z = self._features(X)
        self.head_ = torch.nn.Linear(z.shape[1], len(self.classes_))
        with torch.no_grad():
            self.head_.weight.normal_(0, 0.1, generator=g)
        opt = torch.optim.Adam(self.head_.parameters(), lr=3e-3)
        t = torch.as_tensor(target)
        for _ in range(800):
            idx = torch.randperm(len(z), generator=g)[:64]
            loss = torch.nn.functional.cross_entropy(self.head_(z[idx]), t[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        return self

    def predict(self, X):
        import torch

        with torch.no_grad():
            return self.classes_[self.head_(self._features(X)).argmax(1).numpy()]


def sklstm_model(kind: str, contender: str, seed: int):
    """A fresh model of ``contender`` for ``kind`` ("text", "series", "regression")."""
    if contender == "ablation":
        return PatchesWithoutLSTM(seed)
    if contender == "en":  # the English model shipped with sklstm; raw text in
        return LSTMClassifier(pretrained="en", random_state=seed)
    if contender == "recipe" and kind == "text":
        return make_pipeline(
            TextSequencer(), LSTMClassifier(random_state=seed, **TEXT_RECIPE)
        )
    if contender == "recipe":
        members = [
            (f"seed{k}", sklstm_model(kind, "default", RECIPE_MEMBERS * seed + k))
            for k in range(RECIPE_MEMBERS)
        ]
        if kind == "regression":
            return VotingRegressor(members)
        return VotingClassifier(members, voting="soft")
    # "refit": the defaults with refit=True (train again on all the data for
    # the epochs early stopping chose; docs/accuracy.rst); "single": one
    # network of the single-network sizes; "members": series trained as
    # RECIPE_MEMBERS members inside one estimator
    options = {
        "refit": {"refit": True},
        "single": {"n_members": 1},
        "members": {"n_members": RECIPE_MEMBERS},
    }.get(contender, {})
    if kind == "text":
        return make_pipeline(
            TextSequencer(), LSTMClassifier(random_state=seed, **options)
        )
    if kind == "series":
        return LSTMClassifier(random_state=seed, **options)
    return LSTMRegressor(random_state=seed, **options)


# --- data -------------------------------------------------------------------------
def _read_tsv(path, label_first=True):
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    return rows


def _sms(data):
    rows = _read_tsv(data / "sms_spam_collection" / "SMSSpamCollection")
    y = np.array([r[0] for r in rows])
    X = [r[1] for r in rows]
    tr, te = train_test_split(
        np.arange(len(X)), test_size=0.2, stratify=y, random_state=0
    )
    return [("80/20 seed 0", [X[i] for i in tr], y[tr], [X[i] for i in te], y[te])]


def _sst2(data):
    def read(name):
        rows = _read_tsv(data / "sst2_glue" / name)[1:]  # header
        return [r[1] for r in rows], np.array([int(r[0]) for r in rows])

    X_tr, y_tr = read("train.tsv")
    X_te, y_te = read("dev.tsv")
    return [("train -> dev", X_tr, y_tr, X_te, y_te)]


def _sst2_test(data):
    """SST-2 train -> its labelled test split (1,821 sentences; see SOURCE.md)."""
    ((_, X_tr, y_tr, _, _),) = _sst2(data)
    rows = _read_tsv(data / "sst2_glue" / "test.tsv")[1:]  # header
    X_te, y_te = [r[1] for r in rows], np.array([int(r[0]) for r in rows])
    return [("train -> test", X_tr, y_tr, X_te, y_te)]


def _tweets(data):
    tr = load_financial_tweets(subset="train")
    va = load_financial_tweets(subset="valid")
    return [("train -> valid", tr.data, tr.target, va.data, va.target)]


def _sentences(data):
    X, y = load_sentiment_sentences(return_X_y=True)
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    return [
        (f"5-fold, fold {k}", [X[i] for i in tr], y[tr], [X[i] for i in te], y[te])
        for k, (tr, te) in enumerate(cv.split(X, y))
    ]


def _waimai(data):
    X, y = load_waimai_reviews(data_home=data, return_X_y=True)
    tr, te = train_test_split(
        np.arange(len(X)), test_size=0.2, stratify=y, random_state=0
    )
    return [("80/20 seed 0", [X[i] for i in tr], y[tr], [X[i] for i in te], y[te])]


def _ts(task, name):
    def load(data):
        folder = data / "ts" / task / name
        X_tr, y_tr = load_ts_file(folder / f"{name}_TRAIN.ts")
        X_te, y_te = load_ts_file(folder / f"{name}_TEST.ts")
        return [("train -> test", X_tr, y_tr, X_te, y_te)]

    return load


def _spectra(data):
    """Generated spectra, like near-infrared meat spectra (172 train, 43 test).

    100 wavelengths; each spectrum is three Gaussian absorption bands weighted
    by the sample's fat / water / protein shares (Dirichlet, 60% in all),
    on a random offset and slope, times a random scatter factor, plus noise;
    the target is the fat share. A linear functional of the curve by
    construction: the case of docs/accuracy.rst where a linear model is
    enough. Generated with seed 0 (the estimators' seeds vary).
    """
    rng = np.random.default_rng(0)
    n, w = 215, np.linspace(0, 1, 100)
    bands = np.stack(
        [
            np.exp(-(((w - c) / s) ** 2))
            for c, s in [(0.3, 0.08), (0.5, 0.1), (0.7, 0.06)]
        ]
    )
    shares = rng.dirichlet([2, 2, 2], size=n) * 60
    base = rng.normal(3, 0.4, size=(n, 1)) + rng.normal(0, 0.3, size=(n, 1)) * w
    scatter = rng.normal(1, 0.1, size=(n, 1))
    X = scatter * (base + shares @ bands * 0.02) + rng.normal(0, 0.01, size=(n, 100))
    X, y = X.astype(np.float32)[:, :, None], shares[:, 0]
    return [("generated, 172 -> 43", X[:172], y[:172], X[172:], y[172:])]


#: name -> (kind, loader, seeds, analyzer for the text baseline)
SETS = {
    "tweets": ("text", _tweets, (0, 1, 2), "word"),
    "sentences": ("text", _sentences, (0, 1, 2), "word"),
    "waimai_10k": ("text", _waimai, (0, 1, 2), "char"),
    "sms_spam": ("text", _sms, (0,), "word"),
    "sst2": ("text", _sst2, (0,), "word"),
    "sst2_test": ("text", _sst2_test, (0,), "word"),
    "GunPoint": ("series", _ts("classification", "GunPoint"), (0, 1, 2), None),
    "BasicMotions": ("series", _ts("classification", "BasicMotions"), (0, 1, 2), None),
    "JapaneseVowels": (
        "series",
        _ts("classification", "JapaneseVowels"),
        (0, 1, 2),
        None,
    ),
    "OSULeaf": ("series", _ts("classification", "OSULeaf"), (0, 1, 2), None),
    "ACSF1": ("series", _ts("classification", "ACSF1"), (0, 1, 2), None),
    "Covid3Month": ("regression", _ts("regression", "Covid3Month"), (0, 1, 2), None),
    "spectra": ("regression", _spectra, (0, 1, 2), None),
}
QUICK = ["tweets", "GunPoint", "OSULeaf", "Covid3Month"]
#: the English text sets (``--contenders en`` runs on these only)
ENGLISH = ["tweets", "sentences", "sms_spam", "sst2", "sst2_test"]
#: the long series, read in patches by default (the ablation runs on these)
LONG = ["OSULeaf", "ACSF1"]


# --- running ------------------------------------------------------------------------
def _score(kind, y_true, y_pred):
    if kind == "regression":
        return float(np.sqrt(np.mean((np.asarray(y_pred) - y_true) ** 2)))
    return float(accuracy_score(y_true, y_pred))


def _baseline(kind, analyzer, X_tr, y_tr, X_te):
    if kind == "text":
        return text_baseline(analyzer=analyzer).fit(X_tr, y_tr).predict(X_te)
    if kind == "series":
        return one_nn_predict(X_tr, y_tr, X_te)
    return ridge_predict(X_tr, y_tr, X_te)


#: (kind, contender, seed, training data digest) -> (fitted model, fit seconds):
#: sets that share their training data (SST-2's dev and test rows) fit once
_FITTED: dict = {}


def fitted(key, make, X_tr, y_tr):
    """``make()`` fitted on ``X_tr, y_tr``, and the seconds its fit took;
    fitted once per ``key`` and training data (also bench_pretraining.py's)."""
    digest = hashlib.sha256(pickle.dumps((X_tr, y_tr), protocol=5)).hexdigest()
    key = (*key, digest)
    if key not in _FITTED:
        model = make()
        start = time.perf_counter()
        model.fit(X_tr, y_tr)
        _FITTED[key] = (model, time.perf_counter() - start)
    return _FITTED[key]


def _fitted(kind, contender, seed, X_tr, y_tr):
    """A model of ``contender`` fitted on ``X_tr, y_tr``, and its fit seconds."""
    return fitted(
        (kind, contender, seed), lambda: sklstm_model(kind, contender, seed), X_tr, y_tr
    )


def run_set(name, data, contenders, *, quick=False, log=print):
    kind, loader, seeds, analyzer = SETS[name]
    if quick:
        seeds = seeds[:1]
    splits = loader(data)
    row = {"set": name, "kind": kind, "split": splits[0][0].split(",")[0]}
    base = [_score(kind, s[4], _baseline(kind, analyzer, *s[1:4])) for s in splits]
    row["baseline"] = float(np.mean(base))
    for contender in contenders:
        skip = (
            (contender == "ablation" and not (kind == "series" and name in LONG))
            or (contender == "single" and kind != "text")
            or (contender == "members" and kind == "text")
            or (contender == "en" and name not in ENGLISH)
        )
        if skip:
            row[contender], row[f"{contender}_spread"] = float("nan"), 0.0
            row[f"{contender}_fit_s"] = float("nan")
            row[f"{contender}_seeds"] = 0
            continue
        scores, seconds = [], []
        # the series recipe trains RECIPE_MEMBERS networks: one ensemble only
        one = contender in ("recipe", "members") and kind != "text"
        for seed in seeds[:1] if one else seeds:
            per_split = []
            for _split, X_tr, y_tr, X_te, y_te in splits:
                model, fit_s = _fitted(kind, contender, seed, X_tr, y_tr)
                seconds.append(fit_s)
                per_split.append(_score(kind, y_te, model.predict(X_te)))
            scores.append(float(np.mean(per_split)))
            log(
                f"  {name} {contender} seed {seed}: {scores[-1]:.4f} ({seconds[-1]:.1f} s)"
            )
        row[f"{contender}_seeds"] = len(scores)
        row[contender] = float(np.mean(scores))
        row[f"{contender}_spread"] = float(np.ptp(scores)) if len(scores) > 1 else 0.0
        row[f"{contender}_fit_s"] = float(np.mean(seconds))
    row["seeds"] = len(seeds)
    return row


def _cell(row, contender) -> str:
    if np.isnan(row[contender]):
        return "-"
    spread = row[contender + "_spread"] / 2
    seeds = row[contender + "_seeds"]
    return f"{row[contender]:.4f}" + (f" (±{spread:.4f})" if seeds > 1 else "")


def table(rows, contenders) -> str:
    head = (
        "| set | split | baseline | "
        + " | ".join(f"sklstm {c}" for c in contenders)
        + " | "
        + " | ".join(f"fit s ({c})" for c in contenders)
        + " | seeds |"
    )
    lines = [head, "|" + "---|" * (4 + 2 * len(contenders))]
    for r in rows:
        metric = "RMSE " if r["kind"] == "regression" else ""
        cells = [_cell(r, c) for c in contenders]
        fits = [
            "-" if np.isnan(r[c + "_fit_s"]) else f"{r[c + '_fit_s']:.1f}"
            for c in contenders
        ]
        lines.append(
            f"| {r['set']} | {r['split']} | {metric}{r['baseline']:.4f} | "
            + " | ".join(cells)
            + " | "
            + " | ".join(fits)
            + f" | {r['seeds']} |"
        )
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"only {QUICK}, seed 0")
    parser.add_argument("--sets", nargs="+", choices=list(SETS))
    parser.add_argument(
        "--contenders",
        nargs="+",
        default=["default", "recipe", "ablation"],
        choices=["default", "refit", "recipe", "single", "members", "ablation", "en"],
    )
    parser.add_argument("--data-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    data = args.data_dir or shared_datasets_dir()
    if data is None:
        sys.exit("needs ../shared/datasets (or --data-dir)")
    names = args.sets or (QUICK if args.quick else list(SETS))
    print(
        f"torch threads: {os.environ.get('OMP_NUM_THREADS', 'default')}; sets: {names}"
    )
    rows = []
    start = time.perf_counter()
    for name in names:
        rows.append(run_set(name, data, args.contenders, quick=args.quick))
    print()
    print(table(rows, args.contenders))
    print(f"\ntotal {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
