"""Validation-split study of training settings and seed ensembles (text).

Run from the repository root::

    python benchmarks/studies/training_study.py --sets tweets sentences --seeds 0 1 2
    python benchmarks/studies/training_study.py --variants default small small_x3 --jsonl runs.jsonl

Never on the evaluation splits: each set's training part (as
``bench_accuracy.py`` loads it) is carved into a stratified 80% to fit on and
20% to score, carve seed = the estimator's ``random_state``. Variants change
one setting of ``make_pipeline(TextSequencer(), LSTMClassifier(**BASE))``
(one network at the single-network sizes, with the last state and hard
labels: the defaults before 2026-12-03, so that every recorded figure keeps
its meaning; ``members`` is the built-in ``n_members="auto"`` as it was
until 2026-12-06, ``members_ls_concat`` today's defaults);
``*_x3`` average the probabilities of three networks fitted with seeds
``seed``, ``seed + 1000``, ``seed + 2000`` on one shared ``TextSequencer``.
The figures of 2026-12-03 are in docs/accuracy.rst.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

_HERE = os.path.dirname(os.path.abspath(__file__))
_BENCHMARKS = os.path.dirname(_HERE)
sys.path.insert(0, _BENCHMARKS)  # bench_accuracy
sys.path.insert(0, os.path.dirname(_BENCHMARKS))  # this checkout

import bench_accuracy as ba  # noqa: E402
from sklearn.feature_extraction.text import TfidfVectorizer  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.model_selection import GroupShuffleSplit, train_test_split  # noqa: E402

import sklstm._base as sklstm_base  # noqa: E402
from sklstm import LSTMClassifier, TextSequencer  # noqa: E402
from sklstm._leakage import sequence_groups  # noqa: E402
from sklstm._validation import _lengths_from_tokens  # noqa: E402
from sklstm.datasets import shared_datasets_dir  # noqa: E402

DATA = shared_datasets_dir()
LOADERS = {
    "tweets": ba._tweets,
    "sentences": ba._sentences,
    "waimai_10k": ba._waimai,
    "sst2": ba._sst2,
}
SMALL = {"hidden_size": 64, "embedding_dim": 64}
#: what every variant starts from (see the docstring)
BASE = {"n_members": 1, "pooling": "last", "label_smoothing": 0.0}
#: variant -> (LSTMClassifier settings, members)
VARIANTS = {
    "default": ({}, 1),
    "bs32": ({"batch_size": 32}, 1),
    "adamw05": ({"optimizer": "adamw", "weight_decay": 0.05}, 1),
    "plateau": ({"lr_schedule": "plateau"}, 1),
    "drop05": ({"dropout": 0.5}, 1),
    "bidirectional": ({"bidirectional": True}, 1),
    "hidden256": ({"hidden_size": 256}, 1),
    "small": (SMALL, 1),
    "small_x3": (SMALL, 3),
    "small_concat_x3": ({**SMALL, "pooling": "concat"}, 3),
    "small_x5": (SMALL, 5),
    # the same members, all stopped early on the first member's split
    "small_x3_shared": (SMALL, 3),
    "default_x3": ({}, 3),
    # the built-in members (n_members="auto": three small members on one
    # shared split), the default for token ids since 2026-12-03
    "members": ({"n_members": "auto"}, 1),
    # the built-in members at another learning rate / dropout (2026-12-04)
    "members_lr5e3": ({"n_members": "auto", "lr": 5e-3}, 1),
    "members_lr2e3": ({"n_members": "auto", "lr": 2e-3}, 1),
    "members_drop01": ({"n_members": "auto", "dropout": 0.1}, 1),
    # diverse members (2026-12-04): one settings dict per member
    "small_mixedpool_x3_shared": (
        [{**SMALL, "pooling": p} for p in ("last", "max", "mean")],
        3,
    ),
    "small_max_x3_shared": ({**SMALL, "pooling": "max"}, 3),
    # the built-in members with label smoothing, and with the last state,
    # mean and maximum side by side (2026-12-06; the second is the default
    # since then), or with max pooling, or five of them
    "members_ls": ({"n_members": "auto", "label_smoothing": 0.1}, 1),
    "members_ls_concat": (
        {"n_members": "auto", "label_smoothing": 0.1, "pooling": "concat"},
        1,
    ),
    "members_ls_max": (
        {"n_members": "auto", "label_smoothing": 0.1, "pooling": "max"},
        1,
    ),
    "members5_ls_concat": (
        {"n_members": 5, "label_smoothing": 0.1, "pooling": "concat"},
        1,
    ),
    # one change each to today's defaults (2026-12-06, second study)
    "members_ls02_concat": (
        {"n_members": "auto", "label_smoothing": 0.2, "pooling": "concat"},
        1,
    ),
    "members_ls_concat_emb128": (
        {
            "n_members": "auto",
            "label_smoothing": 0.1,
            "pooling": "concat",
            "embedding_dim": 128,
        },
        1,
    ),
    "members_ls_concat_tdrop01": (
        {
            "n_members": "auto",
            "label_smoothing": 0.1,
            "pooling": "concat",
            "token_dropout": 0.1,
        },
        1,
    ),
    "members_ls_concat_tdrop04": (
        {
            "n_members": "auto",
            "label_smoothing": 0.1,
            "pooling": "concat",
            "token_dropout": 0.4,
        },
        1,
    ),
    "members_ls_concat_patience10": (
        {
            "n_members": "auto",
            "label_smoothing": 0.1,
            "pooling": "concat",
            "n_iter_no_change": 10,
        },
        1,
    ),
    "members_ls_concat_patience3": (
        {
            "n_members": "auto",
            "label_smoothing": 0.1,
            "pooling": "concat",
            "n_iter_no_change": 3,
        },
        1,
    ),
    "members_ls_concat_clip5": (
        {
            "n_members": "auto",
            "label_smoothing": 0.1,
            "pooling": "concat",
            "max_grad_norm": 5.0,
        },
        1,
    ),
    "members_ls_concat_drop03": (
        {
            "n_members": "auto",
            "label_smoothing": 0.1,
            "pooling": "concat",
            "dropout": 0.3,
        },
        1,
    ),
    # 2026-12-06, third study: stop on the held-out loss (a study switch,
    # see _stop_on_loss), and a smaller shared early-stopping split
    "members_ls_concat_stoploss": (
        {"n_members": "auto", "label_smoothing": 0.1, "pooling": "concat"},
        1,
    ),
    "members_ls_concat_vf05": (
        {
            "n_members": "auto",
            "label_smoothing": 0.1,
            "pooling": "concat",
            "validation_fraction": 0.05,
        },
        1,
    ),
}


def carve(name: str, seed: int, data: Path = DATA):
    """The 80/20 stratified carve of a set's training part.

    SST-2's training phrases are cut from sentences: it is carved 90/10 by
    groups of phrases (:mod:`sklstm._leakage`), and scored on the longest
    phrase of each held-out group, a sentence as in its dev split.
    """
    _, X, y, _, _ = LOADERS[name](data)[0]
    if name == "sst2":
        return _carve_phrases(X, y, seed)
    tr, va = train_test_split(
        np.arange(len(X)), test_size=0.2, stratify=y, random_state=seed
    )
    return [X[i] for i in tr], y[tr], [X[i] for i in va], y[va]


def _carve_phrases(X, y, seed: int):
    ids = TextSequencer().fit_transform(X)
    groups = sequence_groups(ids, _lengths_from_tokens(ids))
    split = GroupShuffleSplit(1, test_size=0.1, random_state=seed)
    tr, va = next(split.split(X, y, groups))
    longest = {}
    n_words = [len(X[i].split()) for i in va]
    for j, g in enumerate(groups[va]):
        if g not in longest or n_words[j] > n_words[longest[g]]:
            longest[g] = j
    va = va[sorted(longest.values())]
    return [X[i] for i in tr], y[tr], [X[i] for i in va], y[va]


@contextlib.contextmanager
def _one_split(shared: bool):
    """With ``shared``, every fit inside holds out the first fit's rows.

    A study switch only: it replaces the split function that the estimators'
    fit calls (its seed argument is the only thing changed).
    """
    if not shared:
        yield
        return
    original, first = sklstm_base.validation_split, []

    def split(n, y, fraction, seed, **kw):
        first.append(seed)
        return original(n, y, fraction, first[0], **kw)

    sklstm_base.validation_split = split
    try:
        yield
    finally:
        sklstm_base.validation_split = original


@contextlib.contextmanager
def _stop_on_loss(on: bool):
    """With ``on``, early stopping watches the held-out loss, not accuracy.

    A study switch only: it replaces the stop that the estimators' fit
    builds (``sklstm._callbacks.stopping_callback``); best weights are kept
    as before, by the lowest held-out loss.
    """
    if not on:
        yield
        return
    import sklstm._callbacks as callbacks

    original = callbacks.stopping_callback

    def stop(early, **kwargs):
        callback = original(early, **kwargs)
        if early:  # the same stop, watching the loss
            callback.monitor, callback.lower_is_better = "valid_loss", True
        return callback

    callbacks.stopping_callback = stop
    try:
        yield
    finally:
        callbacks.stopping_callback = original


def run(name: str, seed: int, variant: str, data: Path = DATA) -> dict:
    X_tr, y_tr, X_va, y_va = carve(name, seed, data)
    t0 = time.perf_counter()
    if variant == "tfidf":
        analyzer = "char" if name == "waimai_10k" else "word"
        vec = TfidfVectorizer(analyzer=analyzer, ngram_range=(1, 2), sublinear_tf=True)
        clf = LogisticRegression(C=10, max_iter=2000)
        clf.fit(vec.fit_transform(X_tr), y_tr)
        pred = clf.predict(vec.transform(X_va))
    else:
        params, members = VARIANTS[variant]
        seq = TextSequencer().fit(X_tr)
        S_tr, S_va = seq.transform(X_tr), seq.transform(X_va)
        proba = 0.0
        with (
            _one_split(variant.endswith("_shared")),
            _stop_on_loss(variant.endswith("_stoploss")),
        ):
            for k in range(members):
                # BASE unless the variant says: a variant is one network
                # (or an ensemble of them) at the single defaults
                own = params[k] if isinstance(params, list) else params
                model = LSTMClassifier(random_state=seed + 1000 * k, **{**BASE, **own})
                proba = proba + model.fit(S_tr, y_tr).predict_proba(S_va)
        pred = model.classes_[np.argmax(proba, axis=1)]
    return {
        "set": name,
        "seed": seed,
        "variant": variant,
        "accuracy": float(np.mean(pred == y_va)),
        "fit_s": time.perf_counter() - t0,
    }


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--sets",
        nargs="+",
        default=["tweets", "sentences", "waimai_10k"],
        choices=list(LOADERS),
    )
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument(
        "--variants",
        nargs="+",
        default=["tfidf", *VARIANTS],
        choices=["tfidf", *VARIANTS],
    )
    p.add_argument("--jsonl", default=None, help="append every run to this file")
    args = p.parse_args(argv)
    rows = []
    for name in args.sets:
        for seed in args.seeds:
            for variant in args.variants:
                row = run(name, seed, variant)
                rows.append(row)
                print(json.dumps(row), flush=True)
                if args.jsonl:
                    with open(args.jsonl, "a") as f:
                        f.write(json.dumps(row) + "\n")
    print(
        "\n| set | variant | mean accuracy | seeds | mean fit s |\n|---|---|---|---|---|"
    )
    for name in args.sets:
        for variant in args.variants:
            sel = [r for r in rows if r["set"] == name and r["variant"] == variant]
            acc = np.mean([r["accuracy"] for r in sel])
            fit = np.mean([r["fit_s"] for r in sel])
            print(f"| {name} | {variant} | {acc:.4f} | {len(sel)} | {fit:.1f} |")


if __name__ == "__main__":
    main()
