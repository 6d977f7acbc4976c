"""TextSequencer vs CountVectorizer (and Keras TextVectorization if installed).

Builds a corpus from a seed (Zipf-distributed words, some CJK characters,
log-normal document lengths with a median of ~20 words) and times, side by
side and interleaved, the median of ``--repeats`` runs of:

* TextSequencer().fit_transform(X) (what Pipeline.fit calls; the target row)
* TextSequencer().fit(X) followed by .transform(X) (tokenizes twice; context)
* CountVectorizer().fit_transform(X)  (comparable tokenizing work, counts only)
* keras.layers.TextVectorization adapt + call, when TensorFlow is installed

Run: ``python benchmarks/bench_text.py [--docs 100000] [--repeats 3]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import CountVectorizer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from sklstm import TextSequencer  # noqa: E402


def make_corpus(n_docs: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    words = [
        "".join(rng.choice(letters, size=rng.integers(2, 9))) for _ in range(30_000)
    ]
    cjk = [chr(c) for c in rng.integers(0x4E00, 0x9FFF, size=3_000)]
    ranks = rng.zipf(1.2, size=n_docs * 60) % len(words)
    lengths = np.clip(rng.lognormal(np.log(20), 0.6, size=n_docs).astype(int), 1, 200)
    docs, pos = [], 0
    for L in lengths:
        toks = [words[r] for r in ranks[pos : pos + L]]
        pos += L
        if rng.random() < 0.2:  # some mixed Chinese text
            toks.append("".join(rng.choice(cjk, size=rng.integers(2, 10))))
        if rng.random() < 0.5:
            toks.append(rng.choice([".", "!", "?", ","]))
        docs.append(" ".join(toks))
    return docs


def _keras_vectorizer():
    try:
        import keras  # noqa: F401
        import tensorflow as tf  # noqa: F401
    except ImportError:
        return None

    def run(docs):
        layer = keras.layers.TextVectorization(output_mode="int")
        layer.adapt(docs)
        return layer(docs)

    return run


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)

    docs = make_corpus(args.docs)
    n_tokens = sum(map(len, map(str.split, docs)))
    print(f"corpus: {len(docs)} documents, ~{n_tokens:,} whitespace tokens")

    contenders = {
        "TextSequencer fit + transform": lambda: (
            TextSequencer().fit(docs).transform(docs)
        ),
        "TextSequencer fit_transform": lambda: TextSequencer().fit_transform(docs),
        "CountVectorizer fit_transform": lambda: CountVectorizer().fit_transform(docs),
    }
    keras_run = _keras_vectorizer()
    if keras_run is None:
        print("keras TextVectorization: skipped (tensorflow not installed)")
    else:
        contenders["Keras TextVectorization adapt + call"] = lambda: keras_run(docs)

    times = {name: [] for name in contenders}
    for _ in range(args.repeats):  # interleaved
        for name, fn in contenders.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)

    ref = statistics.median(times["CountVectorizer fit_transform"])
    print("| contender | median s | docs/s | speed vs CountVectorizer |")
    print("|---|---|---|---|")
    results = {}
    for name, ts in times.items():
        med = statistics.median(ts)
        results[name] = med
        print(f"| {name} | {med:.2f} | {len(docs) / med:,.0f} | {ref / med:.2f}x |")
    # the target compares like with like: one call that learns the vocabulary
    # and returns the output, as Pipeline.fit calls it on a transformer
    ratio = ref / results["TextSequencer fit_transform"]
    print(
        f"TextSequencer fit_transform is {ratio:.2f}x as fast as CountVectorizer "
        "fit_transform (target >= 1.5x)"
    )
    return results


if __name__ == "__main__":
    main()
