"""Running a fitted network: sorted batches and the latency path agree."""

import numpy as np

from sklstm import LSTMClassifier
from sklstm._inference import PREDICT_BATCH_SIZE, SMALL_PREDICT, network_outputs
from sklstm._validation import check_sequences


def test_latency_path_equals_the_batched_path(make_tokens):
    X, y, _ = make_tokens(n=60)
    clf = LSTMClassifier(hidden_size=8, embedding_dim=6, max_epochs=2, random_state=0)
    clf.fit(X, y)
    spec = clf._input_spec()
    seqs, _, _ = check_sequences(clf, X, reset=False, fitted=spec)
    module = clf.net_.module_
    bulk = network_outputs(module, seqs, n_tokens=clf._n_tokens, n_outputs=2)
    for start in range(0, 60, SMALL_PREDICT):
        part, _, _ = check_sequences(
            clf, X[start : start + SMALL_PREDICT], reset=False, fitted=spec
        )
        few = network_outputs(module, part, n_tokens=clf._n_tokens, n_outputs=2)
        np.testing.assert_allclose(
            few, bulk[start : start + SMALL_PREDICT], rtol=1e-7, atol=1e-9
        )
    assert bulk.dtype == np.float64 and bulk.shape == (60, 2)


def test_more_rows_than_one_batch_come_back_in_order(make_tokens):
    X, y, _ = make_tokens(n=PREDICT_BATCH_SIZE + 37)
    clf = LSTMClassifier(hidden_size=4, embedding_dim=4, max_epochs=1, random_state=0)
    clf.fit(X[:200], y[:200])
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(
        proba[-37:], clf.predict_proba(X[-37:]), rtol=1e-7, atol=1e-9
    )
