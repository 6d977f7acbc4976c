"""Pooling and reversal within lengths: valid steps only, eager = traceable."""

import pytest
import torch

from sklstm._pooling import POOLINGS, attention_weights, pool, reverse_within_lengths

LENGTHS = torch.tensor([3, 1, 5])


def _states(seed=0, B=3, T=5, H=4):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(B, T, H, generator=g)


def _with_garbage_padding(h, lengths):
    out = h.clone()
    for i, L in enumerate(lengths.tolist()):
        out[i, L:] = 1e6
    return out


@pytest.mark.parametrize("traceable", [False, True])
def test_reverse_within_lengths_keeps_padding_in_place(traceable):
    x = torch.arange(15.0).view(3, 5, 1)
    r = reverse_within_lengths(x, LENGTHS, traceable=traceable)
    assert r[0, :, 0].tolist() == [2.0, 1.0, 0.0, 3.0, 4.0]
    assert r[1, :, 0].tolist() == [5.0, 6.0, 7.0, 8.0, 9.0]
    assert r[2, :, 0].tolist() == [14.0, 13.0, 12.0, 11.0, 10.0]
    full = torch.full((3,), 5)
    assert torch.equal(reverse_within_lengths(x, full, traceable=traceable), x.flip(1))


def test_last_mean_max_read_valid_steps_only():
    h = _states()
    noisy = _with_garbage_padding(h, LENGTHS)
    last = pool("last", noisy, LENGTHS, out_f=noisy)
    for i, L in enumerate(LENGTHS.tolist()):
        assert torch.equal(last[i], h[i, L - 1])
    mean = pool("mean", noisy, LENGTHS, out_f=noisy)
    expected = torch.stack([h[i, :L].mean(0) for i, L in enumerate(LENGTHS.tolist())])
    torch.testing.assert_close(mean, expected)
    mx = pool("max", noisy, LENGTHS, out_f=noisy)
    expected = torch.stack([h[i, :L].amax(0) for i, L in enumerate(LENGTHS.tolist())])
    assert torch.equal(mx, expected)


def test_last_of_a_bidirectional_layer_takes_the_backward_end():
    out_f, out_b_rev = _states(1), _states(2)
    z = pool("last", out_f, LENGTHS, out_f=out_f, out_b_rev=out_b_rev)
    H = out_f.shape[2]
    for i, L in enumerate(LENGTHS.tolist()):
        assert torch.equal(z[i, :H], out_f[i, L - 1])
        assert torch.equal(z[i, H:], out_b_rev[i, L - 1])


def test_attention_weights_sum_to_one_over_valid_steps():
    scores = torch.randn(3, 5)
    valid = torch.arange(5).unsqueeze(0) < LENGTHS.unsqueeze(1)
    w = attention_weights(scores, valid)
    torch.testing.assert_close(w.sum(1), torch.ones(3, dtype=w.dtype))
    assert (w[~valid] == 0).all()


@pytest.mark.parametrize("pooling", POOLINGS)
@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("padded", [True, False])
def test_eager_shortcuts_equal_the_traceable_path(pooling, batch, padded):
    # padded=False: every sequence fills the steps (one document, equal-length
    # series), where the eager path skips the masks
    lengths = LENGTHS[:batch] if padded else torch.full((batch,), 5)
    h = _states()[:batch]
    attention = torch.nn.Linear(4, 1)
    kw = dict(out_f=h, out_b_rev=_states(3)[:batch], attention=attention)
    if pooling not in ("last", "concat"):
        kw["out_b_rev"] = None
    eager = pool(pooling, h, lengths, **kw)
    traced = pool(pooling, h, lengths, traceable=True, **kw)
    assert torch.equal(eager, traced)


def test_concat_is_last_mean_and_max_side_by_side():
    h = _states()
    z = pool("concat", h, LENGTHS, out_f=h)
    parts = [pool(p, h, LENGTHS, out_f=h) for p in ("last", "mean", "max")]
    assert torch.equal(z, torch.cat(parts, dim=1))


@pytest.mark.parametrize("pooling", ["mean", "max", "concat"])
def test_pooled_values_do_not_depend_on_the_padding_width(pooling):
    h = _states(4, B=3, T=5, H=8)
    wide = torch.cat([h, _states(5, B=3, T=60, H=8) * 3], dim=1)  # finite garbage
    narrow = pool(pooling, h, LENGTHS, out_f=h)
    assert torch.equal(pool(pooling, wide, LENGTHS, out_f=wide), narrow)
    # and each row alone, unpadded, gives what it gives in the batch
    for i, L in enumerate(LENGTHS.tolist()):
        row = h[i : i + 1, :L]
        assert torch.equal(
            pool(pooling, row, LENGTHS[i : i + 1], out_f=row)[0], narrow[i]
        )


def test_mean_is_the_float64_sum_rounded_once():
    h = _states(6, B=3, T=5, H=16)
    mean = pool("mean", h, LENGTHS, out_f=h)
    exact = torch.stack(
        [h[i, :L].double().sum(0).float() for i, L in enumerate(LENGTHS.tolist())]
    )
    assert torch.equal(mean, exact / LENGTHS.unsqueeze(1).float())
