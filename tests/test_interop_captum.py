"""Captum on the network of a fitted text pipeline (the recipe of the docs)."""

import numpy as np
import pytest
from sklearn.pipeline import make_pipeline
from tiny import EXACT

from sklstm import LSTMClassifier, TextSequencer

captum = pytest.importorskip("captum", reason="Captum is not installed")
torch = pytest.importorskip("torch", reason="Captum's tests need torch")

TEXTS = ["good phone", "bad phone", "great battery", "awful screen"] * 10
LABELS = [1, 0, 1, 0] * 10


def test_layer_integrated_gradients_on_the_embedding():
    from captum.attr import LayerIntegratedGradients

    pipe = make_pipeline(
        TextSequencer(min_frequency=1), LSTMClassifier(**dict(EXACT, max_epochs=20))
    ).fit(TEXTS, LABELS)
    seq, clf = pipe[0], pipe[-1]
    module = clf.net_.module_.eval()
    ids = torch.as_tensor(seq.transform(["good phone", "awful screen"]))
    lengths = (ids != 0).sum(dim=1)
    logits = module(ids, lengths)
    assert logits.dtype == torch.float64 and logits.shape == (2, 2)
    np.testing.assert_allclose(
        torch.softmax(logits, dim=1).detach().numpy(),
        pipe.predict_proba(["good phone", "awful screen"]),
        rtol=1e-6,
    )

    def forward(x, lengths):
        return module(x, lengths).float()

    lig = LayerIntegratedGradients(forward, module.embedding)
    attr = lig.attribute(ids, additional_forward_args=(lengths,), target=1)
    per_token = attr.sum(dim=-1).detach().numpy()
    assert per_token.shape == ids.shape
    # the sentiment word moves the positive class more than the product word
    assert per_token[0, 0] > per_token[0, 1] and per_token[1, 0] < 0
