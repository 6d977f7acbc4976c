"""Patches: long numeric series read as windows, exactly whatever the padding."""

import numpy as np
import pytest
import torch

from sklstm import LSTMClassifier, LSTMRegressor
from sklstm._defaults import resolve_patch
from sklstm._patching import patch, patched_lengths


def test_windows_overlap_by_half_and_reach_the_last_step():
    h = torch.arange(10.0).view(1, 10, 1)
    windows, n = patch(h, torch.tensor([10]), 4, 2)
    assert n.tolist() == [4]
    assert windows[0, :4].tolist() == [
        [0.0, 1.0, 2.0, 3.0],
        [2.0, 3.0, 4.0, 5.0],
        [4.0, 5.0, 6.0, 7.0],
        [6.0, 7.0, 8.0, 9.0],
    ]


def test_a_sequence_shorter_than_a_window_is_one_window():
    windows, n = patch(torch.ones(1, 3, 2), torch.tensor([3]), 5, 2)
    assert n.tolist() == [1]
    assert windows.shape[2] == 10 and windows[0, 0].sum() == 6.0  # zeros after


@pytest.mark.parametrize("size, stride", [(4, 2), (5, 2), (3, 3), (8, 4)])
def test_padding_never_reaches_a_window(size, stride, rng):
    lengths = torch.tensor([7, 12, 1, 20])
    h = torch.from_numpy(rng.normal(size=(4, 20, 3)).astype(np.float32))
    noisy = h.clone()
    for i, L in enumerate(lengths.tolist()):
        noisy[i, L:] = 1e6
    wider = torch.cat([noisy, torch.full((4, 9, 3), -5.0)], dim=1)
    a, n = patch(noisy, lengths, size, stride)
    b, n2 = patch(wider, lengths, size, stride)
    assert torch.equal(n, n2)
    assert torch.equal(n, patched_lengths(lengths, size, stride))
    for i, k in enumerate(n.tolist()):
        assert torch.equal(a[i, :k], b[i, :k])
        assert (a[i, :k].abs() < 1e5).all()
        # windows cover every valid step: the last one starts before the end
        assert (k - 1) * stride < max(int(lengths[i]), 1)


def test_auto_patch_size_follows_the_series_length():
    assert resolve_patch("auto", "numeric", 150) == (1, 1)  # GunPoint: steps
    assert resolve_patch("auto", "numeric", 427) == (8, 4)  # OSULeaf
    assert resolve_patch("auto", "numeric", 1460) == (29, 14)  # ACSF1
    assert resolve_patch("auto", "tokens", 5000) == (1, 1)  # never for text
    assert resolve_patch(6, "numeric", 50) == (6, 3)


@pytest.mark.parametrize("Est", [LSTMClassifier, LSTMRegressor])
def test_long_series_fit_in_patches_and_predict_exactly_per_sequence(Est, rng):
    X = [rng.normal(size=(int(n), 2)) for n in rng.integers(200, 320, size=24)]
    y = np.array([float(x[:, 0].mean() > 0) for x in X])
    if Est is LSTMClassifier:
        y = y.astype(int)
    est = Est(max_epochs=2, hidden_size=8, random_state=0).fit(X, y)
    module = est.net_.module_
    assert module.patch_size == 6 and module.patch_stride == 3  # 319 // 50
    assert module.pooling == "mean"  # pooling="auto" for patched series
    together = est.predict(X)
    one_by_one = np.concatenate([est.predict([x]) for x in X])
    np.testing.assert_allclose(together, one_by_one, rtol=1e-7, atol=1e-9)
    again = Est(max_epochs=2, hidden_size=8, random_state=0).fit(X, y)
    np.testing.assert_array_equal(again.predict(X), together)


def test_patch_size_one_reads_every_step(rng):
    X = rng.normal(size=(20, 250))
    y = (X.mean(1) > 0).astype(int)
    clf = LSTMClassifier(patch_size=1, max_epochs=1, hidden_size=4).fit(X, y)
    assert clf.net_.module_.patch_size == 1
    assert clf.net_.module_.pooling == "last"
    assert clf.net_.module_.forward_layers[0].input_size == 1


def test_patch_size_is_ignored_for_token_ids(token_data):
    X, y, _ = token_data
    clf = LSTMClassifier(patch_size=4, max_epochs=1, hidden_size=4, n_members=1).fit(
        X, y
    )
    assert clf.net_.module_.patch_size == 1


def test_bad_patch_size_is_a_clear_error(rng):
    with pytest.raises(ValueError, match="patch_size"):
        LSTMClassifier(patch_size=0).fit(rng.normal(size=(10, 30)), np.arange(10) % 2)


def test_auto_pooling_by_kind_of_input(token_data, rng):
    X, y, _ = token_data
    clf = LSTMClassifier(max_epochs=1, hidden_size=4).fit(X, y)
    assert clf.net_.module_.pooling == "concat"  # token ids
    short = LSTMClassifier(max_epochs=1, hidden_size=4).fit(
        rng.normal(size=(20, 30)), np.arange(20) % 2
    )
    assert short.net_.module_.pooling == "last"  # short numeric series
    assert (
        LSTMClassifier(pooling="max", max_epochs=1).fit(X, y).net_.module_.pooling
        == "max"
    )
