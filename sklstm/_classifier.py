"""LSTMClassifier: class labels, probabilities and the classifier surface."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.base import ClassifierMixin
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.multiclass import check_classification_targets
from torch import nn

from sklstm._base import _BaseLSTM
from sklstm._compat import _fit_context
from sklstm._docstring import DOCS, Substitution, fitted_attrs


def _accuracy(outputs: torch.Tensor, targets: torch.Tensor) -> float:
    return float((outputs.argmax(dim=1) == targets).double().mean())


@Substitution(**DOCS, fitted_attrs=fitted_attrs("accuracy"))
class LSTMClassifier(ClassifierMixin, _BaseLSTM):
    """Recurrent neural network classifier for sequences (text or numbers).

    Token ids (e.g. from :class:`~sklstm.TextSequencer`) pass through an
    embedding layer; numeric series are standardised per feature. Then come
    stacked LSTM (or GRU/RNN) layers with dropout between them, a pooling of
    the hidden states (the last valid state by default) and a linear output
    layer with softmax probabilities. Training uses skorch with batches of
    sequences of similar length, each padded only to its own longest member;
    padding never changes a prediction.

    Read more in the :ref:`User Guide <user_guide>`.

    Parameters
    ----------
    %(network_params)s

    %(training_params)s

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.

    %(fitted_attrs)s

    See Also
    --------
    LSTMRegressor : The same network for regression targets.
    TextSequencer : Turns raw text into the token ids this model reads.

    Examples
    --------
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklstm import LSTMClassifier, TextSequencer
    >>> texts = ["good movie", "bad movie", "great film", "awful film"] * 10
    >>> labels = [1, 0, 1, 0] * 10
    >>> model = make_pipeline(TextSequencer(), LSTMClassifier(
    ...     hidden_size=16, embedding_dim=16, lr=1e-2, max_epochs=20, random_state=0))
    >>> model.fit(texts, labels).predict(["good film", "awful movie"])
    array([1, 0])
    """

    _is_classifier = True
    _score_fn = staticmethod(_accuracy)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Train the network on sequences ``X`` with class labels ``y``.

        Parameters
        ----------
        %(input_doc)s

        y : array-like of shape (n_samples,)
            Class labels.

        Returns
        -------
        self : LSTMClassifier
            The fitted estimator.
        """
        return self._fit(X, y)

    def _encode_targets(self, y):
        check_classification_targets(y)
        encoder = LabelEncoder()
        y_enc = encoder.fit_transform(y).astype(np.int64)
        classes = encoder.classes_
        if len(classes) < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes in the "
                f"data, but the data contain only one class: {classes[0]!r}."
            )
        return y_enc, len(classes), {"classes_": classes}

    def _criterion(self):
        return nn.CrossEntropyLoss

    def predict_proba(self, X):
        """Class probabilities for each sequence.

        Parameters
        ----------
        %(input_doc)s

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probabilities in the order of ``classes_``.
        """
        logits = self._forward(X)
        logits -= logits.max(axis=1, keepdims=True)
        np.exp(logits, out=logits)
        logits /= logits.sum(axis=1, keepdims=True)
        return logits

    def predict_log_proba(self, X):
        """Logarithm of the class probabilities.

        Parameters
        ----------
        %(input_doc)s

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
        """
        logits = self._forward(X)
        logits -= logits.max(axis=1, keepdims=True)
        logits -= np.log(np.exp(logits).sum(axis=1, keepdims=True))
        return logits

    def predict(self, X):
        """Predicted class label of each sequence.

        Parameters
        ----------
        %(input_doc)s

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        outputs = self._forward(X)
        return self.classes_[outputs.argmax(axis=1)]
