"""Predicting from several threads, reproducible fits, and the caller's state.

A fitted model is shared by the threads of a web server or a thread pool; a
fit must not disturb the random number generators and torch settings of the
program around it.
"""

import random
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch
from sklearn.pipeline import make_pipeline

from sklstm import LSTMClassifier, LSTMRegressor, TextSequencer
from sklstm._runtime import _denormals_flushed

SMALL = dict(hidden_size=8, embedding_dim=8, max_epochs=2, random_state=0)

WORDS = ["good", "bad", "phone", "很", "好", "差", "battery", "screen", "!", "😀"]


def _texts(rng, n):
    return [" ".join(rng.choice(WORDS, size=rng.integers(1, 12))) for _ in range(n)]


def _data(rng, layout, n=250):
    """Input of one layout with a binary target (long enough to span batches)."""
    if layout == "tokens":
        lengths = rng.integers(1, 30, size=n)
        X = np.zeros((n, 30), dtype=np.int64)
        for i, L in enumerate(lengths):
            X[i, :L] = rng.integers(2, 40, size=L)
    elif layout == "ragged":
        X = [rng.normal(size=(L, 3)) for L in rng.integers(2, 25, size=n)]
    else:
        X = rng.normal(size=(n, 12))
    return X, np.arange(n) % 2


def _methods(est):
    names = ["predict", "predict_proba"] if hasattr(est, "predict_proba") else []
    return [getattr(est, m) for m in names or ["predict"]]


def _slices(n):
    """Row ranges of different sizes, some above the 64-row denormal switch."""
    bounds = [(0, n), (0, 1), (5, 70), (100, 103), (30, 200), (n - 7, n)]
    return [slice(a, b) for a, b in bounds]


def _concurrently(fn, jobs, n_threads=4):
    with ThreadPoolExecutor(n_threads) as pool:
        return list(pool.map(fn, jobs))


@pytest.mark.parametrize(
    "Est, layout",
    [(LSTMClassifier, "tokens"), (LSTMRegressor, "ragged"), (LSTMClassifier, "2d")],
)
def test_predicting_from_4_threads_matches_sequential_predictions(Est, layout, rng):
    X, y = _data(rng, layout)
    est = Est(**SMALL).fit(X, y)
    jobs = [(m, s) for m in _methods(est) for s in _slices(len(X))] * 2
    expected = [m(X[s]) for m, s in jobs]
    got = _concurrently(lambda job: job[0](X[job[1]]), jobs)
    for a, b in zip(expected, got):
        np.testing.assert_array_equal(a, b)


def test_text_pipeline_from_4_threads_matches_sequential_predictions(rng):
    texts = _texts(rng, 250)
    labels = np.array(["pos" if "good" in t else "neg" for t in texts])
    pipe = make_pipeline(TextSequencer(min_frequency=1), LSTMClassifier(**SMALL)).fit(
        texts, labels
    )
    jobs = [(m, s) for m in _methods(pipe) for s in _slices(len(texts))] * 2
    expected = [m(texts[s]) for m, s in jobs]
    got = _concurrently(lambda job: job[0](texts[job[1]]), jobs)
    for a, b in zip(expected, got):
        np.testing.assert_array_equal(a, b)


def test_threads_leave_their_own_denormal_setting_alone(rng):
    X, y = _data(rng, "tokens")
    clf = LSTMClassifier(**SMALL).fit(X, y)

    def predict_and_report(flush):
        torch.set_flush_denormal(flush)
        try:
            clf.predict_proba(X)  # 250 rows: flushes denormals inside
            return _denormals_flushed()
        finally:
            torch.set_flush_denormal(False)

    assert _concurrently(predict_and_report, [False, True] * 4) == [False, True] * 4
    assert not _denormals_flushed()


# --- determinism ----------------------------------------------------------------
@pytest.mark.parametrize("layout", ["ragged", "text"])
def test_same_random_state_same_model_with_early_stopping(layout, rng):
    # early stopping adds a seeded validation split and best-weight restoring
    if layout == "text":
        X = _texts(rng, 150)
        y = np.array([int("good" in t) for t in X])
        make = lambda rs: make_pipeline(  # noqa: E731
            TextSequencer(min_frequency=1),
            LSTMClassifier(**{**SMALL, "random_state": rs}, early_stopping=True),
        )
    else:
        X, y = _data(rng, "ragged", n=150)
        make = lambda rs: LSTMClassifier(  # noqa: E731
            **{**SMALL, "random_state": rs}, early_stopping=True
        )
    a = make(7).fit(X, y).predict_proba(X)
    b = make(7).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, make(8).fit(X, y).predict_proba(X))


_FIT_SCRIPT = textwrap.dedent(
    """
    import sys
    import numpy as np
    from sklstm import LSTMClassifier, LSTMRegressor

    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 9, 2))
    y = np.arange(120) % 2
    params = dict(hidden_size=8, max_epochs=3, random_state=5)
    np.save(sys.argv[1], LSTMClassifier(**params).fit(X, y).predict_proba(X))
    np.save(sys.argv[2], LSTMRegressor(**params).fit(X, y * 1.5).predict(X))
    """
)


def test_same_random_state_same_predictions_in_separate_processes(tmp_path):
    script = tmp_path / "fit.py"
    script.write_text(_FIT_SCRIPT)
    paths = [(tmp_path / f"clf{i}.npy", tmp_path / f"reg{i}.npy") for i in range(2)]
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), str(a), str(b)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for a, b in paths
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    (clf0, reg0), (clf1, reg1) = [(np.load(a), np.load(b)) for a, b in paths]
    np.testing.assert_allclose(clf0, clf1, rtol=0, atol=1e-12)
    np.testing.assert_allclose(reg0, reg1, rtol=0, atol=1e-12)
    # and the same as fits in this process
    X = np.random.default_rng(0).normal(size=(120, 9, 2))
    y = np.arange(120) % 2
    params = dict(hidden_size=8, max_epochs=3, random_state=5)
    clf = LSTMClassifier(**params).fit(X, y)
    np.testing.assert_allclose(clf.predict_proba(X), clf0, rtol=0, atol=1e-12)
    reg = LSTMRegressor(**params).fit(X, y * 1.5)
    np.testing.assert_allclose(reg.predict(X), reg0, rtol=0, atol=1e-12)


# --- the caller's state -----------------------------------------------------------
def _caller_state():
    return {
        "torch_rng": torch.get_rng_state().clone(),
        "numpy_rng": np.random.get_state(),
        "python_rng": random.getstate(),
        "torch_threads": torch.get_num_threads(),
        "denormals_flushed": _denormals_flushed(),
    }


def _assert_same_state(before, after):
    assert torch.equal(before["torch_rng"], after["torch_rng"])
    np_a, np_b = before["numpy_rng"], after["numpy_rng"]
    assert np_a[0] == np_b[0] and np_a[2:] == np_b[2:]
    np.testing.assert_array_equal(np_a[1], np_b[1])
    for key in ("python_rng", "torch_threads", "denormals_flushed"):
        assert before[key] == after[key], key


@pytest.mark.parametrize("Est, flush", [(LSTMClassifier, False), (LSTMRegressor, True)])
def test_fit_and_predict_leave_the_callers_rngs_and_torch_settings_alone(
    Est, flush, rng
):
    X, y = _data(rng, "tokens")
    threads = torch.get_num_threads()
    np.random.seed(3)
    random.seed(3)
    torch.manual_seed(3)
    # more threads than sklstm allows itself (the CPUs it may use, capped by
    # OMP_NUM_THREADS): sklstm lowers the count inside and must restore it
    torch.set_num_threads(threads + 2)
    torch.set_flush_denormal(flush)
    try:
        before = _caller_state()
        est = Est(**SMALL).fit(X, y)
        _assert_same_state(before, _caller_state())
        for method in _methods(est):
            method(X)  # 250 rows: the path that flushes denormals
            method(X[:3])
        _assert_same_state(before, _caller_state())
        pipe = make_pipeline(TextSequencer(min_frequency=1), Est(**SMALL))
        texts = _texts(rng, 80)
        pipe.fit(texts, np.arange(80) % 2).predict(texts)
        _assert_same_state(before, _caller_state())
    finally:
        torch.set_flush_denormal(False)
        torch.set_num_threads(threads)
