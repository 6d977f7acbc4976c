"""precision, deterministic and predict_batch_size: what a CPU can check.

The GPU side (bfloat16 speed, identical CUDA fits) is measured by
benchmarks/gpu_check.py on a GPU; these tests pin the plumbing that the GPU
path shares with the CPU: resolution and its errors, the float16 loss scaler
(unscaled before clipping), outputs in full precision, models of one
precision predicting on a device without it, and bounded prediction batches.
"""

import io

import joblib
import numpy as np
import pytest
import torch

import sklstm
from sklstm import LSTMClassifier, LSTMRegressor
from sklstm._precision import (
    deterministic_kernels,
    resolve_deterministic,
    resolve_precision,
    runnable_precision,
)
from tests.tiny import EXACT, TINY

CPU = torch.device("cpu")


def _tokens(n=96, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.integers(2, 30, size=(n, 10))
    return X, (X[:, 0] > 15).astype(int)


def _cpu_runs(precision, layer_type=torch.nn.LSTM):
    try:
        resolve_precision(precision, CPU, layer_type)
    except ValueError:
        return False
    return True


# --- resolution -------------------------------------------------------------
def test_auto_is_float32_on_a_cpu():
    assert resolve_precision("auto", CPU) == "32"
    assert resolve_precision("32", CPU) == "32"


def test_default_fit_trains_and_predicts_in_float32():
    X, y = _tokens()
    est = LSTMClassifier(**EXACT).fit(X, y)
    assert est.net_.precision == "32"
    same = LSTMClassifier(**EXACT, precision="32").fit(X, y)
    np.testing.assert_array_equal(est.predict_proba(X), same.predict_proba(X))


def test_unrunnable_precision_is_a_clear_error_before_training():
    if _cpu_runs("bf16-mixed"):
        pytest.skip("this CPU runs a bfloat16 LSTM")
    X, y = _tokens()
    est = LSTMClassifier(**TINY, max_epochs=1, precision="bf16-mixed")
    with pytest.raises(ValueError, match="precision='bf16-mixed' is not available"):
        est.fit(X, y)
    assert not hasattr(est, "net_")


def test_invalid_precision_is_rejected():
    X, y = _tokens()
    with pytest.raises(ValueError, match="precision"):
        LSTMClassifier(**TINY, precision="fp8").fit(X, y)


# --- float16 with a gradient scaler ----------------------------------------
@pytest.mark.skipif(
    not _cpu_runs("16-mixed", torch.nn.GRU), reason="no float16 autocast on this CPU"
)
def test_float16_scaler_unscales_before_clipping():
    # On a CPU a GRU runs in float32 under autocast, so a float16 fit differs
    # from a float32 one only by the loss scaling (65536, a power of two:
    # exact). If clipping saw the scaled gradients, every step would be
    # clipped and the models would differ. (The last state only: the mean and
    # maximum of pooling="concat" add float16 rounding of their own.)
    X, y = _tokens()
    kw = dict(EXACT, cell="gru", pooling="last", max_grad_norm=1.0, max_epochs=3)
    half = LSTMClassifier(**kw, precision="16-mixed").fit(X, y)
    full = LSTMClassifier(**kw, precision="32").fit(X, y)
    assert half.net_.precision == "16-mixed"
    scale = half.net_.grad_scaler_.get_scale()
    assert scale > 1
    gap = np.abs(half.predict_proba(X) - full.predict_proba(X)).max()
    # what clipping the scaled gradients would do: clip at max_grad_norm/scale
    wrong = LSTMClassifier(**dict(kw, max_grad_norm=1.0 / scale), precision="32")
    wrong_gap = np.abs(wrong.fit(X, y).predict_proba(X) - full.predict_proba(X)).max()
    assert gap < 2e-4 < wrong_gap / 5
    assert half.predict_proba(X).dtype == np.float64
    for p in half.net_.module_.parameters():
        assert p.dtype == torch.float32


@pytest.mark.skipif(
    not _cpu_runs("16-mixed", torch.nn.GRU), reason="no float16 autocast on this CPU"
)
def test_float16_model_saves_and_pickles(tmp_path):
    X, y = _tokens()
    est = LSTMClassifier(**TINY, cell="gru", max_epochs=2, precision="16-mixed")
    est.fit(X, y)
    buf = io.BytesIO()
    joblib.dump(est, buf)
    buf.seek(0)
    np.testing.assert_array_equal(
        joblib.load(buf).predict_proba(X), est.predict_proba(X)
    )
    path = tmp_path / "model.sklstm"
    sklstm.save(est, path)
    loaded = sklstm.load(path)
    assert loaded.precision == "16-mixed"
    np.testing.assert_allclose(
        loaded.predict_proba(X), est.predict_proba(X), atol=1e-12
    )


@pytest.mark.parametrize("cell", ["peephole", "cifg"])
def test_custom_cells_run_their_recurrence_in_float32_under_autocast(cell):
    # the input projection may run in a lower precision, the step loop's
    # buffers are float32: the layer must not mix them up
    layer = sklstm._module._CELLS[cell](3, 4, batch_first=True)
    x = torch.randn(2, 5, 3)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out, (h, c) = layer(x)
    assert out.dtype == h.dtype == c.dtype == torch.float32
    ref, _ = layer(x)
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), atol=0.05)


# --- a model of one precision on a device without it -----------------------
def test_mixed_precision_model_predicts_in_float32_where_it_cannot_run():
    # what a bfloat16 model trained on a GPU meets on a CPU without bfloat16
    if _cpu_runs("bf16-mixed"):
        pytest.skip("this CPU runs a bfloat16 LSTM")
    assert runnable_precision("bf16-mixed", CPU) == "32"
    X, y = _tokens()
    est = LSTMClassifier(**TINY, max_epochs=1).fit(X, y)
    expected = est.predict_proba(X)
    est.net_.precision = "bf16-mixed"
    np.testing.assert_array_equal(est.predict_proba(X), expected)


def test_warm_start_keeps_the_precision_of_the_first_fit():
    X, y = _tokens()
    est = LSTMClassifier(**TINY, max_epochs=1, warm_start=True).fit(X, y)
    est.net_.precision = "16-mixed"  # as if trained so on a GPU
    before = est.predict_proba(X)
    with pytest.raises(ValueError, match="Keep the precision of the first fit"):
        est.fit(X, y)
    np.testing.assert_array_equal(est.predict_proba(X), before)


# --- deterministic kernels --------------------------------------------------
def test_deterministic_auto_follows_random_state():
    assert resolve_deterministic("auto", 0) is True
    assert resolve_deterministic("auto", None) is False
    assert resolve_deterministic(False, 0) is False
    assert resolve_deterministic(True, None) is True


def test_deterministic_kernels_switch_on_for_cuda_and_restore(monkeypatch):
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    before = (
        torch.are_deterministic_algorithms_enabled(),
        torch.backends.cudnn.deterministic,
        torch.backends.cudnn.benchmark,
    )
    with deterministic_kernels(True, torch.device("cuda")):
        assert torch.are_deterministic_algorithms_enabled()
        assert torch.backends.cudnn.deterministic
        assert not torch.backends.cudnn.benchmark
        assert "CUBLAS_WORKSPACE_CONFIG" in __import__("os").environ
    after = (
        torch.are_deterministic_algorithms_enabled(),
        torch.backends.cudnn.deterministic,
        torch.backends.cudnn.benchmark,
    )
    assert after == before


def test_deterministic_kernels_leave_a_users_cublas_setting(monkeypatch):
    monkeypatch.setenv("CUBLAS_WORKSPACE_CONFIG", ":16:8")
    with deterministic_kernels(True, torch.device("cuda")):
        pass
    import os

    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":16:8"


def test_deterministic_kernels_change_nothing_on_a_cpu():
    was = torch.are_deterministic_algorithms_enabled()
    with deterministic_kernels(True, CPU):
        assert torch.are_deterministic_algorithms_enabled() == was


def test_fit_restores_the_callers_determinism_setting():
    X, y = _tokens()
    was = torch.are_deterministic_algorithms_enabled()
    LSTMClassifier(**TINY, max_epochs=1, deterministic=True).fit(X, y)
    assert torch.are_deterministic_algorithms_enabled() == was


# --- bounded prediction batches --------------------------------------------
@pytest.mark.parametrize("kind", ["tokens", "numeric"])
def test_predict_batch_size_bounds_rows_per_forward_and_keeps_results(kind):
    rng = np.random.default_rng(1)
    if kind == "tokens":
        X, y = _tokens(60)
        est = LSTMClassifier(**TINY, max_epochs=1).fit(X, y)
        outputs = est.predict_proba
    else:
        X = rng.normal(size=(60, 9, 2)).astype(np.float32)
        y = X[:, :, 0].sum(axis=1)
        est = LSTMRegressor(**TINY, max_epochs=1).fit(X, y)
        outputs = est.predict
    expected = outputs(X)
    rows = []
    hook = est.net_.module_.register_forward_hook(
        lambda module, args, out: rows.append(out.shape[0])
    )
    try:
        est.set_params(predict_batch_size=7)
        got = outputs(X)
    finally:
        hook.remove()
    assert max(rows) <= 7 and sum(rows) == len(X)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)
