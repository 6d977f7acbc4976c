"""sklstm: LSTM networks as first-class scikit-learn estimators."""

from sklstm._classifier import LSTMClassifier
from sklstm._embeddings import load_word_vectors
from sklstm._explain import Explanation, explain
from sklstm._forecasting import forecast, last_window, make_windows
from sklstm._language_model import LSTMLanguageModel
from sklstm._load import load
from sklstm._long_format import from_long_format, to_long_format
from sklstm._model_file import ModelFileError
from sklstm._onnx import to_onnx
from sklstm._plotting import plot_training_curves
from sklstm._regressor import LSTMRegressor
from sklstm._save import save
from sklstm._shipped import pretrained_language_model
from sklstm._text import TextSequencer
from sklstm._version import __version__

__all__ = [
    "LSTMClassifier",
    "LSTMRegressor",
    "LSTMLanguageModel",
    "TextSequencer",
    "Explanation",
    "ModelFileError",
    "load",
    "save",
    "explain",
    "forecast",
    "from_long_format",
    "last_window",
    "load_word_vectors",
    "make_windows",
    "plot_training_curves",
    "pretrained_language_model",
    "to_long_format",
    "to_onnx",
    "__version__",
]
