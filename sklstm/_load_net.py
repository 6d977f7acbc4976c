"""Loading a network: an LSTM estimator's fitted skorch net, rebuilt from the file.

The weights are checked against the shapes the stored network arguments imply
(computed on the meta device, so a modified file cannot make it allocate),
then loaded into a fresh net along with the training history and, when saved,
the optimizer state. ``sklstm._load``'s reader calls :func:`_read_net` for
every LSTM estimator that was fitted when saved.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.overrides import TorchFunctionMode

from sklstm._lm_module import LanguageNet
from sklstm._members import network_class
from sklstm._model_file import ModelFileError, _dict, _to_tensor
from sklstm._module import _CELLS
from sklstm._net import build_net, finish_net
from sklstm._precision import runnable_precision


class _ShapesOnly(TorchFunctionMode):
    """Skip in-place initialisers (``normal_``, ``uniform_``, ...) of meta tensors.

    Their values mean nothing on the meta device, and some (``normal_``) run
    through a Python reference that imports ``torch._dynamo`` (about a second
    in a fresh process) just to learn a shape that does not change.
    """

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        # torch.nn.init passes its tensor by keyword, Tensor methods by position
        first = args[0] if args else kwargs.get("tensor")
        name = getattr(func, "__name__", "")
        if (
            isinstance(first, torch.Tensor)
            and first.is_meta
            and name.endswith("_")
            and not name.endswith("__")
        ):
            return first
        return func(*args, **kwargs)


def _expected_state(kwargs: dict, cls=None) -> dict:
    """The weights (as meta tensors) that network arguments ``kwargs`` imply."""
    with torch.device("meta"), _ShapesOnly():
        return (cls or network_class(kwargs))(**kwargs).state_dict()


def _read_net(reader, est, node, where: str) -> None:
    """Give ``est`` the network ``node`` describes, read with ``reader``."""
    if not isinstance(node, dict):
        raise ModelFileError(f"{where}: malformed network description.")
    name = type(est).__name__
    kwargs = {
        k: reader.value(v, f"{name} network argument {k!r}")
        for k, v in _dict(node, "module_kwargs", where).items()
    }
    state = _read_state(reader, node, kwargs, name, where)
    n_outputs = kwargs.get("n_outputs")
    if getattr(est, "_n_outputs", n_outputs) != n_outputs:
        raise ModelFileError(
            f"{where}: the number of outputs of the network ({n_outputs}) does "
            "not match the fitted attributes; the file was modified."
        )
    try:
        net = _fresh_net(est, kwargs, reader.device)
        net.module_.load_state_dict(
            {k: _to_tensor(a) for k, a in state.items()}, strict=True
        )
    except Exception as exc:
        raise ModelFileError(
            f"{where}: the network cannot be rebuilt from the file ({exc})."
        ) from exc
    _read_history(reader, net, node.get("history", []), where)
    if "optimizer" in node:
        _read_optimizer(reader, net.optimizer_, node["optimizer"], where)
    est.net_ = finish_net(net)  # as after fit


def _read_language_net(reader, lm, node, where: str) -> None:
    """Give language model ``lm`` the network ``node`` describes."""
    if not isinstance(node, dict):
        raise ModelFileError(f"{where}: malformed network description.")
    name = type(lm).__name__
    kwargs = reader.value(_dict(node, "module_kwargs", where), f"{name} network")
    if not isinstance(kwargs, dict):
        raise ModelFileError(f"{where}: malformed network arguments.")
    state = _read_state(reader, node, kwargs, name, where, cls=LanguageNet)
    try:
        with torch.random.fork_rng(devices=[]):
            module = LanguageNet(**kwargs)
        module.load_state_dict({k: _to_tensor(a) for k, a in state.items()})
        module = module.to(reader.device).eval()
    except Exception as exc:
        raise ModelFileError(
            f"{where}: the network cannot be rebuilt from the file ({exc})."
        ) from exc
    lm._module_kwargs = kwargs
    lm.module_ = module
    lm.optimizer_ = lm._optimizer(module, reader.device)
    if "optimizer" in node:
        _read_optimizer(reader, lm.optimizer_, node["optimizer"], where)


def _read_state(reader, node, kwargs: dict, name: str, where: str, cls=None) -> dict:
    """The weights of ``node``, checked against the shapes ``kwargs`` imply."""
    state_nodes = _dict(node, "state_dict", where)
    state = {
        k: reader.array(v, f"{name} weight {k!r}") if isinstance(v, dict) else v
        for k, v in state_nodes.items()
    }
    # the shapes the arguments imply, computed on the meta device: no memory
    # is allocated for arguments that a modified file inflated
    try:
        expected = _expected_state(kwargs, cls)
    except Exception as exc:
        raise ModelFileError(
            f"{where}: invalid network arguments {kwargs!r} ({exc})."
        ) from exc
    if set(expected) != set(state):
        missing = sorted(set(expected) - set(state))
        extra = sorted(set(state) - set(expected))
        raise ModelFileError(
            f"{where}: the stored weights do not fit the network (missing "
            f"{missing}, unexpected {extra}); the file was modified."
        )
    for key, ref in expected.items():
        arr = state[key]
        if not isinstance(arr, np.ndarray) or tuple(arr.shape) != tuple(ref.shape):
            got = getattr(arr, "shape", arr)
            raise ModelFileError(
                f"{where}: the weight {key!r} has shape {got}, but the network "
                f"needs {tuple(ref.shape)}; the file was modified."
            )
        if arr.dtype.kind not in "biuf":
            raise ModelFileError(f"{where}: the weight {key!r} has dtype {arr.dtype}.")
    return state


def _fresh_net(est, kwargs: dict, device):
    """An initialised network for ``est``, built as fit builds it."""
    with torch.random.fork_rng(devices=[]):  # leave the caller's RNG alone
        precision = runnable_precision(
            est.precision, torch.device(device), _CELLS[est.cell]
        )
        net = build_net(est, kwargs, device=device, precision=precision)
        net.initialize()
    return net


def _read_history(reader, net, node, where: str) -> None:
    from skorch.history import History

    rows = reader.value(node, f"{where}: training history")
    if not isinstance(rows, list) or not all(
        isinstance(r, dict) and all(isinstance(k, str) for k in r) for r in rows
    ):
        raise ModelFileError(f"{where}: malformed training history.")
    net.history_ = History(rows)


def _read_optimizer(reader, optimizer, node, where: str) -> None:
    state = reader.value(node, f"{where}: optimizer state")
    if (
        not isinstance(state, dict)
        or not isinstance(state.get("state"), dict)
        or not isinstance(state.get("param_groups"), list)
        or not all(isinstance(g, dict) for g in state["param_groups"])
    ):
        raise ModelFileError(f"{where}: malformed optimizer state.")
    params = [p for g in optimizer.param_groups for p in g["params"]]
    for idx, entry in state["state"].items():
        if not isinstance(idx, int) or not 0 <= idx < len(params):
            raise ModelFileError(f"{where}: optimizer state of unknown parameter.")
        if not isinstance(entry, dict):
            raise ModelFileError(f"{where}: malformed optimizer state.")
        for key, v in entry.items():
            if (
                isinstance(v, torch.Tensor)
                and v.numel() > 1  # not the step counter
                and v.shape != params[idx].shape
            ):
                raise ModelFileError(
                    f"{where}: the optimizer state {key!r} has shape "
                    f"{tuple(v.shape)}, but its weight has "
                    f"{tuple(params[idx].shape)}; the file was modified."
                )
    # implementation switches follow the device loaded onto, not the saved one
    for saved, fresh in zip(state["param_groups"], optimizer.param_groups):
        for key in ("fused", "foreach", "capturable", "differentiable"):
            if key in fresh:
                saved[key] = fresh[key]
    try:
        optimizer.load_state_dict(state)
    except Exception as exc:
        raise ModelFileError(
            f"{where}: the optimizer state does not fit the network ({exc})."
        ) from exc
