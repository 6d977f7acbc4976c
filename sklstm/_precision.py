"""Numeric precision of training and prediction, and deterministic GPU kernels.

Pure torch: what ``precision="auto"`` means on a device, whether a device can
run a recurrent layer in a lower precision at all, the autocast block that
fit and predict run inside, the gradient scaler of float16 training, and
the switches that make two CUDA fits with one seed identical.

Mixed precision keeps every weight, the optimizer state, the loss and the
outputs in float32; only the matrix products (the embedding's consumers, the
recurrent layers, the head) run in bfloat16 or float16 under
:func:`torch.autocast`. float16 needs a gradient scaler: small gradients
would underflow; the scaled gradients are unscaled before clipping.
"""

from __future__ import annotations

import contextlib
import os

import torch

__all__ = [
    "PRECISIONS",
    "autocast",
    "deterministic_kernels",
    "fit_precision",
    "grad_scaler",
    "predict_precision",
    "resolve_deterministic",
    "resolve_precision",
    "runnable_precision",
]

#: the values of the estimators' ``precision`` parameter
PRECISIONS = ("auto", "32", "bf16-mixed", "16-mixed")

_DTYPES = {"bf16-mixed": torch.bfloat16, "16-mixed": torch.float16}

_SUPPORT: dict = {}


def _supported(precision: str, device: torch.device, layer_type) -> bool:
    """Whether a ``layer_type`` layer runs under autocast to ``precision``.

    Probed once per (precision, device type, layer type): a CPU without
    bfloat16/float16 instructions has no oneDNN LSTM kernel for them and
    fails at the first forward pass, which must not happen in the middle of
    a fit.
    """
    key = (precision, device.type, layer_type)
    if key not in _SUPPORT:
        try:
            layer = layer_type(2, 2, batch_first=True).to(device)
            x = torch.zeros(1, 2, 2, device=device)
            with torch.autocast(device.type, dtype=_DTYPES[precision]):
                layer(x)
            _SUPPORT[key] = True
        except (RuntimeError, TypeError, ValueError):
            _SUPPORT[key] = False
    return _SUPPORT[key]


def resolve_precision(
    precision: str, device: torch.device, layer_type=torch.nn.LSTM
) -> str:
    """``"32"``, ``"bf16-mixed"`` or ``"16-mixed"`` for ``device``.

    ``"auto"`` is bfloat16 mixed precision on a CUDA device that supports it
    (Ampere and later), float32 everywhere else. A lower precision that the
    device cannot run is a ValueError that names the fix.
    """
    if precision == "auto":
        if device.type == "cuda" and torch.cuda.is_bf16_supported():
            return "bf16-mixed"
        return "32"
    if precision == "32":
        return "32"
    if precision not in _DTYPES:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}.")
    if not _supported(precision, device, layer_type):
        raise ValueError(
            f"precision={precision!r} is not available on device {str(device)!r}: "
            f"it has no {layer_type.__name__} kernel for {_DTYPES[precision]} "
            "(CPUs without bfloat16/float16 instructions have none). Use "
            "precision='32', or 'auto', which picks bfloat16 only on GPUs that "
            "support it."
        )
    return precision


def fit_precision(requested, device, layer_type, *, accelerated, previous=None):
    """The resolved precision of a fit (a ValueError if it cannot run).

    ``accelerated``: training through an Accelerate ``Accelerator``, which
    owns mixed precision then. ``previous``: the precision of the model a
    warm start continues, which must not change.
    """
    if accelerated:
        if requested not in ("auto", "32"):
            raise ValueError(
                f"precision={requested!r} cannot be combined with an "
                "accelerator: mixed precision is then the Accelerator's job. "
                "Pass Accelerator(mixed_precision='bf16' or 'fp16') and leave "
                "precision='auto'."
            )
        return "32"
    precision = resolve_precision(requested, device, layer_type)
    if previous is not None and precision != previous:
        raise ValueError(
            f"The model was trained with precision={previous!r}; continuing it "
            f"with precision={precision!r} is not supported. Keep the precision "
            "of the first fit, or fit a new model (warm_start=False)."
        )
    return precision


def predict_precision(trained, requested, device, layer_type) -> str:
    """The precision a model trained in ``trained`` predicts in on ``device``.

    ``requested`` is the estimator's parameter: with ``"auto"`` it is what
    ``"auto"`` means on this device (float32 on a CPU); otherwise the trained
    precision where the device runs it, else float32.
    """
    if requested == "auto":
        return resolve_precision("auto", device)
    return runnable_precision(trained, device, layer_type)


def runnable_precision(
    precision: str, device: torch.device, layer_type=torch.nn.LSTM
) -> str:
    """The precision a fitted model predicts in on ``device``.

    A model trained in mixed precision on a GPU predicts in float32 on a CPU
    that cannot run the lower precision: loading must never fail for that.
    """
    try:
        return resolve_precision(precision, device, layer_type)
    except ValueError:
        return "32"


def autocast(precision: str, device_type: str):
    """The block that a forward pass of ``precision`` runs inside."""
    if precision in _DTYPES:
        return torch.autocast(device_type, dtype=_DTYPES[precision])
    return contextlib.nullcontext()


def grad_scaler(precision: str, device_type: str):
    """A gradient scaler for float16 training, else None."""
    if precision == "16-mixed":
        return torch.amp.GradScaler(device_type)
    return None


def resolve_deterministic(deterministic, random_state) -> bool:
    """``"auto"``: deterministic kernels when a ``random_state`` is set."""
    if deterministic == "auto":
        return random_state is not None
    return bool(deterministic)


@contextlib.contextmanager
def deterministic_kernels(enabled: bool, device: torch.device):
    """Deterministic CUDA kernels inside the block, then the caller's setting.

    On a CPU, sklstm's training is deterministic already: nothing changes.
    On CUDA, cuDNN's autotuner is switched off, cuDNN and PyTorch use their
    deterministic algorithms (the embedding gradient, for example, is then
    summed in a fixed order instead of with atomic adds) and cuBLAS gets the
    fixed workspace that makes its results repeatable
    (``CUBLAS_WORKSPACE_CONFIG``, set only when the caller has not set it).
    Operations without a deterministic CUDA kernel warn instead of failing.
    """
    if not enabled or device.type != "cuda":
        yield
        return
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    before = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
        torch.backends.cudnn.deterministic,
        torch.backends.cudnn.benchmark,
    )
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before[0], warn_only=before[1])
        torch.backends.cudnn.deterministic = before[2]
        torch.backends.cudnn.benchmark = before[3]
