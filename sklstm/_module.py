"""The PyTorch network behind the estimators. Pure torch: no scikit-learn here.

Input is a dense batch padded at the end to the batch's own longest member,
plus each sequence's length. The recurrence never lets padding change a
result: the forward direction is causal, so padding after the last valid step
cannot reach the valid states, and the last valid state is gathered at
``length - 1``; the backward direction of a bidirectional layer runs over each
sequence reversed *inside its own length*, so it starts at the last valid step.
Pooled outputs look at valid steps only.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from sklstm._cells import CIFGLSTM, PeepholeLSTM
from sklstm._hooks import hooked
from sklstm._ids import OOV_ID, PAD_ID
from sklstm._patching import patch
from sklstm._pooling import pool, pooled_size, reverse_within_lengths

__all__ = ["SequenceNet", "parameter_device", "reverse_within_lengths", "run_layer"]

_CELLS = {
    "lstm": nn.LSTM,
    "gru": nn.GRU,
    "rnn": nn.RNN,
    # PyTorch has neither; sklstm's own layers (sklstm/_cells.py) set their
    # forget-gate bias to 1 themselves
    "peephole": PeepholeLSTM,
    "cifg": CIFGLSTM,
}


def _make_rnn(
    cell: str, input_size: int, hidden_size: int, proj_size: int = 0
) -> nn.Module:
    if proj_size:
        rnn = nn.LSTM(input_size, hidden_size, batch_first=True, proj_size=proj_size)
    else:
        rnn = _CELLS[cell](input_size, hidden_size, batch_first=True)
    if cell == "lstm":
        # forget-gate bias of 1 (Gers et al. 2000; Jozefowicz et al. 2015): the
        # cell starts by remembering, which helps gradients flow early on.
        with torch.no_grad():
            H = hidden_size
            rnn.bias_ih_l0[H : 2 * H].fill_(1.0)
            rnn.bias_hh_l0[H : 2 * H].fill_(0.0)
    return rnn


#: the ops that ``nn.LSTM.forward`` and ``nn.GRU.forward`` call after checking
#: their arguments (same call, same result)
_LAYER_OPS = {nn.LSTM: torch.lstm, nn.GRU: torch.gru}


def run_layer(layer: nn.Module, h: torch.Tensor, *, traceable: bool = False):
    """The states ``layer(h)[0]`` of one recurrent layer over batch-first ``h``.

    ``nn.LSTM`` and ``nn.GRU`` run their op directly: their Python
    ``forward`` checks arguments that :class:`SequenceNet` built itself (a
    3-D batch, no initial state), about 30 µs a call, an eighth of the time
    to predict one short document. The module is still called when a forward
    hook listens on it, and for ``traceable`` (export) runs.
    """
    op = _LAYER_OPS.get(type(layer))
    if op is None or traceable or hooked(layer):
        return layer(h)[0]
    directions = 2 if layer.bidirectional else 1
    shape = (layer.num_layers * directions, h.shape[0], layer.hidden_size)
    zeros = h.new_zeros(shape)  # no initial state, as the module call
    if op is torch.gru:
        hx = zeros
    elif layer.proj_size:  # the hidden state is the projection's width
        hx = (h.new_zeros(shape[:2] + (layer.proj_size,)), zeros)
    else:
        hx = (zeros, zeros)
    weights = [w for ws in layer.all_weights for w in ws]
    return op(
        h,
        hx,
        weights,
        layer.bias,
        layer.num_layers,
        layer.dropout,
        layer.training,
        layer.bidirectional,
        layer.batch_first,
    )[0]


class SequenceNet(nn.Module):
    """Embedding (token ids) or scaling (numbers) -> stacked RNN -> pooling -> head.

    Parameters
    ----------
    n_outputs : int
        Size of the output layer (logits for classes, values for regression).
    n_tokens : int or None
        Vocabulary size for token-id input (embedding rows); None for numeric
        input.
    n_step_features : int
        Features per time step of numeric input.
    embedding_dim, hidden_size, num_layers, bidirectional, proj_size, cell, \
dropout, pooling
        See the estimators.
    freeze_embeddings : bool
        Keep the embedding weights fixed during training.
    token_dropout : float
        Probability that a real token is replaced by the out-of-vocabulary id
        during training (word dropout).
    input_mean, input_scale : sequence of float or None
        Per-feature standardisation of numeric input, learned by the estimator.
    patch_size, patch_stride : int
        Numeric input: read windows of ``patch_size`` steps, one every
        ``patch_stride`` steps, as single input vectors (:mod:`sklstm._patching`);
        1 reads every step.
    """

    def __init__(
        self,
        *,
        n_outputs: int,
        n_tokens: int | None = None,
        n_step_features: int = 1,
        embedding_dim: int = 128,
        hidden_size: int = 128,
        num_layers: int = 1,
        bidirectional: bool = False,
        proj_size: int = 0,
        cell: str = "lstm",
        dropout: float = 0.0,
        pooling: str = "last",
        token_dropout: float = 0.0,
        freeze_embeddings: bool = False,
        input_mean=None,
        input_scale=None,
        patch_size: int = 1,
        patch_stride: int = 1,
    ):
        super().__init__()
        self.patch_size = patch_size
        self.patch_stride = patch_stride
        self.pooling = pooling
        self.bidirectional = bidirectional
        self.token_dropout = token_dropout
        if n_tokens is not None:
            self.embedding = nn.Embedding(n_tokens, embedding_dim, padding_idx=PAD_ID)
            # small initial vectors (std 0.1, not torch's 1.0) keep the gates
            # out of saturation at the start; measured +2-3 points of accuracy
            # on the bundled tweets
            with torch.no_grad():
                self.embedding.weight.normal_(0.0, 0.1)
                self.embedding.weight[PAD_ID].zero_()
            if freeze_embeddings:
                self.embedding.weight.requires_grad_(False)
            in_size = embedding_dim
        else:
            self.embedding = None
            in_size = n_step_features * patch_size
            mean = torch.zeros(n_step_features) if input_mean is None else input_mean
            scale = torch.ones(n_step_features) if input_scale is None else input_scale
            self.register_buffer(
                "input_mean", torch.as_tensor(mean, dtype=torch.float32)
            )
            self.register_buffer(
                "input_scale", torch.as_tensor(scale, dtype=torch.float32)
            )
        self.forward_layers = nn.ModuleList()
        self.backward_layers = nn.ModuleList() if bidirectional else None
        # size of one direction's output (the projection when proj_size > 0)
        step_size = proj_size or hidden_size
        out_size = step_size * (2 if bidirectional else 1)
        for i in range(num_layers):
            size = in_size if i == 0 else out_size
            self.forward_layers.append(_make_rnn(cell, size, hidden_size, proj_size))
            if bidirectional:
                self.backward_layers.append(
                    _make_rnn(cell, size, hidden_size, proj_size)
                )
        self.dropout = nn.Dropout(dropout)
        if pooling == "attention":
            # additive attention (Bahdanau et al. 2015; Yang et al. 2016): a
            # learned score per step, softmax over the valid steps only
            self.attention = nn.Sequential(
                nn.Linear(out_size, out_size), nn.Tanh(), nn.Linear(out_size, 1)
            )
        else:
            self.attention = None
        self.head = nn.Linear(pooled_size(pooling, out_size), n_outputs)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        h, lengths = self.input_vectors(x, lengths)
        z = self.encode(h, lengths)
        if self.training:
            z = self.dropout(z)
        return self.output(z)

    def input_vectors(self, x: torch.Tensor, lengths: torch.Tensor):
        """The recurrent layer's input vectors (and their lengths) for ``x``.

        Token ids: their embeddings (with word dropout while training);
        numbers: :meth:`numeric_input`.
        """
        if self.embedding is not None:
            if self.training and self.token_dropout > 0:
                # word dropout: a random share of real tokens reads as
                # out-of-vocabulary, which regularises and trains the OOV
                # embedding that unseen words map to at predict time
                drop = (torch.rand(x.shape, device=x.device) < self.token_dropout) & (
                    x > OOV_ID
                )
                x = x.masked_fill(drop, OOV_ID)
            h = self.embedding(x)
            return h, lengths.to(h.device)
        return self.numeric_input(x, lengths.to(x.device))

    def numeric_input(self, x: torch.Tensor, lengths: torch.Tensor):
        """Standardised numeric input (and its lengths), cut into patches."""
        h = (x - self.input_mean) / self.input_scale
        if self.patch_size > 1:
            h, lengths = patch(h, lengths, self.patch_size, self.patch_stride)
        return h, lengths

    def encode(
        self, h: torch.Tensor, lengths: torch.Tensor, *, traceable: bool = False
    ) -> torch.Tensor:
        """Stacked recurrent layers over input vectors ``h``, then pooling.

        ``traceable`` as in :mod:`sklstm._pooling` (the ONNX export).
        """
        h, out_f, out_b_rev = self.states(h, lengths, traceable=traceable)
        return pool(
            self.pooling,
            h,
            lengths,
            out_f=out_f,
            out_b_rev=out_b_rev,
            attention=self.attention,
            traceable=traceable,
        )

    def states(self, h: torch.Tensor, lengths: torch.Tensor, *, traceable=False):
        """The last layer's states ``(h, out_f, out_b_rev)`` as ``pool`` reads them.

        ``h`` holds both directions side by side in time order (except for
        ``pooling="last"`` of a bidirectional network, which reads only
        ``out_f`` and ``out_b_rev``: ``h`` is then the last layer's input);
        ``out_b_rev`` is None for one direction.
        """
        n_layers = len(self.forward_layers)
        out_b_rev = None
        for i in range(n_layers):
            if i > 0 and self.training:
                h = self.dropout(h)
            out_f = run_layer(self.forward_layers[i], h, traceable=traceable)
            if self.bidirectional:
                out_b_rev = run_layer(
                    self.backward_layers[i],
                    reverse_within_lengths(h, lengths, traceable=traceable),
                    traceable=traceable,
                )
                if i < n_layers - 1 or self.pooling != "last":
                    out_b = reverse_within_lengths(
                        out_b_rev, lengths, traceable=traceable
                    )
                    h = torch.cat([out_f, out_b], dim=2)
            else:
                h = out_f
        return h, out_f, out_b_rev

    def output(self, z: torch.Tensor) -> torch.Tensor:
        """The output layer on pooled vectors ``z``, in float64.

        The small output layer runs in float64, so a row's result does not
        depend on which other rows share its batch (float32 GEMM kernels for
        one row and for many round differently).
        """
        return F.linear(z.double(), self.head.weight.double(), self.head.bias.double())

    def recurrent_macs(self) -> int:
        """Multiply-adds of one step of the first layer, per sequence."""
        layers = [self.forward_layers[0]]
        if self.backward_layers is not None:
            layers.append(self.backward_layers[0])
        return sum(
            p.numel()
            for layer in layers
            for name, p in layer.named_parameters()
            if name.startswith(("weight_ih", "weight_hh"))
        )


def parameter_device(module: nn.Module) -> torch.device:
    """Where the weights of ``module`` live."""
    return next(module.parameters()).device
