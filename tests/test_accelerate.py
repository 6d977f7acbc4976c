"""Training through Hugging Face Accelerate (the ``accelerator`` parameter).

The multi-process test launches two real CPU processes (``accelerate launch``
starting torchrun, gloo backend); no GPU was available when this was written,
so the multi-GPU path itself (NCCL) is untested here.
"""

import copy
import json
import os
import pickle
import socket
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone

pytest.importorskip(
    "accelerate", reason="accelerate is optional (sklstm[accelerate], test extra)"
)
import torch  # noqa: E402
from accelerate import Accelerator  # noqa: E402

import sklstm  # noqa: E402
from sklstm import LSTMClassifier, LSTMRegressor  # noqa: E402

SMALL = dict(hidden_size=8, embedding_dim=8, batch_size=16, lr=1e-2)


@pytest.fixture(scope="module")
def accelerator():
    return Accelerator(cpu=True)


# --- one process: the same as without an accelerator ------------------------
def test_single_process_equals_plain_fit_classifier(accelerator, rng, make_tokens):
    # early stopping on the validation score, a plateau schedule, and
    # sample weights: the accelerated net must train exactly like the plain
    # one (same batches, same steps; accelerate adds no randomness)
    X, y, _ = make_tokens(n=240)
    w = rng.uniform(0.5, 2.0, size=len(y))
    kw = dict(
        SMALL,
        n_members=1,  # an Accelerator trains one network
        max_epochs=6,
        early_stopping=True,
        n_iter_no_change=2,
        lr_schedule="plateau",
        random_state=3,
    )
    plain = LSTMClassifier(**kw).fit(X, y, sample_weight=w)
    acc = LSTMClassifier(**kw, accelerator=accelerator).fit(X, y, sample_weight=w)
    assert acc.n_iter_ == plain.n_iter_
    assert acc.loss_curve_ == plain.loss_curve_
    assert acc.validation_scores_ == plain.validation_scores_
    np.testing.assert_array_equal(acc.predict_proba(X), plain.predict_proba(X))
    # the fitted estimator keeps a plain net, without accelerate's wrappers
    assert type(acc.net_) is type(plain.net_)
    assert type(acc.net_.optimizer_) is type(plain.net_.optimizer_)


def test_single_process_equals_plain_fit_regressor(accelerator, rng):
    # numeric input, no validation set: stopping on the training loss
    X = rng.normal(size=(120, 10, 2)).astype(np.float32)
    y = X[:, :, 0].mean(axis=1)
    kw = dict(hidden_size=8, batch_size=16, max_epochs=5, random_state=0)
    plain = LSTMRegressor(**kw).fit(X, y)
    acc = LSTMRegressor(**kw, accelerator=accelerator).fit(X, y)
    assert acc.loss_curve_ == plain.loss_curve_
    np.testing.assert_array_equal(acc.predict(X), plain.predict(X))


# --- sharding ------------------------------------------------------------------


# --- parameters, clone, pickling, saving ---------------------------------------
def test_clone_shares_the_accelerator(accelerator):
    est = LSTMClassifier(accelerator=accelerator, device="auto")
    assert est.get_params()["accelerator"] is accelerator
    # clone deep-copies parameters; an Accelerator copies to itself, so the
    # clone trains through the same one (what GridSearchCV needs)
    assert clone(est).accelerator is accelerator


def test_pickle_copy_and_save_drop_the_accelerator(accelerator, make_tokens, tmp_path):
    X, y, _ = make_tokens(n=120)
    est = LSTMClassifier(**SMALL, max_epochs=2, random_state=0, accelerator=accelerator)
    est.fit(X, y)
    expected = est.predict_proba(X)
    for other in (
        pickle.loads(pickle.dumps(est)),
        copy.deepcopy(est),
        sklstm.load(_saved(est, tmp_path)),
    ):
        assert other.accelerator is None
        np.testing.assert_array_equal(other.predict_proba(X), expected)
    # the original keeps its accelerator
    assert est.accelerator is accelerator
    # the fitted net holds no reference to the accelerator
    assert accelerator not in vars(est.net_).values()


def _saved(est, tmp_path):
    path = tmp_path / "model.sklstm"
    sklstm.save(est, path)
    return path


# --- errors ---------------------------------------------------------------------
def test_accelerator_must_be_an_accelerator(make_tokens):
    X, y, _ = make_tokens(n=40)
    with pytest.raises(TypeError, match="accelerate.Accelerator"):
        LSTMClassifier(accelerator="yes").fit(X, y)


def test_device_must_agree_with_the_accelerator(accelerator, make_tokens):
    X, y, _ = make_tokens(n=40)
    with pytest.raises(ValueError, match="the accelerator chooses the device"):
        LSTMClassifier(accelerator=accelerator, device="meta").fit(X, y)
    for device in ("auto", "cpu"):
        LSTMClassifier(
            **SMALL, max_epochs=1, accelerator=accelerator, device=device
        ).fit(X, y)


def test_no_partial_fit_or_warm_start(accelerator, make_tokens):
    X, y, _ = make_tokens(n=40)
    with pytest.raises(ValueError, match="partial_fit and warm_start"):
        LSTMClassifier(accelerator=accelerator).partial_fit(X, y, classes=[0, 1])
    est = LSTMClassifier(**SMALL, max_epochs=1, warm_start=True, random_state=0)
    est.fit(X, y)
    before = est.predict_proba(X)
    est.set_params(accelerator=accelerator)
    with pytest.raises(ValueError, match="partial_fit and warm_start"):
        est.fit(X, y)
    assert est.n_iter_ == 1  # left as it was
    np.testing.assert_array_equal(est.predict_proba(X), before)


def test_device_placement_is_required(make_tokens):
    X, y, _ = make_tokens(n=40)
    acc = Accelerator(cpu=True, device_placement=False)
    with pytest.raises(ValueError, match="device_placement=True"):
        LSTMClassifier(accelerator=acc).fit(X, y)


# --- two real processes ---------------------------------------------------------
WORKER = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    from accelerate import Accelerator
    from skorch.callbacks import Callback
    from sklstm import LSTMClassifier, LSTMRegressor

    class SeenRows(Callback):
        # what this process trains on: rows per epoch, the sequences of epoch 1
        def on_train_begin(self, net, **kwargs):
            self.rows_, self.first_epoch_, self.eval_rows_ = [], [], None
        def on_epoch_begin(self, net, **kwargs):
            self.rows_.append(0)
        def on_batch_end(self, net, batch, training, **kwargs):
            if training and self.eval_rows_ is None:
                # what net.forward/predict would see if a callback called it
                # during fit: this process's rows, not all processes' rows
                self.eval_rows_ = len(net.evaluation_step(batch))
            if training:
                x, lengths = batch[0]["x"], batch[0]["lengths"]
                self.rows_[-1] += len(lengths)
                if len(self.rows_) == 1:
                    self.first_epoch_ += [
                        " ".join(map(str, x[i, :L].tolist()))
                        for i, L in enumerate(lengths.tolist())
                    ]

    def data(n, seed):
        # separable: class 0 uses tokens 2-20, class 1 tokens 21-39
        rng = np.random.default_rng(seed)
        y = rng.integers(0, 2, n)
        X = np.zeros((n, 15), dtype=np.int64)
        for i in range(n):
            L = rng.integers(5, 16)
            X[i, :L] = rng.integers(2 + 19 * y[i], 21 + 19 * y[i], L)
        return X, y

    out = sys.argv[1]
    acc = Accelerator(cpu=True)
    X, y = data(1200, 0)
    X_test, y_test = data(300, 1)
    seen = SeenRows()
    # random_state=None: the processes must agree on the seed by themselves
    clf = LSTMClassifier(
        hidden_size=16, embedding_dim=8, batch_size=40, lr=1e-2, max_epochs=30,
        early_stopping=True, n_iter_no_change=2, lr_schedule="plateau",
        random_state=None, callbacks=[seen], accelerator=acc,
    ).fit(X, y)
    weights = clf.net_.module_.state_dict()
    last_epoch = clf.net_.history[-1, "batches"]

    class PoisonOneProcess(Callback):
        # a NaN in one input of the 3rd batch of epoch 2, on process 1 only
        def on_batch_begin(self, net, batch, training, **kwargs):
            if (
                training and acc.process_index == 1 and len(net.history) == 2
                and len(net.history[-1]["batches"]) == 3
            ):
                batch[0]["x"][0, 0, 0] = float("nan")

    rng = np.random.default_rng(2)
    Xr = rng.normal(size=(200, 8, 2)).astype(np.float32)
    reg = LSTMRegressor(
        hidden_size=8, batch_size=20, max_epochs=4, random_state=0,
        callbacks=[PoisonOneProcess()], accelerator=acc,
    )
    try:
        reg.fit(Xr, Xr[:, :, 0].sum(axis=1))
        nan_error = None
    except FloatingPointError as exc:
        nan_error = str(exc)
    result = dict(
        rank=acc.process_index,
        world=acc.num_processes,
        n_iter=clf.n_iter_,
        loss_curve=clf.loss_curve_,
        scores=clf.validation_scores_,
        rows=seen.rows_,
        eval_rows=seen.eval_rows_,
        first_epoch=seen.first_epoch_,
        batches=[int(b) for b in clf.net_.history[:, "train_batch_count"]],
        batch_losses=[b["train_loss"] for b in last_epoch if "train_loss" in b],
        batch_sizes=[b["train_batch_size"] for b in last_epoch if "train_loss" in b],
        weights=[v.double().sum().item() for v in weights.values()],
        accuracy=float((clf.predict(X_test) == y_test).mean()),
        accelerator=clf.get_params()["accelerator"] is acc,
        nan_error=nan_error,
        reg_fitted=hasattr(reg, "net_"),
    )
    with open(f"{out}/rank{acc.process_index}.json", "w") as f:
        json.dump(result, f)
    """
)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_share_batches_and_stop_together(tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    env = dict(os.environ)
    env.update(
        # no user or machine accelerate config may change the launch
        HF_HOME=str(tmp_path / "hf"),
        ACCELERATE_CONFIG_FILE=str(tmp_path / "no_config.yaml"),
        OMP_NUM_THREADS="1",
        PYTHONPATH=os.pathsep.join(
            [str(Path(sklstm.__file__).parents[1]), env.get("PYTHONPATH", "")]
        ),
    )
    # --multi_gpu selects accelerate's torchrun launcher; on a machine
    # without GPUs the workers' Accelerator(cpu=True) then forms a gloo group
    # (accelerate's --cpu alone would start a single process)
    cmd = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--multi_gpu",
        "--num_processes=2",
        "--num_machines=1",
        "--mixed_precision=no",
        "--dynamo_backend=no",
        f"--main_process_port={_free_port()}",
        str(script),
        str(tmp_path),
    ]
    proc = subprocess.run(
        cmd, env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    r0, r1 = (json.loads((tmp_path / f"rank{i}.json").read_text()) for i in (0, 1))
    assert (r0["world"], r1["world"]) == (2, 2)
    assert (r0["rank"], r1["rank"]) == (0, 1)
    # the fitted model is good and predicts in one process
    assert r0["accuracy"] >= 0.95
    # same decisions: same number of epochs, stopped early, same curves
    assert r0["n_iter"] == r1["n_iter"] < 30
    assert r0["loss_curve"] == r1["loss_curve"]
    assert r0["scores"] == r1["scores"]
    # DDP kept the weights in step
    assert r0["weights"] == r1["weights"]
    # 1200 samples, 120 for validation: 1080 in 27 batches of 40; each
    # process trains on 14 of them per epoch (the 27th wraps around)
    assert r0["batches"] == r1["batches"] == [14] * r0["n_iter"]
    n_train = 1080
    for a, b in zip(r0["rows"], r1["rows"], strict=True):
        assert n_train <= a + b <= n_train + 40
        assert abs(a - b) <= 40
    # no gathering of predictions in the net's evaluation step (a batch of 40)
    assert r0["eval_rows"] == r1["eval_rows"] == 40
    # the two shards of epoch 1 are the training set: disjoint but for the
    # one wrapped-around batch, and no validation rows (same split everywhere)
    seen0, seen1 = set(r0["first_epoch"]), set(r1["first_epoch"])
    assert len(seen0 | seen1) >= n_train - 10  # a few sequences are duplicates
    assert len(seen0 | seen1) <= n_train
    assert len(seen0 & seen1) <= 40
    # each step's training loss is the mean over both processes' batches,
    # weighted by their sizes (the per-batch values are not broadcast)
    assert r0["batch_losses"] == r1["batch_losses"]
    assert len(r0["batch_losses"]) == 14
    assert r0["batch_sizes"] == r1["batch_sizes"]
    assert n_train <= sum(r0["batch_sizes"]) <= n_train + 40
    # the accelerator parameter survives fit
    assert r0["accelerator"] and r1["accelerator"]
    # a NaN loss on one process stops both at the same step (instead of one
    # process waiting forever for the other), and leaves both unfitted
    assert r0["nan_error"] is not None
    assert "in epoch 2" in r0["nan_error"]
    assert r0["nan_error"] == r1["nan_error"]
    assert not r0["reg_fitted"] and not r1["reg_fitted"]


# --- the language model through an accelerator ------------------------------------
LM_SETTINGS = dict(embedding_dim=8, hidden_size=8, bptt=10, batch_size=4, lr=1e-2)


def _lm_corpus(n=120):
    rng = np.random.default_rng(0)
    words = ["the", "film", "plot", "was", "good", "bad", "."]
    return [" ".join(rng.choice(words, size=rng.integers(4, 12))) for _ in range(n)]


def test_language_model_single_process_equals_plain_fit(accelerator):
    corpus = _lm_corpus()
    plain = sklstm.LSTMLanguageModel(**LM_SETTINGS, random_state=0).fit(corpus)
    acc = sklstm.LSTMLanguageModel(
        **LM_SETTINGS, random_state=0, accelerator=accelerator, device="auto"
    ).fit(corpus)
    assert acc.loss_curve_ == plain.loss_curve_
    for k, v in plain.module_.state_dict().items():
        assert torch.equal(acc.module_.state_dict()[k], v)
    assert acc.accelerator is accelerator
    assert sklstm.load(_saved(acc, Path(tempfile.mkdtemp()))).accelerator is None


LM_WORKER = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    from accelerate import Accelerator
    from sklstm import LSTMLanguageModel

    rng = np.random.default_rng(0)
    words = ["the", "film", "plot", "was", "good", "bad", "."]
    corpus = [" ".join(rng.choice(words, size=rng.integers(4, 12))) for _ in range(300)]
    out = sys.argv[1]
    acc = Accelerator(cpu=True)
    lm = LSTMLanguageModel(
        embedding_dim=8, hidden_size=8, bptt=10, batch_size=4, lr=1e-2,
        max_epochs=2, random_state=None, accelerator=acc, device="auto",
        checkpoint=f"{out}/lm.ckpt",
    ).fit(corpus)
    result = dict(
        rank=acc.process_index,
        steps=lm.n_steps_,
        tokens=lm.n_tokens_seen_,
        loss_curve=lm.loss_curve_,
        weights=[v.double().sum().item() for v in lm.module_.state_dict().values()],
        score=lm.score(corpus[:50]),
    )
    with open(f"{out}/lm{acc.process_index}.json", "w") as f:
        json.dump(result, f)
    """
)


def test_language_model_in_two_processes(tmp_path):
    script = tmp_path / "lm_worker.py"
    script.write_text(LM_WORKER)
    env = dict(os.environ)
    env.update(
        HF_HOME=str(tmp_path / "hf"),
        ACCELERATE_CONFIG_FILE=str(tmp_path / "no_config.yaml"),
        OMP_NUM_THREADS="1",
        PYTHONPATH=os.pathsep.join(
            [str(Path(sklstm.__file__).parents[1]), env.get("PYTHONPATH", "")]
        ),
    )
    cmd = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--multi_gpu",
        "--num_processes=2",
        "--num_machines=1",
        "--mixed_precision=no",
        "--dynamo_backend=no",
        f"--main_process_port={_free_port()}",
        str(script),
        str(tmp_path),
    ]
    proc = subprocess.run(
        cmd, env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    r0, r1 = (json.loads((tmp_path / f"lm{i}.json").read_text()) for i in (0, 1))
    # each process took its share of the batches, in step with the other
    assert r0["steps"] == r1["steps"] > 0
    assert r0["weights"] == r1["weights"]
    assert r0["loss_curve"] == r1["loss_curve"]
    assert r0["score"] == r1["score"]
    # a single process on the same corpus takes about twice the steps
    alone = sklstm.LSTMLanguageModel(
        embedding_dim=8, hidden_size=8, bptt=10, batch_size=4, max_epochs=2
    ).fit(_lm_corpus(300))
    assert alone.n_steps_ == pytest.approx(2 * r0["steps"], abs=4)
    # the main process wrote one checkpoint
    assert (tmp_path / "lm.ckpt").exists()
