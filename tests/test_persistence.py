"""Pickled models across devices, and checkpoint-and-resume during training."""

import pickle
import warnings

import joblib
import numpy as np
import pytest
import torch
from skorch.callbacks import Callback, Checkpoint, LoadInitState

from sklstm import LSTMClassifier

SMALL = dict(
    hidden_size=8,
    embedding_dim=8,
    batch_size=16,
    dropout=0.0,
    token_dropout=0.0,
    early_stopping=False,
    random_state=0,
)


@pytest.mark.skipif(torch.cuda.is_available(), reason="simulates a CPU-only machine")
def test_model_pickled_on_cuda_loads_and_predicts_on_cpu(token_data, tmp_path):
    X, y, _ = token_data
    clf = LSTMClassifier(max_epochs=2, **SMALL).fit(X, y)
    expected = clf.predict_proba(X)
    # what a CUDA-trained model looks like when pickled: skorch records the
    # device and maps tensors to it on load
    clf.net_.device = "cuda"
    clf.set_params(device="cuda")
    path = tmp_path / "cuda_model.joblib"
    joblib.dump(clf, path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded = joblib.load(path)
    assert any("CUDA" in str(w.message) for w in caught)
    assert str(loaded.net_.device) == "cpu"
    assert next(loaded.net_.module_.parameters()).device.type == "cpu"
    np.testing.assert_allclose(loaded.predict_proba(X), expected)
    # training again asks for CUDA explicitly: a clear error, not a crash
    with pytest.raises(ValueError, match="CUDA is not available"):
        loaded.fit(X, y)
    loaded.set_params(device="cpu").fit(X, y)


class _Crash(Callback):
    """A crash in the middle of epoch ``epoch`` (raised as an ordinary error)."""

    def __init__(self, epoch):
        self.epoch = epoch

    def on_batch_end(self, net, training, **kwargs):
        if training and len(net.history) == self.epoch:
            raise RuntimeError("simulated crash")


def test_checkpoint_and_resume_after_a_crash(token_data, tmp_path):
    X, y, _ = token_data
    ckpt = Checkpoint(dirname=str(tmp_path), monitor=None)  # after every epoch
    crashing = LSTMClassifier(max_epochs=6, callbacks=[ckpt, _Crash(4)], **SMALL)
    with pytest.raises(RuntimeError, match="simulated crash"):
        crashing.fit(X, y)
    assert (tmp_path / "params.pt").exists()

    # the documented way to resume: the same checkpoint plus LoadInitState
    ckpt = Checkpoint(dirname=str(tmp_path), monitor=None)
    resumed = LSTMClassifier(
        max_epochs=3, callbacks=[ckpt, LoadInitState(ckpt)], **SMALL
    ).fit(X, y)
    # 3 finished epochs came from the checkpoint, 3 more were trained
    assert resumed.n_iter_ == 6
    uninterrupted = LSTMClassifier(max_epochs=6, **SMALL).fit(X, y)
    np.testing.assert_allclose(
        resumed.loss_curve_[:3], uninterrupted.loss_curve_[:3], rtol=1e-6
    )
    assert resumed.loss_curve_[-1] < resumed.loss_curve_[0]
    # and the resumed model pickles like any other
    again = pickle.loads(pickle.dumps(resumed))
    np.testing.assert_array_equal(again.predict_proba(X), resumed.predict_proba(X))
