"""Export a fitted estimator's network to ONNX for serving without Python.

The graph is built from a small export module that reuses the fitted
:class:`~sklstm._module.SequenceNet`'s own layers and weights and repeats its
inference forward pass (``SequenceNet.forward`` in eval mode) without the
branches that depend on tensor values, which tracing would freeze into the
graph. Keep the two in step when the network changes.

sklstm's own recurrent layers (:mod:`sklstm._cells`) run a Python loop that
tracing would unroll with the example's number of steps, so the export module
replaces them by layers that map onto ONNX's ``LSTM`` operator, which has a
dynamic time axis:

- :class:`~sklstm._cells.PeepholeLSTM`: an ``LSTM`` node with its peephole
  input ``P``, emitted by the ``symbolic`` method of
  :class:`_PeepholeLSTMFunction` from the layer's weights rearranged into
  ONNX's gate order.
- :class:`~sklstm._cells.CIFGLSTM`: a standard ``nn.LSTM`` whose input gate
  has the forget gate's weights and biases negated. Since
  ``sigmoid(-a) = 1 - sigmoid(a)``, its input gate is ``i = 1 - f`` and it
  computes the CIFG recurrence ``c = f c + (1 - f) g``. ONNX's
  ``input_forget`` attribute is not used: the specification does not say
  what it computes, and onnxruntime reads it as ``f = 1 - i``, which ties
  the gates the other way round.
"""

from __future__ import annotations

import copy
import io
import json
import os
import warnings

import torch
import torch.nn.functional as F
from sklearn.utils.validation import check_is_fitted
from torch import nn

from sklstm._cells import CIFGLSTM, PeepholeLSTM
from sklstm._ids import OOV_ID, PAD_ID
from sklstm._members import members_of
from sklstm._pooling import POOLINGS
from sklstm._recurrences import peephole_forward
from sklstm._version import __version__

__all__ = ["to_onnx"]

#: recurrent layer classes the exporter translates to ONNX LSTM/GRU/RNN nodes
_EXPORTABLE_LAYERS = {
    nn.LSTM: "lstm",
    nn.GRU: "gru",
    nn.RNN: "rnn",
    PeepholeLSTM: "peephole",
    CIFGLSTM: "cifg",
}

#: rows of ONNX's LSTM weights (gates i, o, f, c) in PyTorch's order i, f, g, o
_TORCH_FROM_ONNX_GATES = [0, 2, 3, 1]


def _blocks(w: torch.Tensor, H: int, order) -> torch.Tensor:
    """The gate blocks of ``w`` (rows of ``H``) concatenated in ``order``."""
    return torch.cat([w[k * H : (k + 1) * H] for k in order])


class _PeepholeLSTMFunction(torch.autograd.Function):
    """Peephole recurrence over batch-first ``x``; exports as one ONNX LSTM node.

    The weights come in ONNX's layout: ``W`` (1, 4H, input_size), ``R``
    (1, 4H, H), ``B`` (1, 8H) with gate blocks i, o, f, c, and ``P`` (1, 3H)
    with peepholes i, o, f. ``forward`` turns them back into the layout of
    :class:`~sklstm._cells.PeepholeLSTM` and runs its recurrence, so the
    traced values are the layer's own; ``symbolic`` emits the ONNX graph.
    Returns the hidden states, (batch, time, H).
    """

    @staticmethod
    def forward(ctx, x, W, R, B, P, hidden_size):
        H = hidden_size
        order = _TORCH_FROM_ONNX_GATES
        w_ih = _blocks(W[0], H, order)
        w_hh = _blocks(R[0], H, order)
        bias = _blocks(B[0, : 4 * H] + B[0, 4 * H :], H, order)
        peep = P[0].view(3, H)[[0, 2, 1]]  # i, o, f -> i, f, o
        xw = F.linear(x.transpose(0, 1), w_ih, bias).contiguous()
        h0 = x.new_zeros(x.shape[0], H)
        out, *_ = peephole_forward(xw, w_hh, peep, h0, h0, False)
        return out.transpose(0, 1)

    @staticmethod
    def symbolic(g, x, W, R, B, P, hidden_size):
        # an omitted optional input, as PyTorch's own RNN symbolics write it
        missing = g.op("prim::Constant")
        missing.setType(torch._C.OptionalType.ofTensor())
        x = g.op("Transpose", x, perm_i=[1, 0, 2])  # time-major
        # inputs X, W, R, B, sequence_lens, initial_h, initial_c, P. No
        # sequence_lens: the recurrence is causal, and the export module reads
        # each row's states at positions below its length only.
        y, _, _ = g.op(
            "LSTM",
            x,
            W,
            R,
            B,
            missing,
            missing,
            missing,
            P,
            hidden_size_i=hidden_size,
            outputs=3,
        )
        # Y is (time, num_directions=1, batch, H)
        if g.opset >= 13:
            y = g.op("Squeeze", y, g.op("Constant", value_t=torch.tensor([1])))
        else:
            y = g.op("Squeeze", y, axes_i=[1])
        return g.op("Transpose", y, perm_i=[1, 0, 2])


class _PeepholeExportLayer(nn.Module):
    """Stands in for a fitted PeepholeLSTM while exporting (see the module doc)."""

    def __init__(self, layer: PeepholeLSTM):
        super().__init__()
        H = layer.hidden_size
        order = [0, 3, 1, 2]  # ONNX's i, o, f, c from PyTorch's i, f, g, o
        with torch.no_grad():
            W = _blocks(layer.weight_ih_l0, H, order)
            R = _blocks(layer.weight_hh_l0, H, order)
            B = torch.cat(
                [
                    _blocks(layer.bias_ih_l0, H, order),
                    _blocks(layer.bias_hh_l0, H, order),
                ]
            )
            P = layer.weight_peephole_l0[[0, 2, 1]].reshape(-1)  # i, o, f
        self.hidden_size = H
        for name, value in (("W", W), ("R", R), ("B", B), ("P", P)):
            self.register_buffer(name, value.detach().clone().unsqueeze(0))

    def forward(self, x):
        out = _PeepholeLSTMFunction.apply(
            x, self.W, self.R, self.B, self.P, self.hidden_size
        )
        return out, None


def _cifg_as_lstm(layer: CIFGLSTM) -> nn.LSTM:
    """An ``nn.LSTM`` that computes what the CIFG ``layer`` computes.

    Its input gate gets the forget gate's weights and biases negated, so its
    pre-activation is ``-a_f`` and ``i = sigmoid(-a_f) = 1 - f``.
    """
    lstm = nn.LSTM(layer.input_size, layer.hidden_size, batch_first=True)
    f, g, o = (layer.gate_slice(k) for k in ("f", "g", "o"))
    with torch.no_grad():
        for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
            w = getattr(layer, name)
            getattr(lstm, name).copy_(torch.cat([-w[f], w[f], w[g], w[o]]))
    return lstm.eval()


def _exportable(layer: nn.Module) -> nn.Module:
    """``layer``, or a stand-in the TorchScript exporter maps onto ONNX LSTM."""
    if isinstance(layer, PeepholeLSTM):
        return _PeepholeExportLayer(layer)
    if isinstance(layer, CIFGLSTM):
        return _cifg_as_lstm(layer)
    return layer


class _ExportNet(nn.Module):
    """Inference-only forward pass of a fitted SequenceNet, ready for tracing.

    Token-id input: ``forward(x)``; lengths are computed in the graph from the
    position of the last non-zero id, as sklstm does, and ids the model never
    saw in ``fit`` read as out-of-vocabulary (id 1). Numeric input:
    ``forward(x, lengths)``; the per-feature standardisation is the
    SequenceNet's own buffers. The output layer runs in float64 like the
    SequenceNet's; then softmax (classifier, of the logits divided by the
    fitted temperature when calibrated) or the inverse target scaling
    (regressor).

    Why not SequenceNet.forward itself: lengths come from the ids in the
    graph here, and the eager forward takes data-dependent shortcuts (no
    gather when every sequence is full, a view for a single sequence) that
    tracing would freeze into the graph as constants. So this calls the
    network's ``encode`` with ``traceable=True`` (shape-agnostic ops only) and
    its float64 ``output``. The ONNX tests check both against each other for
    every cell, pooling and direction.
    """

    def __init__(
        self,
        net,
        *,
        n_tokens,
        task,
        y_mean=None,
        y_scale=None,
        squeeze=False,
        temperature=None,
    ):
        super().__init__()
        self.net = net
        self.n_tokens = n_tokens
        self.task = task
        self.squeeze = squeeze
        self.temperature = temperature
        if task == "regression":
            self.register_buffer("y_mean", torch.as_tensor(y_mean, dtype=torch.float64))
            self.register_buffer(
                "y_scale", torch.as_tensor(y_scale, dtype=torch.float64)
            )

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None):
        net = self.net
        if net.embedding is not None:
            T = x.shape[1]
            pos = torch.arange(1, T + 1, device=x.device).unsqueeze(0)
            lengths = torch.where(x != PAD_ID, pos, 0).amax(dim=1).clamp(min=1)
            x = torch.where(x >= self.n_tokens, OOV_ID, x)
            h = net.embedding(x)
        else:
            h, lengths = net.numeric_input(x, lengths)
        # the network's own layers and pooling, without the eager shortcuts
        # (dropout between layers is the identity at inference)
        out = net.output(net.encode(h, lengths, traceable=True))
        if self.task == "classification":
            if self.temperature is not None:
                out = out / self.temperature
            return torch.softmax(out, dim=1)
        out = out * self.y_scale + self.y_mean
        return out[:, 0] if self.squeeze else out


def _import_onnx():
    try:
        import onnx
    except ImportError as exc:
        raise ImportError(
            "Exporting to ONNX needs the onnx package, which is not installed. "
            "Install it with: pip install sklstm[onnx]"
        ) from exc
    return onnx


def to_onnx(estimator, path=None, *, opset=None):
    """Export a fitted LSTMClassifier's or LSTMRegressor's network to ONNX.

    The graph takes what the estimator's ``predict`` takes after input
    validation and returns what ``predict_proba`` (classifier) or
    ``predict`` (regressor) return, so it can be served with onnxruntime or
    any other ONNX runtime without Python or PyTorch. Batch size and sequence
    length are dynamic.

    Inputs, by the kind of data the model was fitted on:

    - token ids: ``x``, int64 of shape (batch, time), padded with 0 at the
      end. Lengths are computed in the graph (last non-zero id), exactly as
      the estimator does; ids not seen in ``fit`` count as out-of-vocabulary.
      Raw text is turned into ids in Python first, e.g. with the fitted
      :class:`~sklstm.TextSequencer` (``pipe[:-1].transform(texts)``).
    - numbers: ``x``, float32 of shape (batch, time, n_step_features) -- a
      univariate model fitted on 2-D input takes ``X[:, :, None]`` -- and
      ``lengths``, int64 of shape (batch,), the number of valid steps of each
      row (1 <= length <= time); steps past a row's length are ignored.
      The per-feature standardisation learned in ``fit`` is in the graph.

    Output:

    - classifier: ``probabilities``, float64 of shape (batch, n_classes), in
      the order of ``estimator.classes_`` (also stored as JSON in the model's
      metadata under ``classes``).
    - regressor: ``predictions``, float64 in the original units of ``y``, of
      shape (batch,) or (batch, n_targets) as ``predict`` returns.

    Parameters
    ----------
    estimator : LSTMClassifier or LSTMRegressor
        A fitted estimator with any cell (``"lstm"``, ``"gru"``, ``"rnn"``,
        ``"peephole"``, ``"cifg"``), any number of layers, uni- or
        bidirectional, and any pooling; not an LSTM with ``proj_size > 0``.
    path : str or os.PathLike, default=None
        Where to write the model; nothing is written if None.
    opset : int, default=None
        ONNX opset version, 12 or later; None uses the exporter's default.

    Returns
    -------
    model : onnx.ModelProto
        The exported model. ``model.SerializeToString()`` can be passed to
        ``onnxruntime.InferenceSession`` directly.

    Raises
    ------
    ImportError
        If the ``onnx`` package is not installed.
    NotImplementedError
        If the network uses an LSTM projection (``proj_size > 0``), which
        ONNX's LSTM operator lacks, or a recurrent layer the exporter does not
        know.

    Notes
    -----
    The graph is produced by PyTorch's TorchScript-based exporter
    (``torch.onnx.export(..., dynamo=False)``), which maps the recurrent
    layers onto ONNX's LSTM, GRU and RNN operators with a dynamic time axis.

    sklstm's own cells become standard ONNX ``LSTM`` nodes too, with no
    custom operator and no loop unrolled over time:

    - ``"peephole"``: an ``LSTM`` node with its peephole input ``P``, the
      weights rearranged into ONNX's gate order (i, o, f, c; peepholes i, o,
      f).
    - ``"cifg"``: an ``LSTM`` node whose input gate has the forget gate's
      weights and biases negated, so that ``i = sigmoid(-a_f) = 1 - f`` and
      ``c_t = f c_{t-1} + (1 - f) g`` exactly as in the CIFG cell. The
      ``input_forget`` attribute is not used: ONNX does not define what it
      computes, and onnxruntime ties the gates the other way round
      (``f = 1 - i``).

    Examples
    --------
    >>> import numpy as np
    >>> import onnxruntime as ort
    >>> from sklstm import LSTMClassifier, to_onnx
    >>> X = np.array([[2, 3, 0], [4, 5, 6], [3, 0, 0], [6, 5, 0]] * 5)
    >>> y = [0, 1, 0, 1] * 5
    >>> clf = LSTMClassifier(hidden_size=8, max_epochs=2, random_state=0).fit(X, y)
    >>> model = to_onnx(clf)
    >>> sess = ort.InferenceSession(model.SerializeToString())
    >>> proba = sess.run(None, {"x": X})[0]
    >>> bool(np.allclose(proba, clf.predict_proba(X)))
    True
    """
    onnx = _import_onnx()
    if not hasattr(estimator, "_forward"):
        raise TypeError(
            "to_onnx exports an sklstm LSTMClassifier or LSTMRegressor, got "
            f"{type(estimator).__name__}. For a Pipeline, export its last step "
            "(pipe[-1]) and run the earlier steps in Python "
            "(pipe[:-1].transform(X))."
        )
    check_is_fitted(estimator, "net_")
    if opset is not None and opset < 12:
        raise ValueError(
            f"opset={opset} is too old: the exported graph uses integer Max/Clip, "
            "which ONNX defines from opset 12. Use opset=12 or later (or None)."
        )

    net = copy.deepcopy(estimator.net_.module_).cpu().eval()
    name = type(estimator).__name__
    members = members_of(net)
    for layer in (layer for member in members for layer in member.forward_layers):
        if type(layer) not in _EXPORTABLE_LAYERS:
            supported = ", ".join(repr(c) for c in _EXPORTABLE_LAYERS.values())
            raise NotImplementedError(
                f"to_onnx supports the cells {supported}; this {name} uses "
                f"{type(layer).__name__} (cell={estimator.cell!r}), which has no "
                "ONNX translation yet."
            )
        if getattr(layer, "proj_size", 0):
            raise NotImplementedError(
                f"to_onnx cannot export this {name}: ONNX's LSTM operator has no "
                f"output projection (proj_size={layer.proj_size}). Refit with "
                "proj_size=0 to export."
            )
    for member in members:
        for layers in (member.forward_layers, member.backward_layers or []):
            for i, layer in enumerate(layers):
                layers[i] = _exportable(layer)
    if net.pooling not in POOLINGS:
        raise NotImplementedError(
            f"to_onnx cannot export pooling={net.pooling!r}; it supports "
            f"{', '.join(map(repr, POOLINGS))}."
        )

    is_classifier = hasattr(estimator, "classes_")
    tokens = net.embedding is not None
    wrapper = _ExportNet(
        net,
        n_tokens=estimator._n_tokens,
        task="classification" if is_classifier else "regression",
        y_mean=None if is_classifier else estimator._y_mean,
        y_scale=None if is_classifier else estimator._y_scale,
        squeeze=not is_classifier and estimator._y_ndim == 1,
        temperature=estimator.__dict__.get("temperature_"),
    ).eval()

    # example input: 2 rows of 3 steps, the second shorter (the exporter keeps
    # the axes dynamic, the values do not matter)
    if tokens:
        example = (torch.tensor([[2, 2, 2], [2, 2, 0]], dtype=torch.int64),)
        input_names = ["x"]
        dynamic_axes = {"x": {0: "batch", 1: "time"}}
    else:
        n_feat = int(net.input_mean.shape[0])
        example = (
            torch.zeros(2, 3, n_feat, dtype=torch.float32),
            torch.tensor([3, 2], dtype=torch.int64),
        )
        input_names = ["x", "lengths"]
        dynamic_axes = {"x": {0: "batch", 1: "time"}, "lengths": {0: "batch"}}
    output_name = "probabilities" if is_classifier else "predictions"
    dynamic_axes[output_name] = {0: "batch"}

    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        # The torch.export-based exporter (dynamo=True) specialises the time
        # axis of nn.LSTM to the example's length on torch 2.13 and cannot
        # translate nn.RNN; the TorchScript exporter maps all three onto
        # ONNX's recurrent operators with dynamic axes (checked with
        # onnxruntime in tests/test_onnx.py). Its deprecation notice and
        # tracer remarks are about code paths this wrapper does not take.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", message=".*batch_size other than 1.*")
        torch.onnx.export(
            wrapper,
            example,
            buffer,
            input_names=input_names,
            output_names=[output_name],
            dynamic_axes=dynamic_axes,
            opset_version=opset,
            dynamo=False,
        )
    model = onnx.load_from_string(buffer.getvalue())
    model.producer_name = "sklstm"
    model.producer_version = __version__
    model.doc_string = (
        f"sklstm {type(estimator).__name__} (cell={estimator.cell!r}, "
        f"input={'token ids' if tokens else 'numeric'})"
    )
    meta = {
        "estimator": type(estimator).__name__,
        "input": "tokens" if tokens else "numeric",
    }
    if is_classifier:
        try:
            meta["classes"] = json.dumps(estimator.classes_.tolist())
        except TypeError:  # labels JSON cannot hold
            pass
    onnx.helper.set_model_props(model, meta)
    if path is not None:
        onnx.save(model, os.fspath(path))
    return model
