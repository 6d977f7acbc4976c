"""Training through Hugging Face Accelerate (``accelerator=`` parameter).

Imported only when an estimator is given an ``accelerate.Accelerator``, so
that accelerate stays an optional dependency.

What the plain skorch ``AccelerateMixin`` does not do for sklstm, and this
module adds:

- Sharding. ``accelerator.prepare`` shards a ``torch.utils.data.DataLoader``,
  but sklstm's :class:`~sklstm._batching.BucketBatchLoader` is not one, so it
  would pass through unchanged: every process would train on every batch.
  Here each process's loader forms the whole epoch's length-bucketed batches
  (the same on every process: same seed) and keeps every k-th of them
  (:func:`sklstm._batching.shard_batches`), and moves them to
  ``accelerator.device``.
- Agreement. Early stopping, the learning-rate plateau and the stop on a
  non-finite loss decide on the history; a process that stops while another
  goes on waits forever in the next gradient all-reduce. So the validation
  set is not sharded (every process evaluates all of it, so the validation
  loss and score are the same everywhere), the training loss of every batch
  is averaged over the processes before it is recorded and checked, and at
  the end of each epoch the main process's losses and score are broadcast
  and recorded on every process before any callback decides.
- No gathering. AccelerateMixin's ``evaluation_step`` (behind
  ``net.forward`` and ``net.predict``, e.g. called by a callback during fit)
  gathers the outputs of all processes; with unsharded data that would
  repeat every row once per process. It returns this process's outputs.
- Hand-off. After training, the fitted estimator holds a plain skorch net
  with the unwrapped module on ``accelerator.device``: it predicts, pickles
  and saves like any fitted estimator, and holds no reference to the
  accelerator.
"""

from __future__ import annotations

import torch
from skorch.callbacks import Callback, GradientNormClipping

# skorch.hf imports no Hugging Face library itself; accelerate is imported in
# the functions that need it, so that this module (collected by doctest runs)
# imports without the optional dependency
from skorch.hf import AccelerateMixin

from sklstm._callbacks import sink
from sklstm._net import _SequenceNeuralNet, net_params
from sklstm._runtime import resolve_device

#: history keys every process must agree on at the end of an epoch
_AGREED_KEYS = ("train_loss", "valid_loss", "valid_score")


def check_accelerator(est, *, partial: bool, warm: bool) -> torch.device:
    """Validate the ``accelerator`` setup of ``est``; return its device.

    The accelerator chooses the device (``accelerator.device``: the GPU of
    this process under ``accelerate launch``, the CPU with
    ``Accelerator(cpu=True)``). ``device`` must then be ``"auto"`` or name
    the same kind of device, so that a ``device`` the accelerator would
    ignore is an error rather than silently overridden.
    """
    acc = est.accelerator
    try:
        from accelerate import Accelerator
    except ImportError:  # then acc cannot be an Accelerator
        Accelerator = ()
    if not isinstance(acc, Accelerator):
        raise TypeError(
            f"accelerator must be an accelerate.Accelerator or None, got "
            f"{type(acc).__module__}.{type(acc).__qualname__}. Install the "
            "optional dependency with pip install 'sklstm[accelerate]'."
        )
    if not acc.device_placement:
        raise ValueError(
            "sklstm needs the accelerator to place the model on its device: "
            "create it with device_placement=True (the default)."
        )
    if partial or warm:
        raise ValueError(
            "partial_fit and warm_start=True are not supported with an "
            "accelerator: each fit with an accelerator trains a new network. "
            "Set warm_start=False, or continue training without the "
            "accelerator (accelerator=None)."
        )
    device = est.device
    if device != "auto":
        wanted = resolve_device(device) if isinstance(device, str) else device
        if torch.device(wanted).type != acc.device.type:
            raise ValueError(
                f"device={str(device)!r}, but the accelerator trains on "
                f"{acc.device}. With an accelerator, the accelerator chooses the "
                "device: set device='auto' (or the accelerator's kind of device, "
                f"{acc.device.type!r}), or create Accelerator(cpu=True) to train "
                "on the CPU."
            )
    return acc.device


def shared_seed(accelerator, seed: int) -> int:
    """The main process's seed, on every process.

    Every process must draw the same validation split and the same batch
    order (each then keeps its share); with ``random_state=None`` each
    process would draw its own seed.
    """
    if accelerator.num_processes == 1:
        return seed
    from accelerate.utils import broadcast_object_list

    box = [seed]
    broadcast_object_list(box, from_process=0)
    return int(box[0])


def build_net(est, module_kwargs: dict, *, accelerator, seed: int):
    """An uninitialised net for ``est`` that trains through ``accelerator``."""
    # the optimizer is built while the module is still on the CPU; the
    # accelerator moves it afterwards
    devices = [accelerator.device, torch.device("cpu")]
    params = net_params(est, module_kwargs, devices=devices, seed=seed)
    return _AcceleratedSequenceNet(
        accelerator=accelerator,
        # accelerate places the module; skorch must not (it refuses a device
        # alongside a placing accelerator)
        device=None,
        # unwrapped by hand after training (release), after EarlyStopping has
        # loaded the best weights into the still wrapped module
        unwrap_after_train=False,
        # skorch's PrintLog prints to any sink other than print whatever
        # net.verbose says; print once per machine, or not
        callbacks__print_log__sink=sink(est.verbose, accelerator),
        iterator_train__num_shards=accelerator.num_processes,
        iterator_train__shard_index=accelerator.process_index,
        iterator_train__device=accelerator.device,
        iterator_valid__device=accelerator.device,
        **params,
    )


def callback_options(accelerator) -> dict:
    """Keyword arguments of ``training_callbacks`` for accelerated training."""
    agreement = _AgreeAcrossProcesses() if accelerator.num_processes > 1 else None
    return {
        "clipping": _AcceleratedClipping,
        # after the validation score, before anything that decides on the
        # history: every process must take the same decisions
        "agreement": agreement,
    }


class _AcceleratedSequenceNet(AccelerateMixin, _SequenceNeuralNet):
    """``_SequenceNeuralNet`` trained through an ``accelerate.Accelerator``.

    Lives only during ``fit``; :func:`release` hands its results to a plain
    ``_SequenceNeuralNet``.
    """

    def _initialize_accelerator(self):
        # The criterion is not prepared: sklstm's losses have no parameters,
        # and DistributedDataParallel refuses a module without trainable
        # parameters (AccelerateMixin prepares every criterion).
        criteria, self._criteria = self._criteria, []
        try:
            return super()._initialize_accelerator()
        finally:
            self._criteria = criteria

    def get_iterator(self, dataset, training=False):
        # Not AccelerateMixin.get_iterator: accelerator.prepare would pass the
        # BucketBatchLoader through unchanged. The loader shards and places
        # the batches itself (iterator_*__num_shards, __device).
        return super(AccelerateMixin, self).get_iterator(dataset, training=training)

    def evaluation_step(self, batch, training=False):
        # Not AccelerateMixin.evaluation_step, which gathers the outputs of
        # all processes: sklstm shards only the training batches, so a process
        # evaluating data has all of it, and gathering would repeat each row
        # once per process. (The validation loss does not come through here:
        # skorch's validation_step calls infer directly.)
        return super(AccelerateMixin, self).evaluation_step(batch, training=training)

    def train_step(self, batch, **fit_params):
        step = super().train_step(batch, **fit_params)
        acc = self.accelerator
        if acc.num_processes == 1:
            return step
        # The batch-size weighted mean loss over the batches of all processes:
        # recorded (so train_loss and its plateau are the same everywhere) and
        # checked for NaN (so all processes stop at the same batch).
        loss = step["loss"].detach()
        n = len(batch[0]["lengths"])  # rows of this process's batch
        stats = torch.stack(
            [
                loss.to(torch.float64) * n,
                torch.tensor(float(n), dtype=torch.float64, device=loss.device),
            ]
        ).to(acc.device)
        total = acc.reduce(stats, reduction="sum")
        step["loss"] = (total[0] / total[1]).to(loss.dtype)
        step["global_batch_size"] = int(total[1].item())
        return step

    def on_batch_end(self, net, batch=None, training=False, **kwargs):
        super().on_batch_end(net, batch=batch, training=training, **kwargs)
        n = kwargs.get("global_batch_size")
        if training and n is not None:
            # skorch weights the batch losses of the epoch's train_loss by
            # the local batch sizes; the loss is now the mean over all
            # processes' batches, so weight it by their total size
            self.history.record_batch("train_batch_size", n)


class _AcceleratedClipping(GradientNormClipping):
    """Gradient-norm clipping through ``accelerator.clip_grad_norm_``.

    With fp16 mixed precision the gradients are scaled by the loss scaler
    until the optimizer step; the accelerator unscales them before clipping,
    skorch's GradientNormClipping would clip the scaled ones.
    """

    def on_grad_computed(self, net, named_parameters, **kwargs):
        if self.gradient_clip_value is None:
            return
        net.accelerator.clip_grad_norm_(
            [p for _, p in named_parameters],
            max_norm=self.gradient_clip_value,
            norm_type=self.gradient_clip_norm_type,
        )


class _AgreeAcrossProcesses(Callback):
    """Record the main process's epoch losses and score on every process.

    The training loss is already averaged over the processes and the
    validation is the same everywhere, but floating point need not give the
    same last bit on every device; a decision (early stopping, learning-rate
    plateau) taken differently on two processes hangs them. Placed before the
    callbacks that decide.
    """

    def on_epoch_end(self, net, **kwargs):
        row = net.history[-1]
        keys = [k for k in _AGREED_KEYS if k in row]
        if not keys:
            return
        from accelerate.utils import broadcast

        acc = net.accelerator
        values = torch.tensor(
            [float(row[k]) for k in keys], dtype=torch.float64, device=acc.device
        )
        values = broadcast(values, from_process=0)
        for k, v in zip(keys, values.tolist(), strict=True):
            net.history.record(k, v)


def release(net: _AcceleratedSequenceNet, plain: _SequenceNeuralNet):
    """Move the trained state of ``net`` into the plain net ``plain``.

    ``plain`` is an uninitialised net with the same module and optimizer
    arguments. It gets the unwrapped module and criterion (no
    DistributedDataParallel wrapper: prediction runs in one process), the
    optimizer without accelerate's wrapper and the history; the accelerator,
    its print function and its wrappers stay behind with ``net``.
    """
    acc = net.accelerator
    acc.wait_for_everyone()
    # builds a throwaway module (replaced below); keep the caller's RNG
    with torch.random.fork_rng(devices=[]):
        plain.initialize()
    plain.module_ = acc.unwrap_model(net.module_, keep_fp32_wrapper=False)
    plain.criterion_ = net.criterion_
    plain.optimizer_ = getattr(net.optimizer_, "optimizer", net.optimizer_)
    plain.history = net.history
    plain.interrupted_ = getattr(net, "interrupted_", False)
    return plain
