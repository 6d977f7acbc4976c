"""Training a language model: the loop, its schedule, progress and checkpoints.

:class:`Trainer` runs passes over a corpus read in chunks
(:mod:`sklstm._lm_data`): it tokenizes a chunk, cuts its stream into
windows, shuffles them and takes one optimizer step per batch. Where it
stands is a :class:`Progress`, which, with the weights, the optimizer's state
and the random generators, is all that a checkpoint holds
(:mod:`sklstm._lm_checkpoint`): a fit resumed from a checkpoint takes exactly
the steps the uninterrupted fit would have taken (the chunk it stopped in is
read and shuffled again, and its finished batches skipped).
:func:`log_likelihood` scores texts the way training reads them.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from sklstm._lm_data import Windows, document_stream, text_chunks, window_batches
from sklstm._runtime import deferred_interrupt

__all__ = ["Progress", "Trainer", "log_likelihood", "lr_factor"]

#: steps of linear warm-up at the start of a fit (at most a twentieth of it)
WARMUP_STEPS = 200
#: the learning rate falls to this share of ``lr`` by the end of a fit
FINAL_LR_SHARE = 0.1


def lr_factor(step: int, total: int | None, *, warmup: bool = True) -> float:
    """Share of ``lr`` at optimizer step ``step`` (0-based) of ``total``.

    A linear warm-up (for new weights), then a cosine decay to
    :data:`FINAL_LR_SHARE`; with no ``total`` (``partial_fit``), a constant
    rate after the warm-up.
    """
    if not warmup:
        warmup = 0
    elif total is None:
        warmup = WARMUP_STEPS
    else:
        warmup = max(1, min(WARMUP_STEPS, total // 20))
    if step < warmup:
        return (step + 1) / warmup
    if total is None:
        return 1.0
    done = min(1.0, (step - warmup) / max(1, total - warmup))
    return FINAL_LR_SHARE + (1 - FINAL_LR_SHARE) * 0.5 * (1 + math.cos(math.pi * done))


@dataclass
class Progress:
    """Where a fit stands; enough to resume it exactly."""

    #: passes over the corpus this fit makes, and the one under way (0-based)
    epochs: int = 1
    epoch: int = 0
    #: documents of this epoch before the chunk under way
    docs_done: int = 0
    #: finished batches of the chunk under way
    batches_done: int = 0
    #: the window carry-over at the start of the chunk under way
    carry: list = field(default_factory=lambda: [0])
    #: the batch-order generator's state at the start of the chunk under way
    order_state: dict | None = None
    #: optimizer steps and training tokens (targets) of the whole fit so far
    step: int = 0
    tokens: int = 0
    #: the planned steps of the fit (for the schedule and the ETA), if known
    total_steps: int | None = None
    #: targets in one pass over the corpus (documents' tokens + their ends)
    tokens_per_epoch: int | None = None
    fingerprint: str = ""
    #: whether the fit starts with a warm-up (new weights)
    warmup: bool = True
    #: the training losses of the epoch under way: their sum and number
    loss_sum: float = 0.0
    loss_steps: int = 0


class Trainer:
    """Trains ``module`` with ``optimizer`` on windows of a tokenized corpus.

    Parameters
    ----------
    module : LanguageNet
        The network (already on ``device``, possibly wrapped by an
        accelerator).
    optimizer : torch.optim.Optimizer
        Its optimizer; every parameter group's ``lr`` follows
        ``lr * lr_factor(step)``.
    sequencer : TextSequencer
        The fitted tokenizer and vocabulary.
    settings : dict
        ``bptt``, ``batch_size``, ``lr``, ``max_grad_norm``, ``chunk_size``.
    progress : Progress
        Where to start.
    seed : int
        Seeds the batch order of the first chunk.
    history : list of dict
        The report rows so far; rows are appended.
    report : callable
        Where progress lines go (``print``, or a no-op).
    report_every : float
        Seconds between progress lines.
    accelerator : accelerate.Accelerator or None
        Shards the batches between processes and runs the backward pass.
    checkpoint : callable or None
        Called with the trainer to write a checkpoint; ``checkpoint_every``
        seconds apart, at the end of every epoch and when interrupted.
    """

    def __init__(
        self,
        module,
        optimizer,
        sequencer,
        settings: dict,
        progress: Progress,
        *,
        seed: int,
        history: list,
        device: torch.device,
        report=None,
        report_every: float = 30.0,
        accelerator=None,
        checkpoint=None,
        checkpoint_every: float = 600.0,
    ):
        self.module = module
        self.optimizer = optimizer
        self.sequencer = sequencer
        self.settings = settings
        self.progress = progress
        self.seed = seed
        self.history = history
        self.device = device
        self.report = report
        self.report_every = report_every
        self.accelerator = accelerator
        self.checkpoint = checkpoint
        self.checkpoint_every = checkpoint_every
        self._extra_params = None
        if accelerator is not None and accelerator.num_processes > 1:
            # DistributedDataParallel needs a gradient for every parameter in
            # every step; an adaptive softmax computes a cluster only when a
            # target falls in it
            inner = accelerator.unwrap_model(module)
            self._extra_params = list(inner.decoder.parameters())

    # --- the loop ---------------------------------------------------------------
    def run(self, X) -> None:
        """Train until ``progress.epochs`` passes are done (resuming mid-way)."""
        p = self.progress
        self._last_report = self._last_checkpoint = time.perf_counter()
        self._report_tokens = p.tokens
        self._report_losses: list = []
        self._started = time.perf_counter()
        self._tokens_at_start = p.tokens
        while p.epoch < p.epochs:
            self._run_epoch(X)
            self._end_of_epoch()

    def _run_epoch(self, X) -> None:
        p = self.progress
        s = self.settings
        windows = Windows(s["bptt"], carry=p.carry)
        rng = np.random.default_rng([self.seed, p.epoch])
        if p.order_state is not None:
            rng.bit_generator.state = p.order_state
        shards = self._shards()
        for chunk in text_chunks(X, s["chunk_size"], skip=p.docs_done):
            p.order_state = rng.bit_generator.state
            p.carry = windows.carry.tolist()
            ids, lengths = self.sequencer._flat_ids(chunk)
            rows = windows.feed(document_stream(ids, lengths))
            batches = window_batches(rows, s["batch_size"], rng, **shards)
            for b in range(p.batches_done, len(batches)):
                self._step(rows[batches[b]])
                self._maybe_report_and_checkpoint()
            p.docs_done += len(chunk)
            p.batches_done = 0
        # the carry-over (under a window) is dropped: a few dozen tokens a pass
        p.carry, p.order_state = [0], None

    def _shards(self) -> dict:
        acc = self.accelerator
        if acc is None or acc.num_processes == 1:
            return {}
        return {"num_shards": acc.num_processes, "shard_index": acc.process_index}

    def _step(self, rows: np.ndarray) -> None:
        p = self.progress
        s = self.settings
        x = torch.from_numpy(rows[:, :-1]).to(self.device)
        y = torch.from_numpy(rows[:, 1:]).to(self.device)
        factor = lr_factor(p.step, p.total_steps, warmup=p.warmup)
        for group in self.optimizer.param_groups:
            group["lr"] = s["lr"] * factor
        self.module.train()
        loss = self.module(x, y)
        if self._extra_params is not None:
            loss = loss + 0.0 * sum(q.sum() for q in self._extra_params)
        if not torch.isfinite(loss.detach()):
            raise FloatingPointError(
                f"The training loss became {loss.item()} at step {p.step + 1}. Lower "
                "the learning rate (lr) and keep gradient clipping on "
                "(max_grad_norm)."
            )
        self.optimizer.zero_grad(set_to_none=True)
        acc = self.accelerator
        if acc is None:
            loss.backward()
            if s["max_grad_norm"] is not None:
                torch.nn.utils.clip_grad_norm_(
                    self.module.parameters(), s["max_grad_norm"]
                )
        else:
            acc.backward(loss)
            if s["max_grad_norm"] is not None:
                acc.clip_grad_norm_(self.module.parameters(), s["max_grad_norm"])
        # the weights are those of a finished step, or of the one before
        with deferred_interrupt():
            self.optimizer.step()
            p.batches_done += 1
            p.step += 1
            n = y.numel()
            if acc is not None and acc.num_processes > 1:
                n *= acc.num_processes  # the same batch size on every process
            p.tokens += n
        value = loss.detach()
        if acc is not None and acc.num_processes > 1:
            # every process records the mean loss of all processes' batches
            value = acc.reduce(value, reduction="mean")
        value = float(value)
        self._report_losses.append(value)
        p.loss_sum += value
        p.loss_steps += 1

    # --- reporting and checkpoints ------------------------------------------------
    def _maybe_report_and_checkpoint(self) -> None:
        now = time.perf_counter()
        if now - self._last_report >= self.report_every:
            self._record(now)
        if self.checkpoint is not None and (
            now - self._last_checkpoint >= self.checkpoint_every
        ):
            self.checkpoint(self)
            self._last_checkpoint = time.perf_counter()

    def _record(self, now: float) -> None:
        p = self.progress
        if not self._report_losses:
            return
        loss = float(np.mean(self._report_losses))
        rate = (p.tokens - self._report_tokens) / max(now - self._last_report, 1e-9)
        row = {
            "epoch": p.epoch + 1,
            "step": p.step,
            "tokens": p.tokens,
            "loss": loss,
            "lr": float(self.optimizer.param_groups[0]["lr"]),
            "tokens_per_s": rate,
        }
        self.history.append(row)
        self._report_losses = []
        self._report_tokens = p.tokens
        self._last_report = now
        if self.report is not None:
            self.report(self._line(row))

    def _line(self, row: dict) -> str:
        p = self.progress
        parts = [f"epoch {row['epoch']}/{p.epochs}", f"step {row['step']}"]
        if p.tokens_per_epoch:
            total = p.tokens_per_epoch * p.epochs
            parts.append(f"{_millions(row['tokens'])}/{_millions(total)} tokens")
        else:
            parts.append(f"{_millions(row['tokens'])} tokens")
        parts.append(f"loss {row['loss']:.3f} (perplexity {math.exp(row['loss']):.1f})")
        parts.append(f"{row['tokens_per_s'] / 1000:.1f}k tokens/s")
        elapsed = time.perf_counter() - self._started
        done = p.tokens - self._tokens_at_start
        if p.tokens_per_epoch and done > 0:
            left = p.tokens_per_epoch * p.epochs - p.tokens
            eta = max(0.0, left * elapsed / done)
            parts.append(f"ETA {_duration(eta)}")
        return "[LSTMLanguageModel] " + " | ".join(parts)

    def _end_of_epoch(self) -> None:
        p = self.progress
        self._record(time.perf_counter())
        self.epoch_loss = p.loss_sum / p.loss_steps if p.loss_steps else None
        p.loss_sum, p.loss_steps = 0.0, 0
        p.epoch += 1
        p.docs_done = 0
        if self.on_epoch_end is not None:
            self.on_epoch_end(self)
        if self.checkpoint is not None:
            self.checkpoint(self)
            self._last_checkpoint = time.perf_counter()

    #: called with the trainer after each pass (the estimator records it)
    on_epoch_end = None


def _millions(n: int) -> str:
    return f"{n / 1e6:.1f}M" if n >= 1e5 else f"{n:,}"


def _duration(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


#: windows scored at a time
_SCORE_BATCH = 64


def log_likelihood(module, sequencer, X, *, bptt: int, chunk_size: int):
    """``(sum of log-probabilities, number of tokens)`` of the texts ``X``.

    Read as training reads them (windows of ``bptt`` tokens from a zero
    state), every token and every document's end counted once.
    """
    device = next(module.parameters()).device
    windows = Windows(bptt)
    total, n = 0.0, 0
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            for chunk in text_chunks(X, chunk_size):
                ids, lengths = sequencer._flat_ids(chunk)
                rows = windows.feed(document_stream(ids, lengths))
                t, k = _score_rows(module, rows, device)
                total, n = total + t, n + k
            t, k = _score_rows(module, windows.flush(), device)
    finally:
        module.train(was_training)
    return total + t, n + k


def _score_rows(module, rows: np.ndarray, device) -> tuple[float, int]:
    total, n = 0.0, 0
    for i in range(0, len(rows), _SCORE_BATCH):
        batch = torch.from_numpy(rows[i : i + _SCORE_BATCH]).to(device)
        ll = module.token_log_likelihood(batch[:, :-1], batch[:, 1:])
        total += float(ll.double().sum())
        n += ll.numel()
    return total, n
