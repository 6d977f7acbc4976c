"""Saving: :func:`sklstm.save` and the ``_Writer`` that describes a model.

The writer turns an estimator or pipeline into the JSON-able tree of
``model.json`` plus the arrays and skops blobs it names, and refuses, with a
message naming the parameter, whatever the safe format cannot store. The
container itself (layout, atomic write) is ``sklstm._model_file``'s job.
"""

from __future__ import annotations

import math
import os
from numbers import Integral

import numpy as np
import torch

from sklstm._base import _BaseLSTM
from sklstm._language_model import LSTMLanguageModel
from sklstm._model_file import (
    _MAX_DEPTH,
    _class_name,
    _whitelist,
    _write_model_file,
)
from sklstm._text import TextSequencer

__all__ = ["save"]


class _Writer:
    """Turns a model into JSON-able nodes plus the binary entries they name."""

    def __init__(self, include_optimizer: bool = True):
        self.include_optimizer = include_optimizer
        self.arrays: list[tuple[str, np.ndarray]] = []
        self.blobs: list[tuple[str, bytes]] = []

    def array(self, arr: np.ndarray) -> dict:
        name = f"arrays/{len(self.arrays)}.npy"
        self.arrays.append((name, arr))
        return {"type": "ndarray", "entry": name}

    def value(self, v, where: str, depth: int = 0):
        if depth > _MAX_DEPTH:
            raise TypeError(f"{where} is nested too deeply to be saved.")
        if v is None or isinstance(v, bool | str):
            return v
        if isinstance(v, np.bool_):
            return bool(v)
        if isinstance(v, Integral):
            return int(v)
        if isinstance(v, float | np.floating):
            v = float(v)
            if math.isfinite(v):
                return v
            return {"type": "float", "value": repr(v)}  # "nan", "inf", "-inf"
        if isinstance(v, list):
            return [self.value(x, f"{where}[{i}]", depth + 1) for i, x in enumerate(v)]
        if isinstance(v, tuple):
            items = [self.value(x, f"{where}[{i}]", depth + 1) for i, x in enumerate(v)]
            return {"type": "tuple", "items": items}
        if isinstance(v, dict) and all(type(k) is str for k in v):
            return {
                "type": "map",
                "items": {
                    k: self.value(x, f"{where}[{k!r}]", depth + 1) for k, x in v.items()
                },
            }
        if isinstance(v, dict):
            items = [
                [
                    self.value(k, f"{where} key {k!r}", depth + 1),
                    self.value(x, f"{where}[{k!r}]", depth + 1),
                ]
                for k, x in v.items()
            ]
            return {"type": "dict", "items": items}
        if isinstance(v, np.ndarray):
            return self.ndarray(v, where)
        if isinstance(v, torch.Tensor):
            return {"type": "tensor", "array": self.array(_to_numpy(v, where))}
        if isinstance(v, torch.device):
            return str(v)
        if isinstance(v, os.PathLike):
            return os.fspath(v)
        if isinstance(v, np.random.RandomState):
            name, keys, pos, has_gauss, cached = v.get_state()
            return {
                "type": "random_state",
                "state": [name, self.array(keys), int(pos), int(has_gauss), cached],
            }
        from sklearn.base import BaseEstimator

        if isinstance(v, BaseEstimator):
            return self.estimator(v, where, depth + 1)
        raise TypeError(_unsupported(where, v))

    def ndarray(self, arr: np.ndarray, where: str) -> dict:
        if arr.dtype.kind in "biufcUS" and not arr.dtype.fields:
            return self.array(arr)
        if arr.dtype.kind == "O":
            flat = arr.ravel().tolist()
            if all(x is None or isinstance(x, str | bool | int | float) for x in flat):
                items = [self.value(x, where) for x in flat]
                return {
                    "type": "object_array",
                    "shape": list(arr.shape),
                    "items": items,
                }
        raise TypeError(_unsupported(where, arr))

    def estimator(self, est, where: str, depth: int) -> dict:
        cls = type(est)
        if cls not in _whitelist().values():
            if isinstance(est, _BaseLSTM | TextSequencer | LSTMLanguageModel):
                raise TypeError(
                    f"{where} is a {cls.__qualname__}, a subclass of an sklstm "
                    "estimator; the safe format creates only sklstm's own classes "
                    "on load. Save it with joblib/pickle instead (load such files "
                    "only from sources you trust)."
                )
            return self.skops(est, where)
        name = cls.__name__
        params = est.get_params(deep=False)
        if params.get("accelerator") is not None:
            # as when pickled: an Accelerator is a handle on this process's
            # devices and process group, and the fitted network holds no
            # reference to it; the loaded estimator gets accelerator=None
            params = dict(params, accelerator=None)
        node = {
            "type": "estimator",
            "class": _class_name(cls),
            "params": {
                k: self.value(v, f"{name} parameter {k!r}", depth + 1)
                for k, v in params.items()
            },
        }
        networks = ("net_", "module_", "optimizer_")
        attrs = {k: v for k, v in vars(est).items() if k not in params}
        attrs = {k: v for k, v in attrs.items() if k not in networks}
        node["attributes"] = {
            k: self.value(v, f"{name} attribute {k!r}", depth + 1)
            for k, v in attrs.items()
        }
        if "net_" in vars(est):
            node["net"] = self.net(est)
        if isinstance(est, LSTMLanguageModel) and "module_" in vars(est):
            # the optimizer state only goes with a model saved on its own
            # (to go on pre-training it), not with one that is an
            # estimator's starting point
            node["language_net"] = self.language_net(est, optimizer=depth <= 1)
        return node

    def language_net(self, lm, *, optimizer: bool) -> dict:
        name = type(lm).__name__
        node = {
            "module_kwargs": self.value(
                dict(lm._module_kwargs), f"{name} network arguments"
            ),
            "state_dict": {
                key: self.array(_to_numpy(t, f"{name} network weight {key!r}"))
                for key, t in lm.module_.state_dict().items()
            },
        }
        if optimizer and self.include_optimizer:
            node["optimizer"] = self.value(
                lm.optimizer_.state_dict(), f"{name} optimizer state"
            )
        return node

    def net(self, est) -> dict:
        net = est.net_
        module_kwargs = net.get_params_for("module")
        name = type(est).__name__
        state = {
            key: self.array(_to_numpy(tensor, f"{name} network weight {key!r}"))
            for key, tensor in net.module_.state_dict().items()
        }
        kwargs = {
            k: self.value(v, f"{name} network argument {k!r}")
            for k, v in module_kwargs.items()
        }
        node = {
            "module_kwargs": kwargs,
            "state_dict": state,
            "history": self.value(list(net.history), f"{name} training history"),
        }
        if self.include_optimizer and getattr(net, "optimizer_", None) is not None:
            node["optimizer"] = self.value(
                net.optimizer_.state_dict(), f"{name} optimizer state"
            )
        return node

    def skops(self, est, where: str) -> dict:
        cls_name = f"{type(est).__module__}.{type(est).__qualname__}"
        inner = _sklstm_inside(est)
        if inner is not None:
            raise TypeError(
                f"{where} is a {type(est).__name__} holding a "
                f"{type(inner).__name__}. The safe format stores sklstm estimators "
                "on their own or inside a sklearn.pipeline.Pipeline only; save this "
                "model with joblib/pickle instead (load such files only from "
                "sources you trust)."
            )
        try:
            import skops.io as sio
        except ImportError as exc:
            raise ImportError(
                f"{where} is a {cls_name}, which sklstm.save stores with skops; "
                "install it (pip install skops), or save with joblib/pickle."
            ) from exc
        try:
            data = sio.dumps(est)
            untrusted = sio.get_untrusted_types(data=data)
        except Exception as exc:  # skops raises several types
            raise TypeError(
                f"{where} ({cls_name}) cannot be stored safely with skops: {exc}. "
                "Save this model with joblib/pickle instead (load such files only "
                "from sources you trust)."
            ) from exc
        if untrusted:
            raise TypeError(
                f"{where} ({cls_name}) holds objects of types that skops does not "
                f"trust by default: {', '.join(untrusted)}. sklstm.load would refuse "
                "them (a function, for example, could run any code), so they are "
                "not saved. Remove or replace that part (a FunctionTransformer "
                "with a function of your own, for example), or save with "
                "joblib/pickle instead."
            )
        entry = f"skops/{len(self.blobs)}.skops"
        self.blobs.append((entry, data))
        return {"type": "skops", "class": cls_name, "entry": entry}


def _to_numpy(tensor: torch.Tensor, where: str) -> np.ndarray:
    """A CPU NumPy copy of a tensor (from any device)."""
    try:
        return tensor.detach().cpu().numpy()
    except (TypeError, RuntimeError) as exc:
        raise TypeError(
            f"{where} is a tensor of dtype {tensor.dtype}, which NumPy cannot hold, "
            "so the safe format cannot store it. Cast the network to float32, or "
            "save with joblib/pickle."
        ) from exc


def _unsupported(where: str, v) -> str:
    what = type(v).__qualname__
    if isinstance(v, type):
        what = f"the class {v.__module__}.{v.__qualname__}"
    elif callable(v):
        what = f"the callable {getattr(v, '__qualname__', type(v).__qualname__)}"
    else:
        what = f"a {type(v).__module__}.{what} object"
    hint = ""
    if where.endswith("'tokenizer'"):
        hint = (
            " A tokenizer is code, not data: save this model with joblib/pickle "
            "(a sentencepiece processor's encode_as_pieces and a Hugging Face "
            "tokenizers.Tokenizer inside a class of your own pickle; a lambda "
            "needs cloudpickle), or use token_pattern / analyzer='char'."
        )
    return (
        f"{where} is {what}, which the safe format cannot store: it keeps only "
        "plain values (numbers, strings, lists, dicts, arrays) and estimators. "
        "Use a built-in option instead (e.g. optimizer='adam', a token_pattern "
        "instead of a tokenizer function, no callbacks) before saving, or save "
        "with joblib/pickle, which stores anything but must only be loaded from "
        f"sources you trust.{hint}"
    )


def _sklstm_inside(est):
    """An sklstm estimator among the parameters of a foreign estimator, or None."""
    try:
        params = est.get_params(deep=True)
    except Exception:  # not a well-behaved estimator: skops decides
        return None
    for v in params.values():
        if isinstance(v, _BaseLSTM | TextSequencer | LSTMLanguageModel):
            return v
    return None


def save(model, path, *, include_optimizer=True):
    """Save a model in sklstm's pickle-free file format.

    Stores :class:`~sklstm.LSTMClassifier`, :class:`~sklstm.LSTMRegressor`,
    :class:`~sklstm.LSTMLanguageModel`, :class:`~sklstm.TextSequencer` and :class:`~sklearn.pipeline.Pipeline`
    objects built from them and from scikit-learn parts (the latter through
    `skops <https://skops.readthedocs.io>`_), fitted or not. The file is a zip
    archive of JSON (hyperparameters, fitted attributes, versions) and NumPy
    ``.npy`` arrays (network weights, copied to the CPU); :func:`load` reads
    it without unpickling anything. Read more in :ref:`persistence`.

    The file is written atomically: into a temporary file in the same
    directory, flushed to disk, then renamed onto ``path``. An interrupted
    save leaves either no file or the previous one under ``path``.

    Parameters
    ----------
    model : estimator
        The estimator or pipeline to save.

    path : str or path-like
        Where to write the file, e.g. ``"model.sklstm"``. An existing file
        is replaced.

    include_optimizer : bool, default=True
        Also store the optimizer's state (Adam's moment estimates), so that
        training continued after loading (``warm_start=True`` or
        ``partial_fit``) picks up exactly where it stopped. False keeps only
        what prediction needs: with Adam the file is about a third of the size.
        The training history (``net_.history``) is stored either way.

    Raises
    ------
    TypeError
        If the model holds something the format cannot store safely: a
        callable ``tokenizer``, an ``optimizer`` class, callbacks, a
        scikit-learn part whose types skops does not trust (e.g. a
        ``FunctionTransformer`` with a function of your own), or an estimator
        other than ``Pipeline`` that contains an sklstm estimator. The message
        names the parameter; joblib/pickle can store these.

    ImportError
        If the model contains scikit-learn parts and skops is not installed.

    See Also
    --------
    load : Load a model saved by this function.

    Examples
    --------
    >>> import os, tempfile
    >>> import sklstm
    >>> seq = sklstm.TextSequencer(min_frequency=1).fit(["good phone", "bad phone"])
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = os.path.join(tmp, "seq.sklstm")
    ...     sklstm.save(seq, path)
    ...     sklstm.load(path).transform(["good phone"])
    array([[3, 2]], dtype=int32)
    """
    writer = _Writer(include_optimizer=bool(include_optimizer))
    root = writer.value(model, type(model).__name__)
    if not isinstance(root, dict) or root.get("type") not in ("estimator", "skops"):
        raise TypeError(
            f"sklstm.save stores estimators and pipelines, got a "
            f"{type(model).__name__}."
        )
    _write_model_file(os.fsdecode(path), root, writer.arrays, writer.blobs)
