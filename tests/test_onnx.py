"""ONNX export: onnxruntime reproduces predict_proba / predict."""

import sys

import numpy as np
import pytest
import torch
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import make_pipeline

from sklstm import LSTMClassifier, LSTMRegressor, TextSequencer
from sklstm._members import members_of
from sklstm._onnx import to_onnx

ort = pytest.importorskip(
    "onnxruntime", reason="onnxruntime comes with the test extras (sklstm[onnx])"
)
onnx = pytest.importorskip("onnx", reason="onnx comes with the test extras")

TINY = dict(
    hidden_size=8, embedding_dim=4, max_epochs=2, lr=1e-2, n_members=1, random_state=0
)
RTOL, ATOL = 1e-5, 1e-7


def _session(model):
    return ort.InferenceSession(
        model.SerializeToString(), providers=["CPUExecutionProvider"]
    )


def _tokens(rng, n=40, width=9, vocab=20):
    """Token ids of lengths 1..width, padded with 0; a few interior zeros."""
    X = np.zeros((n, width), dtype=np.int64)
    for i, L in enumerate(rng.integers(1, width + 1, size=n)):
        X[i, :L] = rng.integers(2, vocab, size=L)
    X[0, :3] = [5, 0, 7]  # an interior 0 is part of the sequence, as in sklstm
    return X


def _ragged(rng, n=40, max_len=10, n_features=3):
    """Multivariate series of lengths 2..max_len as a list of arrays."""
    lengths = rng.integers(2, max_len + 1, size=n)
    return [rng.normal(size=(L, n_features)).astype(np.float32) for L in lengths]


def _pad(seqs, fill):
    """Pad a ragged list to (n, T, F) with ``fill`` after each end."""
    lengths = np.array([len(s) for s in seqs], dtype=np.int64)
    x = np.full((len(seqs), lengths.max(), seqs[0].shape[1]), fill, np.float32)
    for i, s in enumerate(seqs):
        x[i, : len(s)] = s
    return x, lengths


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("pooling", ["last", "mean", "max"])
def test_token_classifier_matches_predict_proba(rng, cell, bidirectional, pooling):
    X = _tokens(rng)
    y = rng.integers(0, 3, size=len(X))
    clf = LSTMClassifier(
        cell=cell,
        bidirectional=bidirectional,
        pooling=pooling,
        # two layers where bidirectional: the concatenated states feed layer 2
        num_layers=2 if bidirectional else 1,
        **TINY,
    ).fit(X, y)
    sess = _session(to_onnx(clf))
    assert [i.name for i in sess.get_inputs()] == ["x"]
    # variable lengths in one batch; a batch of one; a narrower time axis;
    # ids unseen in fit (read as out-of-vocabulary)
    X_oov = X.copy()
    X_oov[1, 0] = 500
    for Xb in (X, X[3:4], X[:, :4], X_oov):
        (proba,) = sess.run(None, {"x": Xb})
        np.testing.assert_allclose(proba, clf.predict_proba(Xb), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("pooling", ["last", "mean", "max"])
def test_numeric_regressor_matches_predict(rng, cell, bidirectional, pooling):
    seqs = _ragged(rng)
    # far from mean 0 / scale 1, so a missing inverse scaling would show
    y = np.array([1000 + 50 * s[:, 0].sum() for s in seqs])
    reg = LSTMRegressor(
        cell=cell, bidirectional=bidirectional, pooling=pooling, **TINY
    ).fit(seqs, y)
    sess = _session(to_onnx(reg))
    assert [i.name for i in sess.get_inputs()] == ["x", "lengths"]
    # padding after each length must not matter, whatever it holds
    x, lengths = _pad(seqs, fill=1e3)
    (pred,) = sess.run(None, {"x": x, "lengths": lengths})
    assert pred.shape == (len(seqs),)
    np.testing.assert_allclose(pred, reg.predict(seqs), rtol=RTOL, atol=ATOL)


def test_rnn_cell_and_multioutput_regression(rng):
    seqs = _ragged(rng)
    Y = np.array([[s[:, 0].sum(), 10 + 3 * s[:, 1].mean()] for s in seqs])
    reg = LSTMRegressor(cell="rnn", bidirectional=True, **TINY).fit(seqs, Y)
    x, lengths = _pad(seqs, fill=0.0)
    (pred,) = _session(to_onnx(reg)).run(None, {"x": x, "lengths": lengths})
    assert pred.shape == (len(seqs), 2)
    np.testing.assert_allclose(pred, reg.predict(seqs), rtol=RTOL, atol=ATOL)


def _perturb_custom_cells(est, seed=0):
    """Give the fitted recurrent layers clearly non-zero, distinct gate weights.

    Two epochs leave the peephole weights (which start at 0) near 0, so a
    translation that mixed up the peephole order (i, f, o in sklstm; i, o, f
    in ONNX) or dropped them could still pass; with random values it cannot.
    """
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for net in members_of(est.net_.module_):
            for layer in (*net.forward_layers, *(net.backward_layers or [])):
                for w in layer.parameters():
                    w.add_(0.3 * torch.randn(w.shape, generator=g))
                if hasattr(layer, "weight_peephole_l0"):
                    layer.weight_peephole_l0.normal_(0.0, 0.5, generator=g)


def _check_recurrent_nodes(model, cell, n_layers):
    """One ONNX LSTM node per layer and direction, with a dynamic time axis."""
    ops = [n.op_type for n in model.graph.node]
    assert ops.count("LSTM") == n_layers
    assert "Loop" not in ops and "Scan" not in ops
    for node in model.graph.node:
        if node.op_type == "LSTM":
            # peephole input P is the 8th; CIFG is a plain LSTM, no input_forget
            has_p = len(node.input) == 8 and node.input[7] != ""
            assert has_p == (cell == "peephole")
            assert "input_forget" not in [a.name for a in node.attribute]


@pytest.mark.parametrize("cell", ["peephole", "cifg"])
@pytest.mark.parametrize(
    "bidirectional, pooling",
    # "last" reads the backward direction from its reversed output, "mean" and
    # "attention" from the output turned back; the poolings themselves are
    # shared with the LSTM cell and tested above
    [(False, "attention"), (True, "last"), (True, "mean")],
)
def test_custom_cells_token_classifier(rng, cell, bidirectional, pooling):
    X = _tokens(rng)
    y = rng.integers(0, 3, size=len(X))
    clf = LSTMClassifier(
        cell=cell, bidirectional=bidirectional, pooling=pooling, num_layers=2, **TINY
    ).fit(X, y)
    _perturb_custom_cells(clf)
    model = to_onnx(clf)
    _check_recurrent_nodes(model, cell, 2 * (2 if bidirectional else 1))
    sess = _session(model)
    # the example traced has 3 steps: wider and narrower batches must work
    for Xb in (X, X[3:4], X[:, :4], np.hstack([X, X])):
        (proba,) = sess.run(None, {"x": Xb})
        np.testing.assert_allclose(proba, clf.predict_proba(Xb), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("cell", ["lstm", "peephole"])
def test_members_export_as_one_graph(rng, cell):
    """Several members (the default for token ids): one graph averaging them."""
    X = _tokens(rng)
    y = rng.integers(0, 3, size=len(X))
    clf = LSTMClassifier(
        cell=cell, bidirectional=True, pooling="mean", **dict(TINY, n_members=3)
    ).fit(X, y)
    _perturb_custom_cells(clf)
    model = to_onnx(clf)
    ops = [n.op_type for n in model.graph.node]
    assert ops.count("LSTM") == 3 * 2  # a node per member and direction
    sess = _session(model)
    for Xb in (X, X[3:4], np.hstack([X, X])):
        (proba,) = sess.run(None, {"x": Xb})
        np.testing.assert_allclose(proba, clf.predict_proba(Xb), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("cell", ["peephole", "cifg"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_custom_cells_numeric_regressor(rng, cell, bidirectional):
    seqs = _ragged(rng)
    y = np.array([1000 + 50 * s[:, 0].sum() for s in seqs])
    reg = LSTMRegressor(
        cell=cell, bidirectional=bidirectional, pooling="max", num_layers=2, **TINY
    ).fit(seqs, y)
    _perturb_custom_cells(reg, seed=1)
    sess = _session(to_onnx(reg, opset=17))
    x, lengths = _pad(seqs, fill=1e3)  # padding must not matter
    (pred,) = sess.run(None, {"x": x, "lengths": lengths})
    np.testing.assert_allclose(pred, reg.predict(seqs), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_attention_pooling(rng, bidirectional):
    X = _tokens(rng)
    y = rng.integers(0, 2, size=len(X))
    clf = LSTMClassifier(bidirectional=bidirectional, **TINY)
    clf = clf.set_params(pooling="attention").fit(X, y)
    (proba,) = _session(to_onnx(clf)).run(None, {"x": X})
    np.testing.assert_allclose(proba, clf.predict_proba(X), rtol=RTOL, atol=ATOL)


def test_lstm_projection_is_refused(rng):
    X = _tokens(rng)
    y = rng.integers(0, 2, size=len(X))
    clf = LSTMClassifier(proj_size=4, **TINY).fit(X, y)
    with pytest.raises(NotImplementedError, match="proj_size=0"):
        to_onnx(clf)


def test_univariate_numeric_classifier(rng):
    X = rng.normal(size=(40, 12))
    y = np.where(X[:, -3:].sum(axis=1) > 0, "up", "down")
    clf = LSTMClassifier(pooling="mean", **TINY).fit(X, y)
    model = to_onnx(clf)
    x = X[:, :, None].astype(np.float32)
    lengths = np.full(len(X), X.shape[1], dtype=np.int64)
    (proba,) = _session(model).run(None, {"x": x, "lengths": lengths})
    np.testing.assert_allclose(proba, clf.predict_proba(X), rtol=RTOL, atol=ATOL)
    meta = {p.key: p.value for p in model.metadata_props}
    assert meta["classes"] == '["down", "up"]'
    assert meta["input"] == "numeric"


def test_token_regressor_and_file_output(rng, tmp_path):
    X = _tokens(rng)
    y = rng.normal(loc=5, scale=2, size=len(X))
    reg = LSTMRegressor(**TINY).fit(X, y)
    path = tmp_path / "model.onnx"
    to_onnx(reg, path, opset=17)
    loaded = onnx.load(str(path))
    assert loaded.opset_import[0].version == 17
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (pred,) = sess.run(None, {"x": X})
    np.testing.assert_allclose(pred, reg.predict(X), rtol=RTOL, atol=ATOL)


def test_text_pipeline_ids_from_python(rng):
    texts = ["good film", "bad film", "great movie", "awful movie"] * 10
    labels = [1, 0, 1, 0] * 10
    pipe = make_pipeline(TextSequencer(), LSTMClassifier(**TINY)).fit(texts, labels)
    ids = pipe[:-1].transform(["good movie", "an unseen awful film"])
    (proba,) = _session(to_onnx(pipe[-1])).run(None, {"x": np.asarray(ids, np.int64)})
    np.testing.assert_allclose(
        proba,
        pipe.predict_proba(["good movie", "an unseen awful film"]),
        rtol=RTOL,
        atol=ATOL,
    )


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_model_trained_on_gpu_exports_for_cpu(rng):
    X = _tokens(rng)
    y = rng.integers(0, 2, size=len(X))
    clf = LSTMClassifier(device="cuda", bidirectional=True, **TINY).fit(X, y)
    (proba,) = _session(to_onnx(clf)).run(None, {"x": X})
    # cuDNN and the CPU kernels round differently
    np.testing.assert_allclose(proba, clf.predict_proba(X), rtol=1e-4, atol=1e-6)
    assert next(clf.net_.module_.parameters()).is_cuda  # the estimator is untouched


def test_errors(rng, monkeypatch):
    with pytest.raises(NotFittedError):
        to_onnx(LSTMClassifier())
    X = _tokens(rng)
    y = rng.integers(0, 2, size=len(X))
    pipe = make_pipeline(LSTMClassifier(**TINY)).fit(X, y)
    with pytest.raises(TypeError, match=r"pipe\[-1\]"):
        to_onnx(pipe)

    clf = pipe[-1]

    class CustomCell(torch.nn.Module):
        pass

    clf.net_.module_.forward_layers[0] = CustomCell()
    with pytest.raises(NotImplementedError, match="'lstm', 'gru', 'rnn'"):
        to_onnx(clf)

    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(ImportError, match=r"pip install sklstm\[onnx\]"):
        to_onnx(clf)


def test_too_old_opset_is_a_clear_error():
    rng = np.random.default_rng(0)
    X = rng.integers(2, 20, size=(30, 6))
    clf = LSTMClassifier(hidden_size=4, max_epochs=1, random_state=0).fit(
        X, rng.integers(0, 2, 30)
    )
    with pytest.raises(ValueError, match="opset 12"):
        to_onnx(clf, opset=11)


@pytest.mark.parametrize("pooling", ["auto", "concat"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_series_read_in_patches_export_with_their_lengths(rng, pooling, bidirectional):
    seqs = [rng.normal(size=(int(n), 2)) for n in rng.integers(9, 30, size=20)]
    y = np.array([1000 + 50 * s[:, 0].sum() for s in seqs])
    reg = LSTMRegressor(
        patch_size=4, pooling=pooling, bidirectional=bidirectional, **TINY
    ).fit(seqs, y)
    assert reg.net_.module_.patch_size == 4
    sess = _session(to_onnx(reg))
    x, lengths = _pad(seqs, fill=1e3)
    (pred,) = sess.run(None, {"x": x, "lengths": lengths})
    np.testing.assert_allclose(pred, reg.predict(seqs), rtol=RTOL, atol=ATOL)
    # a longer padding width than any seen in fit: the graph cuts windows freely
    x2 = np.concatenate([x, np.full((len(x), 13, 2), 7.0, dtype=np.float32)], axis=1)
    (pred2,) = sess.run(None, {"x": x2, "lengths": lengths})
    np.testing.assert_allclose(pred2, pred, rtol=RTOL, atol=ATOL)
