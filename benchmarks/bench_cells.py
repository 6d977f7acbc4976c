"""Training speed of sklstm's recurrent layers against PyTorch's fused nn.LSTM.

Times one training step (forward, a scalar loss on all outputs, backward) of
``nn.LSTM``, ``nn.GRU``, ``PeepholeLSTM`` and ``CIFGLSTM`` of the same sizes on
the same input, interleaved: every repeat runs each layer once, in turn, and
the median over repeats is reported with its ratio to ``nn.LSTM``. Prediction
(forward under ``torch.no_grad``) is timed the same way.

Run: ``python benchmarks/bench_cells.py [--batch 64 --time 40 --input 128
--hidden 128 --threads 2 --repeats 30]``.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
from torch import nn  # noqa: E402

from sklstm._cells import CIFGLSTM, PeepholeLSTM  # noqa: E402

LAYERS = {
    "nn.LSTM (fused)": nn.LSTM,
    "nn.GRU (fused)": nn.GRU,
    "PeepholeLSTM": PeepholeLSTM,
    "CIFGLSTM": CIFGLSTM,
}


def train_step(layer: nn.Module, x: torch.Tensor) -> None:
    layer.zero_grad(set_to_none=True)
    out, _ = layer(x)
    out.sum().backward()


def predict(layer: nn.Module, x: torch.Tensor) -> None:
    with torch.no_grad():
        layer(x)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--time", type=int, default=40)
    parser.add_argument("--input", type=int, default=128)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    torch.manual_seed(0)
    device = torch.device(args.device)
    layers = {
        name: cls(args.input, args.hidden, batch_first=True).to(device)
        for name, cls in LAYERS.items()
    }
    # the input needs a gradient too, as it does below an embedding or a
    # lower layer
    x = torch.randn(
        args.batch, args.time, args.input, device=device, requires_grad=True
    )
    print(
        f"torch {torch.__version__}, {platform.processor() or platform.machine()}, "
        f"device {device}, {args.threads} threads; batch {args.batch}, time "
        f"{args.time}, input {args.input}, hidden {args.hidden}; median of "
        f"{args.repeats} interleaved repeats"
    )
    for task, fn in (("train step (fwd+bwd)", train_step), ("predict (fwd)", predict)):
        times = {name: [] for name in layers}
        for layer in layers.values():  # warm-up
            for _ in range(3):
                fn(layer, x)
        for _ in range(args.repeats):
            for name, layer in layers.items():
                if device.type == "cuda":
                    torch.cuda.synchronize()
                start = time.perf_counter()
                fn(layer, x)
                if device.type == "cuda":
                    torch.cuda.synchronize()
                times[name].append(time.perf_counter() - start)
        ref = statistics.median(times["nn.LSTM (fused)"])
        print(f"\n{task}")
        print("| layer | median ms | vs nn.LSTM |")
        print("|---|---|---|")
        for name, ts in times.items():
            med = statistics.median(ts)
            print(f"| {name} | {med * 1e3:.2f} | {med / ref:.2f}x |")


if __name__ == "__main__":
    main()
