import os

import numpy as np
import pytest

# Two cores on CI: keep torch from oversubscribing when tests spawn workers.
os.environ.setdefault("OMP_NUM_THREADS", "2")


@pytest.fixture
def rng():
    """A seeded NumPy generator: tests are deterministic."""
    return np.random.default_rng(0)


def make_token_data(rng, n=200, vocab=30, max_len=15, min_len=1):
    """Token-id sequences padded at the end; the label says whether one of the
    'marker' tokens 2-4 occurs anywhere, which a small LSTM learns quickly."""
    lengths = rng.integers(min_len, max_len + 1, size=n)
    X = np.zeros((n, max_len), dtype=np.int64)
    for i, L in enumerate(lengths):
        X[i, :L] = rng.integers(2, vocab, size=L)
    y = ((X >= 2) & (X <= 4)).any(axis=1).astype(int)
    return X, y, lengths


@pytest.fixture
def token_data(rng):
    return make_token_data(rng)


@pytest.fixture
def make_tokens(rng):
    """Factory for token data of a chosen size: make_tokens(n=300)."""
    return lambda **kw: make_token_data(rng, **kw)
