"""A language model's checkpoint file: what it holds, writing, reading, checking.

A checkpoint holds the settings of the fit that wrote it, its seed, the
vocabulary, the weights, the optimizer's state, where the fit stands
(:class:`sklstm._lm_training.Progress`), the history and the state of the
random generator: enough for a fit to resume exactly where it stopped.
Files are written with ``torch.save`` atomically (a temporary file, then a
rename) and read with ``torch.load(weights_only=True)``, which builds tensors
and plain Python values only.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import asdict

import torch

from sklstm._lm_training import Progress
from sklstm._runtime import seed_from

__all__ = [
    "CHECKPOINT_FORMAT",
    "check_resumable",
    "restore",
    "corpus_fingerprint",
    "read_checkpoint",
    "write_checkpoint",
]

CHECKPOINT_FORMAT = "sklstm-language-model-checkpoint"
#: documents hashed to recognise a corpus when a fit resumes
FINGERPRINT_DOCS = 1000
#: the settings a checkpoint must share with the fit that resumes it
RESUME_SETTINGS = (
    "embedding_dim",
    "word_vectors",
    "hidden_size",
    "num_layers",
    "dropout",
    "softmax",
    "bptt",
    "batch_size",
    "max_epochs",
    "lr",
    "max_grad_norm",
    "chunk_size",
)


def corpus_fingerprint(X) -> str:
    """A short digest of a corpus's first documents (to recognise it again)."""
    h = hashlib.sha256()
    for i, doc in enumerate(X):
        if i >= FINGERPRINT_DOCS:
            break
        h.update(str(doc).encode("utf-8", "surrogatepass"))
        h.update(b"\0")
    return h.hexdigest()[:32]


def settings_of(lm, sequencer) -> dict:
    """The settings of ``lm`` that a resumed fit must share (``sequencer``:
    its tokenizer template)."""
    settings = {k: getattr(lm, k) for k in RESUME_SETTINGS}
    if settings["word_vectors"] is not None:
        settings["word_vectors"] = os.fspath(settings["word_vectors"])
    settings["sequencer"] = {
        k: (v if v is None or isinstance(v, str | int | float | bool) else repr(v))
        for k, v in sequencer.get_params().items()
    }
    return settings


def write_checkpoint(lm, trainer, rng_state=None) -> None:
    """Write where ``lm``'s fit under ``trainer`` stands to ``lm.checkpoint``."""
    acc = lm.accelerator
    if acc is not None:
        acc.wait_for_everyone()
        if not acc.is_main_process:
            return
        module = acc.unwrap_model(trainer.module, keep_fp32_wrapper=False)
    else:
        module = trainer.module
    optimizer = getattr(trainer.optimizer, "optimizer", trainer.optimizer)
    payload = {
        "format": CHECKPOINT_FORMAT,
        "settings": settings_of(lm, lm._sequencer_template()),
        "seed": lm._seed,
        "vocabulary": dict(lm.sequencer_.vocabulary_),
        "vocabulary_coverage": lm.vocabulary_coverage_,
        "module_kwargs": dict(lm._module_kwargs),
        "state_dict": module.state_dict(),
        "optimizer": optimizer.state_dict(),
        "progress": asdict(trainer.progress),
        "history": list(lm.history_),
        "loss_curve": list(lm.loss_curve_),
        # inside training, the global generator is the fit's own stream
        "torch_rng": torch.get_rng_state() if rng_state is None else rng_state,
    }
    _atomic_save(lm.checkpoint, payload)


def _atomic_save(path, payload: dict) -> None:
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".sklstm-ckpt-", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def read_checkpoint(path) -> dict:
    """A checkpoint written by :func:`write_checkpoint` (tensors and plain values)."""
    try:
        payload = torch.load(os.fspath(path), map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ValueError(
            f"{os.fspath(path)} is not a readable language-model checkpoint "
            f"({exc}). Delete it to start the fit afresh."
        ) from exc
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(
            f"{os.fspath(path)} is not a language-model checkpoint written by "
            "sklstm. Pass another checkpoint path."
        )
    return payload


def check_resumable(lm, payload: dict, X) -> None:
    """A ValueError unless ``payload`` is a checkpoint of this fit of ``lm`` on ``X``."""
    path = os.fspath(lm.checkpoint)
    saved = payload.get("settings", {})
    now = settings_of(lm, lm._sequencer_template())
    differ = [k for k in now if saved.get(k) != now[k]]
    if differ:
        k = differ[0]
        raise ValueError(
            f"The checkpoint {path!r} was written by a fit with other settings "
            f"({k}={saved.get(k)!r}, now {now[k]!r}). Use the same settings to "
            "resume it, or another checkpoint path (or delete the file) to start "
            "afresh."
        )
    if lm.random_state is not None and not hasattr(lm.random_state, "randint"):
        if payload.get("seed") != seed_from(lm.random_state):
            raise ValueError(
                f"The checkpoint {path!r} was written by a fit with another "
                "random_state. Use the same random_state to resume it, or another "
                "checkpoint path to start afresh."
            )
    if payload.get("progress", {}).get("fingerprint") != corpus_fingerprint(X):
        raise ValueError(
            f"The checkpoint {path!r} was written by a fit on another corpus (its "
            "first documents differ). Pass the same corpus to resume it, or another "
            "checkpoint path to start afresh."
        )


def restore(lm, payload: dict, device):
    """Give ``lm`` the state a checkpoint holds; return ``(progress, seed)``."""
    sequencer = lm._sequencer_template()
    sequencer.vocabulary_ = dict(payload["vocabulary"])
    sequencer.max_len_ = int(sequencer.max_len or 1)
    lm.sequencer_ = sequencer
    lm.vocabulary_coverage_ = float(payload["vocabulary_coverage"])
    seed = int(payload["seed"])
    lm._build(seed, device)
    lm.module_.load_state_dict(payload["state_dict"])
    lm.optimizer_.load_state_dict(payload["optimizer"])
    lm.history_ = list(payload["history"])
    lm.loss_curve_ = list(payload["loss_curve"])
    lm._torch_rng = payload["torch_rng"]
    if lm.verbose:
        p = payload["progress"]
        print(
            f"[{type(lm).__name__}] resuming from {os.fspath(lm.checkpoint)}: "
            f"epoch {p['epoch'] + 1}, step {p['step']:,}"
        )
    return Progress(**payload["progress"]), seed
