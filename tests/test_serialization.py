"""sklstm.save / sklstm.load: the pickle-free model file format."""

import copy
import io
import json
import os
import pickle
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pytest
import torch
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import make_pipeline

from sklstm import (
    LSTMClassifier,
    LSTMRegressor,
    ModelFileError,
    TextSequencer,
    load,
    save,
)
from sklstm.exceptions import InconsistentVersionWarning

TINY = dict(hidden_size=8, embedding_dim=8, max_epochs=2, random_state=0)
TEXTS = [
    "good movie",
    "bad movie",
    "great film",
    "awful film",
    "really good plot",
    "really bad acting",
    "great fun",
    "awful and bad",
] * 5
LABELS = ["pos", "neg", "pos", "neg", "pos", "neg", "pos", "neg"] * 5


@pytest.fixture(scope="module")
def classifier():
    rng = np.random.default_rng(0)
    X = np.zeros((60, 10), dtype=np.int64)
    for i, n in enumerate(rng.integers(1, 11, size=60)):
        X[i, :n] = rng.integers(2, 30, size=n)
    y = rng.integers(0, 3, size=60)
    return LSTMClassifier(**TINY).fit(X, y), X


@pytest.fixture(scope="module")
def text_pipeline():
    model = make_pipeline(TextSequencer(min_frequency=1), LSTMClassifier(**TINY))
    return model.fit(TEXTS, LABELS)


@pytest.fixture
def saved(classifier, tmp_path):
    path = tmp_path / "model.sklstm"
    save(classifier[0], path)
    return path


def _rewrite(src, dst, *, edit=None, replace=None, drop=()):
    """Copy a model file, editing its JSON and replacing or dropping entries."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for name in zin.namelist():
            if name in drop:
                continue
            data = zin.read(name)
            if name == "model.json" and edit is not None:
                doc = json.loads(data)
                edit(doc)
                data = json.dumps(doc).encode()
            if replace and name in replace:
                data = replace[name]
            zout.writestr(name, data)
    return dst


def _npy(arr, allow_pickle=False):
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=allow_pickle)
    return buf.getvalue()


# --------------------------------------------------------------------------- #
# round trips
# --------------------------------------------------------------------------- #
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


def test_warm_start_continues_after_load(classifier, tmp_path):
    clf, X = classifier
    y = clf.predict(X)
    save(clf, tmp_path / "full.sklstm")
    save(clf, tmp_path / "small.sklstm", include_optimizer=False)
    assert (
        os.path.getsize(tmp_path / "small.sklstm")
        < os.path.getsize(tmp_path / "full.sklstm") / 2
    )

    in_memory = copy.deepcopy(clf).set_params(warm_start=True).fit(X, y)
    resumed = load(tmp_path / "full.sklstm").set_params(warm_start=True).fit(X, y)
    assert resumed.loss_curve_ == in_memory.loss_curve_
    assert resumed.n_iter_ == clf.n_iter_ + 2
    np.testing.assert_array_equal(resumed.predict_proba(X), in_memory.predict_proba(X))

    # without the optimizer state, Adam restarts: training still continues
    restarted = load(tmp_path / "small.sklstm").set_params(warm_start=True).fit(X, y)
    assert restarted.n_iter_ == clf.n_iter_ + 2


def test_load_leaves_the_global_rng_alone(saved):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    load(saved)
    np.testing.assert_array_equal(torch.rand(3), expected)


def test_load_from_file_object(classifier, saved):
    clf, X = classifier
    with open(saved, "rb") as f:
        loaded = load(io.BytesIO(f.read()))
    np.testing.assert_array_equal(loaded.predict(X), clf.predict(X))


# --------------------------------------------------------------------------- #
# devices
# --------------------------------------------------------------------------- #
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
    loaded.set_params(max_epochs=1).fit(X, clf.predict(X))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_load_onto_gpu(classifier, saved):
    clf, X = classifier
    loaded = load(saved, device="cuda")
    assert loaded.device == "cuda"
    assert next(loaded.net_.module_.parameters()).is_cuda
    np.testing.assert_allclose(
        loaded.predict_proba(X), clf.predict_proba(X), rtol=1e-4, atol=1e-5
    )


def test_load_onto_missing_gpu_says_so(saved):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(ValueError, match="CUDA is not available"):
        load(saved, device="cuda")


# --------------------------------------------------------------------------- #
# fresh process
# --------------------------------------------------------------------------- #
def test_load_in_a_fresh_process(text_pipeline, tmp_path):
    save(text_pipeline, tmp_path / "text.sklstm")
    docs = ["good film", "awful movie", "really great fun"]
    script = textwrap.dedent(
        f"""
        import json, sklstm
        model = sklstm.load({str(tmp_path / "text.sklstm")!r})
        docs = {docs!r}
        print(json.dumps({{"pred": model.predict(docs).tolist(),
                          "proba": model.predict_proba(docs).tolist()}}))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    child = json.loads(out.stdout.strip().splitlines()[-1])
    assert child["pred"] == text_pipeline.predict(docs).tolist()
    np.testing.assert_allclose(
        child["proba"], text_pipeline.predict_proba(docs), rtol=1e-6
    )


# --------------------------------------------------------------------------- #
# atomic writes
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("fail_in", ["_write_array", "fsync", "replace"])
@pytest.mark.parametrize("existing", [False, True])
def test_interrupted_save_leaves_no_half_file(
    classifier, tmp_path, monkeypatch, fail_in, existing
):
    import sklstm._model_file as ser

    clf, X = classifier
    path = tmp_path / "model.sklstm"
    if existing:
        save(TextSequencer(), path)
        before = path.read_bytes()

    calls = []

    def crash(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3 or fail_in != "_write_array":
            raise KeyboardInterrupt("simulated crash")
        return original(*args, **kwargs)

    if fail_in == "_write_array":
        original = ser._write_array
        monkeypatch.setattr(ser, "_write_array", crash)
    else:
        monkeypatch.setattr(ser.os, fail_in, crash)
    with pytest.raises(KeyboardInterrupt):
        save(clf, path)
    monkeypatch.undo()

    assert calls
    assert os.listdir(tmp_path) == (["model.sklstm"] if existing else [])
    if existing:
        assert path.read_bytes() == before
        assert type(load(path)) is TextSequencer


def test_save_replaces_an_existing_file(classifier, tmp_path):
    clf, X = classifier
    path = tmp_path / "model.sklstm"
    save(TextSequencer(), path)
    save(clf, path)
    np.testing.assert_array_equal(load(path).predict(X), clf.predict(X))
    assert os.listdir(tmp_path) == ["model.sklstm"]


# --------------------------------------------------------------------------- #
# damaged, tampered and malicious files
# --------------------------------------------------------------------------- #
def test_truncated_file(saved, tmp_path):
    data = saved.read_bytes()
    for cut in (10, len(data) // 2, len(data) - 30):
        bad = tmp_path / f"cut{cut}.sklstm"
        bad.write_bytes(data[:cut])
        with pytest.raises(ModelFileError, match="truncated"):
            load(bad)


def test_corrupted_weights(saved, tmp_path):
    data = bytearray(saved.read_bytes())
    with zipfile.ZipFile(saved) as zf:
        info = zf.getinfo("arrays/1.npy")
    # flip bytes inside the stored (uncompressed) array data: the CRC catches it
    start = info.header_offset + 30 + len(info.filename) + 200
    data[start : start + 8] = bytes(8)
    bad = tmp_path / "flipped.sklstm"
    bad.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="damaged"):
        load(bad)


def test_not_a_model_file(tmp_path):
    (tmp_path / "text.sklstm").write_text("hello")
    with pytest.raises(ModelFileError, match="not a valid zip"):
        load(tmp_path / "text.sklstm")
    with zipfile.ZipFile(tmp_path / "other.zip", "w") as zf:
        zf.writestr("readme.txt", "hi")
    with pytest.raises(ModelFileError, match="no 'model.json'"):
        load(tmp_path / "other.zip")
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "missing.sklstm")


def _set(*keys, value):
    def edit(doc):
        node = doc
        for k in keys[:-1]:
            node = node[k]
        node[keys[-1]] = value

    return edit


@pytest.mark.parametrize(
    "edit, drop, message",
    [
        (None, ("arrays/2.npy",), "lacks"),
        (_set("model", "class", value="os.system"), (), "'os.system'"),
        (_set("model", "class", value="builtins.eval"), (), "does not create"),
        (_set("model", "params", "hidden_size", value="8; rm -rf"), (), "hidden_size"),
        (_set("model", "params", "no_such_param", value=1), (), "no_such_param"),
        (_set("model", "attributes", "__class__", value="x"), (), "__class__"),
        (_set("model", "attributes", "predict", value=1), (), "'predict'"),
        (
            _set("model", "net", "module_kwargs", "hidden_size", value=10**5),
            (),
            "shape",
        ),
        (_set("model", "net", "module_kwargs", "n_outputs", value=-1), (), "network"),
        (_set("model", "params", "max_epochs", value={"type": "eval"}), (), "'eval'"),
        (_set("format", value="x"), (), "not written by sklstm.save"),
    ],
    ids=[
        "missing-entry",
        "os.system",
        "eval",
        "bad-param-value",
        "unknown-param",
        "dunder-attribute",
        "method-attribute",
        "huge-network",
        "bad-network-args",
        "unknown-node",
        "wrong-format-name",
    ],
)
def test_tampered_file(saved, tmp_path, edit, drop, message):
    bad = _rewrite(saved, tmp_path / "bad.sklstm", edit=edit, drop=drop)
    with pytest.raises(ModelFileError, match=message):
        load(bad)


def test_newer_format_version(saved, tmp_path):
    bad = _rewrite(saved, tmp_path / "new.sklstm", edit=_set("format_version", value=2))
    with pytest.raises(ModelFileError, match="format version 2.*Upgrade sklstm"):
        load(bad)


def test_weights_with_wrong_shape(saved, tmp_path):
    with zipfile.ZipFile(saved) as zf:
        doc = json.loads(zf.read("model.json"))
    entry = doc["model"]["net"]["state_dict"]["head.weight"]["entry"]
    bad = _rewrite(
        saved,
        tmp_path / "shape.sklstm",
        replace={entry: _npy(np.zeros((3, 9), np.float32))},
    )
    with pytest.raises(ModelFileError, match=r"'head.weight' has shape \(3, 9\)"):
        load(bad)


class _Evil:
    """Unpickling this creates a file: the marker that code ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_pickle_payloads_are_never_unpickled(saved, tmp_path):
    marker = tmp_path / "pwned"
    # the payload is live: unpickling it really creates the marker
    control = tmp_path / "control"
    pickle.loads(pickle.dumps(_Evil(control))).close()
    assert control.exists()

    # a pickle instead of a model file
    raw = tmp_path / "raw.sklstm"
    raw.write_bytes(pickle.dumps(_Evil(marker)))
    with pytest.raises(ModelFileError):
        load(raw)

    # a pickled object array where the classes should be
    evil = np.empty(1, dtype=object)
    evil[0] = _Evil(marker)
    with zipfile.ZipFile(saved) as zf:
        doc = json.loads(zf.read("model.json"))
    entry = doc["model"]["attributes"]["classes_"]["entry"]
    bad = _rewrite(
        saved,
        tmp_path / "npy.sklstm",
        replace={entry: _npy(evil, allow_pickle=True)},
    )
    with pytest.raises(ModelFileError, match="without unpickling"):
        load(bad)

    # a pickle where the JSON description should be
    bad = _rewrite(
        saved,
        tmp_path / "json.sklstm",
        replace={"model.json": pickle.dumps(_Evil(marker))},
    )
    with pytest.raises(ModelFileError):
        load(bad)
    assert not marker.exists()


def test_untrusted_type_in_skops_part_is_refused(tmp_path):
    skops_io = pytest.importorskip("skops.io", reason="needs skops")
    from sklearn.preprocessing import FunctionTransformer, MinMaxScaler

    model = make_pipeline(MinMaxScaler(), LSTMRegressor())
    save(model, tmp_path / "ok.sklstm")
    evil = skops_io.dumps(FunctionTransformer(os.system, kw_args={"command": "x"}))
    bad = _rewrite(
        tmp_path / "ok.sklstm", tmp_path / "bad.sklstm", replace={"skops/0.skops": evil}
    )
    with pytest.raises(ModelFileError, match="system"):
        load(bad)


def test_other_sklstm_version_warns(classifier, saved, tmp_path):
    clf, X = classifier
    old = _rewrite(
        saved, tmp_path / "old.sklstm", edit=_set("sklstm_version", value="0.0.1")
    )
    with pytest.warns(InconsistentVersionWarning, match="0.0.1") as record:
        loaded = load(old)
    assert record[0].filename == __file__
    np.testing.assert_array_equal(loaded.predict(X), clf.predict(X))


def test_zip_bomb_is_refused(saved, tmp_path):
    bomb = tmp_path / "bomb.sklstm"
    with zipfile.ZipFile(saved) as zin, zipfile.ZipFile(bomb, "w") as zout:
        for name in zin.namelist():
            zout.writestr(name, zin.read(name))
        zout.writestr("arrays/999.npy", bytes(32 << 20), zipfile.ZIP_DEFLATED)
    with pytest.raises(ModelFileError, match="unpacks to"):
        load(bomb)


def test_array_header_promising_more_data_is_refused(saved, tmp_path):
    with zipfile.ZipFile(saved) as zf:
        doc = json.loads(zf.read("model.json"))
    entry = doc["model"]["net"]["state_dict"]["head.bias"]["entry"]
    buf = io.BytesIO()
    header = {"descr": "<f4", "fortran_order": False, "shape": (10**13,)}
    np.lib.format.write_array_header_1_0(buf, header)
    forged = buf.getvalue() + bytes(12)  # the data of 3 floats only
    bad = _rewrite(saved, tmp_path / "forged.sklstm", replace={entry: forged})
    with pytest.raises(ModelFileError, match="announces"):
        load(bad)
