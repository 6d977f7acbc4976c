"""Validation-carve study of two training regularisers that sklstm does not ship.

Run from the repository root::

    python benchmarks/studies/regularisation_study.py --variant adversarial --eps 0.1
    python benchmarks/studies/regularisation_study.py --variant mixup --alpha 1.0 --seeds 0 1 2

Both change the training step of the built-in members (``training_study.py``'s
``members`` variant: three small networks, last state, hard labels, as the
defaults were until 2026-12-06) through a study switch that replaces
``_SequenceNeuralNet.train_step_single`` for the run; the carves, seeds and
scoring are ``training_study.py``'s.

``adversarial``: adversarial training on the embedded tokens (Miyato, Dai and
Goodfellow 2017). After the usual backward pass, each sequence's input
vectors get the perturbation ``eps * ||e|| * g / ||g||`` (``e`` its input
vectors, ``g`` the gradient of the loss with respect to them, norms over the
whole sequence, so the size is relative to the embeddings, which grow in
training), and the loss of the perturbed batch is added. Twice the cost.

``mixup``: sentence-level mixup (Guo, Mao and Zhang 2019): pooled vectors
and targets of a batch mixed with a shuffled copy of the batch, the weight
drawn from Beta(alpha, alpha). Same cost.

The figures of 2026-12-06 are in docs/accuracy.rst; neither became a default.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, _HERE)

import training_study as ts  # noqa: E402  (puts this checkout on sys.path)
from skorch.dataset import unpack_data  # noqa: E402

import sklstm._net as sklstm_net  # noqa: E402


def adversarial_step(eps: float):
    def step(self, batch, **fit_params):
        self._set_training(True)
        Xi, yi = unpack_data(batch)
        embedding = self.module_.embedding
        seen = {}

        def keep(module, inputs, output):
            output.retain_grad()
            seen["e"] = output

        handle = embedding.register_forward_hook(keep)
        try:
            y_pred = self.infer(Xi, **fit_params)
        finally:
            handle.remove()
        loss = self.get_loss(y_pred, yi, X=Xi, training=True)
        loss.backward()
        e, g = seen["e"].detach(), seen["e"].grad.detach()
        size = (
            eps * e.flatten(1).norm(dim=1) / g.flatten(1).norm(dim=1).clamp_min(1e-12)
        )
        r = size[:, None, None] * g
        handle = embedding.register_forward_hook(lambda m, i, out: out + r)
        try:
            adv = self.get_loss(self.infer(Xi, **fit_params), yi, X=Xi, training=True)
        finally:
            handle.remove()
        adv.backward()
        return {"loss": loss, "y_pred": y_pred}

    return step


def mixup_step(alpha: float, seed: int):
    rng = np.random.default_rng(seed)

    def step(self, batch, **fit_params):
        self._set_training(True)
        Xi, yi = unpack_data(batch)
        m = self.module_
        h, lengths = m.input_vectors(Xi["x"], Xi["lengths"])
        z = m.dropout(m.encode(h, lengths))
        y = yi.long()
        lam = float(rng.beta(alpha, alpha))
        perm = torch.from_numpy(rng.permutation(len(y)))
        out = m.output(lam * z + (1 - lam) * z[perm])
        loss = lam * F.cross_entropy(out, y) + (1 - lam) * F.cross_entropy(out, y[perm])
        loss.backward()
        return {"loss": loss, "y_pred": m.output(z)}

    return step


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--variant", choices=["adversarial", "mixup"], required=True)
    p.add_argument("--eps", type=float, default=0.1)
    p.add_argument("--alpha", type=float, default=1.0)
    p.add_argument("--sets", nargs="+", default=["sentences", "tweets", "waimai_10k"])
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    args = p.parse_args(argv)
    for name in args.sets:
        for seed in args.seeds:
            if args.variant == "adversarial":
                step, tag = adversarial_step(args.eps), f"adversarial eps={args.eps}"
            else:
                step, tag = mixup_step(args.alpha, seed), f"mixup alpha={args.alpha}"
            original = sklstm_net._SequenceNeuralNet.train_step_single
            sklstm_net._SequenceNeuralNet.train_step_single = step
            try:
                row = ts.run(name, seed, "members")
            finally:
                sklstm_net._SequenceNeuralNet.train_step_single = original
            row["variant"] = tag
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
