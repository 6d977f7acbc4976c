"""The optimizers sklstm builds by name, without torch's compiler import.

``torch.optim.Optimizer`` wraps ``add_param_group``, ``zero_grad``,
``state_dict``, ``load_state_dict`` and each optimizer's ``step`` in decorators for ``torch.compile`` (graph breaks,
``torch._disable_dynamo``). In eager mode they do nothing, but the first
call imports ``torch._dynamo`` and SymPy: about 800 modules and 0.9-2.9 s
in every fresh process (a script, a CLI call, each joblib or Dask worker),
while one epoch of a small fit takes a fraction of that.

The classes here are torch's own optimizers (subclasses, so LR schedulers,
skorch and Accelerate take them) whose five methods call the undecorated
functions underneath, with the same gradient mode the decorator sets. The
arithmetic is torch's; the updates are bit-identical
(``tests/test_optim.py``). Where a future torch no longer decorates, the
unwrapping finds the plain function and nothing changes.
"""

from __future__ import annotations

import inspect

import torch

__all__ = ["OPTIMIZERS", "fused_adam_supported"]


class _EagerSteps:
    """Mixin: call the torch.optim methods without their compile decorators."""

    def add_param_group(self, param_group):
        inspect.unwrap(torch.optim.Optimizer.add_param_group)(self, param_group)

    def zero_grad(self, set_to_none: bool = True):
        inspect.unwrap(torch.optim.Optimizer.zero_grad)(self, set_to_none)

    def state_dict(self):
        return inspect.unwrap(torch.optim.Optimizer.state_dict)(self)

    def load_state_dict(self, state_dict):
        inspect.unwrap(torch.optim.Optimizer.load_state_dict)(self, state_dict)

    def step(self, closure=None):
        # the torch class sits after this mixin in the MRO; its step, under
        # the decorator that sets the gradient mode and breaks the graph
        torch_step = inspect.unwrap(self._torch_class.step)
        with torch.set_grad_enabled(self.defaults.get("differentiable", False)):
            return torch_step(self, closure)


def _eager(torch_class: type) -> type:
    """``torch_class`` with :class:`_EagerSteps` in front, same name."""
    return type(
        torch_class.__name__,
        (_EagerSteps, torch_class),
        {
            "_torch_class": torch_class,
            "__module__": __name__,
            "__qualname__": torch_class.__name__,
            "__doc__": f"``{torch_class.__module__}.{torch_class.__name__}`` "
            "without the compile decorators (see :mod:`sklstm._optim`).",
        },
    )


Adam = _eager(torch.optim.Adam)
AdamW = _eager(torch.optim.AdamW)
SGD = _eager(torch.optim.SGD)
RMSprop = _eager(torch.optim.RMSprop)
Adagrad = _eager(torch.optim.Adagrad)

#: the optimizers accepted by name (``optimizer="adam"``)
OPTIMIZERS = {
    "adam": Adam,
    "adamw": AdamW,
    "sgd": SGD,
    "rmsprop": RMSprop,
    "adagrad": Adagrad,
}


_FUSED_SUPPORT: dict = {}


def fused_adam_supported(device: torch.device) -> bool:
    """Whether this torch build has a fused Adam kernel for ``device``."""
    if device.type not in _FUSED_SUPPORT:
        try:
            p = torch.zeros(1, device=device, requires_grad=True)
            Adam([p], fused=True)
            _FUSED_SUPPORT[device.type] = True
        except (RuntimeError, TypeError, ValueError):
            _FUSED_SUPPORT[device.type] = False
    return _FUSED_SUPPORT[device.type]
