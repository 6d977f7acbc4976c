"""sklstm.save: what a saved model keeps, and what the safe format refuses."""

import copy
import os
import sys

import numpy as np
import pytest
import torch
from _model_files import LABELS, TEXTS, TINY
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import make_pipeline

from sklstm import LSTMClassifier, LSTMRegressor, TextSequencer, load, save


def test_classifier_round_trip(classifier, saved):
    clf, X = classifier
    loaded = load(saved)
    assert type(loaded) is LSTMClassifier
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    np.testing.assert_array_equal(loaded.predict(X), clf.predict(X))
    assert loaded.get_params() == clf.get_params()
    np.testing.assert_array_equal(loaded.classes_, clf.classes_)
    assert loaded.loss_curve_ == clf.loss_curve_
    assert loaded.n_iter_ == clf.n_iter_
    assert len(loaded.net_.history) == len(clf.net_.history)
    assert not loaded.net_.module_.training


def test_regressor_round_trip_3d(tmp_path):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(50, 7, 3))
    y = np.c_[X[:, -1, 0], X[:, :, 1].sum(axis=1)] * 10 + 3
    reg = LSTMRegressor(**TINY, early_stopping=True).fit(X, y)
    save(reg, tmp_path / "reg.sklstm")
    loaded = load(tmp_path / "reg.sklstm")
    X_new = rng.normal(size=(9, 5, 3))
    np.testing.assert_array_equal(loaded.predict(X_new), reg.predict(X_new))
    assert loaded.validation_scores_ == reg.validation_scores_
    np.testing.assert_array_equal(loaded._input_scale, reg._input_scale)
    assert loaded._input_scale.dtype == reg._input_scale.dtype


@pytest.mark.parametrize("label_dtype", [str, object])
def test_text_pipeline_round_trip_string_labels(tmp_path, label_dtype):
    y = np.asarray(LABELS, dtype=label_dtype)
    model = make_pipeline(TextSequencer(min_frequency=1), LSTMClassifier(**TINY))
    model.fit(TEXTS, y)
    save(model, tmp_path / "text.sklstm")
    loaded = load(tmp_path / "text.sklstm")
    docs = ["good film", "awful movie", "words never seen"]
    np.testing.assert_array_equal(loaded.predict_proba(docs), model.predict_proba(docs))
    pred = loaded.predict(docs)
    np.testing.assert_array_equal(pred, model.predict(docs))
    assert pred.dtype == model.predict(docs).dtype
    assert loaded[0].vocabulary_ == model[0].vocabulary_
    assert list(loaded.named_steps) == list(model.named_steps)


def test_pipeline_with_sklearn_scaler(tmp_path):
    pytest.importorskip("skops", reason="scikit-learn parts are stored with skops")
    from sklearn.preprocessing import MinMaxScaler

    rng = np.random.default_rng(2)
    X = rng.normal(size=(40, 8)) * 50
    y = X[:, -2:].sum(axis=1)
    model = make_pipeline(MinMaxScaler(), LSTMRegressor(**TINY)).fit(X, y)
    save(model, tmp_path / "scaled.sklstm")
    loaded = load(tmp_path / "scaled.sklstm")
    assert type(loaded[0]) is MinMaxScaler
    np.testing.assert_array_equal(loaded[0].data_max_, model[0].data_max_)
    X_new = rng.normal(size=(6, 8)) * 50
    np.testing.assert_array_equal(loaded.predict(X_new), model.predict(X_new))


def test_unfitted_round_trip(tmp_path):
    est = LSTMClassifier(
        hidden_size=5,
        optimizer_kwargs={"betas": (0.8, 0.9)},
        module_kwargs={"dropout": 0.0},
        random_state=np.random.RandomState(3),
        early_stopping=True,
        tol=float("inf"),
    )
    save(est, tmp_path / "u.sklstm")
    loaded = load(tmp_path / "u.sklstm")
    params = loaded.get_params()
    assert params["optimizer_kwargs"] == {"betas": (0.8, 0.9)}
    assert params["tol"] == float("inf")
    assert params["random_state"].randint(1000) == np.random.RandomState(3).randint(
        1000
    )
    with pytest.raises(NotFittedError):
        loaded.predict(np.ones((2, 3), dtype=np.int64))

    seq = TextSequencer(vocabulary=["good", "bad"], max_len=4)
    save(seq, tmp_path / "seq.sklstm")
    loaded_seq = load(tmp_path / "seq.sklstm")
    assert loaded_seq.get_params() == seq.get_params()
    assert not hasattr(loaded_seq, "vocabulary_")


def test_model_from_gpu_loads_on_cpu(classifier, tmp_path):
    """A model trained with device="cuda" loads on the CPU (simulated: the
    weights are copied to the CPU when saving whatever their device)."""
    clf, X = classifier
    on_gpu = copy.deepcopy(clf).set_params(device="cuda")
    save(on_gpu, tmp_path / "gpu.sklstm")
    loaded = load(tmp_path / "gpu.sklstm")
    assert loaded.get_params()["device"] == "cpu"
    assert next(loaded.net_.module_.parameters()).device.type == "cpu"
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    # and training continues on the CPU
    loaded.set_params(max_epochs=1).fit(X, np.arange(len(X)) % 3)


# --------------------------------------------------------------------------- #
# what the safe format refuses
# --------------------------------------------------------------------------- #
def test_function_transformer_with_own_function_is_refused(tmp_path):
    pytest.importorskip("skops", reason="scikit-learn parts are stored with skops")
    from sklearn.preprocessing import FunctionTransformer

    def clip(X):
        return np.clip(X, -3, 3)

    model = make_pipeline(FunctionTransformer(clip), LSTMRegressor(**TINY))
    path = tmp_path / "func.sklstm"
    with pytest.raises(TypeError, match=r"(?s)FunctionTransformer.*clip.*joblib"):
        save(model, path)
    assert os.listdir(tmp_path) == []


def test_sklearn_part_without_skops(tmp_path, monkeypatch, text_pipeline):
    from sklearn.preprocessing import MinMaxScaler

    monkeypatch.setitem(sys.modules, "skops", None)
    monkeypatch.setitem(sys.modules, "skops.io", None)
    with pytest.raises(ImportError, match="pip install skops"):
        save(make_pipeline(MinMaxScaler(), LSTMRegressor()), tmp_path / "a.sklstm")
    # sklstm-only models need no skops
    save(text_pipeline, tmp_path / "b.sklstm")
    assert load(tmp_path / "b.sklstm").predict(["good"]) == text_pipeline.predict(
        ["good"]
    )


@pytest.mark.parametrize(
    "make, param",
    [
        (lambda: LSTMClassifier(optimizer=torch.optim.SGD), "optimizer"),
        (lambda: TextSequencer(tokenizer=str.split), "tokenizer"),
        (lambda: LSTMRegressor(callbacks=[_progress_callback()]), "callbacks"),
    ],
    ids=["optimizer-class", "tokenizer-function", "callbacks"],
)
def test_parameters_that_need_pickle_are_refused(tmp_path, make, param):
    with pytest.raises(TypeError, match=rf"(?s)parameter '{param}'.*joblib/pickle"):
        save(make_pipeline(make()), tmp_path / "m.sklstm")
    assert os.listdir(tmp_path) == []


def _progress_callback():
    from skorch.callbacks import EpochTimer

    return EpochTimer()
