"""Patches: long numeric series read as a shorter series of windows.

A window of ``size`` consecutive steps (all features) becomes one input
vector of the recurrent layer; windows start every ``stride`` steps, so with
``stride = size // 2`` they overlap by half (as PatchTST reads series). The
LSTM then runs over about ``2 T / size`` steps instead of ``T``, which is what
lets it learn on series of hundreds or thousands of steps.

Exact whatever the padding: steps past a sequence's length are zeroed before
windows are cut, and a sequence has ``ceil((length - size) / stride) + 1``
windows (at least 1), the last one reaching its last step. The padding added
here is a constant ``size - 1`` zeros, so the same code traces for export.
Pure torch.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from sklstm._pooling import valid_mask

__all__ = ["patch", "patched_lengths"]


def patched_lengths(lengths: torch.Tensor, size: int, stride: int) -> torch.Tensor:
    """Number of windows of each sequence."""
    return ((lengths - size).clamp(min=0) + stride - 1) // stride + 1


def patch(h: torch.Tensor, lengths: torch.Tensor, size: int, stride: int):
    """``(windows (B, T', F * size), window counts (B,))`` of ``h`` (B, T, F)."""
    T = h.shape[1]
    h = h.masked_fill(~valid_mask(lengths, T).unsqueeze(2), 0.0)
    # im2col over a (B, F, 1, T) image: (B, F * size, T'), feature-major
    # windows (all of feature 0's steps, then feature 1's, ...); exports to
    # ONNX with a free number of steps, which Tensor.unfold does not
    image = F.pad(h.transpose(1, 2), (0, size - 1)).unsqueeze(2)
    windows = F.unfold(image, kernel_size=(1, size), stride=(1, stride))
    return windows.transpose(1, 2), patched_lengths(lengths, size, stride)
