"""Study: pieces for rare and unseen words in the text pipeline.

Every variant is ``make_pipeline(TextSequencer(tokenizer=...), LSTMClassifier(n_members=1))``
at the defaults; only the tokens change. The tokenizers are learned on the
training texts of each split only (word counts, a sentencepiece model,
character-bigram counts) and are passed to ``TextSequencer(tokenizer=...)``
(they see the lowercased text, as TextSequencer lowercases first). No library
code changes.

Variants (``--variants``):

* ``default``: ``TextSequencer()`` (reference);
* ``tfidf``: TF-IDF 1-2 grams (character grams for Chinese) + LR(C=10)
  (reference);
* ``backoff3``: words seen >= 2 times in training stay whole; rarer and unseen
  words become ``"▁" + first 3 characters`` followed by the next
  non-overlapping 3-grams (``"bullishness"`` -> ``▁bul lis hne ss``);
* ``affix``: rarer and unseen words become a prefix and a suffix piece
  (``▁`` + first 4 characters, last 3 characters + ``▁``; words of up to 4
  characters are one ``▁word▁`` piece);
* ``affix5``: ``affix`` for words seen fewer than 5 times in training;
* ``spm4k`` / ``spm8k``: a sentencepiece unigram model of about 4k / 8k pieces
  trained on the training texts (pre-split with the default word pattern, runs
  of CJK characters kept together so that it learns Chinese words);
* ``bigram``: (Chinese) for each CJK character the overlapping bigram starting
  at it if that bigram was seen >= 2 times in training, else the character;
* ``charbigram``: (Chinese) each CJK character, then the bigram starting at it
  when seen >= 2 times (both tokens, about twice as many tokens).

Validation protocol (nothing is chosen on test data): a stratified 20% carved
out of each set's training part with ``random_state=seed``; the estimator's
``random_state`` is the seed. ``--official`` runs the official splits instead
(confirmation only).

Run from the repository root::

    python benchmarks/studies/subword_study.py --sets sentences tweets waimai \\
        --seeds 0 1 2 --variants default tfidf backoff3 spm8k
"""

from __future__ import annotations

import argparse
import io
import json
import re
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from sklearn.model_selection import StratifiedKFold, train_test_split  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402

from sklstm import LSTMClassifier, TextSequencer  # noqa: E402
from sklstm._baselines import text_baseline  # noqa: E402
from sklstm._text import _UNSEGMENTED, DEFAULT_TOKEN_PATTERN  # noqa: E402
from sklstm.datasets import (  # noqa: E402
    load_financial_tweets,
    load_sentiment_sentences,
    load_waimai_reviews,
)

DATA = Path("/work/shared/datasets")
_WORD_RE = re.compile(DEFAULT_TOKEN_PATTERN)
_CJK = re.compile(f"[{_UNSEGMENTED}]")
#: the default pattern with runs of CJK characters as one chunk
_CHUNK_RE = re.compile(rf"[{_UNSEGMENTED}]+|[^\W{_UNSEGMENTED}]+|[^\w\s]")
MARK = "\u2581"


# --- tokenizers learned on the training texts ---------------------------------
class RareWordBackoff:
    """Whole words when seen >= ``min_count`` times in training, else pieces."""

    def __init__(self, mode="chunks3", min_count=2):
        self.mode = mode
        self.min_count = min_count

    def fit(self, texts):
        self.counts_ = Counter(
            w for t in texts for w in _WORD_RE.findall(t.lower()) if not _CJK.match(w)
        )
        return self

    def _pieces(self, w):
        if self.mode == "chunks3":
            return [MARK + w[:3]] + [w[i : i + 3] for i in range(3, len(w), 3)]
        if len(w) <= 4:
            return [MARK + w + MARK]
        return [MARK + w[:4], w[-3:] + MARK]

    def __call__(self, text):
        out = []
        for w in _WORD_RE.findall(text):
            if len(w) == 1 or self.counts_.get(w, 0) >= self.min_count:
                out.append(w)
            else:
                out.extend(self._pieces(w))
        return out


class SentencePieces:
    """A sentencepiece unigram model learned on the training texts."""

    def __init__(self, vocab_size=8000, seed=0):
        self.vocab_size = vocab_size
        self.seed = seed

    def fit(self, texts):
        import sentencepiece as spm

        model = io.BytesIO()
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter([self._chunks(t.lower()) for t in texts]),
            model_writer=model,
            vocab_size=self.vocab_size,
            model_type="unigram",
            hard_vocab_limit=False,
            character_coverage=0.9995,
            num_threads=1,
            minloglevel=2,
        )
        self.model_ = model.getvalue()
        self._load()
        return self

    @staticmethod
    def _chunks(text):
        return " ".join(_CHUNK_RE.findall(text))

    def _load(self):
        import sentencepiece as spm

        self.sp_ = spm.SentencePieceProcessor(model_proto=self.model_)

    def __getstate__(self):
        state = dict(self.__dict__)
        state.pop("sp_", None)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        if "model_" in state:
            self._load()

    def __call__(self, text):
        # bare word-start marks (before punctuation, digits) carry nothing
        pieces = self.sp_.encode(self._chunks(text), out_type=str)
        return [p for p in pieces if p and p != MARK]


class CharBigrams:
    """CJK runs as known overlapping bigrams (and/or characters)."""

    def __init__(self, keep_chars=False, min_count=2):
        self.keep_chars = keep_chars
        self.min_count = min_count

    def fit(self, texts):
        counts = Counter()
        for t in texts:
            for run in _CHUNK_RE.findall(t.lower()):
                if _CJK.match(run):
                    counts.update(run[i : i + 2] for i in range(len(run) - 1))
        self.counts_ = counts
        return self

    def __call__(self, text):
        out = []
        for run in _CHUNK_RE.findall(text):
            if not _CJK.match(run):
                out.append(run)
                continue
            for i, c in enumerate(run):
                bigram = run[i : i + 2]
                known = len(bigram) == 2 and self.counts_[bigram] >= self.min_count
                if self.keep_chars:
                    out.append(c)
                    if known:
                        out.append(bigram)
                else:
                    out.append(bigram if known else c)
        return out


def make_tokenizer(variant, seed):
    return {
        "backoff3": lambda: RareWordBackoff("chunks3"),
        "affix": lambda: RareWordBackoff("affix"),
        "affix5": lambda: RareWordBackoff("affix", min_count=5),
        "spm4k": lambda: SentencePieces(4000, seed),
        "spm8k": lambda: SentencePieces(8000, seed),
        "bigram": lambda: CharBigrams(keep_chars=False),
        "charbigram": lambda: CharBigrams(keep_chars=True),
    }[variant]()


# --- data ---------------------------------------------------------------------
def _train_tweets():
    tr = load_financial_tweets(subset="train")
    return list(tr.data), np.asarray(tr.target)


def _train_sentences():
    X, y = load_sentiment_sentences(return_X_y=True)
    tr, _ = next(StratifiedKFold(5, shuffle=True, random_state=0).split(X, y))
    return [X[i] for i in tr], np.asarray(y)[tr]


def _train_waimai():
    X, y = load_waimai_reviews(data_home=DATA, return_X_y=True)
    y = np.asarray(y)
    tr, _ = train_test_split(
        np.arange(len(X)), test_size=0.2, stratify=y, random_state=0
    )
    return [X[i] for i in tr], y[tr]


def carved_splits(name, seeds):
    """(label, seed, X_tr, y_tr, X_va, y_va): 20% carved from the training part."""
    X, y = {
        "tweets": _train_tweets,
        "sentences": _train_sentences,
        "waimai": _train_waimai,
    }[name]()
    for seed in seeds:
        tr, va = train_test_split(
            np.arange(len(X)), test_size=0.2, stratify=y, random_state=seed
        )
        yield (
            f"carve {seed}",
            seed,
            [X[i] for i in tr],
            y[tr],
            [X[i] for i in va],
            y[va],
        )


def official_splits(name, seeds):
    """The official splits (confirmation only; nothing is chosen on them)."""
    if name == "tweets":
        tr = load_financial_tweets(subset="train")
        va = load_financial_tweets(subset="valid")
        for seed in seeds:
            yield "train -> valid", seed, tr.data, tr.target, va.data, va.target
    elif name == "sentences":
        X, y = load_sentiment_sentences(return_X_y=True)
        y = np.asarray(y)
        tr, te = next(StratifiedKFold(5, shuffle=True, random_state=0).split(X, y))
        yield "fold 0", 0, [X[i] for i in tr], y[tr], [X[i] for i in te], y[te]
    else:
        X, y = load_waimai_reviews(data_home=DATA, return_X_y=True)
        y = np.asarray(y)
        tr, te = train_test_split(
            np.arange(len(X)), test_size=0.2, stratify=y, random_state=0
        )
        yield (
            "80/20 seed 0",
            0,
            [X[i] for i in tr],
            y[tr],
            [X[i] for i in te],
            y[te],
        )


# --- running --------------------------------------------------------------------
def fit_score(name, variant, seed, X_tr, y_tr, X_va, y_va):
    start = time.perf_counter()
    info = {}
    if variant == "tfidf":
        model = text_baseline(analyzer="char" if name == "waimai" else "word")
    else:
        if variant == "default":
            seq = TextSequencer()
        else:
            tok = make_tokenizer(variant, seed).fit(X_tr)
            seq = TextSequencer(tokenizer=tok)
        # one network at the single-network defaults, as this study ran
        model = make_pipeline(seq, LSTMClassifier(n_members=1, random_state=seed))
    model.fit(X_tr, y_tr)
    seconds = time.perf_counter() - start
    acc = float(np.mean(model.predict(X_va) == y_va))
    if variant != "tfidf":
        seq, clf = model[0], model[-1]
        tokens = seq.transform(X_va)
        info = {
            "vocab": len(seq.vocabulary_),
            "val_oov": float(np.mean(tokens[tokens > 0] == 1)),
            "val_len": float(np.mean((tokens > 0).sum(1))),
            "epochs": int(clf.n_iter_),
        }
    return {"accuracy": acc, "seconds": seconds, **info}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sets", nargs="+", default=["sentences", "tweets", "waimai"])
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument(
        "--variants", nargs="+", default=["default", "tfidf", "backoff3", "spm8k"]
    )
    p.add_argument("--official", action="store_true", help="official splits")
    p.add_argument("--jsonl", type=Path, default=None, help="append rows here")
    p.add_argument(
        "--render", type=Path, default=None, help="print the table of a --jsonl file"
    )
    args = p.parse_args(argv)
    if args.render is not None:
        rows = [json.loads(line) for line in args.render.read_text().splitlines()]
        print(table(rows))
        return

    import torch

    torch.set_num_threads(1)
    splits = official_splits if args.official else carved_splits
    rows = []
    for name in args.sets:
        for split, seed, X_tr, y_tr, X_va, y_va in splits(name, args.seeds):
            for variant in args.variants:
                r = fit_score(name, variant, seed, X_tr, y_tr, X_va, y_va)
                r = {"set": name, "split": split, "seed": seed, "variant": variant, **r}
                rows.append(r)
                print(json.dumps(r), flush=True)
                if args.jsonl is not None:
                    with args.jsonl.open("a") as f:
                        f.write(json.dumps(r) + "\n")
    print(table(rows))


def table(rows):
    """Mean accuracy and fit seconds per set and variant, in markdown."""
    lines = [
        "| set | variant | n | mean acc | vs default | per seed (seed:acc) | fit s "
        "| vocab | val OOV | val tokens | epochs |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    keys = dict.fromkeys((r["set"], r["variant"]) for r in rows)

    def select(name, variant):
        return [r for r in rows if r["set"] == name and r["variant"] == variant]

    def mean(sel, key, fmt):
        values = [r[key] for r in sel if key in r]
        return format(np.mean(values), fmt) if values else "-"

    for name, variant in keys:
        sel = select(name, variant)
        acc = np.mean([r["accuracy"] for r in sel])
        base = {r["seed"]: r["accuracy"] for r in select(name, "default")}
        paired = [r["accuracy"] - base[r["seed"]] for r in sel if r["seed"] in base]
        delta = f"{100 * np.mean(paired):+.2f}" if paired else "-"
        per_seed = " ".join(f"{r['seed']}:{r['accuracy']:.4f}" for r in sel)
        lines.append(
            f"| {name} | {variant} | {len(sel)} | {acc:.4f} | {delta} | {per_seed} "
            f"| {mean(sel, 'seconds', '.1f')} | {mean(sel, 'vocab', '.0f')} "
            f"| {mean(sel, 'val_oov', '.3f')} | {mean(sel, 'val_len', '.1f')} "
            f"| {mean(sel, 'epochs', '.1f')} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
