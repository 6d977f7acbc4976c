"""The PyTorch network of a language model: next-token prediction. Pure torch.

Embedding -> stacked one-direction LSTM layers -> dropout -> a softmax over
the vocabulary. The embedding and the recurrent layers are built exactly as
:class:`~sklstm._module.SequenceNet` builds them (same modules, same names,
same initialisation), so that a classifier can start from them
(:mod:`sklstm._pretrained`).

The output layer is what makes a word-level language model expensive: a full
softmax over 30,000 words costs 20 times the LSTM step of a 256-unit layer
(``benchmarks/bench_pretraining.py``). Vocabularies of more than
:data:`ADAPTIVE_MIN_TOKENS` ids use an adaptive softmax (Grave et al. 2017,
``nn.AdaptiveLogSoftmaxWithLoss``): the frequent ids in a head, the rarer
ones in clusters of lower dimension that are only computed for the targets
that fall in them. Token ids are numbered by decreasing frequency
(:class:`~sklstm.TextSequencer`), which is what the clusters need.

Id 0 (padding elsewhere) marks the end of a document in a language model's
stream: as input it reads as the zero vector, as a target it is "the
document ends here".
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from sklstm._ids import PAD_ID
from sklstm._module import _make_rnn, run_layer

__all__ = ["ADAPTIVE_MIN_TOKENS", "LanguageNet", "softmax_cutoffs"]

#: vocabularies of at least this many ids get an adaptive softmax
ADAPTIVE_MIN_TOKENS = 4000
#: cluster boundaries of the adaptive softmax for a 30,000-id vocabulary, as
#: shares of the vocabulary (the head holds the 2,000 most frequent ids)
_CUTOFF_SHARES = (1 / 15, 1 / 3)


def softmax_cutoffs(softmax: str, n_tokens: int) -> list:
    """The adaptive softmax clusters for ``n_tokens`` ids ([] = full softmax).

    ``softmax`` is ``"full"``, ``"adaptive"`` or ``"auto"`` (adaptive from
    :data:`ADAPTIVE_MIN_TOKENS` ids on).
    """
    if softmax == "full" or (softmax == "auto" and n_tokens < ADAPTIVE_MIN_TOKENS):
        return []
    cutoffs = sorted({int(n_tokens * share) for share in _CUTOFF_SHARES})
    if cutoffs[0] < 1 or cutoffs[-1] >= n_tokens - 1:
        raise ValueError(
            f"softmax='adaptive' needs a larger vocabulary than {n_tokens} ids; "
            "use softmax='auto' or 'full'."
        )
    return cutoffs


class LanguageNet(nn.Module):
    """Embedding -> LSTM layers -> next-token log-probabilities.

    Parameters
    ----------
    n_tokens : int
        Vocabulary size (ids 0 .. n_tokens - 1; 0 is the document end).
    embedding_dim, hidden_size, num_layers : int
        Sizes of the embedding and of each LSTM layer.
    dropout : float
        Dropout on each layer's output (between layers and before the
        softmax) while training.
    cutoffs : list of int
        Cluster boundaries of the adaptive softmax; empty for a full softmax.
    """

    def __init__(
        self,
        *,
        n_tokens: int,
        embedding_dim: int = 256,
        hidden_size: int = 256,
        num_layers: int = 1,
        dropout: float = 0.1,
        cutoffs=(),
    ):
        super().__init__()
        self.embedding = nn.Embedding(n_tokens, embedding_dim, padding_idx=PAD_ID)
        with torch.no_grad():  # as SequenceNet initialises it
            self.embedding.weight.normal_(0.0, 0.1)
            self.embedding.weight[PAD_ID].zero_()
        self.forward_layers = nn.ModuleList(
            _make_rnn("lstm", embedding_dim if i == 0 else hidden_size, hidden_size)
            for i in range(num_layers)
        )
        self.dropout = nn.Dropout(dropout)
        cutoffs = list(cutoffs)
        if cutoffs:
            self.decoder = nn.AdaptiveLogSoftmaxWithLoss(
                hidden_size, n_tokens, cutoffs=cutoffs, div_value=4.0
            )
        else:
            self.decoder = nn.Linear(hidden_size, n_tokens)

    def states(self, x: torch.Tensor) -> torch.Tensor:
        """The last layer's states ``(batch, steps, hidden_size)`` for ids ``x``."""
        h = self.embedding(x)
        for layer in self.forward_layers:
            h = self.dropout(run_layer(layer, h))
        return h

    def token_log_likelihood(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Log-probability of each next token ``y`` after the ids ``x`` (flat)."""
        h = self.states(x).reshape(-1, self.forward_layers[-1].hidden_size)
        y = y.reshape(-1)
        if isinstance(self.decoder, nn.AdaptiveLogSoftmaxWithLoss):
            return self.decoder(h, y).output
        log_p = F.log_softmax(self.decoder(h), dim=1)
        return log_p.gather(1, y[:, None])[:, 0]

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Mean negative log-likelihood of the next tokens ``y`` (the loss)."""
        return -self.token_log_likelihood(x, y).mean()

    def log_probabilities(self, x: torch.Tensor) -> torch.Tensor:
        """Log-probabilities of every id after each position of ``x``."""
        h = self.states(x)
        flat = h.reshape(-1, h.shape[-1])
        if isinstance(self.decoder, nn.AdaptiveLogSoftmaxWithLoss):
            out = self.decoder.log_prob(flat)
        else:
            out = F.log_softmax(self.decoder(flat), dim=1)
        return out.reshape(*h.shape[:-1], -1)
