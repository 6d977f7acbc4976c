"""Pre-training: accuracy with and without a pretrained language model.

One table per run, every contender on the same official splits as
``bench_accuracy.py`` (UCI sentences: 5-fold; tweets: train -> valid;
waimai_10k: 80/20 seed 0; SMS: 80/20 seed 0; SST-2: train -> dev / test),
over the estimators' seeds (``--seeds``, default 0 1 2; the split is fixed):

* ``baseline``: TF-IDF + logistic regression (sklstm's text baseline);
* ``default``: today's default from scratch, ``TextSequencer() +
  LSTMClassifier()`` (three small members);
* ``scratch``: the pretrained network's architecture (embedding 256, one LSTM
  layer of 256, one network) trained from scratch;
* ``glove``: the same, its embedding started from the GloVe 6B vectors
  (50 dimensions: the only ones the project has; English sets only);
* ``pretrained``: ``LSTMClassifier(pretrained=lm)`` at its defaults, from the
  language model of the set's corpus (``--lm``), first fine-tuned one epoch
  on the training texts (``lm_epochs=1``);
* ``pretrained_nolm``: the same without that (``lm_epochs=0``);
* ``en``: ``LSTMClassifier(pretrained="en")``, the model shipped with sklstm.

Language models come from ``benchmarks/pretrain.py`` (``--lm set=path``;
several ``path``s for one set, e.g. the models of 1M, 5M and all words, give
the curve of accuracy against pre-training text: the contender is named
``pretrained@<file stem>``). Pre-training corpora never contain evaluation
texts (``../shared/datasets/unlabelled/README.md``).

    python benchmarks/bench_pretraining.py --sets sentences \\
        --lm sentences=runs/imdb.sklstm --contenders baseline default pretrained
    python benchmarks/bench_pretraining.py --sets sentences --contenders pretrained \\
        --lm sentences=runs/imdb_1M.sklstm,runs/imdb_5M.sklstm,runs/imdb.sklstm

Nothing here chooses settings: the recipe was chosen on validation carves
(``benchmarks/studies/pretraining_study.py``). Results: docs/pretraining.rst.
"""

from __future__ import annotations

import argparse
import json
import lzma
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import bench_accuracy as ba  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402

import sklstm  # noqa: E402
from sklstm import LSTMClassifier, TextSequencer, load_word_vectors  # noqa: E402

#: the pretrained network's sizes (benchmarks/pretrain.py's defaults)
SIZES = dict(embedding_dim=256, hidden_size=256, n_members=1)
GLOVE = "unlabelled/glove_6B_50d/glove.6B.50d.top100k.txt.xz"


class GloveStart:
    """``TextSequencer`` + ``LSTMClassifier`` whose embedding starts from GloVe."""

    _path = None

    def __init__(self, seed):
        self.seed = seed

    @classmethod
    def vectors(cls):
        if cls._path is None:  # the vectors decompressed once per run
            cls._path = Path(tempfile.mkdtemp()) / "glove.txt"
            src = ba.shared_datasets_dir() / GLOVE
            with lzma.open(src, "rb") as f, open(cls._path, "wb") as g:
                shutil.copyfileobj(f, g)
        return cls._path

    def fit(self, X, y):
        self.seq_ = TextSequencer().fit(X)
        emb = load_word_vectors(self.vectors(), self.seq_, random_state=self.seed)
        sizes = dict(SIZES, embedding_dim=emb.shape[1])
        self.clf_ = LSTMClassifier(embeddings=emb, random_state=self.seed, **sizes)
        self.clf_.fit(self.seq_.transform(X), y)
        return self

    def predict(self, X):
        return self.clf_.predict(self.seq_.transform(X))


def model(contender: str, seed: int, lm):
    if contender == "default":
        return make_pipeline(TextSequencer(), LSTMClassifier(random_state=seed))
    if contender == "scratch":
        return make_pipeline(
            TextSequencer(), LSTMClassifier(random_state=seed, **SIZES)
        )
    if contender == "glove":
        return GloveStart(seed)
    if contender == "en":
        return ba.sklstm_model("text", "en", seed)
    if contender.startswith("pretrained"):
        lm_epochs = 0 if contender.startswith("pretrained_nolm") else 1
        return LSTMClassifier(pretrained=lm, lm_epochs=lm_epochs, random_state=seed)
    raise ValueError(contender)


def run_set(name, contenders, seeds, lms, log=print):
    kind, loader, _, analyzer = ba.SETS[name]
    splits = loader(ba.shared_datasets_dir())
    rows = []
    base = [
        ba._score(kind, s[4], ba._baseline(kind, analyzer, *s[1:4])) for s in splits
    ]
    rows.append(
        {
            "set": name,
            "contender": "baseline",
            "scores": [float(np.mean(base))],
            "fit_s": None,
        }
    )
    todo = []
    for c in contenders:
        if c == "baseline":
            continue
        if c == "glove" and name not in ba.ENGLISH:
            continue
        if c.startswith("pretrained"):
            for path in lms.get(name, []):
                label = c if len(lms[name]) == 1 else f"{c}@{Path(path).stem}"
                todo.append((label, c, path))
        else:
            todo.append((c, c, None))
    for label, c, path in todo:
        lm = sklstm.load(path) if path else None
        scores, seconds, extra = [], [], {}
        for seed in seeds:
            per_split = []
            for _split, X_tr, y_tr, X_te, y_te in splits:
                m, fit_s = ba.fitted(
                    ("pretraining", label, seed),
                    lambda c=c, seed=seed, lm=lm: model(c, seed, lm),
                    X_tr,
                    y_tr,
                )
                seconds.append(fit_s)
                per_split.append(ba._score(kind, y_te, m.predict(X_te)))
                if hasattr(m, "vocabulary_coverage_"):
                    extra["coverage"] = m.vocabulary_coverage_
            scores.append(float(np.mean(per_split)))
            log(f"  {name} {label} seed {seed}: {scores[-1]:.4f} ({seconds[-1]:.1f} s)")
        rows.append(
            {
                "set": name,
                "contender": label,
                "scores": scores,
                "fit_s": float(np.mean(seconds)),
                "lm": path,
                **extra,
            }
        )
    return rows


def table(rows) -> str:
    lines = [
        "| set | contender | mean | per seed | vs baseline | fit s |",
        "|---|---|---|---|---|---|",
    ]
    base = {r["set"]: r["scores"][0] for r in rows if r["contender"] == "baseline"}
    for r in rows:
        mean = float(np.mean(r["scores"]))
        seeds = " / ".join(f"{s:.4f}" for s in r["scores"])
        diff = f"{100 * (mean - base[r['set']]):+.2f}"
        fit = "-" if r["fit_s"] is None else f"{r['fit_s']:.1f}"
        lines.append(
            f"| {r['set']} | {r['contender']} | {mean:.4f} | {seeds} | {diff} | {fit} |"
        )
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", default=["sentences"])
    parser.add_argument(
        "--contenders", nargs="+", default=["baseline", "default", "pretrained"]
    )
    parser.add_argument("--lm", nargs="+", default=[], help="set=path[,path...]")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--jsonl", default=None, help="append the rows here")
    args = parser.parse_args(argv)
    lms = {}
    for item in args.lm:
        name, paths = item.split("=", 1)
        lms[name] = paths.split(",")
    start = time.perf_counter()
    rows = []
    for name in args.sets:
        new = run_set(name, args.contenders, args.seeds, lms)
        rows += new
        if args.jsonl:
            with open(args.jsonl, "a") as f:
                for r in new:
                    f.write(json.dumps(r) + "\n")
    print(table(rows))
    print(f"\n{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
