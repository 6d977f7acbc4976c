"""Process-level torch settings: threads, denormals, seeds."""

import torch
from tiny import SMALL

from sklstm import LSTMClassifier
from sklstm._runtime import _denormals_flushed


def test_denormal_setting_is_restored(token_data):
    X, y, _ = token_data
    assert not _denormals_flushed()
    LSTMClassifier(**SMALL).fit(X, y).predict(X)
    assert not _denormals_flushed()
    torch.set_flush_denormal(True)
    try:
        LSTMClassifier(**SMALL).fit(X, y)
        assert _denormals_flushed()
    finally:
        torch.set_flush_denormal(False)


def test_small_networks_train_on_one_thread_large_ones_unlimited():
    from sklstm._runtime import SMALL_MODEL_MACS, training_threads

    assert training_threads(SMALL_MODEL_MACS - 1) == 1
    assert training_threads(SMALL_MODEL_MACS) is None


def test_a_small_fit_runs_on_one_thread_and_restores_the_count(token_data):
    from skorch.callbacks import Callback

    class _Threads(Callback):
        def on_batch_begin(self, net, **kwargs):
            self.seen_ = torch.get_num_threads()

    before = torch.get_num_threads()
    probe = _Threads()
    X, y, _ = token_data
    LSTMClassifier(callbacks=[probe], **SMALL).fit(X, y)
    assert probe.seen_ == 1
    assert torch.get_num_threads() == before
