"""Tests of the peephole and CIFG recurrent layers in sklstm._cells."""

from __future__ import annotations

import copy
import io
import pickle

import joblib
import numpy as np
import pytest
import torch
from torch import nn

from sklstm._cells import CIFGLSTM, PeepholeLSTM

CELLS = [PeepholeLSTM, CIFGLSTM]


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _numpy_run(layer, x, h0, c0):
    """The layer's equations written out in NumPy, float64, step by step."""
    W = layer.weight_ih_l0.detach().double().numpy()
    U = layer.weight_hh_l0.detach().double().numpy()
    b = (layer.bias_ih_l0 + layer.bias_hh_l0).detach().double().numpy()
    H = layer.hidden_size
    h, c = h0.copy(), c0.copy()
    outputs = []
    for t in range(x.shape[1]):
        a = x[:, t] @ W.T + h @ U.T + b
        if isinstance(layer, PeepholeLSTM):
            p = layer.weight_peephole_l0.detach().double().numpy()
            a_i, a_f, a_g, a_o = (a[:, k * H : (k + 1) * H] for k in range(4))
            i = _sigmoid(a_i + p[0] * c)
            f = _sigmoid(a_f + p[1] * c)
            g = np.tanh(a_g)
            c = f * c + i * g
            o = _sigmoid(a_o + p[2] * c)
        else:
            a_f, a_g, a_o = (a[:, k * H : (k + 1) * H] for k in range(3))
            f = _sigmoid(a_f)
            g = np.tanh(a_g)
            c = f * c + (1.0 - f) * g
            o = _sigmoid(a_o)
        h = o * np.tanh(c)
        outputs.append(h)
    return np.stack(outputs, axis=1), h, c


def _random_layer(cls, input_size, hidden_size, seed=0, dtype=torch.float64):
    torch.manual_seed(seed)
    layer = cls(input_size, hidden_size, batch_first=True).to(dtype)
    with torch.no_grad():
        for p in layer.parameters():
            p.uniform_(-0.8, 0.8)  # peepholes included, so they matter
    return layer


@pytest.mark.parametrize("cls", CELLS)
@pytest.mark.parametrize("n_steps", [1, 6])
@pytest.mark.parametrize("grad", [True, False])
def test_matches_numpy_equations(cls, n_steps, grad):
    layer = _random_layer(cls, 4, 5)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, n_steps, 4))
    h0 = rng.normal(size=(3, 5))
    c0 = rng.normal(size=(3, 5))
    expected_out, expected_h, expected_c = _numpy_run(layer, x, h0, c0)
    xt = torch.tensor(x, requires_grad=grad)
    hx = (torch.tensor(h0)[None], torch.tensor(c0)[None])
    with torch.set_grad_enabled(grad):
        out, (h_n, c_n) = layer(xt, hx)
    assert out.shape == (3, n_steps, 5)
    assert h_n.shape == c_n.shape == (1, 3, 5)
    np.testing.assert_allclose(out.detach().numpy(), expected_out, rtol=1e-12)
    np.testing.assert_allclose(h_n[0].detach().numpy(), expected_h, rtol=1e-12)
    np.testing.assert_allclose(c_n[0].detach().numpy(), expected_c, rtol=1e-12)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_peephole_with_zero_peepholes_equals_nn_lstm(dtype):
    torch.manual_seed(0)
    lstm = nn.LSTM(6, 8, batch_first=True).to(dtype)
    peep = PeepholeLSTM(6, 8, batch_first=True).to(dtype)
    # same parameter names as nn.LSTM: its state dict loads as is
    missing, unexpected = peep.load_state_dict(lstm.state_dict(), strict=False)
    assert missing == ["weight_peephole_l0"] and unexpected == []
    assert bool((peep.weight_peephole_l0 == 0).all())
    x = torch.randn(4, 9, 6, dtype=dtype)
    x_a = x.clone().requires_grad_()
    x_b = x.clone().requires_grad_()
    out_a, (h_a, c_a) = lstm(x_a)
    out_b, (h_b, c_b) = peep(x_b)
    tol = {"rtol": 1e-5, "atol": 1e-6} if dtype == torch.float32 else {}
    torch.testing.assert_close(out_b, out_a, **tol)
    torch.testing.assert_close(h_b, h_a, **tol)
    torch.testing.assert_close(c_b, c_a, **tol)
    # and the same gradients, for a loss that uses every output
    w = torch.randn_like(out_a)
    ((out_a * w).sum() + c_a.sum()).backward()
    ((out_b * w).sum() + c_b.sum()).backward()
    torch.testing.assert_close(x_b.grad, x_a.grad, **tol)
    for name, p in lstm.named_parameters():
        torch.testing.assert_close(getattr(peep, name).grad, p.grad, **tol)
    with torch.no_grad():
        torch.testing.assert_close(peep(x)[0], lstm(x)[0], **tol)


@pytest.mark.parametrize("cls", CELLS)
def test_gradcheck(cls):
    layer = _random_layer(cls, 3, 4, seed=1)
    names = [name for name, _ in layer.named_parameters()]
    params = [p.detach().clone().requires_grad_() for p in layer.parameters()]
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(2, 5, 3, dtype=torch.float64, generator=gen, requires_grad=True)
    h0 = torch.randn(1, 2, 4, dtype=torch.float64, generator=gen, requires_grad=True)
    c0 = torch.randn(1, 2, 4, dtype=torch.float64, generator=gen, requires_grad=True)

    def run(x, h0, c0, *params):
        state = dict(zip(names, params))
        out, (h_n, c_n) = torch.func.functional_call(layer, state, (x, (h0, c0)))
        return out, h_n, c_n

    assert torch.autograd.gradcheck(run, (x, h0, c0, *params))

    def run_output_only(x, *params):  # no gradient arrives at c_n
        return torch.func.functional_call(layer, dict(zip(names, params)), (x,))[0]

    assert torch.autograd.gradcheck(run_output_only, (x, *params))

    def run_cell_state_only(x, c0, *params):  # no gradient arrives at output
        state = dict(zip(names, params))
        out, (h_n, c_n) = torch.func.functional_call(layer, state, (x, (h0, c0)))
        return c_n

    assert torch.autograd.gradcheck(run_cell_state_only, (x, c0, *params))


@pytest.mark.parametrize("cls", CELLS)
def test_pickle_deepcopy_joblib_round_trip(cls):
    layer = _random_layer(cls, 3, 4, dtype=torch.float32)
    x = torch.randn(2, 7, 3)
    expected = layer(x)[0].detach()
    buffer = io.BytesIO()
    joblib.dump(layer, buffer)
    buffer.seek(0)
    copies = [
        pickle.loads(pickle.dumps(layer)),
        copy.deepcopy(layer),
        joblib.load(buffer),
    ]
    for other in copies:
        assert type(other) is cls
        out = other(x)[0]
        assert torch.equal(out, expected)
        out.sum().backward()  # the copy trains too
        assert other.weight_hh_l0.grad is not None


@pytest.mark.parametrize("cls", CELLS)
def test_causal(cls):
    layer = _random_layer(cls, 3, 4, dtype=torch.float32)
    x = torch.randn(2, 10, 3)
    changed = x.clone()
    changed[:, 6:] = torch.randn(2, 4, 3) * 10
    out, _ = layer(x)
    out_changed, _ = layer(changed)
    assert torch.equal(out[:, :6], out_changed[:, :6])
    assert not torch.allclose(out[:, 6:], out_changed[:, 6:])


@pytest.mark.parametrize("cls", CELLS)
def test_deterministic_and_same_with_or_without_grad(cls):
    layer = _random_layer(cls, 3, 4, dtype=torch.float32)
    x = torch.randn(5, 8, 3)
    grads = []
    for _ in range(2):
        layer.zero_grad()
        out, _ = layer(x)
        out.square().sum().backward()
        grads.append([p.grad.clone() for p in layer.parameters()])
    assert all(torch.equal(a, b) for a, b in zip(*grads))
    with torch.inference_mode():
        out_inference, _ = layer(x)
    assert torch.equal(out_inference, out.detach())


@pytest.mark.parametrize("cls", CELLS)
def test_initialisation_like_nn_lstm_with_forget_bias_one(cls):
    torch.manual_seed(0)
    H = 16
    layer = cls(5, H, batch_first=True)
    n_gates = len(cls.gates)
    assert layer.weight_ih_l0.shape == (n_gates * H, 5)
    assert layer.weight_hh_l0.shape == (n_gates * H, H)
    assert layer.bias_ih_l0.shape == layer.bias_hh_l0.shape == (n_gates * H,)
    f = layer.forget_gate_slice
    assert f == layer.gate_slice("f")
    assert bool((layer.bias_ih_l0[f] == 1).all())
    assert bool((layer.bias_hh_l0[f] == 0).all())
    bound = 1 / H**0.5
    for w in (layer.weight_ih_l0, layer.weight_hh_l0):
        assert float(w.detach().abs().max()) <= bound
        assert float(w.detach().std()) > bound / 4  # drawn, not constant
    if cls is PeepholeLSTM:
        assert f == slice(H, 2 * H)  # nn.LSTM's order i, f, g, o
        assert layer.weight_peephole_l0.shape == (3, H)
        assert bool((layer.weight_peephole_l0 == 0).all())
    else:
        assert f == slice(0, H)  # order f, g, o


@pytest.mark.parametrize("cls", CELLS)
def test_invalid_arguments(cls):
    with pytest.raises(ValueError, match="batch_first=True only"):
        cls(3, 4, batch_first=False)
    with pytest.raises(ValueError, match="hidden_size must be a positive int"):
        cls(3, 0)
    with pytest.raises(TypeError, match="input_size must be an int"):
        cls(2.5, 4)
    assert cls(np.int64(3), np.int64(4)).hidden_size == 4  # numpy ints from grids
    layer = cls(3, 4)
    with pytest.raises(ValueError, match=r"shape \(batch, time, 3\)"):
        layer(torch.randn(2, 5, 2))
    with pytest.raises(ValueError, match="at least one time step"):
        layer(torch.randn(2, 0, 3))
    with pytest.raises(ValueError, match="h_0 must have shape"):
        layer(torch.randn(2, 5, 3), (torch.zeros(2, 4), torch.zeros(2, 4)))
    with pytest.raises(ValueError, match="has gates"):
        layer.gate_slice("x")
    if cls is CIFGLSTM:
        with pytest.raises(ValueError, match="has gates"):
            layer.gate_slice("i")  # coupled: there is no input gate


@pytest.mark.parametrize("cell, cls", [("peephole", PeepholeLSTM), ("cifg", CIFGLSTM)])
def test_sequence_net_ignores_padding(cell, cls, monkeypatch):
    """Stacked, bidirectional, variable lengths: padding never changes a result."""
    from sklstm import _module

    if cell not in _module._CELLS:  # until the estimators offer the cell
        monkeypatch.setitem(_module._CELLS, cell, cls)
    assert _module._CELLS[cell] is cls
    torch.manual_seed(0)
    net = _module.SequenceNet(
        n_outputs=2,
        n_step_features=3,
        hidden_size=6,
        num_layers=2,
        bidirectional=True,
        cell=cell,
        pooling="last",
    ).eval()
    x = torch.randn(3, 7, 3)
    lengths = torch.tensor([7, 4, 2])
    padded = x.clone()
    for row, n in enumerate(lengths.tolist()):
        padded[row, n:] = 1e3  # garbage in the padding
    with torch.no_grad():
        a = net(x, lengths)
        b = net(padded, lengths)
        alone = torch.cat(
            [net(x[r : r + 1, :n], lengths[r : r + 1]) for r, n in enumerate([7, 4, 2])]
        )
    torch.testing.assert_close(a, b)
    torch.testing.assert_close(a, alone, rtol=1e-5, atol=1e-6)
