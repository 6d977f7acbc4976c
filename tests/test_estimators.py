"""Behaviour of LSTMClassifier / LSTMRegressor that users rely on."""

import pickle
import subprocess
import sys
import textwrap

import joblib
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from tiny import SMALL

from sklstm import LSTMClassifier, LSTMRegressor

ESTIMATORS = [LSTMClassifier, LSTMRegressor]


def _pad_to(X, width):
    out = np.zeros((X.shape[0], width), dtype=X.dtype)
    out[:, : X.shape[1]] = X
    return out


def _outputs(est, X):
    return est.predict_proba(X) if hasattr(est, "predict_proba") else est.predict(X)


@pytest.mark.parametrize("Est", ESTIMATORS)
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("pooling", ["last", "mean", "max"])
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_padding_width_does_not_change_predictions(
    Est, bidirectional, pooling, cell, token_data
):
    X, y, _ = token_data
    est = Est(
        bidirectional=bidirectional, pooling=pooling, cell=cell, num_layers=2, **SMALL
    )
    est.fit(X, y)
    narrow = _outputs(est, X)
    wide = _outputs(est, _pad_to(X, 200))
    np.testing.assert_allclose(narrow, wide, rtol=1e-6, atol=1e-7)
    # a list of unpadded sequences reads the same
    ragged = [row[: int(np.flatnonzero(row)[-1]) + 1] for row in X]
    np.testing.assert_allclose(narrow, _outputs(est, ragged), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_predictions_do_not_depend_on_batch_or_order(bidirectional, token_data):
    X, y, _ = token_data
    est = LSTMClassifier(bidirectional=bidirectional, **SMALL).fit(X, y)
    full = est.predict_proba(X)
    one_by_one = np.vstack([est.predict_proba(X[i : i + 1]) for i in range(0, 40)])
    np.testing.assert_allclose(full[:40], one_by_one, rtol=1e-7, atol=1e-9)
    perm = np.random.default_rng(1).permutation(len(X))
    np.testing.assert_allclose(
        full[perm], est.predict_proba(X[perm]), rtol=1e-7, atol=1e-9
    )


def test_learns_a_token_task(token_data):
    X, y, _ = token_data
    clf = LSTMClassifier(
        hidden_size=16, embedding_dim=16, max_epochs=30, lr=1e-2, random_state=0
    )
    clf.fit(X, y)
    assert clf.score(X, y) > 0.9
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert clf.n_iter_ == len(clf.loss_curve_) <= 30
    assert clf.loss_curve_[-1] < clf.loss_curve_[0]


def test_string_labels_and_classes(token_data):
    X, y, _ = token_data
    labels = np.array(["neg", "pos"])[y]
    clf = LSTMClassifier(**SMALL).fit(X, labels)
    assert list(clf.classes_) == ["neg", "pos"]
    assert set(clf.predict(X)) <= {"neg", "pos"}


def test_multiclass_proba_shape(rng):
    X = rng.normal(size=(90, 6))
    y = np.repeat([0, 1, 2], 30)
    clf = LSTMClassifier(**SMALL).fit(X, y)
    assert clf.predict_proba(X).shape == (90, 3)
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(X)), clf.predict_proba(X))


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_same_random_state_same_model_and_global_rng_untouched(Est, token_data):
    X, y, _ = token_data
    np.random.seed(123)
    torch.manual_seed(123)
    np_state = np.random.get_state()[1].copy()
    torch_state = torch.get_rng_state().clone()
    a = _outputs(Est(**SMALL).fit(X, y), X)
    b = _outputs(Est(**SMALL).fit(X, y), X)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(np.random.get_state()[1], np_state)
    assert torch.equal(torch.get_rng_state(), torch_state)
    c = _outputs(Est(**{**SMALL, "random_state": 1}).fit(X, y), X)
    assert not np.allclose(a, c)


def test_regressor_returns_original_units_and_multioutput(rng):
    X = rng.normal(size=(150, 8))
    y = X[:, -2:].sum(axis=1)
    Y = np.column_stack([1000 * y + 5000, -y])
    reg = LSTMRegressor(
        hidden_size=16, max_epochs=60, batch_size=16, lr=1e-2, random_state=0
    )
    reg.fit(X, Y)
    pred = reg.predict(X)
    assert pred.shape == (150, 2)
    assert abs(pred[:, 0].mean() - 5000) < 300
    assert reg.score(X, Y) > 0.7
    assert reg.fit(X, Y[:, 0]).predict(X).shape == (150,)


def test_multivariate_and_variable_length_numeric(rng):
    lengths = rng.integers(5, 20, size=120)
    seqs = [rng.normal(size=(L, 3)) for L in lengths]
    y = np.array([s[:, 0].sum() > 0 for s in seqs]).astype(int)
    clf = LSTMClassifier(**SMALL).fit(seqs, y)
    p_all = clf.predict_proba(seqs)
    p_one = np.vstack([clf.predict_proba([s]) for s in seqs[:10]])
    np.testing.assert_allclose(p_all[:10], p_one, rtol=1e-7, atol=1e-9)
    with pytest.raises(ValueError, match="features per time step"):
        clf.predict([s[:, :2] for s in seqs])
    # a 3-D array of equal-length series is accepted with a free number of steps
    X3 = rng.normal(size=(60, 10, 3))
    clf.fit(X3, y[:60])
    assert clf.predict(rng.normal(size=(5, 25, 3))).shape == (5,)
    with pytest.raises(ValueError, match="features per time step"):
        clf.predict(rng.normal(size=(5, 10, 4)))


def test_2d_float_width_is_fixed(rng):
    X = rng.normal(size=(50, 7))
    y = rng.integers(0, 2, 50)
    clf = LSTMClassifier(**SMALL).fit(X, y)
    assert clf.n_features_in_ == 7
    with pytest.raises(ValueError, match="7 features"):
        clf.predict(rng.normal(size=(5, 8)))


def test_token_width_is_free_and_unseen_ids_read_as_oov(token_data):
    X, y, _ = token_data
    clf = LSTMClassifier(**SMALL).fit(X, y)
    assert not hasattr(clf, "n_features_in_")
    X_unseen = X.copy()
    X_unseen[:, 0] = np.where(X[:, 0] > 0, 10_000, 0)
    X_oov = X.copy()
    X_oov[:, 0] = np.where(X[:, 0] > 0, 1, 0)
    np.testing.assert_allclose(clf.predict_proba(X_unseen), clf.predict_proba(X_oov))


def test_clear_errors(token_data):
    X, y, _ = token_data
    clf = LSTMClassifier(**SMALL)
    with pytest.raises(TypeError, match="TextSequencer"):
        clf.fit(["a text", "another"], [0, 1])
    with pytest.raises(ValueError, match=">= 0"):
        clf.fit(-X, y)
    with pytest.raises(ValueError, match="one class"):
        clf.fit(X, np.zeros(len(X)))
    with pytest.raises(ValueError, match="length 0"):
        clf.fit([np.ones(3), np.ones(0)], [0, 1])
    with pytest.raises(ValueError, match="NaN"):
        clf.fit(np.array([[0.5, np.nan], [1.0, 2.0]]), [0, 1])
    with pytest.raises(ValueError, match="hidden_size"):
        LSTMClassifier(hidden_size=-3).fit(X, y)
    with pytest.raises(ValueError, match="dropout"):
        LSTMClassifier(dropout=1.0).fit(X, y)
    with pytest.raises(NotFittedError):
        LSTMClassifier().predict(X)
    with pytest.raises(ValueError, match="integer token ids"):
        clf.fit(X, y).predict(X.astype(float))


def test_cuda_unavailable_is_a_clear_error(token_data):
    if torch.cuda.is_available():
        pytest.skip("a GPU is present; this checks the CPU-only message")
    X, y, _ = token_data
    with pytest.raises(ValueError, match="CUDA is not available"):
        LSTMClassifier(device="cuda", **SMALL).fit(X, y)
    assert LSTMClassifier(device="auto", **SMALL).fit(X, y).predict(X).shape == (
        len(X),
    )


def test_failed_fit_leaves_fitted_model_unchanged(token_data):
    X, y, _ = token_data
    clf = LSTMClassifier(**SMALL).fit(X, y)
    before = clf.predict_proba(X)
    net_before = clf.net_
    with pytest.raises(ValueError):
        clf.fit(np.random.default_rng(0).normal(size=(20, 3)), np.zeros(20))
    assert clf.net_ is net_before
    assert clf._input_kind == "tokens"
    np.testing.assert_array_equal(clf.predict_proba(X), before)


def test_verbose_prints_epoch_table(token_data, capsys):
    X, y, _ = token_data
    LSTMClassifier(verbose=1, **SMALL).fit(X, y)
    out = capsys.readouterr().out
    assert "train_loss" in out and "epoch" in out
    LSTMClassifier(verbose=0, **SMALL).fit(X, y)
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_pickle_and_joblib_round_trip(Est, token_data, tmp_path):
    X, y, _ = token_data
    est = Est(**SMALL).fit(X, y)
    expected = _outputs(est, X)
    np.testing.assert_array_equal(
        _outputs(pickle.loads(pickle.dumps(est)), X), expected
    )
    joblib.dump(est, tmp_path / "m.joblib")
    np.testing.assert_array_equal(
        _outputs(joblib.load(tmp_path / "m.joblib"), X), expected
    )
    # the saved model does not carry the training data
    assert len(pickle.dumps(est)) < 200_000


def test_joblib_load_in_fresh_process(token_data, tmp_path):
    X, y, _ = token_data
    clf = LSTMClassifier(**SMALL).fit(X, y)
    joblib.dump(clf, tmp_path / "m.joblib")
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "p.npy", clf.predict_proba(X))
    code = textwrap.dedent(
        f"""
        import joblib, numpy as np
        m = joblib.load({str(tmp_path / "m.joblib")!r})
        X = np.load({str(tmp_path / "X.npy")!r})
        np.testing.assert_array_equal(m.predict_proba(X), np.load({str(tmp_path / "p.npy")!r}))
        print("same")
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "same" in out.stdout


def test_clone_is_unfitted_with_same_params(token_data):
    X, y, _ = token_data
    clf = LSTMClassifier(
        hidden_size=7, **{k: v for k, v in SMALL.items() if k != "hidden_size"}
    )
    clf.fit(X, y)
    c = clone(clf)
    assert c.get_params() == clf.get_params()
    assert not hasattr(c, "net_")


@pytest.mark.parametrize("kind", ["estimator", "transformer"])
def test_saved_models_record_the_sklstm_version_and_warn_on_another(kind, token_data):
    import warnings

    import sklstm
    from sklstm.exceptions import InconsistentVersionWarning

    X, y, _ = token_data
    if kind == "estimator":
        est = LSTMClassifier(**SMALL).fit(X, y)
    else:
        est = sklstm.TextSequencer().fit(["a b"])
    before = set(vars(est))
    blob = pickle.dumps(est)
    assert sklstm.__version__.encode() in blob
    assert set(vars(est)) == before  # pickling does not change the estimator
    with warnings.catch_warnings():
        warnings.simplefilter("error", InconsistentVersionWarning)
        pickle.loads(blob)  # same version: silent
    old = blob.replace(sklstm.__version__.encode(), b"0.0.1.dev0")
    with pytest.warns(InconsistentVersionWarning, match="saved by sklstm 0.0.1.dev0"):
        pickle.loads(old)
