"""Reading a recurrent layer's states: reversal within lengths and pooling.

Shared by the network (``sklstm._module``) and the ONNX export
(``sklstm._onnx``), so that both compute the same thing. Pure torch.

``traceable=True`` skips the eager shortcuts that depend on the data (no
gather when every sequence is full, a view for a single sequence): tracing
for export would freeze them into the graph as constants. Both ways give the
same values.
"""

from __future__ import annotations

import torch

__all__ = ["POOLINGS", "pool", "pooled_size", "reverse_within_lengths", "valid_mask"]

#: the poolings a network computes ("concat": last, mean and max side by side,
#: as in ULMFiT)
POOLINGS = ("last", "mean", "max", "attention", "concat")


def pooled_size(pooling: str, state_size: int) -> int:
    """Length of the pooled vector for states of ``state_size``."""
    return 3 * state_size if pooling == "concat" else state_size


def reverse_within_lengths(
    x: torch.Tensor, lengths: torch.Tensor, *, traceable: bool = False
) -> torch.Tensor:
    """Reverse each sequence of ``x`` (batch, time, ...) inside its own length.

    Steps past a sequence's length (padding) stay where they are.
    """
    T = x.shape[1]
    if not traceable and bool((lengths == T).all()):
        return x.flip(1)
    t = torch.arange(T, device=x.device)
    L = lengths.to(x.device).unsqueeze(1)
    idx = torch.where(t < L, L - 1 - t, t)
    idx = idx.view(idx.shape[0], T, *([1] * (x.dim() - 2))).expand_as(x)
    return x.gather(1, idx)


def valid_mask(lengths: torch.Tensor, T: int) -> torch.Tensor:
    """(batch, T) boolean mask of the steps inside each sequence's length."""
    return torch.arange(T, device=lengths.device).unsqueeze(0) < lengths.unsqueeze(1)


def _at(h: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """``h[rows, idx]`` for (batch, time, size) ``h`` and (batch,) ``idx``."""
    return h.gather(1, idx.view(-1, 1, 1).expand(-1, 1, h.shape[2])).squeeze(1)


def _valid_sum(h, lengths, valid, traceable: bool) -> torch.Tensor:
    """Sum of each sequence's states over its valid steps, in ``h``'s dtype.

    Accumulated in float64 and rounded once, so the result does not depend on
    the padding or on the order of the additions (those move only bits far
    below the float32 result's). Eager: the valid steps' 0/1 mask times the
    states, one batched product (2-3x faster than a running sum), or a plain
    sum where no step is padding (``valid`` None); traced: the running sum
    gathered at the last valid step (the same values).
    """
    if traceable:
        return _at(h.cumsum(dim=1), (lengths - 1).clamp(min=0))
    if valid is None:
        return h.sum(dim=1, dtype=torch.float64).to(h.dtype)
    mask = valid.to(torch.float64).unsqueeze(1)
    return torch.bmm(mask, h.to(torch.float64)).squeeze(1).to(h.dtype)


def _no_padding(lengths: torch.Tensor, T: int, traceable: bool) -> bool:
    """Whether every sequence fills all ``T`` steps (eager only: a shortcut
    that tracing would freeze into the graph)."""
    if traceable:
        return False
    if lengths.shape[0] == 1:  # one sequence (serving): no reduction needed
        return int(lengths[0]) == T
    return bool((lengths == T).all())


def pool(
    pooling: str,
    h: torch.Tensor,
    lengths: torch.Tensor,
    *,
    out_f: torch.Tensor,
    out_b_rev: torch.Tensor | None = None,
    attention=None,
    traceable: bool = False,
) -> torch.Tensor:
    """One vector per sequence from the last layer's states, valid steps only.

    ``h`` (batch, time, size) holds the last layer's states in time order
    (both directions side by side); ``out_f`` its forward direction and
    ``out_b_rev`` its backward direction in reversed order (as the layer ran),
    which "last" reads: the backward direction ends at the first step.
    ``attention`` maps states to one score per step (``pooling="attention"``).
    Where no sequence has padding (one document, equal-length series) the
    eager path skips the masks: the same values, fewer operations.
    """
    if pooling not in POOLINGS:
        raise ValueError(f"unknown pooling {pooling!r}")  # pragma: no cover
    T = out_f.shape[1]
    full = _no_padding(lengths, T, traceable)
    # the valid steps' mask, made once for the mean, maximum and attention
    needs_mask = pooling == "attention" or (pooling != "last" and not full)
    valid = valid_mask(lengths.to(h.device), h.shape[1]) if needs_mask else None
    parts = ("last", "mean", "max") if pooling == "concat" else (pooling,)
    pooled = [
        _pool_one(p, h, lengths, valid, full, out_f, out_b_rev, attention, traceable)
        for p in parts
    ]
    return pooled[0] if len(pooled) == 1 else torch.cat(pooled, dim=1)


def _pool_one(pooling, h, lengths, valid, full, out_f, out_b_rev, attention, traceable):
    if pooling == "last":
        if full:  # every sequence ends at the last step: a view, no gather
            z = out_f[:, -1]
            if out_b_rev is not None:
                z = torch.cat([z, out_b_rev[:, -1]], dim=1)
            return z
        last_idx = (lengths - 1).clamp(min=0)
        z = _at(out_f, last_idx)
        if out_b_rev is not None:
            z = torch.cat([z, _at(out_b_rev, last_idx)], dim=1)
        return z
    if pooling == "mean":
        total = _valid_sum(h, lengths, None if full else valid, traceable)
        return total / lengths.to(h.device).unsqueeze(1).to(h.dtype)
    if pooling == "max":
        if full:
            return h.amax(dim=1)
        # -inf added to the padded steps (h + 0 is h exactly): one pass over
        # the states, 4x faster here than masked_fill's copy (the states of
        # padded steps are finite: the cells' outputs are bounded)
        pad = torch.zeros_like(valid, dtype=h.dtype).masked_fill(~valid, float("-inf"))
        return (h + pad.unsqueeze(2)).amax(dim=1)
    # attention
    weights = attention_weights(attention(h).squeeze(2), valid)
    # padded steps get weight exactly 0; where() keeps them out even if
    # their states were not finite
    return torch.where(valid.unsqueeze(2), h * weights.unsqueeze(2), 0.0).sum(1)


def attention_weights(scores: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Softmax of per-step ``scores`` over the valid steps (padding gets 0)."""
    return torch.softmax(scores.masked_fill(~valid, float("-inf")), dim=1)
