"""Validation-carve study of fine-tuning a pretrained language model (``pretrained=``).

Run from the repository root, with language models that
``benchmarks/pretrain.py`` wrote (``.sklstm`` files, or checkpoints of a
pre-training still under way)::

    python benchmarks/studies/pretraining_study.py --sets sentences \\
        --lm sentences=runs/imdb.sklstm --variants scratch tfidf pt pt_lr1e2
    python benchmarks/studies/pretraining_study.py --sets tweets \\
        --lm tweets=runs/wikipedia.sklstm --seeds 0 1 2 --jsonl study.jsonl

Never on the evaluation splits: each set's training part (as
``benchmarks/bench_accuracy.py`` loads it; UCI sentences: fold 0's training
part) is carved into a stratified 80% to fit on and 20% to score, carve seed
= the estimator's ``random_state``. Variants (``--variants``):

* ``scratch``: today's default pipeline, ``TextSequencer() + LSTMClassifier()``;
* ``scratch256``: the pretrained network's sizes (256, one network) from
  random weights, with the defaults' training;
* ``tfidf``: TF-IDF + logistic regression (sklstm's text baseline);
* ``pt``: ``LSTMClassifier(pretrained=lm)`` at its defaults;
* ``pt_lr1e2`` / ``pt_lr1e3``: learning rate 1e-2 / 1e-3 (default 3e-3);
* ``pt_flat``: no gradual unfreezing (every layer trains from the first epoch);
* ``pt_same_lr`` (until 2026-12-07, when discriminative rates were the
  default): every layer at ``lr``; ``pt_disc``: ULMFiT's discriminative rates
  (each layer 2.6 times slower than the one above) at lr 1e-2;
* ``pt_const``: a constant learning rate instead of the slanted triangle;
* ``pt_td0`` / ``pt_td10``: word dropout 0 / 0.1 (default 0.25);
* ``pt_lm1`` / ``pt_lm3`` / ``pt_lm5``: the language model fine-tuned 1 / 3 /
  5 epochs on the training texts; ``pt_lm0x``: not at all (since 2026-12-07
  ``lm_epochs=1`` is the default);
* ``pt_ep5`` / ``pt_ep20``: an epoch budget of 5 / 20 (default 10);
* ``pt_nols``: no label smoothing; ``pt_ep30``: 30 epochs;
* ``pt_bs16`` / ``pt_bs32``: batches of 16 / 32 (default 64);
* ``pt_m3``: three members, each started from the language model;
* ``pt_do5``: dropout 0.5 before the output layer (default 0.2);
* ``pt_lr3e2`` / ``pt_lr2e2``: learning rate 3e-2 / 2e-2; ``pt_freeze``: the embedding kept fixed.

Variants combine with ``+``: ``pt_flat+pt_const+pt_lr1e2``.

The three ablations (``pt_flat``, ``pt_same_lr``, ``pt_const``) switch a part
of the recipe off for the run by replacing a function of the library (study
switches, restored afterwards). Results are appended to ``--jsonl`` and
summarised per set and variant (mean over seeds, paired difference to
``pt``). The figures are in docs/pretraining.rst.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from pathlib import Path

import numpy as np

_BENCHMARKS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(_BENCHMARKS))
sys.path.insert(0, str(_BENCHMARKS.parent))

import bench_accuracy as ba  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402

import sklstm  # noqa: E402
from sklstm import LSTMClassifier, TextSequencer  # noqa: E402
from sklstm._baselines import text_baseline  # noqa: E402

#: variant -> LSTMClassifier settings on top of pretrained=lm
SETTINGS = {
    "pt": {},
    "pt_lr1e2": {"lr": 1e-2},
    "pt_lr1e3": {"lr": 1e-3},
    "pt_flat": {},
    "pt_same_lr": {},
    "pt_const": {},
    "pt_td0": {"token_dropout": 0.0},
    "pt_td10": {"token_dropout": 0.1},
    "pt_disc": {
        "optimizer_kwargs": {
            "param_groups": [
                ("*forward_layers.0.*", {"lr": 1e-2 / 2.6}),
                ("*embedding.*", {"lr": 1e-2 / 2.6**2}),
            ]
        }
    },
    "pt_lm1": {"lm_epochs": 1},
    "pt_lm0x": {"lm_epochs": 0},
    "pt_lm3": {"lm_epochs": 3},
    "pt_lm5": {"lm_epochs": 5},
    "pt_ep5": {"max_epochs": 5},
    "pt_ep20": {"max_epochs": 20},
    "pt_nols": {"label_smoothing": 0.0},
    "pt_ep30": {"max_epochs": 30},
    "pt_bs16": {"batch_size": 16},
    "pt_bs32": {"batch_size": 32},
    "pt_m3": {"n_members": 3},
    "pt_do5": {"dropout": 0.5},
    "pt_lr3e2": {"lr": 3e-2},
    "pt_lr2e2": {"lr": 2e-2},
    "pt_freeze": {"freeze_embeddings": True},
}


#: the parts of the recipe a variant can switch off: (module, attribute,
#: replacement)
def _switches():
    import sklstm._callbacks as cb

    return {
        "pt_flat": (cb._GradualUnfreezing, "on_epoch_begin", lambda s, n, **k: None),
        "pt_const": (cb.SlantedTriangular, "__call__", lambda self, step: 1.0),
    }


@contextlib.contextmanager
def switched_off(variant: str):
    """Study switches: parts of the fine-tuning recipe off for the run.

    ``variant`` may combine several with ``+`` (``pt_flat+pt_const``).
    """
    switches = _switches()
    saved = []
    for part in variant.split("+"):
        if part in switches:
            owner, name, replacement = switches[part]
            saved.append((owner, name, getattr(owner, name)))
            setattr(owner, name, replacement)
    try:
        yield
    finally:
        for owner, name, original in reversed(saved):
            setattr(owner, name, original)


def settings_of(variant: str) -> dict:
    """The LSTMClassifier settings of a (possibly combined) variant."""
    out = {}
    for part in variant.split("+"):
        out.update(SETTINGS.get(part, {}))
    return out


def load_lm(path: str):
    """A fitted language model from an ``.sklstm`` file or a checkpoint."""
    if not path.endswith(".ckpt"):
        return sklstm.load(path)
    import torch

    from sklstm import LSTMLanguageModel
    from sklstm._lm_checkpoint import RESUME_SETTINGS, read_checkpoint
    from sklstm._lm_training import Progress

    payload = read_checkpoint(path)
    settings = {k: payload["settings"][k] for k in RESUME_SETTINGS}
    lm = LSTMLanguageModel(**settings, random_state=payload["seed"])
    progress = lm._restore(payload, torch.device("cpu"))[0]
    assert isinstance(progress, Progress)
    lm.n_iter_, lm.n_steps_ = progress.epoch, progress.step
    lm.n_tokens_seen_ = progress.tokens
    lm.module_.eval()
    lm._drop_transient()
    return lm


def carve(name: str, seed: int):
    """(X_fit, y_fit, X_val, y_val): a stratified 20% of the training part."""
    kind, loader, _, analyzer = ba.SETS[name]
    _split, X, y, _, _ = loader(ba.shared_datasets_dir())[0]
    idx = np.arange(len(X))
    fit, val = train_test_split(idx, test_size=0.2, stratify=y, random_state=seed)
    return [X[i] for i in fit], y[fit], [X[i] for i in val], y[val], analyzer


def run(name, variant, seed, lm):
    X_fit, y_fit, X_val, y_val, analyzer = carve(name, seed)
    start = time.perf_counter()
    if variant == "tfidf":
        model = text_baseline(analyzer=analyzer).fit(X_fit, y_fit)
        extra = {}
    elif variant.startswith("scratch"):
        # scratch256: the pretrained network's sizes, from random weights
        sizes = dict(embedding_dim=256, hidden_size=256, n_members=1)
        options = sizes if variant == "scratch256" else {}
        model = make_pipeline(
            TextSequencer(), LSTMClassifier(random_state=seed, **options)
        )
        model.fit(X_fit, y_fit)
        extra = {"epochs": model[-1].n_iter_}
    else:
        model = LSTMClassifier(pretrained=lm, random_state=seed, **settings_of(variant))
        with switched_off(variant):
            model.fit(X_fit, y_fit)
        extra = {"epochs": model.n_iter_, "coverage": model.vocabulary_coverage_}
    fit_s = time.perf_counter() - start
    acc = float(np.mean(model.predict(X_val) == y_val))
    return {
        "set": name,
        "variant": variant,
        "seed": seed,
        "acc": acc,
        "fit_s": fit_s,
        **extra,
    }


def summary(rows) -> str:
    lines = [
        "| set | variant | n | mean acc | vs pt | per seed | fit s | epochs |",
        "|---|---|---|---|---|---|---|---|",
    ]
    by = {}
    for r in rows:
        by.setdefault((r["set"], r["variant"]), []).append(r)
    for (name, variant), rs in by.items():
        ref = {r["seed"]: r["acc"] for r in by.get((name, "pt"), [])}
        paired = [r["acc"] - ref[r["seed"]] for r in rs if r["seed"] in ref]
        diff = f"{100 * np.mean(paired):+.2f}" if paired else "-"
        seeds = " ".join(f"{r['seed']}:{r['acc']:.4f}" for r in rs)
        epochs = [r["epochs"] for r in rs if "epochs" in r]
        lines.append(
            f"| {name} | {variant} | {len(rs)} | {np.mean([r['acc'] for r in rs]):.4f}"
            f" | {diff} | {seeds} | {np.mean([r['fit_s'] for r in rs]):.1f} | "
            f"{np.mean(epochs) if epochs else '-'} |"
        )
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", default=["sentences"])
    parser.add_argument("--lm", nargs="+", default=[], help="set=path")
    parser.add_argument("--variants", nargs="+", default=["scratch", "tfidf", "pt"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--jsonl", default=None)
    args = parser.parse_args(argv)
    paths = dict(item.split("=", 1) for item in args.lm)
    rows = []
    for name in args.sets:
        lm = load_lm(paths[name]) if name in paths else None
        for variant in args.variants:
            if variant.startswith("pt") and lm is None:
                sys.exit(f"--lm {name}=PATH is needed for {variant}")
            for seed in args.seeds:
                row = run(name, variant, seed, lm)
                if name in paths:
                    row["lm"] = paths[name]
                rows.append(row)
                print(json.dumps(row), flush=True)
                if args.jsonl:
                    with open(args.jsonl, "a") as f:
                        f.write(json.dumps(row) + "\n")
    print(summary(rows))


if __name__ == "__main__":
    main()
