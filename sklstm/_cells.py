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

from sklstm._recurrences import (
    CIFGFunction,
    PeepholeFunction,
    cifg_forward,
    peephole_forward,
)

__all__ = ["CIFGLSTM", "PeepholeLSTM"]


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
                out, c_n = PeepholeFunction.apply(
                    xw, self.weight_hh_l0, self.weight_peephole_l0, h0, c0
                )
            else:
                out, c_n, *_ = peephole_forward(
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
                out, c_n = CIFGFunction.apply(xw, self.weight_hh_l0, h0, c0)
            else:
                out, c_n, *_ = cifg_forward(xw, self.weight_hh_l0, h0, c0, False)
        return _finish(out, c_n)


def _finish(out, c_n):
    """Batch-first output and ``(1, batch, H)`` final states from a run."""
    return out.transpose(0, 1), (out[-1].unsqueeze(0), c_n.unsqueeze(0))
