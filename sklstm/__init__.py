"""sklstm: LSTM networks as first-class scikit-learn estimators."""

from sklstm._classifier import LSTMClassifier
from sklstm._regressor import LSTMRegressor
from sklstm._text import TextSequencer

__version__ = "0.1.0.dev0"

__all__ = [
    "LSTMClassifier",
    "LSTMRegressor",
    "TextSequencer",
    "__version__",
]
