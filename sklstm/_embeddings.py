"""Pretrained word vectors (word2vec / GloVe text format) for the embedding layer."""

from __future__ import annotations

import gzip
import io
import lzma
from pathlib import Path

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

__all__ = ["load_word_vectors"]


def _open_text(path):
    path = Path(path)
    if path.suffix in (".gz", ".xz"):
        opener = gzip.open if path.suffix == ".gz" else lzma.open
        return io.TextIOWrapper(opener(path, "rb"), encoding="utf-8", errors="replace")
    return open(path, encoding="utf-8", errors="replace")


def load_word_vectors(path, sequencer, *, lowercase=None, random_state=None):
    """Build an embedding matrix aligned with a fitted TextSequencer.

    Reads word vectors in the text format of word2vec and GloVe (one word per
    line followed by its numbers, separated by spaces; an optional first line
    ``"<n_words> <dim>"`` as word2vec writes it; ``.gz`` and ``.xz`` files are
    read too)
    and returns the matrix to pass as ``embeddings=`` to
    :class:`~sklstm.LSTMClassifier` or :class:`~sklstm.LSTMRegressor`. Only
    the words of the sequencer's vocabulary are kept in memory.

    Row ``i`` of the result belongs to token id ``i``:

    * row 0 (padding) is zero;
    * row 1 (out-of-vocabulary) is the mean of the vectors found;
    * a vocabulary word found in the file gets its vector;
    * a vocabulary word missing from the file gets a random vector drawn from
      a normal distribution with the mean 0 and the standard deviation of
      the vectors found, so it starts at the same scale and is learned in
      training (unless ``freeze_embeddings=True``).

    Parameters
    ----------
    path : str or path-like
        Text file of word vectors.

    sequencer : TextSequencer
        A fitted :class:`~sklstm.TextSequencer`; its ``vocabulary_`` decides
        the rows.

    lowercase : bool, default=None
        Lowercase the words of the file before matching them. None follows the
        sequencer's ``lowercase`` setting.

    random_state : int, RandomState instance or None, default=None
        Seeds the vectors of words missing from the file.

    Returns
    -------
    embeddings : ndarray of shape (max_token_id + 1, dim), dtype float32
        The matrix.

    Examples
    --------
    >>> import tempfile, os
    >>> from sklstm import TextSequencer, load_word_vectors
    >>> seq = TextSequencer(min_frequency=1).fit(["good film", "bad film"])
    >>> path = os.path.join(tempfile.mkdtemp(), "vectors.txt")
    >>> with open(path, "w") as f:
    ...     _ = f.write("good 0.5 0.1\\nfilm 0.0 1.0\\n")
    >>> E = load_word_vectors(path, seq, random_state=0)
    >>> E.shape
    (5, 2)
    >>> E[seq.vocabulary_["good"]].tolist()
    [0.5, 0.10000000149011612]
    """
    check_is_fitted(sequencer, "vocabulary_")
    vocab = sequencer.vocabulary_
    if lowercase is None:
        lowercase = bool(getattr(sequencer, "lowercase", False))
    n_rows = max(vocab.values(), default=1) + 1
    found: dict[int, np.ndarray] = {}
    dim = None
    with _open_text(path) as f:
        for lineno, line in enumerate(f, start=1):
            parts = line.rstrip("\n\r").rstrip(" ").split(" ")
            if lineno == 1 and len(parts) == 2 and all(p.isdigit() for p in parts):
                continue  # word2vec header "<n_words> <dim>"
            if len(parts) < 2:
                continue
            word = parts[0].lower() if lowercase else parts[0]
            idx = vocab.get(word)
            if dim is None:
                dim = len(parts) - 1
            elif len(parts) - 1 != dim:
                raise ValueError(
                    f"{path}, line {lineno}: {len(parts) - 1} numbers, but earlier "
                    f"lines have {dim}. Each line must be a word followed by the "
                    "same number of values."
                )
            if idx is None or idx in found:
                continue
            try:
                found[idx] = np.asarray(parts[1:], dtype=np.float32)
            except ValueError:
                raise ValueError(
                    f"{path}, line {lineno}: the values after the word are not all "
                    "numbers."
                ) from None
    if dim is None:
        raise ValueError(f"{path} holds no word vectors.")
    if not found:
        raise ValueError(
            f"None of the {len(vocab)} vocabulary words was found in {path}. Check "
            "the language, the case (lowercase=) and the tokenisation."
        )
    vectors = np.stack(list(found.values()))
    rng = check_random_state(random_state)
    std = float(vectors.std()) or 1.0
    emb = rng.normal(0.0, std, size=(n_rows, dim)).astype(np.float32)
    emb[0] = 0.0
    emb[1] = vectors.mean(axis=0)
    for idx, vec in found.items():
        emb[idx] = vec
    return emb
