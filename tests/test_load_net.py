"""The network of a loaded LSTM estimator: weights, optimizer state, RNG."""

import copy
import json
import os
import zipfile

import numpy as np
import pytest
import torch
from _model_files import npy_bytes, rewrite

from sklstm import ModelFileError, load, save


def test_warm_start_continues_after_load(classifier, tmp_path):
    clf, X = classifier
    y = clf.predict(X)
    save(clf, tmp_path / "full.sklstm")
    save(clf, tmp_path / "small.sklstm", include_optimizer=False)
    assert (
        os.path.getsize(tmp_path / "small.sklstm")
        < os.path.getsize(tmp_path / "full.sklstm") / 2
    )

    in_memory = copy.deepcopy(clf).set_params(warm_start=True).fit(X, y)
    resumed = load(tmp_path / "full.sklstm").set_params(warm_start=True).fit(X, y)
    assert resumed.loss_curve_ == in_memory.loss_curve_
    assert resumed.n_iter_ == clf.n_iter_ + 2
    np.testing.assert_array_equal(resumed.predict_proba(X), in_memory.predict_proba(X))

    # without the optimizer state, Adam restarts: training still continues
    restarted = load(tmp_path / "small.sklstm").set_params(warm_start=True).fit(X, y)
    assert restarted.n_iter_ == clf.n_iter_ + 2


def test_load_leaves_the_global_rng_alone(saved):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    load(saved)
    np.testing.assert_array_equal(torch.rand(3), expected)


def test_weights_with_wrong_shape(saved, tmp_path):
    with zipfile.ZipFile(saved) as zf:
        doc = json.loads(zf.read("model.json"))
    entry = doc["model"]["net"]["state_dict"]["head.weight"]["entry"]
    bad = rewrite(
        saved,
        tmp_path / "shape.sklstm",
        replace={entry: npy_bytes(np.zeros((3, 9), np.float32))},
    )
    with pytest.raises(ModelFileError, match=r"'head.weight' has shape \(3, 9\)"):
        load(bad)
