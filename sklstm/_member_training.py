"""Training the networks of one fit: one, or ``n_members`` one after another.

Each member gets its own seed (initialisation, batch order, dropout) and its
own early stop on the validation split the fit shares; the trained nets are
then merged into one (:func:`sklstm._net.merge_members`). This module also
says when several members cannot be trained: continuing one network
(``partial_fit``, ``warm_start``) and training through an Accelerator.
"""

from __future__ import annotations

import copy

from sklstm._callbacks import keep_last_epoch
from sklstm._defaults import resolve_members
from sklstm._members import MemberMean
from sklstm._refit import refit_epochs, train_on_all
from sklstm._runtime import member_seed

__all__ = [
    "check_members",
    "check_continuable",
    "fit_members",
    "refit_members",
    "resolve_fit_members",
]


def check_members(est) -> None:
    """A ValueError when ``est.n_members`` > 1 asks for what trains one network."""
    if est.n_members == "auto" or est.n_members == 1:
        return
    if est.warm_start:
        what = "warm_start=True, which continues one network"
    elif est.accelerator is not None:
        what = "an Accelerator, which trains one network"
    else:
        return
    raise ValueError(
        f"n_members={est.n_members} is not available with {what}. "
        "Set n_members=1 (or 'auto', which trains one network there)."
    )


def check_continuable(net) -> None:
    """A ValueError when fitted ``net`` holds several members (no continuing)."""
    if isinstance(net.module_, MemberMean):
        raise ValueError(
            f"This model holds {len(net.module_.members)} networks "
            "(n_members), and partial_fit and warm_start=True continue one "
            "network. Refit from scratch, or fit with n_members=1 to "
            "continue training later."
        )


def resolve_fit_members(est, kind: str, *, partial: bool) -> int:
    """How many networks a first fit of ``est`` trains."""
    n = resolve_members(
        est.n_members,
        kind,
        partial=partial or est.warm_start,
        accelerated=est.accelerator is not None,
        pretrained=getattr(est, "pretrained", None) is not None,
    )
    if n > 1 and partial:
        raise ValueError(
            f"partial_fit trains one network, but n_members={n}. Set "
            "n_members=1 (or 'auto', which is one network for partial_fit)."
        )
    return n


def fit_members(
    est,
    plan,
    train_ds,
    full,
    valid_idx,
    early,
    device,
    seed,
    precision,
    *,
    partial,
    warm,
):
    """``(trained nets, interrupted)``: the continued net, or each new member.

    After Ctrl-C the members that finished an epoch are kept (the one
    interrupted at its last finished epoch); with none, KeyboardInterrupt
    propagates and the caller restores the estimator.
    """
    nets, interrupted = [], False
    for m in range(1 if warm else plan.n_members):
        s = member_seed(seed, m)
        if warm:
            net = copy.deepcopy(est.net_)
        else:
            if plan.n_members > 1 and est.verbose:
                print(f"Member {m + 1} of {plan.n_members}")
            net = est._new_training_net(plan.kwargs, device, s, precision)
        snapshot = est._configure(net, train_ds, full, valid_idx, early, s)
        est._train(net, plan, train_ds, device, s, partial=partial, warm=warm)
        interrupted = getattr(net, "interrupted_", False)
        if interrupted:
            try:
                keep_last_epoch(net, snapshot, early)
            except KeyboardInterrupt:
                if not nets:
                    raise
                break  # this member finished no epoch: keep the others
        nets.append(net)
        if interrupted:
            break
    return nets, interrupted


def refit_members(est, plan, nets, full, device, seed, precision):
    """``(nets trained again on all rows, their epochs)``; ``(None, None)``
    when interrupted (the caller keeps the early-stopped model)."""
    epochs = [refit_epochs(net.history) for net in nets]
    again = []
    for m, n_epochs in enumerate(epochs):
        s = member_seed(seed, m)
        fresh = train_on_all(est, plan, full, device, s, precision, n_epochs)
        if fresh is None:
            return None, None
        again.append(fresh)
    return again, epochs
