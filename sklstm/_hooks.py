"""Whether anything listens on a module's calls. Pure torch.

The prediction paths skip a module's ``__call__`` where nothing would notice
(the members' joint embedding, a recurrent layer's Python wrapper): forward
hooks would. :func:`hooked` tells them when to keep the call.
"""

from __future__ import annotations

from torch import nn
from torch.nn.modules import module as torch_module

__all__ = ["hooked"]

_HOOKS = ("_forward_hooks", "_forward_pre_hooks")


def hooked(module: nn.Module) -> bool:
    """Whether a forward hook would see ``module``'s calls (True if unsure)."""
    try:
        return any(getattr(module, n) for n in _HOOKS) or any(
            getattr(torch_module, "_global" + n) for n in _HOOKS
        )
    except AttributeError:  # pragma: no cover - torch renamed them
        return True
