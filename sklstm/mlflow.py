"""MLflow: log and serve a fitted model stored with :func:`sklstm.save`.

:func:`log_model` writes the model in sklstm's pickle-free format as an
artifact of an MLflow *pyfunc* model whose Python class is
:class:`SklstmModel`, so that ``mlflow.pyfunc.load_model(uri).predict(X)``
works with ``X`` a list of texts, an array or a dataframe, and so does
``mlflow models serve``. Nothing is pickled: the pyfunc model is logged as
MLflow "model from code" (a two-line script that builds
:class:`SklstmModel`), its settings as the model config. MLflow itself is imported only when a function of
this module needs it: the module imports without MLflow. Read more in
:ref:`interop`.
"""

from __future__ import annotations

import os
import tempfile

from sklstm._dataframes import single_column
from sklstm._load import load
from sklstm._save import save
from sklstm._version import __version__

try:  # the base class only; mlflow.pyfunc calls duck-typed methods
    from mlflow.pyfunc import PythonModel as _PythonModel
except ImportError:  # pragma: no cover - exercised where MLflow is absent
    _PythonModel = object

__all__ = ["SklstmModel", "log_model"]

#: the artifact that holds the sklstm model file
ARTIFACT = "sklstm_model"
#: the model-from-code script MLflow runs when it loads the pyfunc model
_MODEL_CODE = """\
import mlflow
from sklstm.mlflow import SklstmModel

mlflow.models.set_model(SklstmModel())
"""
_METHODS = ("predict", "predict_proba", "decision_function", "transform")


class SklstmModel(_PythonModel):
    """MLflow pyfunc model around a model file written by :func:`sklstm.save`.

    The model itself is read with :func:`sklstm.load` from the artifact
    ``"sklstm_model"`` when MLflow loads the pyfunc model; ``method`` comes
    from the model config (``model_config={"method": ...}``) when it is set
    there.

    Parameters
    ----------
    method : {"predict", "predict_proba", "decision_function", "transform"}, \
default="predict"
        The method of the loaded model that ``predict`` calls.

    See Also
    --------
    log_model : Log a fitted model with this class.
    """

    def __init__(self, method: str = "predict"):
        if method not in _METHODS:
            raise ValueError(f"method must be one of {_METHODS}, got {method!r}.")
        self.method = method

    def load_context(self, context):
        """Load the model file from the pyfunc model's artifacts."""
        config = getattr(context, "model_config", None) or {}
        method = config.get("method", self.method)
        if method not in _METHODS:
            raise ValueError(f"method must be one of {_METHODS}, got {method!r}.")
        self.method = method
        self.model_ = load(context.artifacts[ARTIFACT])

    def predict(self, context, model_input, params=None):
        """Call the model's ``method`` on ``model_input``.

        A dataframe of one column (MLflow turns a list of texts into one) is
        read as that column, so text pipelines take either.
        """
        if "model_" not in self.__dict__:
            raise RuntimeError(
                "SklstmModel has no model yet; load it through "
                "mlflow.pyfunc.load_model(uri), which calls load_context."
            )
        first = getattr(self.model_, "steps", [[None, self.model_]])[0][1]
        if type(first).__name__ == "TextSequencer":
            model_input = single_column(model_input, who="A text model")
        return getattr(self.model_, self.method)(model_input)


def log_model(model, name="model", *, method="predict", **kwargs):
    """Log a fitted sklstm model or pipeline as an MLflow pyfunc model.

    The model is written with :func:`sklstm.save` (no pickle; the same
    limits apply: no callable ``tokenizer``, no callbacks) and logged with
    ``mlflow.pyfunc.log_model`` as a model from code, in the active run (or
    a new one). Loading it runs :func:`sklstm.load` and unpickles nothing.

    Parameters
    ----------
    model : estimator or Pipeline
        A model that :func:`sklstm.save` can store.

    name : str, default="model"
        The logged model's name (``mlflow.pyfunc.log_model``'s ``name``).

    method : str, default="predict"
        What the pyfunc model's ``predict`` calls: ``"predict"``,
        ``"predict_proba"``, ``"decision_function"`` or ``"transform"``.

    **kwargs
        Passed to ``mlflow.pyfunc.log_model`` (``input_example``,
        ``signature``, ``registered_model_name``, ...). ``pip_requirements``
        defaults to this sklstm version and the installed torch, skorch and
        scikit-learn.

    Returns
    -------
    info : mlflow.models.model.ModelInfo
        ``info.model_uri`` loads the model:
        ``mlflow.pyfunc.load_model(info.model_uri).predict(X)``.

    See Also
    --------
    SklstmModel : The pyfunc class.
    sklstm.save : The file format of the artifact.
    """
    try:
        import mlflow
    except ImportError as exc:
        raise ImportError(
            "sklstm.mlflow.log_model needs MLflow: pip install mlflow."
        ) from exc
    SklstmModel(method)  # checks method
    if "pip_requirements" not in kwargs and "extra_pip_requirements" not in kwargs:
        kwargs["pip_requirements"] = _requirements()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.sklstm")
        save(model, path)
        code = os.path.join(tmp, "sklstm_pyfunc.py")
        with open(code, "w", encoding="utf-8") as f:
            f.write(_MODEL_CODE)
        return mlflow.pyfunc.log_model(
            name=name,
            python_model=code,
            artifacts={ARTIFACT: path},
            model_config={"method": method},
            **kwargs,
        )


def _requirements() -> list:
    from importlib.metadata import PackageNotFoundError, version

    reqs = [f"sklstm=={__version__}"]
    for dist in ("torch", "skorch", "scikit-learn", "skops"):
        try:
            reqs.append(f"{dist}=={version(dist)}")
        except PackageNotFoundError:
            pass
    return reqs
