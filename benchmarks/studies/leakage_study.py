"""Ablation: the early-stopping split with and without grouped phrases.

Run: ``python benchmarks/studies/leakage_study.py sst2 0`` (sets: sst2, tweets; seeds
comma-separated). Fits the default pipeline twice per seed on the official
split: as sklstm does by default (repeated sequences and phrases cut from a
longer one stay on its side of the early-stopping split, see
:mod:`sklstm._leakage`) and with the plain random split of earlier versions;
prints the accuracy of both. Findings are in docs/accuracy.rst.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np


def main(argv=None) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/
    from bench_accuracy import _sentences, _sms, _sst2, _tweets, _waimai
    from sklearn.pipeline import make_pipeline

    import sklstm._base as base
    from sklstm import LSTMClassifier, TextSequencer
    from sklstm.datasets import shared_datasets_dir

    argv = sys.argv[1:] if argv is None else argv
    loaders = {
        "sst2": _sst2,
        "tweets": _tweets,
        "sms": _sms,
        "waimai": _waimai,
        "sentences": _sentences,
    }
    seeds = [int(s) for s in argv[1].split(",")]
    splits = loaders[argv[0]](shared_datasets_dir())
    grouped = base.token_groups
    for seed in seeds:
        for name in ("grouped", "plain"):
            scores = []
            for split, X_tr, y_tr, X_te, y_te in splits:
                base.token_groups = grouped if name == "grouped" else lambda s: None
                try:
                    model = make_pipeline(
                        TextSequencer(), LSTMClassifier(n_members=1, random_state=seed)
                    )
                    model.fit(X_tr, y_tr)
                finally:
                    base.token_groups = grouped
                scores.append(model.score(X_te, y_te))
                print(
                    f"{argv[0]} {split} seed {seed} {name}: {scores[-1]:.4f} "
                    f"({model[-1].n_iter_} epochs)"
                )
            print(f"{argv[0]} seed {seed} {name}: mean {np.mean(scores):.4f}")


if __name__ == "__main__":
    main()
