"""Pretrained word vectors: load_word_vectors and the embeddings parameter."""

import numpy as np
import pytest
from tiny import EXACT

from sklstm import (
    LSTMClassifier,
    TextSequencer,
    load_word_vectors,
)


def _write_vectors(path, rows, header=False):
    with open(path, "w", encoding="utf-8") as f:
        if header:
            f.write(f"{len(rows)} {len(next(iter(rows.values())))}\n")
        for word, vec in rows.items():
            f.write(word + " " + " ".join(f"{v:.6f}" for v in vec) + "\n")


@pytest.mark.parametrize("header", [False, True])
def test_load_word_vectors(tmp_path, header):
    texts = ["good film", "bad film", "great 电影", "good 电影"] * 3
    seq = TextSequencer(min_frequency=1).fit(texts)
    vecs = {"good": [1, 0, 0], "film": [0, 1, 0], "电": [0, 0, 1], "Unused": [5, 5, 5]}
    path = tmp_path / "vectors.txt"
    _write_vectors(path, vecs, header=header)
    E = load_word_vectors(path, seq, random_state=0)
    vocab = seq.vocabulary_
    assert E.shape == (max(vocab.values()) + 1, 3) and E.dtype == np.float32
    np.testing.assert_array_equal(E[0], 0)
    np.testing.assert_allclose(E[vocab["good"]], [1, 0, 0])
    np.testing.assert_allclose(E[vocab["电"]], [0, 0, 1])
    np.testing.assert_allclose(E[1], np.mean([[1, 0, 0], [0, 1, 0], [0, 0, 1]], axis=0))
    # a missing word gets a seeded random vector
    E2 = load_word_vectors(path, seq, random_state=0)
    np.testing.assert_array_equal(E[vocab["bad"]], E2[vocab["bad"]])
    assert np.abs(E[vocab["bad"]]).sum() > 0


def test_load_word_vectors_errors(tmp_path):
    seq = TextSequencer(min_frequency=1).fit(["good film"])
    bad = tmp_path / "bad.txt"
    bad.write_text("good 1 2\nfilm 1 2 3\n", encoding="utf-8")
    with pytest.raises(ValueError, match="line 2"):
        load_word_vectors(bad, seq)
    none = tmp_path / "none.txt"
    none.write_text("other 1 2\n", encoding="utf-8")
    with pytest.raises(ValueError, match="None of the"):
        load_word_vectors(none, seq)


@pytest.mark.parametrize("freeze", [False, True])
def test_embeddings_initialise_and_freeze(tmp_path, freeze):
    texts = ["good film", "bad film", "great movie", "awful movie"] * 10
    labels = [1, 0, 1, 0] * 10
    seq = TextSequencer(min_frequency=1).fit(texts)
    vecs = {
        w: np.random.default_rng(i).normal(size=6)
        for i, w in enumerate(seq.vocabulary_)
    }
    path = tmp_path / "v.txt"
    _write_vectors(path, vecs)
    E = load_word_vectors(path, seq, random_state=0)
    clf = LSTMClassifier(
        embeddings=E, freeze_embeddings=freeze, **dict(EXACT, embedding_dim=99)
    ).fit(seq.transform(texts), labels)
    weight = clf.net_.module_.embedding.weight.detach().numpy()
    assert weight.shape[1] == 6  # the matrix decides the width
    if freeze:
        np.testing.assert_allclose(weight[: len(E)], E, atol=1e-6)
    else:
        assert not np.allclose(weight[2 : len(E)], E[2:], atol=1e-4)
    with pytest.raises(ValueError, match="2-D array"):
        LSTMClassifier(embeddings=np.ones(5), **EXACT).fit(seq.transform(texts), labels)
