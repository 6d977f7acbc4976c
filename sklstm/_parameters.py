"""The parameters LSTMClassifier and LSTMRegressor share, and their constraints.

scikit-learn checks them (``_parameter_constraints``) before every fit; the
subclasses add their own. The values a parameter may take are named where
they are defined (cells, poolings, optimizers, precisions).
"""

from __future__ import annotations

from numbers import Integral, Real

import torch

from sklstm._compat import Interval, StrOptions
from sklstm._language_model import LSTMLanguageModel
from sklstm._module import _CELLS
from sklstm._optim import OPTIMIZERS
from sklstm._pooling import POOLINGS
from sklstm._precision import PRECISIONS

__all__ = ["PARAMETER_CONSTRAINTS"]

#: parameter -> the values scikit-learn's validation accepts
PARAMETER_CONSTRAINTS: dict = {
    "cell": [StrOptions(set(_CELLS))],
    "embedding_dim": [
        Interval(Integral, 1, None, closed="left"),
        StrOptions({"auto"}),
    ],
    "hidden_size": [
        Interval(Integral, 1, None, closed="left"),
        StrOptions({"auto"}),
    ],
    "num_layers": [Interval(Integral, 1, None, closed="left")],
    "bidirectional": ["boolean"],
    "proj_size": [Interval(Integral, 0, None, closed="left")],
    "dropout": [Interval(Real, 0, 1, closed="left"), StrOptions({"auto"})],
    "pooling": [StrOptions({"auto", *POOLINGS})],
    "n_members": [
        Interval(Integral, 1, None, closed="left"),
        StrOptions({"auto"}),
    ],
    "patch_size": [
        Interval(Integral, 1, None, closed="left"),
        StrOptions({"auto"}),
    ],
    "token_dropout": [Interval(Real, 0, 1, closed="left"), StrOptions({"auto"})],
    "embeddings": ["array-like", None],
    "freeze_embeddings": ["boolean"],
    "pretrained": [LSTMLanguageModel, StrOptions({"en"}), None],
    "lm_epochs": [Interval(Integral, 0, None, closed="left")],
    "scale_inputs": ["boolean"],
    "max_epochs": [
        Interval(Integral, 1, None, closed="left"),
        StrOptions({"auto"}),
    ],
    "batch_size": [Interval(Integral, 1, None, closed="left")],
    "lr": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
    "lr_schedule": [StrOptions({"plateau", "cosine"}), None],
    "optimizer": [StrOptions(set(OPTIMIZERS)), type],
    "optimizer_kwargs": [dict, None],
    "weight_decay": [Interval(Real, 0, None, closed="left")],
    "max_grad_norm": [Interval(Real, 0, None, closed="neither"), None],
    "early_stopping": [StrOptions({"auto"}), "boolean"],
    "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
    "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
    "tol": [Interval(Real, 0, None, closed="left")],
    "refit": ["boolean"],
    # the options are the subclass's: see _CALIBRATIONS
    "calibration": "no_validation",
    "callbacks": [list, None],
    "warm_start": ["boolean"],
    "module_kwargs": [dict, None],
    "device": [str, torch.device],
    "precision": [StrOptions(set(PRECISIONS))],
    "deterministic": [StrOptions({"auto"}), "boolean"],
    "predict_batch_size": [Interval(Integral, 1, None, closed="left")],
    # an accelerate.Accelerator: checked in fit, where accelerate (an
    # optional dependency) is imported
    "accelerator": "no_validation",
    "random_state": ["random_state"],
    "verbose": ["verbose"],
}
