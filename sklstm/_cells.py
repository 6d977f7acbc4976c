"""LSTM variants that PyTorch does not ship: peephole and CIFG layers.

Pure torch: no scikit-learn here.

Both layers follow the call convention of a one-layer, unidirectional
``nn.LSTM(input_size, hidden_size, batch_first=True)``: ``layer(x)`` with
``x`` of shape ``(batch, time, input_size)`` returns ``(output, (h_n, c_n))``
with ``output`` of shape ``(batch, time, hidden_size)`` and ``h_n``, ``c_n`` of
shape ``(1, batch, hidden_size)``.

How the recurrence is made fast
-------------------------------
The input projection ``x @ W^T + b`` of every time step is one matrix product
before the loop, so each step costs one ``h @ U^T`` product plus elementwise
work. While training, the loop runs inside a :class:`torch.autograd.Function`
with a hand-written backward pass: autograd records one node for the whole
sequence instead of a dozen per step, the backward loop does one ``dA @ U``
product per step, and the gradients of ``U`` and of the peepholes are one
product / one reduction over all steps after the loop. Without gradients
(prediction) the same step runs as plain torch operations. The gradients are
checked against autograd's finite differences in ``tests/test_cells.py``.

With ``benchmarks/bench_cells.py`` (batch 64, 40 steps, 128 inputs and units,
one CPU thread) a training step of the peephole layer took 1.7x as long as the
fused ``nn.LSTM``; written as a plain autograd loop it took 2.8x, and as a
TorchScript loop (``torch.jit.script`` is deprecated in PyTorch 2.13) 3.5x.
"""

from __future__ import annotations

import math
import numbers

import torch
from torch import nn
from torch.autograd.function import once_differentiable

__all__ = ["CIFGLSTM", "PeepholeLSTM"]


# --------------------------------------------------------------------------
# Peephole LSTM (Gers & Schmidhuber 2000)
# --------------------------------------------------------------------------


def _step_buffers(xw, H, save):
    """Output buffers of a recurrence over time-major ``xw`` (T, B, n_gates*H).

    Returns ``(out, gates, cells, tanh_cells, gt, tc)``: with ``save`` the
    per-step gates, cell states and their tanh kept for the backward pass
    (``gt``, ``tc`` None); without, one step's scratch buffers ``gt``, ``tc``
    reused at every step (the per-step ones None).
    """
    T, B, G = xw.shape
    out = xw.new_empty(T, B, H)
    if save:
        return (
            out,
            xw.new_empty(T, B, G),
            xw.new_empty(T, B, H),
            xw.new_empty(T, B, H),
            None,
            None,
        )
    return out, None, None, None, xw.new_empty(B, G), xw.new_empty(B, H)


def _peephole_forward(xw, w_hh, peep, h, c, save):
    """Run the peephole recurrence over time-major ``xw`` (T, B, 4H).

    ``xw`` already holds ``x @ W_ih^T + b_ih + b_hh`` for every step. Returns
    the hidden states (T, B, H) and the last cell state; with ``save`` also
    the activated gates (T, B, 4H), the cell states and their tanh (T, B, H),
    which the backward pass needs.
    """
    T, B, H4 = xw.shape
    H = H4 // 4
    out, gates, cells, tanh_cells, gt, tc = _step_buffers(xw, H, save)
    w_hh_t = w_hh.t()
    p_if = peep[:2].unsqueeze(0)  # (1, 2, H): input and forget peepholes
    p_o = peep[2]
    for t in range(T):
        a = torch.addmm(xw[t], h, w_hh_t)  # (B, 4H) pre-activations i, f, g, o
        # the input and forget gates look at the previous cell state
        a.view(B, 4, H)[:, :2].addcmul_(c.unsqueeze(1), p_if)
        if save:
            gt = gates[t]
            c_new = cells[t]
            tc = tanh_cells[t]
        else:
            c_new = xw.new_empty(B, H)
        torch.sigmoid(a[:, : 2 * H], out=gt[:, : 2 * H])
        torch.tanh(a[:, 2 * H : 3 * H], out=gt[:, 2 * H : 3 * H])
        # c_t = f * c_{t-1} + i * g
        torch.mul(gt[:, H : 2 * H], c, out=c_new)
        c_new.addcmul_(gt[:, :H], gt[:, 2 * H : 3 * H])
        c = c_new
        # the output gate looks at the new cell state
        a_o = a[:, 3 * H :].addcmul_(c, p_o)
        torch.sigmoid(a_o, out=gt[:, 3 * H :])
        torch.tanh(c, out=tc)
        h = torch.mul(gt[:, 3 * H :], tc, out=out[t])
    return out, c, gates, cells, tanh_cells


def _backward_through_time(m, k_c, k_f, out, d_out, d_cn, c0, w_hh, n_gates):
    """Gradients of the gate pre-activations, step by step from the last.

    Shared by the peephole and CIFG backward passes. ``m`` holds each gate's
    local derivative times what it multiplies, the output gate last; ``k_c``
    is d h_t / d c_t without the output gate's factor; ``k_f`` is
    d c_t / d c_{t-1}.
    """
    T, B, H = out.shape
    G = n_gates - 1  # gate blocks before the output gate
    d_a = out.new_empty(T, B, n_gates * H)
    if d_out is None:
        d_out = torch.zeros_like(out)
    dc = torch.zeros_like(c0) if d_cn is None else d_cn
    dh = d_out[T - 1]
    for t in range(T - 1, -1, -1):
        dat = d_a[t]
        mt = m[t]
        torch.mul(dh, mt[:, G * H :], out=dat[:, G * H :])
        dc = torch.addcmul(dc, dh, k_c[t])
        torch.mul(
            mt[:, : G * H].view(B, G, H),
            dc.unsqueeze(1),
            out=dat[:, : G * H].view(B, G, H),
        )
        dc = dc * k_f[t]
        if t > 0:
            dh = torch.addmm(d_out[t - 1], dat, w_hh)
        else:
            dh = dat @ w_hh
    # dh, dc: gradients of the initial hidden and cell states
    return d_a, dh, dc


class _PeepholeFunction(torch.autograd.Function):
    """The peephole recurrence as one autograd node with a hand-written backward."""

    @staticmethod
    def forward(ctx, xw, w_hh, peep, h0, c0):
        out, c_n, gates, cells, tanh_cells = _peephole_forward(
            xw, w_hh, peep, h0, c0, True
        )
        ctx.save_for_backward(w_hh, peep, h0, c0, out, gates, cells, tanh_cells)
        return out, c_n

    @staticmethod
    @once_differentiable
    def backward(ctx, d_out, d_cn):
        w_hh, peep, h0, c0, out, gates, cells, tc = ctx.saved_tensors
        T, B, H = out.shape
        p_i, p_f, p_o = peep[0], peep[1], peep[2]
        i = gates[..., :H]
        f = gates[..., H : 2 * H]
        g = gates[..., 2 * H : 3 * H]
        o = gates[..., 3 * H :]
        c_prev = torch.cat([c0.unsqueeze(0), cells[:-1]])
        # Everything that does not depend on the incoming gradient, for all
        # steps at once, so that the loop below is five operations per step.
        # m holds, per gate block, the derivative of c_t (blocks i, f, g) or of
        # h_t (block o) with respect to that block's pre-activation.
        m = gates * (1 - gates)  # sigmoid'
        m[..., 2 * H : 3 * H] = 1 - g * g  # tanh'
        m[..., :H] *= g
        m[..., H : 2 * H] *= c_prev
        m[..., 2 * H : 3 * H] *= i
        m[..., 3 * H :] *= tc
        # d h_t / d c_t (through h = o tanh(c) and the output peephole)
        k_c = o * (1 - tc * tc) + m[..., 3 * H :] * p_o
        # d c_t / d c_{t-1} (directly and through the i, f peepholes)
        k_f = f + m[..., :H] * p_i + m[..., H : 2 * H] * p_f

        d_a, dh, dc = _backward_through_time(m, k_c, k_f, out, d_out, d_cn, c0, w_hh, 4)
        d_w_hh = d_peep = None
        if ctx.needs_input_grad[1]:
            h_prev = torch.cat([h0.unsqueeze(0), out[:-1]])
            d_w_hh = d_a.reshape(T * B, 4 * H).t() @ h_prev.reshape(T * B, H)
        if ctx.needs_input_grad[2]:
            d_peep = torch.stack(
                [
                    (d_a[..., :H] * c_prev).sum((0, 1)),
                    (d_a[..., H : 2 * H] * c_prev).sum((0, 1)),
                    (d_a[..., 3 * H :] * cells).sum((0, 1)),
                ]
            )
        return d_a, d_w_hh, d_peep, dh, dc


# --------------------------------------------------------------------------
# CIFG LSTM: coupled input and forget gates (Greff et al. 2017)
# --------------------------------------------------------------------------


def _cifg_forward(xw, w_hh, h, c, save):
    """Run the CIFG recurrence over time-major ``xw`` (T, B, 3H), gates f, g, o."""
    T, B, H3 = xw.shape
    H = H3 // 3
    out, gates, cells, tanh_cells, gt, tc = _step_buffers(xw, H, save)
    w_hh_t = w_hh.t()
    for t in range(T):
        a = torch.addmm(xw[t], h, w_hh_t)  # (B, 3H) pre-activations f, g, o
        if save:
            gt = gates[t]
            tc = tanh_cells[t]
            c_new = cells[t]
        else:
            c_new = xw.new_empty(B, H)
        torch.sigmoid(a, out=gt)  # f and o (the g block is overwritten next)
        torch.tanh(a[:, H : 2 * H], out=gt[:, H : 2 * H])
        g = gt[:, H : 2 * H]
        # c_t = f * c_{t-1} + (1 - f) * g  ==  g + f * (c_{t-1} - g)
        torch.addcmul(g, gt[:, :H], c - g, out=c_new)
        c = c_new
        torch.tanh(c, out=tc)
        h = torch.mul(gt[:, 2 * H :], tc, out=out[t])
    return out, c, gates, cells, tanh_cells


class _CIFGFunction(torch.autograd.Function):
    """The CIFG recurrence as one autograd node with a hand-written backward."""

    @staticmethod
    def forward(ctx, xw, w_hh, h0, c0):
        out, c_n, gates, cells, tanh_cells = _cifg_forward(xw, w_hh, h0, c0, True)
        ctx.save_for_backward(w_hh, h0, c0, out, gates, cells, tanh_cells)
        return out, c_n

    @staticmethod
    @once_differentiable
    def backward(ctx, d_out, d_cn):
        w_hh, h0, c0, out, gates, cells, tc = ctx.saved_tensors
        T, B, H = out.shape
        f = gates[..., :H]
        g = gates[..., H : 2 * H]
        o = gates[..., 2 * H :]
        c_prev = torch.cat([c0.unsqueeze(0), cells[:-1]])
        # per-gate multipliers of the incoming gradient, for all steps at once
        m = gates * (1 - gates)  # sigmoid'
        m[..., H : 2 * H] = 1 - g * g  # tanh'
        m[..., :H] *= c_prev - g
        m[..., H : 2 * H] *= 1 - f
        m[..., 2 * H :] *= tc
        k_c = o * (1 - tc * tc)

        d_a, dh, dc = _backward_through_time(m, k_c, f, out, d_out, d_cn, c0, w_hh, 3)
        d_w_hh = None
        if ctx.needs_input_grad[1]:
            h_prev = torch.cat([h0.unsqueeze(0), out[:-1]])
            d_w_hh = d_a.reshape(T * B, 3 * H).t() @ h_prev.reshape(T * B, H)
        return d_a, d_w_hh, dh, dc


# --------------------------------------------------------------------------
# Layers
# --------------------------------------------------------------------------


class _GatedLayer(nn.Module):
    """Shared parts of the one-layer, batch-first recurrent layers below."""

    #: names of the gate blocks, in the order of the rows of ``weight_ih_l0``
    gates: tuple[str, ...] = ()

    def __init__(self, input_size: int, hidden_size: int, batch_first: bool = True):
        super().__init__()
        if batch_first is not True:
            raise ValueError(
                f"{type(self).__name__} supports batch_first=True only, got "
                f"batch_first={batch_first!r}. Pass input of shape "
                "(batch, time, input_size) and batch_first=True."
            )
        for name, value in (("input_size", input_size), ("hidden_size", hidden_size)):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise TypeError(
                    f"{name} must be an int, got {value!r} of type "
                    f"{type(value).__name__}."
                )
            if value < 1:
                raise ValueError(
                    f"{name} must be a positive int, got {value!r}. Pass the "
                    "number of features per time step as input_size and the "
                    "number of units as hidden_size."
                )
        self.input_size = int(input_size)
        self.hidden_size = int(hidden_size)
        self.batch_first = True
        self.num_layers = 1
        self.bidirectional = False
        G = len(self.gates) * self.hidden_size
        self.weight_ih_l0 = nn.Parameter(torch.empty(G, self.input_size))
        self.weight_hh_l0 = nn.Parameter(torch.empty(G, self.hidden_size))
        self.bias_ih_l0 = nn.Parameter(torch.empty(G))
        self.bias_hh_l0 = nn.Parameter(torch.empty(G))

    def gate_slice(self, gate: str) -> slice:
        """Rows of ``weight_ih_l0``, ``weight_hh_l0`` and the biases for ``gate``.

        Parameters
        ----------
        gate : str
            One of :attr:`gates` (``"i"`` input, ``"f"`` forget, ``"g"`` cell
            candidate, ``"o"`` output).

        Returns
        -------
        slice
            For example ``layer.bias_ih_l0[layer.gate_slice("f")]`` is the
            forget-gate bias.
        """
        if gate not in self.gates:
            raise ValueError(
                f"{type(self).__name__} has gates {self.gates}, got {gate!r}."
            )
        k = self.gates.index(gate)
        H = self.hidden_size
        return slice(k * H, (k + 1) * H)

    @property
    def forget_gate_slice(self) -> slice:
        """Rows of the weights and biases that belong to the forget gate."""
        return self.gate_slice("f")

    def reset_parameters(self) -> None:
        """Initialise as ``nn.LSTM`` does, with a forget-gate bias of 1.

        Weights and biases are drawn from U(-1/sqrt(H), 1/sqrt(H)); then the
        forget block of ``bias_ih_l0`` is set to 1 and that of ``bias_hh_l0``
        to 0, so the layer starts by remembering (Gers et al. 2000;
        Jozefowicz et al. 2015).
        """
        bound = 1.0 / math.sqrt(self.hidden_size)
        with torch.no_grad():
            for w in (
                self.weight_ih_l0,
                self.weight_hh_l0,
                self.bias_ih_l0,
                self.bias_hh_l0,
            ):
                w.uniform_(-bound, bound)
            f = self.forget_gate_slice
            self.bias_ih_l0[f] = 1.0
            self.bias_hh_l0[f] = 0.0

    def _initial_state(self, x, hx):
        B = x.shape[0]
        H = self.hidden_size
        if hx is None:
            zeros = x.new_zeros(B, H, dtype=self.weight_hh_l0.dtype)
            return zeros, zeros
        h0, c0 = hx
        expected = (1, B, H)
        for name, s in (("h_0", h0), ("c_0", c0)):
            if tuple(s.shape) != expected:
                raise ValueError(
                    f"{name} must have shape (1, batch, hidden_size) = "
                    f"{expected}, got {tuple(s.shape)}."
                )
        dtype = self.weight_hh_l0.dtype
        return h0[0].to(dtype), c0[0].to(dtype)

    def _projected_input(self, x):
        if x.dim() != 3 or x.shape[2] != self.input_size:
            raise ValueError(
                f"{type(self).__name__} expects input of shape (batch, time, "
                f"{self.input_size}), got {tuple(x.shape)}."
            )
        if x.shape[1] == 0:
            raise ValueError(
                f"{type(self).__name__} needs at least one time step, got input "
                f"of shape {tuple(x.shape)}."
            )
        # time-major, so each step reads one contiguous (batch, 4H) block
        # under mixed precision this product runs in bfloat16/float16; the
        # recurrence after it runs in the weights' dtype (_float32_recurrence)
        return (
            torch.nn.functional.linear(
                x.transpose(0, 1),
                self.weight_ih_l0,
                self.bias_ih_l0 + self.bias_hh_l0,
            )
            .to(self.weight_hh_l0.dtype)
            .contiguous()
        )

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, batch_first=True"


def _float32_recurrence(x):
    """Autocast off for the step loop: it runs in the weights' dtype.

    The loop writes into preallocated buffers of that dtype with ``out=``; under
    autocast its matrix products would return bfloat16/float16 and not fit
    them. The input projection before it (most of the arithmetic) still runs
    in the lower precision.
    """
    return torch.autocast(x.device.type, enabled=False)


def _needs_grad(*tensors) -> bool:
    return torch.is_grad_enabled() and any(t.requires_grad for t in tensors)


class PeepholeLSTM(_GatedLayer):
    r"""One-layer LSTM with peephole connections (Gers & Schmidhuber 2000).

    The input, forget and output gates also see the cell state, through one
    diagonal (elementwise) weight vector each:

    .. math::

        i_t &= \sigma(W_i x_t + U_i h_{t-1} + p_i \odot c_{t-1} + b_i) \\
        f_t &= \sigma(W_f x_t + U_f h_{t-1} + p_f \odot c_{t-1} + b_f) \\
        g_t &= \tanh(W_g x_t + U_g h_{t-1} + b_g) \\
        c_t &= f_t \odot c_{t-1} + i_t \odot g_t \\
        o_t &= \sigma(W_o x_t + U_o h_{t-1} + p_o \odot c_t + b_o) \\
        h_t &= o_t \odot \tanh(c_t)

    Called like a one-layer ``nn.LSTM(input_size, hidden_size,
    batch_first=True)``. With ``weight_peephole_l0`` zero it computes exactly
    what ``nn.LSTM`` computes with the same weights.

    Parameters
    ----------
    input_size : int
        Features per time step.
    hidden_size : int
        Units of the layer (H).
    batch_first : bool, default=True
        Only ``True`` is supported: input is (batch, time, input_size).

    Attributes
    ----------
    weight_ih_l0 : Parameter of shape (4*H, input_size)
        Input weights :math:`W`, gate blocks in ``nn.LSTM``'s order i, f, g, o.
    weight_hh_l0 : Parameter of shape (4*H, H)
        Recurrent weights :math:`U`, same block order.
    bias_ih_l0, bias_hh_l0 : Parameter of shape (4*H,)
        Biases (summed, as in ``nn.LSTM``). The forget block
        (``gate_slice("f")``, rows H to 2H) of ``bias_ih_l0`` starts at 1.
    weight_peephole_l0 : Parameter of shape (3, H)
        Peephole weights :math:`p_i, p_f, p_o` (rows 0, 1, 2); start at 0.

    Examples
    --------
    >>> import torch
    >>> from sklstm._cells import PeepholeLSTM
    >>> layer = PeepholeLSTM(3, 5, batch_first=True)
    >>> out, (h_n, c_n) = layer(torch.randn(2, 7, 3))
    >>> out.shape, h_n.shape, c_n.shape
    (torch.Size([2, 7, 5]), torch.Size([1, 2, 5]), torch.Size([1, 2, 5]))
    """

    gates = ("i", "f", "g", "o")

    def __init__(self, input_size: int, hidden_size: int, batch_first: bool = True):
        super().__init__(input_size, hidden_size, batch_first)
        self.weight_peephole_l0 = nn.Parameter(torch.empty(3, self.hidden_size))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        super().reset_parameters()
        with torch.no_grad():
            self.weight_peephole_l0.zero_()

    def forward(self, x: torch.Tensor, hx=None):
        """Run the layer over ``x`` (batch, time, input_size).

        Returns ``(output, (h_n, c_n))`` as ``nn.LSTM`` does.
        """
        xw = self._projected_input(x)
        h0, c0 = self._initial_state(x, hx)
        with _float32_recurrence(x):
            if _needs_grad(xw, self.weight_hh_l0, self.weight_peephole_l0, h0, c0):
                out, c_n = _PeepholeFunction.apply(
                    xw, self.weight_hh_l0, self.weight_peephole_l0, h0, c0
                )
            else:
                out, c_n, *_ = _peephole_forward(
                    xw, self.weight_hh_l0, self.weight_peephole_l0, h0, c0, False
                )
        return _finish(out, c_n)


class CIFGLSTM(_GatedLayer):
    r"""One-layer LSTM with coupled input and forget gates (Greff et al. 2017).

    The input gate is tied to the forget gate, :math:`i_t = 1 - f_t`: a cell
    lets new content in exactly as much as it forgets. Three gate blocks
    instead of four, so a quarter fewer weights and less work per step:

    .. math::

        f_t &= \sigma(W_f x_t + U_f h_{t-1} + b_f) \\
        g_t &= \tanh(W_g x_t + U_g h_{t-1} + b_g) \\
        c_t &= f_t \odot c_{t-1} + (1 - f_t) \odot g_t \\
        o_t &= \sigma(W_o x_t + U_o h_{t-1} + b_o) \\
        h_t &= o_t \odot \tanh(c_t)

    Called like a one-layer ``nn.LSTM(input_size, hidden_size,
    batch_first=True)``. No peephole connections.

    Parameters
    ----------
    input_size : int
        Features per time step.
    hidden_size : int
        Units of the layer (H).
    batch_first : bool, default=True
        Only ``True`` is supported: input is (batch, time, input_size).

    Attributes
    ----------
    weight_ih_l0 : Parameter of shape (3*H, input_size)
        Input weights, gate blocks in the order f, g, o.
    weight_hh_l0 : Parameter of shape (3*H, H)
        Recurrent weights, same block order.
    bias_ih_l0, bias_hh_l0 : Parameter of shape (3*H,)
        Biases (summed). The forget block (``gate_slice("f")``, rows 0 to H)
        of ``bias_ih_l0`` starts at 1.

    Examples
    --------
    >>> import torch
    >>> from sklstm._cells import CIFGLSTM
    >>> layer = CIFGLSTM(3, 5, batch_first=True)
    >>> out, (h_n, c_n) = layer(torch.randn(2, 7, 3))
    >>> out.shape, layer.weight_hh_l0.shape
    (torch.Size([2, 7, 5]), torch.Size([15, 5]))
    """

    gates = ("f", "g", "o")

    def __init__(self, input_size: int, hidden_size: int, batch_first: bool = True):
        super().__init__(input_size, hidden_size, batch_first)
        self.reset_parameters()

    def forward(self, x: torch.Tensor, hx=None):
        """Run the layer over ``x`` (batch, time, input_size).

        Returns ``(output, (h_n, c_n))`` as ``nn.LSTM`` does.
        """
        xw = self._projected_input(x)
        h0, c0 = self._initial_state(x, hx)
        with _float32_recurrence(x):
            if _needs_grad(xw, self.weight_hh_l0, h0, c0):
                out, c_n = _CIFGFunction.apply(xw, self.weight_hh_l0, h0, c0)
            else:
                out, c_n, *_ = _cifg_forward(xw, self.weight_hh_l0, h0, c0, False)
        return _finish(out, c_n)


def _finish(out, c_n):
    """Batch-first output and ``(1, batch, H)`` final states from a run."""
    return out.transpose(0, 1), (out[-1].unsqueeze(0), c_n.unsqueeze(0))
