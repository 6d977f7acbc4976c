"""GridSearchCV on a Dask cluster through joblib's dask backend."""

import joblib
import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV

from sklstm import LSTMClassifier

distributed = pytest.importorskip(
    "distributed", reason="dask.distributed comes with the test extras (sklstm[dask])"
)


@pytest.fixture(scope="module")
def client():
    """Two single-threaded worker processes on loopback, closed afterwards."""
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    )
    client = distributed.Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


def _search(n_jobs=None):
    return GridSearchCV(
        LSTMClassifier(embedding_dim=8, max_epochs=2, random_state=0),
        {"hidden_size": [4, 8], "lr": [1e-2, 3e-2]},
        cv=2,
        n_jobs=n_jobs,
    )


def test_grid_search_on_dask_matches_local(client, make_tokens):
    X, y, _ = make_tokens(n=80)
    local = _search(n_jobs=1).fit(X, y)
    with distributed.get_task_stream(client) as tasks:
        with joblib.parallel_backend("dask"):
            remote = _search().fit(X, y)
    # the fits really ran in the cluster's worker processes
    assert tasks.data, "no task ran on the cluster"
    assert {t["worker"] for t in tasks.data} <= set(client.scheduler_info()["workers"])
    assert remote.best_params_ == local.best_params_
    assert remote.best_score_ == local.best_score_
    np.testing.assert_array_equal(
        remote.cv_results_["mean_test_score"], local.cv_results_["mean_test_score"]
    )
    np.testing.assert_array_equal(remote.predict_proba(X), local.predict_proba(X))
