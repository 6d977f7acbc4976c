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
product / one reduction over all steps after the loop. The backward loop's
per-step factors are computed a chunk of steps at a time, just before the
steps that read them, so they are still in the CPU cache. Without gradients
(prediction) the same step runs as plain torch operations. The gradients are
checked against autograd's finite differences in ``tests/test_cells.py``.

With ``benchmarks/bench_cells.py`` (batch 64, 40 steps, 128 inputs and units,
one CPU thread, Intel Xeon, 2026-12-02) a training step of the peephole layer
took 1.4x as long as the fused ``nn.LSTM`` (1.6x before the chunked factors
and preallocated step views); written as a plain autograd loop it took 2.8x,
and as a TorchScript loop (``torch.jit.script`` is deprecated in PyTorch
2.13) 3.5x.
"""

from __future__ import annotations

import math
import numbers

import torch
from torch import nn
from torch.autograd.function import once_differentiable

__all__ = ["CIFGLSTM", "PeepholeLSTM"]


# --------------------------------------------------------------------------
# Shared machinery of the two recurrences
# --------------------------------------------------------------------------

#: time steps whose backward factors are computed together: the chunk's
#: buffers stay in the CPU cache between that computation and the step loop
#: that reads them (all steps at once measured slower: the tensors of a
#: 40-step batch of 64 do not fit in a core's cache)
_CHUNK_STEPS = 8


def _cell_states(c0, T, save):
    """Step views of the cell states c_0 .. c_T, and the buffer behind them.

    With ``save`` one (T+1, B, H) buffer holds them all for the backward pass
    (its row 0 a copy of ``c0``, so ``cells[t]`` is the state before step
    ``t``); without, two buffers alternate and ``cells`` is None.
    """
    if save:
        cells = c0.new_empty(T + 1, *c0.shape)
        cells[0] = c0
        return list(cells.unbind(0)), cells
    pair = (c0.new_empty(c0.shape), c0.new_empty(c0.shape))
    return [c0] + [pair[t % 2] for t in range(T)], None


def _step_views(buffer, T, save):
    """``buffer[t]`` for every step: the saved (T, ...) tensor's rows, or the
    one scratch (...) tensor at every step."""
    return list(buffer.unbind(0)) if save else [buffer] * T


def _gate_buffer(xw, save):
    """Activated gates of every step (saved) or of one step (scratch)."""
    T, B, G = xw.shape
    return xw.new_empty(T, B, G) if save else xw.new_empty(B, G)


def _backward_through_time(factors, n_gates, out, d_out, d_cn, c0, w_hh):
    """Gradients of the gate pre-activations, step by step from the last.

    Shared by the peephole and CIFG backward passes. For each chunk of steps
    ``t0:t1`` (the last first), ``factors(t0, t1, m, k_c)`` fills ``m``
    (n, B, n_gates*H) with each gate's local derivative times what it
    multiplies (the output gate last) and ``k_c`` (n, B, H) with d h_t / d
    c_t without the output gate's factor, and returns ``k_f`` (n, B, H), d c_t
    / d c_{t-1}. The loop then costs four elementwise operations and one
    ``dA @ U`` product per step, all on step views made before it.
    """
    T, B, H = out.shape
    G = n_gates - 1  # gate blocks before the output gate
    d_a = out.new_empty(T, B, n_gates * H)
    if d_out is None:
        d_out = torch.zeros_like(out)
    n = min(_CHUNK_STEPS, T)
    m = out.new_empty(n, B, n_gates * H)
    k_c = out.new_empty(n, B, H)
    # step views of the chunk buffers (the same at every chunk) and of d_a
    m_o = m[..., G * H :].unbind(0)
    m_rest = m[..., : G * H].unflatten(-1, (G, H)).unbind(0)
    k_c_steps = k_c.unbind(0)
    d_a_steps = d_a.unbind(0)
    d_a_o = d_a[..., G * H :].unbind(0)
    d_a_rest = d_a[..., : G * H].unflatten(-1, (G, H)).unbind(0)
    d_out_steps = d_out.unbind(0)
    dc = torch.zeros_like(c0) if d_cn is None else d_cn.clone()
    dc_wide = dc.unsqueeze(1)  # (B, 1, H), broadcast over the gate blocks
    dh = d_out_steps[T - 1]
    for t1 in range(T, 0, -n):
        t0 = max(t1 - n, 0)
        k_f = factors(t0, t1, m[: t1 - t0], k_c[: t1 - t0]).unbind(0)
        for t in range(t1 - 1, t0 - 1, -1):
            j = t - t0
            torch.mul(dh, m_o[j], out=d_a_o[t])
            dc.addcmul_(dh, k_c_steps[j])
            torch.mul(m_rest[j], dc_wide, out=d_a_rest[t])
            dc.mul_(k_f[j])
            if t > 0:
                dh = torch.addmm(d_out_steps[t - 1], d_a_steps[t], w_hh)
            else:
                dh = d_a_steps[0] @ w_hh
    # dh, dc: gradients of the initial hidden and cell states
    return d_a, dh, dc


def _grad_w_hh(d_a, h0, out):
    """d loss / d U = sum_t dA_t^T h_{t-1}, with h_{-1} = h0 (no copy of out)."""
    grad = d_a[0].t() @ h0
    if d_a.shape[0] > 1:
        grad.addmm_(d_a[1:].flatten(0, 1).t(), out[:-1].flatten(0, 1))
    return grad


# --------------------------------------------------------------------------
# Peephole LSTM (Gers & Schmidhuber 2000)
# --------------------------------------------------------------------------


def _peephole_forward(xw, w_hh, peep, h, c, save):
    """Run the peephole recurrence over time-major ``xw`` (T, B, 4H).

    ``xw`` already holds ``x @ W_ih^T + b_ih + b_hh`` for every step. Returns
    the hidden states (T, B, H) and the last cell state; with ``save`` also
    the activated gates (T, B, 4H), the cell states c_0 .. c_T (T+1, B, H)
    and the tanh of c_1 .. c_T (T, B, H), which the backward pass needs.
    """
    T, B, H4 = xw.shape
    H = H4 // 4
    out = xw.new_empty(T, B, H)
    gates = _gate_buffer(xw, save)
    tanh_cells = xw.new_empty(T, B, H) if save else xw.new_empty(B, H)
    cell, cells = _cell_states(c, T, save)
    cell_wide = [s.unsqueeze(1) for s in cell]  # (B, 1, H)
    gate_if = _step_views(gates[..., : 2 * H], T, save)
    gate_i = _step_views(gates[..., :H], T, save)
    gate_f = _step_views(gates[..., H : 2 * H], T, save)
    gate_g = _step_views(gates[..., 2 * H : 3 * H], T, save)
    gate_o = _step_views(gates[..., 3 * H :], T, save)
    tanh_cell = _step_views(tanh_cells, T, save)
    xw_steps = xw.unbind(0)
    out_steps = out.unbind(0)
    # one pre-activation buffer, its block views made once
    a = xw.new_empty(B, H4)
    a_if_wide = a.view(B, 4, H)[:, :2]
    a_if = a[:, : 2 * H]
    a_g = a[:, 2 * H : 3 * H]
    a_o = a[:, 3 * H :]
    w_hh_t = w_hh.t()
    p_if = peep[:2].unsqueeze(0)  # (1, 2, H): input and forget peepholes
    p_o = peep[2]
    for t in range(T):
        c_new = cell[t + 1]
        torch.addmm(xw_steps[t], h, w_hh_t, out=a)  # pre-activations i, f, g, o
        # the input and forget gates look at the previous cell state
        a_if_wide.addcmul_(cell_wide[t], p_if)
        torch.sigmoid(a_if, out=gate_if[t])
        torch.tanh(a_g, out=gate_g[t])
        # c_t = f * c_{t-1} + i * g
        torch.mul(gate_f[t], cell[t], out=c_new)
        c_new.addcmul_(gate_i[t], gate_g[t])
        # the output gate looks at the new cell state
        a_o.addcmul_(c_new, p_o)
        torch.sigmoid(a_o, out=gate_o[t])
        torch.tanh(c_new, out=tanh_cell[t])
        h = torch.mul(gate_o[t], tanh_cell[t], out=out_steps[t])
    if not save:
        gates = tanh_cells = None
    return out, cell[T], gates, cells, tanh_cells


class _PeepholeFunction(torch.autograd.Function):
    """The peephole recurrence as one autograd node with a hand-written backward."""

    @staticmethod
    def forward(ctx, xw, w_hh, peep, h0, c0):
        out, c_n, gates, cells, tanh_cells = _peephole_forward(
            xw, w_hh, peep, h0, c0, True
        )
        ctx.save_for_backward(w_hh, peep, h0, c0, out, gates, cells, tanh_cells)
        return out, c_n.clone()

    @staticmethod
    @once_differentiable
    def backward(ctx, d_out, d_cn):
        w_hh, peep, h0, c0, out, gates, cells, tanh_cells = ctx.saved_tensors
        T, B, H = out.shape
        p_i, p_f, p_o = peep[0], peep[1], peep[2]

        def factors(t0, t1, m, k_c):
            # per gate block, the derivative of c_t (blocks i, f, g) or of
            # h_t (block o) with respect to that block's pre-activation
            gt, c_prev, tc = gates[t0:t1], cells[t0:t1], tanh_cells[t0:t1]
            i, f, g, o = gt.split(H, dim=-1)
            m_i, m_f, m_g, m_o = m.split(H, dim=-1)
            torch.addcmul(gt, gt, gt, value=-1, out=m)  # sigmoid' = s - s*s
            torch.mul(g, g, out=m_g)
            torch.addcmul(i, i, m_g, value=-1, out=m_g)  # i tanh'(g)
            m_i.mul_(g)
            m_f.mul_(c_prev)
            m_o.mul_(tc)
            # d h_t / d c_t (through h = o tanh(c) and the output peephole)
            torch.mul(tc, tc, out=k_c)
            torch.addcmul(o, o, k_c, value=-1, out=k_c)
            k_c.addcmul_(m_o, p_o)
            # d c_t / d c_{t-1} (directly and through the i, f peepholes)
            k_f = torch.addcmul(f, m_i, p_i)
            return k_f.addcmul_(m_f, p_f)

        d_a, dh, dc = _backward_through_time(factors, 4, out, d_out, d_cn, c0, w_hh)
        d_w_hh = d_peep = None
        if ctx.needs_input_grad[1]:
            d_w_hh = _grad_w_hh(d_a, h0, out)
        if ctx.needs_input_grad[2]:
            d_if = d_a[..., : 2 * H].unflatten(-1, (2, H))
            d_peep = torch.cat(
                [
                    (d_if * cells[:-1].unsqueeze(2)).sum((0, 1)),
                    (d_a[..., 3 * H :] * cells[1:]).sum((0, 1)).unsqueeze(0),
                ]
            )
        return d_a, d_w_hh, d_peep, dh, dc


# --------------------------------------------------------------------------
# CIFG LSTM: coupled input and forget gates (Greff et al. 2017)
# --------------------------------------------------------------------------


def _cifg_forward(xw, w_hh, h, c, save):
    """Run the CIFG recurrence over time-major ``xw`` (T, B, 3H), gates f, g, o.

    Returns the hidden states (T, B, H) and the last cell state; with
    ``save`` also the activated gates (T, B, 3H), ``c_{t-1} - g_t`` and the
    tanh of ``c_t`` (T, B, H), which the backward pass needs.
    """
    T, B, H3 = xw.shape
    H = H3 // 3
    out = xw.new_empty(T, B, H)
    gates = _gate_buffer(xw, save)
    tanh_cells = xw.new_empty(T, B, H) if save else xw.new_empty(B, H)
    diffs = xw.new_empty(T, B, H) if save else xw.new_empty(B, H)
    cell, _ = _cell_states(c, T, False)  # the backward pass needs no cell states
    gate = _step_views(gates, T, save)
    gate_f = _step_views(gates[..., :H], T, save)
    gate_g = _step_views(gates[..., H : 2 * H], T, save)
    gate_o = _step_views(gates[..., 2 * H :], T, save)
    tanh_cell = _step_views(tanh_cells, T, save)
    diff = _step_views(diffs, T, save)
    xw_steps = xw.unbind(0)
    out_steps = out.unbind(0)
    a = xw.new_empty(B, H3)
    a_g = a[:, H : 2 * H]
    w_hh_t = w_hh.t()
    for t in range(T):
        torch.addmm(xw_steps[t], h, w_hh_t, out=a)  # pre-activations f, g, o
        torch.sigmoid(a, out=gate[t])  # f and o (the g block is overwritten next)
        torch.tanh(a_g, out=gate_g[t])
        # c_t = f * c_{t-1} + (1 - f) * g  ==  g + f * (c_{t-1} - g)
        torch.sub(cell[t], gate_g[t], out=diff[t])
        torch.addcmul(gate_g[t], gate_f[t], diff[t], out=cell[t + 1])
        torch.tanh(cell[t + 1], out=tanh_cell[t])
        h = torch.mul(gate_o[t], tanh_cell[t], out=out_steps[t])
    if not save:
        gates = diffs = tanh_cells = None
    return out, cell[T], gates, diffs, tanh_cells


class _CIFGFunction(torch.autograd.Function):
    """The CIFG recurrence as one autograd node with a hand-written backward."""

    @staticmethod
    def forward(ctx, xw, w_hh, h0, c0):
        out, c_n, gates, diffs, tanh_cells = _cifg_forward(xw, w_hh, h0, c0, True)
        ctx.save_for_backward(w_hh, h0, c0, out, gates, diffs, tanh_cells)
        return out, c_n

    @staticmethod
    @once_differentiable
    def backward(ctx, d_out, d_cn):
        w_hh, h0, c0, out, gates, diffs, tanh_cells = ctx.saved_tensors
        H = out.shape[2]
        one = out.new_ones(())

        def factors(t0, t1, m, k_c):
            gt, diff, tc = gates[t0:t1], diffs[t0:t1], tanh_cells[t0:t1]
            f, g, o = gt.split(H, dim=-1)
            m_f, m_g, m_o = m.split(H, dim=-1)
            torch.addcmul(gt, gt, gt, value=-1, out=m)  # sigmoid' = s - s*s
            m_f.mul_(diff)  # d c / d a_f = f' (c_{t-1} - g)
            # d c / d a_g = (1 - f) tanh'(g) = tanh'(g) - f tanh'(g)
            torch.addcmul(one, g, g, value=-1, out=m_g)
            torch.addcmul(m_g, f, m_g, value=-1, out=m_g)
            m_o.mul_(tc)
            # d h_t / d c_t without the output gate's factor
            torch.mul(tc, tc, out=k_c)
            torch.addcmul(o, o, k_c, value=-1, out=k_c)
            return f

        d_a, dh, dc = _backward_through_time(factors, 3, out, d_out, d_cn, c0, w_hh)
        d_w_hh = None
        if ctx.needs_input_grad[1]:
            d_w_hh = _grad_w_hh(d_a, h0, out)
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
