import os

import numpy as np
import pytest

# Two cores on CI, shared by the pytest-xdist workers: each worker (and every
# process it spawns) gets its share of them. Four OpenMP threads on two cores
# made one real-data fit ten times slower than alone (16 s -> 158 s).
_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
_CPUS = min(2, len(os.sched_getaffinity(0)))
# The controller process sets it first and its workers inherit that value, so
# a value this file set is replaced; one the user set is kept.
if os.environ.get("_SKLSTM_TESTS_SET_THREADS") or "OMP_NUM_THREADS" not in os.environ:
    os.environ["OMP_NUM_THREADS"] = str(max(1, _CPUS // _WORKERS))
    os.environ["_SKLSTM_TESTS_SET_THREADS"] = "1"


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


# models for the model-file tests (test_save, test_load, test_load_net,
# test_model_file); sklstm is imported inside them, after OMP_NUM_THREADS is set
@pytest.fixture(scope="module")
def classifier():
    """A small fitted LSTMClassifier and the token ids it was fitted on."""
    from _model_files import TINY

    from sklstm import LSTMClassifier

    rng = np.random.default_rng(0)
    X = np.zeros((60, 10), dtype=np.int64)
    for i, n in enumerate(rng.integers(1, 11, size=60)):
        X[i, :n] = rng.integers(2, 30, size=n)
    y = rng.integers(0, 3, size=60)
    return LSTMClassifier(**TINY).fit(X, y), X


@pytest.fixture(scope="module")
def text_pipeline():
    """A fitted TextSequencer + LSTMClassifier pipeline."""
    from _model_files import LABELS, TEXTS, TINY
    from sklearn.pipeline import make_pipeline

    from sklstm import LSTMClassifier, TextSequencer

    model = make_pipeline(TextSequencer(min_frequency=1), LSTMClassifier(**TINY))
    return model.fit(TEXTS, LABELS)


@pytest.fixture
def saved(classifier, tmp_path):
    """The path of the ``classifier`` fixture saved with sklstm.save."""
    from sklstm import save

    path = tmp_path / "model.sklstm"
    save(classifier[0], path)
    return path
