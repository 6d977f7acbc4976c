"""The step loops of the peephole and CIFG layers, and their backward passes.

Pure torch: no scikit-learn here. The layers that call them are in
:mod:`sklstm._cells` (which explains how the recurrence is made fast).

Each recurrence runs over time-major, already projected input ``xw`` (T, B,
gates x H): ``*_forward`` as plain tensor operations (prediction, or the
training forward saving what the backward pass reads), ``_*Function`` as one
:class:`torch.autograd.Function` with a hand-written backward pass.
"""

from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable

__all__ = ["CIFGFunction", "PeepholeFunction", "cifg_forward", "peephole_forward"]


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


def peephole_forward(xw, w_hh, peep, h, c, save):
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


class PeepholeFunction(torch.autograd.Function):
    """The peephole recurrence as one autograd node with a hand-written backward."""

    @staticmethod
    def forward(ctx, xw, w_hh, peep, h0, c0):
        out, c_n, gates, cells, tanh_cells = peephole_forward(
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


def cifg_forward(xw, w_hh, h, c, save):
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


class CIFGFunction(torch.autograd.Function):
    """The CIFG recurrence as one autograd node with a hand-written backward."""

    @staticmethod
    def forward(ctx, xw, w_hh, h0, c0):
        out, c_n, gates, diffs, tanh_cells = cifg_forward(xw, w_hh, h0, c0, True)
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
