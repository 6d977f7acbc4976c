"""Several independently trained networks that predict as one (``n_members``).

A :class:`MemberMean` holds ``n_members`` :class:`~sklstm._module.SequenceNet`
of the same shape, each trained on its own (own initialisation, own batch
order, own early stop on the shared validation split), and averages what they
predict: the class probabilities of a classifier (its outputs are the log of
the mean probabilities, so a softmax of them is that mean), the label
probabilities of a multilabel classifier (outputs: the logit of the mean),
the predictions of a regressor. Averaging independently trained networks
removes most of the seed-to-seed spread of a single network; on the text sets
of docs/accuracy.rst three small members beat one network twice their size.

It reads like one ``SequenceNet`` to the code that predicts, explains and
exports (``input_vectors``, ``numeric_input``, ``encode``, ``output``,
``embedding``, ``pooling``): ``encode`` returns the members' pooled vectors
side by side, ``output`` splits them again. It is never trained itself: fit
trains the members as single networks, then copies them in
(:func:`sklstm._net.merge_members`). Pure torch.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from sklstm._hooks import hooked
from sklstm._module import SequenceNet

__all__ = ["COMBINES", "MemberMean", "combine_outputs", "members_of", "network_class"]

#: how member outputs are averaged: by the task's output function
COMBINES = ("softmax", "sigmoid", "mean")


def combine_outputs(outputs: torch.Tensor, combine: str) -> torch.Tensor:
    """One output per row from member outputs ``(batch, members, n)``.

    ``"softmax"``: log of the mean softmax probabilities; ``"sigmoid"``: logit
    of the mean sigmoid probabilities; ``"mean"``: the mean. Computed in log
    space, so extreme logits neither overflow nor lose the small members.
    """
    k = outputs.shape[1]
    if combine == "mean":
        return outputs.mean(dim=1)
    log_k = math.log(k)
    if combine == "softmax":
        return torch.logsumexp(F.log_softmax(outputs, dim=2), dim=1) - log_k
    if combine == "sigmoid":
        log_p = torch.logsumexp(F.logsigmoid(outputs), dim=1) - log_k
        log_q = torch.logsumexp(F.logsigmoid(-outputs), dim=1) - log_k
        return log_p - log_q
    raise ValueError(f"combine must be one of {COMBINES}, got {combine!r}.")


class _JointEmbedding(nn.Module):
    """The members' embeddings side by side, as attribution and export read one.

    A module (so that Captum and hooks can attach to it) that owns no
    weights: it reads the members' embedding tables.
    """

    def __init__(self, members: nn.ModuleList):
        super().__init__()
        # not registered as a submodule: the weights are the members'
        object.__setattr__(self, "_members", members)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([m.embedding(x) for m in self._members], dim=2)

    @property
    def weight(self) -> torch.Tensor:
        return torch.cat([m.embedding.weight for m in self._members], dim=1)


class MemberMean(nn.Module):
    """``n_members`` SequenceNets of the same arguments, their outputs averaged.

    Parameters
    ----------
    n_members : int
        Number of members (at least 2).
    combine : {"softmax", "sigmoid", "mean"}
        How outputs are averaged (:func:`combine_outputs`).
    **kwargs
        The members' :class:`~sklstm._module.SequenceNet` arguments.
    """

    def __init__(self, *, n_members: int, combine: str, **kwargs):
        super().__init__()
        if combine not in COMBINES:
            raise ValueError(f"combine must be one of {COMBINES}, got {combine!r}.")
        self.combine = combine
        self.members = nn.ModuleList(SequenceNet(**kwargs) for _ in range(n_members))
        joint = None
        if self.members[0].embedding is not None:
            joint = _JointEmbedding(self.members)
        # not a submodule either: state_dict holds each weight once
        object.__setattr__(self, "embedding", joint)

    # --- what SequenceNet's readers look at -----------------------------------

    @property
    def pooling(self) -> str:
        return self.members[0].pooling

    @property
    def input_mean(self) -> torch.Tensor:
        return self.members[0].input_mean

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        # the same as each member's forward (a MemberMean only predicts)
        if self.embedding is not None and not hooked(self.embedding):
            # each member reads its own table: no joint copy split again
            # (its slices are not contiguous: the recurrent kernels would
            # copy them once more); 20% of a prediction's time on the tweets
            lengths = lengths.to(x.device)
            return self._combine(
                [m.output(m.encode(m.embedding(x), lengths)) for m in self.members]
            )
        # through the joint embedding, so that hooks on it (Captum) see the call
        return self.output(self.encode(*self.input_vectors(x, lengths)))

    def input_vectors(self, x: torch.Tensor, lengths: torch.Tensor):
        if self.embedding is None:
            return self.numeric_input(x, lengths.to(x.device))
        h = self.embedding(x)
        return h, lengths.to(h.device)

    def numeric_input(self, x: torch.Tensor, lengths: torch.Tensor):
        # the members share the estimator's standardisation and patching
        return self.members[0].numeric_input(x, lengths)

    def encode(self, h, lengths, *, traceable: bool = False) -> torch.Tensor:
        """The members' pooled vectors side by side (token input: ``h`` holds
        the members' embeddings side by side; numeric: all read ``h``)."""
        if self.embedding is None:
            parts = [h] * len(self.members)
        else:
            widths = [m.embedding.embedding_dim for m in self.members]
            parts = torch.split(h, widths, dim=2)
        return torch.cat(
            [
                m.encode(p, lengths, traceable=traceable)
                for m, p in zip(self.members, parts)
            ],
            dim=1,
        )

    def output(self, z: torch.Tensor) -> torch.Tensor:
        widths = [m.head.in_features for m in self.members]
        parts = torch.split(z, widths, dim=1)
        return self._combine([m.output(p) for m, p in zip(self.members, parts)])

    def recurrent_macs(self) -> int:
        return sum(m.recurrent_macs() for m in self.members)

    def _combine(self, outputs) -> torch.Tensor:
        return combine_outputs(torch.stack(outputs, dim=1), self.combine)


def network_class(module_kwargs: dict) -> type:
    """The module class that ``module_kwargs`` build."""
    return MemberMean if module_kwargs.get("n_members", 1) > 1 else SequenceNet


def members_of(module) -> list:
    """The single networks inside ``module`` (itself when it is one)."""
    return list(module.members) if isinstance(module, MemberMean) else [module]
