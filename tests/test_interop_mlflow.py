"""MLflow: a fitted pipeline logged and served without pickle (sklstm.mlflow)."""

import importlib
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import make_pipeline
from tiny import EXACT

from sklstm import LSTMClassifier, TextSequencer

TEXTS = ["good phone", "bad phone", "great battery", "awful screen"] * 6
LABELS = [1, 0, 1, 0] * 6


def test_the_module_imports_without_mlflow(monkeypatch):
    import sklstm.mlflow

    monkeypatch.setitem(sys.modules, "mlflow", None)  # import mlflow fails
    monkeypatch.setitem(sys.modules, "mlflow.pyfunc", None)
    try:
        module = importlib.reload(sklstm.mlflow)
        assert module.SklstmModel.__bases__ == (object,)
        with pytest.raises(ImportError, match="pip install mlflow"):
            module.log_model(None)
    finally:
        monkeypatch.undo()
        importlib.reload(sklstm.mlflow)


@pytest.fixture(scope="module")
def mlflow(tmp_path_factory):
    mlflow = pytest.importorskip("mlflow", reason="MLflow is not installed")
    root = tmp_path_factory.mktemp("mlflow")
    mlflow.set_tracking_uri(f"sqlite:///{root / 'mlflow.db'}")
    # artifacts in the temporary folder too, not in ./mlruns
    mlflow.create_experiment("sklstm-tests", artifact_location=root.as_uri())
    mlflow.set_experiment("sklstm-tests")
    return mlflow


@pytest.fixture(scope="module")
def pipe():
    model = make_pipeline(TextSequencer(min_frequency=1), LSTMClassifier(**EXACT))
    return model.fit(TEXTS, LABELS)


def test_pyfunc_round_trip_takes_lists_and_dataframes(mlflow, pipe):
    import sklstm.mlflow

    with mlflow.start_run():
        info = sklstm.mlflow.log_model(pipe, method="predict_proba")
    loaded = mlflow.pyfunc.load_model(info.model_uri)
    expected = pipe.predict_proba(TEXTS)
    np.testing.assert_allclose(loaded.predict(TEXTS), expected)
    frame = pd.DataFrame({"text": TEXTS})
    np.testing.assert_allclose(np.asarray(loaded.predict(frame)), expected)
    # the pyfunc model is code plus an sklstm model file: nothing pickled
    files = {
        p.path.rsplit("/", 1)[-1]
        for p in mlflow.artifacts.list_artifacts(info.model_uri)
    }
    assert "python_model.pkl" not in files


def test_signature_from_an_input_example(mlflow, pipe):
    import sklstm.mlflow

    with mlflow.start_run():
        info = sklstm.mlflow.log_model(pipe, input_example=TEXTS[:2])
    assert info.signature is not None
    loaded = mlflow.pyfunc.load_model(info.model_uri)
    assert list(loaded.predict(TEXTS)) == list(pipe.predict(TEXTS))


def test_unknown_method_is_refused(mlflow, pipe):
    import sklstm.mlflow

    with pytest.raises(ValueError, match="method must be one of"):
        sklstm.mlflow.log_model(pipe, method="fit")


def test_a_model_the_safe_format_refuses_is_not_logged(mlflow):
    import sklstm.mlflow

    model = TextSequencer(tokenizer=str.split).fit(TEXTS)
    with mlflow.start_run(), pytest.raises(TypeError, match="tokenizer"):
        sklstm.mlflow.log_model(model)


def test_sklearn_flavour_with_cloudpickle(mlflow, pipe):
    with mlflow.start_run():
        info = mlflow.sklearn.log_model(
            pipe,
            name="pipe",
            serialization_format="cloudpickle",
            pip_requirements=["sklstm"],  # skips MLflow's slow inference
        )
    loaded = mlflow.sklearn.load_model(info.model_uri)
    np.testing.assert_allclose(loaded.predict_proba(TEXTS), pipe.predict_proba(TEXTS))
