"""Process-level torch settings, changed only around sklstm's own work.

Threads (how many, and the rule that small networks train on one), denormal
flushing, seeding without touching the caller's random state, devices.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading

import numpy as np
import torch

__all__ = [
    "SMALL_MODEL_MACS",
    "deferred_interrupt",
    "flush_denormal",
    "resolve_device",
    "seed_from",
    "seeded",
    "thread_limit",
    "training_threads",
]

#: below this many multiply-adds per recurrent step, training uses one thread:
#: as fast as two on an idle machine (measured on 2 cores), far faster when
#: other processes compete for the cores
SMALL_MODEL_MACS = 2**22


def _denormals_flushed() -> bool:
    """Whether denormal floats are currently flushed to zero on this thread."""
    tiny = torch.tensor([1e-39], dtype=torch.float32)
    return bool((tiny * 1.0).item() == 0.0)


@contextlib.contextmanager
def flush_denormal():
    """Flush denormal floats to zero inside the block, then restore.

    Recurrent networks drift into denormal numbers, which x86 CPUs handle
    very slowly; flushing them is worth ~15% of training time. The switch is
    process-wide in PyTorch, so the caller's setting is restored afterwards.
    """
    was = _denormals_flushed()
    if was or not torch.set_flush_denormal(True):
        yield
        return
    try:
        yield
    finally:
        torch.set_flush_denormal(False)


@contextlib.contextmanager
def seeded(seed: int, device: torch.device):
    """Seed torch inside the block without touching the caller's RNG state."""
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} was requested but CUDA is not available on this "
            "machine. Use device='cpu', or device='auto' to use a GPU only when "
            "one is present."
        )
    return dev


_CPUS: dict = {}


def _allowed_cpus() -> int:
    """CPUs this process may run on (looked up once per process)."""
    pid = os.getpid()
    if pid not in _CPUS:
        try:
            _CPUS[pid] = len(os.sched_getaffinity(0))
        except (AttributeError, OSError):  # pragma: no cover - non-Linux
            _CPUS[pid] = os.cpu_count() or 1
    return _CPUS[pid]


@contextlib.contextmanager
def thread_limit(max_threads: int | None = None):
    """Cap torch's intra-op threads at what this process may really use.

    Inside joblib/loky workers (GridSearchCV(n_jobs=k)), loky sets
    OMP_NUM_THREADS to cores // k for each worker, but torch may already have
    sized its pool; k workers each running a full pool oversubscribe the CPU
    and run slower than one process. ``max_threads`` caps it further (small
    networks train as fast on one thread, and much faster when other
    processes compete for the cores). Restored on exit.
    """
    before = torch.get_num_threads()
    limit = _allowed_cpus()
    env = os.environ.get("OMP_NUM_THREADS")
    if env and env.isdigit() and int(env) > 0:
        limit = min(limit, int(env))
    if max_threads is not None:
        limit = min(limit, max_threads)
    limit = max(1, limit)
    if before <= limit:
        yield
        return
    torch.set_num_threads(limit)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def training_threads(macs_per_step: int) -> int | None:
    """Thread cap for training a network of ``macs_per_step`` multiply-adds
    per recurrent step of a batch: 1 for small networks, else no cap."""
    return 1 if macs_per_step < SMALL_MODEL_MACS else None


def seed_from(random_state) -> int:
    """An int seed drawn from ``random_state`` (sklearn's conventions)."""
    from sklearn.utils import check_random_state

    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


def member_seed(seed: int, member: int) -> int:
    """The seed of member ``member`` (0, 1, ...) of a fit seeded with ``seed``."""
    return (seed + 1000 * member) % 2**32


@contextlib.contextmanager
def deferred_interrupt():
    """Hold back Ctrl-C inside the block and raise it at the block's end.

    An optimizer step interrupted half-way would leave some weights updated
    and others not; around the step, a Ctrl-C waits until the step is done.
    Only the main thread receives signals, so elsewhere this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received = []
    try:
        previous = signal.signal(signal.SIGINT, lambda *_: received.append(1))
    except ValueError:  # not the main interpreter
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if received:
        raise KeyboardInterrupt
