"""sklstm: LSTM networks as first-class scikit-learn estimators."""

from sklstm._classifier import LSTMClassifier
from sklstm._regressor import LSTMRegressor
from sklstm._text import TextSequencer
from sklstm._version import __version__

__all__ = [
    "LSTMClassifier",
    "LSTMRegressor",
    "TextSequencer",
    "__version__",
]
