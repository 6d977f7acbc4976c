"""Temperature scaling of LSTMClassifier (sklstm/_calibration.py)."""

import pickle

import numpy as np
import pytest
from _model_files import round_trip
from conftest import make_token_data
from scipy.special import softmax
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator
from sklearn.utils._param_validation import InvalidParameterError
from tiny import TINY

import sklstm
from sklstm import LSTMClassifier
from sklstm._calibration import fit_temperature, nll

#: held out by early stopping: the same split with and without calibration
SPLIT = dict(TINY, early_stopping=True, max_epochs=3, lr=2e-2, validation_fraction=0.3)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(1)
    X, y, _ = make_token_data(rng, n=300, max_len=10)
    # three classes: the marker count, so that the task is multi-class
    y = np.minimum(((X >= 2) & (X <= 4)).sum(axis=1), 2)
    return X, y


@pytest.fixture(scope="module")
def pair(data):
    """The same network fitted without and with temperature scaling."""
    X, y = data
    raw = LSTMClassifier(**SPLIT, calibration=None).fit(X, y)
    cal = LSTMClassifier(**SPLIT, calibration="temperature").fit(X, y)
    return raw, cal


def test_fit_temperature_recovers_an_overconfident_scale():
    rng = np.random.default_rng(0)
    true_logits = rng.normal(size=(20000, 4))
    y = np.array([rng.choice(4, p=p) for p in softmax(true_logits, axis=1)])
    t = fit_temperature(3.0 * true_logits, y)
    assert t == pytest.approx(3.0, rel=0.05)
    assert nll(3.0 * true_logits / t, y) < nll(3.0 * true_logits, y)


def test_fit_temperature_weights_count_like_duplicates():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(300, 3)) * 2
    y = rng.integers(0, 3, size=300)
    w = rng.integers(0, 4, size=300)
    assert fit_temperature(logits, y, w.astype(float)) == pytest.approx(
        fit_temperature(np.repeat(logits, w, axis=0), np.repeat(y, w)), rel=1e-4
    )


def test_fit_temperature_multilabel_uses_sigmoids():
    rng = np.random.default_rng(0)
    true_logits = rng.normal(size=(20000, 3))
    y = (rng.random((20000, 3)) < 1 / (1 + np.exp(-true_logits))).astype(float)
    t = fit_temperature(0.5 * true_logits, y, multilabel=True)
    assert t == pytest.approx(0.5, rel=0.05)


def test_predict_is_unchanged_and_probabilities_are_rescaled(pair, data):
    raw, cal = pair
    X, _ = data
    assert raw.temperature_ is None
    assert cal.temperature_ > 0 and cal.temperature_ != 1.0
    np.testing.assert_array_equal(raw.predict(X), cal.predict(X))
    # the same network: softmax(logits / T) of the uncalibrated logits
    logits = raw.predict_log_proba(X)
    expected = softmax(logits / cal.temperature_, axis=1)
    np.testing.assert_allclose(cal.predict_proba(X), expected, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(
        np.exp(cal.predict_log_proba(X)), cal.predict_proba(X), rtol=1e-9
    )


def test_temperature_minimises_the_held_out_log_loss(pair, data):
    """T is the held-out NLL minimiser: nudging it either way is worse."""
    raw, cal = pair
    X, y = data
    # the validation rows early stopping held out (same seed -> same split)
    from sklstm._early_stopping import validation_split
    from sklstm._leakage import sequence_groups
    from sklstm._runtime import seed_from
    from sklstm._validation import _lengths_from_tokens

    groups = sequence_groups(X, _lengths_from_tokens(X))
    _, valid = validation_split(
        len(X), y, 0.3, seed_from(0), stratify=True, groups=groups
    )
    logits = raw.predict_log_proba(X[valid])
    t = cal.temperature_
    best = nll(logits / t, y[valid])
    assert best <= nll(logits / (t * 1.1), y[valid])
    assert best <= nll(logits / (t / 1.1), y[valid])


def test_auto_calibrates_with_early_stopping_only(data):
    X, y = data
    small = dict(TINY, max_epochs=2)
    assert LSTMClassifier(**small).fit(X, y).temperature_ is None  # 400 < 1000
    auto = LSTMClassifier(**small, early_stopping=True).fit(X, y)
    assert auto.temperature_ is not None


def test_temperature_without_early_stopping_holds_out_its_own_split(data):
    X, y = data
    model = LSTMClassifier(
        **dict(TINY, max_epochs=2), early_stopping=False, calibration="temperature"
    ).fit(X, y)
    assert model.temperature_ is not None
    assert model.validation_scores_ is None  # no early stopping for all that


def test_binary_and_multilabel(data):
    X, y = data
    binary = LSTMClassifier(**SPLIT, calibration="temperature").fit(X, y > 0)
    proba = binary.predict_proba(X)
    assert proba.shape == (len(X), 2)
    np.testing.assert_array_equal(binary.predict(X), proba.argmax(axis=1) == 1)
    Y = np.column_stack([y > 0, y > 1]).astype(int)
    multi = LSTMClassifier(**SPLIT, calibration="temperature").fit(X, Y)
    raw = LSTMClassifier(**SPLIT, calibration=None).fit(X, Y)
    np.testing.assert_array_equal(multi.predict(X), raw.predict(X))
    np.testing.assert_array_equal(multi.predict(X), multi.predict_proba(X) > 0.5)


def test_sample_weight_enters_the_temperature(data):
    X, y = data
    w = np.where(y == 2, 5.0, 1.0)
    plain = LSTMClassifier(**SPLIT, calibration="temperature").fit(X, y)
    weighted = LSTMClassifier(**SPLIT, calibration="temperature").fit(X, y, w)
    assert weighted.temperature_ != pytest.approx(plain.temperature_)


def test_same_random_state_same_temperature(pair, data):
    X, y = data
    again = LSTMClassifier(**SPLIT, calibration="temperature").fit(X, y)
    assert again.temperature_ == pair[1].temperature_


def test_partial_fit_drops_the_stale_temperature(pair, data):
    X, y = data
    model = pickle.loads(pickle.dumps(pair[1]))
    model.partial_fit(X, y)
    assert model.temperature_ is None


@pytest.mark.parametrize("how", ["pickle", "joblib", "sklstm"])
def test_temperature_survives_persistence(pair, data, tmp_path, how):
    cal = pair[1]
    X, _ = data
    back = round_trip(cal, tmp_path / "model", how)
    assert back.temperature_ == cal.temperature_
    np.testing.assert_array_equal(back.predict_proba(X), cal.predict_proba(X))


def test_old_pickle_without_calibration_predicts_the_raw_softmax(pair, data):
    raw, cal = pair
    X, _ = data
    state = cal.__getstate__()
    state = {k: v for k, v in state.items() if k not in ("calibration", "temperature_")}
    old = LSTMClassifier.__new__(LSTMClassifier)
    old.__setstate__(state)
    assert old.calibration is None  # what the older version did
    np.testing.assert_allclose(old.predict_proba(X), raw.predict_proba(X))


def test_unknown_calibration_is_rejected(data):
    X, y = data
    with pytest.raises(InvalidParameterError, match="calibration"):
        LSTMClassifier(calibration="isotonic").fit(X, y)


@pytest.mark.parametrize("method", ["sigmoid", "temperature"])
def test_works_inside_calibrated_classifier_cv(pair, data, method):
    raw = pair[0]
    X, y = data
    cal = CalibratedClassifierCV(FrozenEstimator(raw), method=method).fit(X, y)
    proba = cal.predict_proba(X)
    assert proba.shape == (len(X), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    if method == "temperature":  # one temperature keeps the arg-max
        np.testing.assert_array_equal(cal.predict(X), raw.predict(X))


def test_onnx_export_reproduces_the_calibrated_probabilities(pair, data):
    ort = pytest.importorskip(
        "onnxruntime", reason="onnxruntime comes with the onnx extra"
    )
    pytest.importorskip("onnx", reason="onnx comes with the onnx extra")
    cal = pair[1]
    X, _ = data
    model = sklstm.to_onnx(cal)
    sess = ort.InferenceSession(
        model.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    (proba,) = sess.run(None, {"x": X[:50]})
    np.testing.assert_allclose(proba, cal.predict_proba(X[:50]), rtol=1e-5, atol=1e-7)
