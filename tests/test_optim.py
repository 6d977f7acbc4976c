"""The optimizers built by name: torch's arithmetic, without torch's compiler import."""

import pickle
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from sklstm._optim import OPTIMIZERS


def _train(optimizer_class, steps=5, **kwargs):
    gen = torch.Generator().manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Embedding(50, 8), torch.nn.Flatten(), torch.nn.Linear(8 * 6, 3)
    )
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=gen))
    optimizer = optimizer_class(model.parameters(), lr=0.01, **kwargs)
    x = torch.randint(0, 50, (16, 6), generator=gen)
    y = torch.randint(0, 3, (16,), generator=gen)
    for _ in range(steps):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
    return [p.detach().clone() for p in model.parameters()], optimizer


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_updates_are_torch_own(name):
    ours = OPTIMIZERS[name]
    theirs = ours._torch_class
    assert issubclass(ours, theirs) and ours.__name__ == theirs.__name__
    got, optimizer = _train(ours)
    want, _ = _train(theirs)
    for a, b in zip(got, want):
        assert torch.equal(a, b)
    # what skorch and LR schedulers rely on
    assert isinstance(optimizer, torch.optim.Optimizer)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    optimizer.step()
    scheduler.step()
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.005)
    copy = pickle.loads(pickle.dumps(optimizer))
    assert type(copy) is ours


def test_fused_adam_matches_torch():
    got, _ = _train(OPTIMIZERS["adam"], fused=True)
    want, _ = _train(torch.optim.Adam, fused=True)
    for a, b in zip(got, want):
        assert torch.equal(a, b)


def test_closure_is_evaluated_with_gradients():
    model = torch.nn.Linear(3, 1)
    optimizer = OPTIMIZERS["sgd"](model.parameters(), lr=0.1)
    x = torch.ones(4, 3)

    def closure():
        optimizer.zero_grad()
        loss = model(x).pow(2).mean()
        loss.backward()
        return loss

    before = model.weight.detach().clone()
    loss = optimizer.step(closure)
    assert loss is not None and not torch.equal(before, model.weight)
    assert torch.is_grad_enabled()  # the step restores the caller's mode


def _fresh_python(code, cwd):
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=cwd,
    )
    return out.stdout.strip()


def test_fresh_processes_do_not_import_the_compiler(tmp_path):
    # torch.optim's decorators import torch._dynamo and SymPy (about 800
    # modules, one to three seconds) on their first call in every process:
    # a script's first fit, and loading a model file with its optimizer state
    root = Path(__file__).resolve().parents[1]
    fitted = _fresh_python(
        "import sys, joblib, numpy as np, sklstm\n"
        "from sklstm import LSTMClassifier\n"
        "X = np.random.default_rng(0).integers(2, 40, size=(40, 6))\n"
        "y = np.arange(40) % 2\n"
        "model = LSTMClassifier(max_epochs=1, n_members=1, hidden_size=4,"
        " embedding_dim=4, lr_schedule='cosine').fit(X, y)\n"
        f"sklstm.save(model, {str(tmp_path / 'model.sklstm')!r})\n"
        f"joblib.dump(model, {str(tmp_path / 'model.joblib')!r})\n"
        "print('torch._dynamo' in sys.modules)\n",
        root,
    )
    assert fitted == "False"
    loaded = _fresh_python(
        "import sys, joblib, numpy as np, sklstm\n"
        "X = np.random.default_rng(1).integers(2, 40, size=(5, 6))\n"
        f"a = sklstm.load({str(tmp_path / 'model.sklstm')!r}).predict_proba(X)\n"
        f"b = joblib.load({str(tmp_path / 'model.joblib')!r}).predict_proba(X)\n"
        "assert np.array_equal(a, b)\n"
        "print('torch._dynamo' in sys.modules)\n",
        root,
    )
    assert loaded == "False"
