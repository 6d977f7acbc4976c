"""sklstm.load: where a model loads, and what a modified file may not create."""

import io
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from _model_files import rewrite, set_key
from sklearn.pipeline import make_pipeline

from sklstm import LSTMRegressor, ModelFileError, load, save
from sklstm.exceptions import InconsistentVersionWarning


def test_load_from_file_object(classifier, saved):
    clf, X = classifier
    with open(saved, "rb") as f:
        loaded = load(io.BytesIO(f.read()))
    np.testing.assert_array_equal(loaded.predict(X), clf.predict(X))


# --------------------------------------------------------------------------- #
# devices
# --------------------------------------------------------------------------- #
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_load_onto_gpu(classifier, saved):
    clf, X = classifier
    loaded = load(saved, device="cuda")
    assert loaded.device == "cuda"
    assert next(loaded.net_.module_.parameters()).is_cuda
    np.testing.assert_allclose(
        loaded.predict_proba(X), clf.predict_proba(X), rtol=1e-4, atol=1e-5
    )


def test_load_onto_missing_gpu_says_so(saved):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(ValueError, match="CUDA is not available"):
        load(saved, device="cuda")


# --------------------------------------------------------------------------- #
# fresh process
# --------------------------------------------------------------------------- #
def test_load_in_a_fresh_process(text_pipeline, tmp_path):
    save(text_pipeline, tmp_path / "text.sklstm")
    docs = ["good film", "awful movie", "really great fun"]
    script = textwrap.dedent(
        f"""
        import json, sklstm
        model = sklstm.load({str(tmp_path / "text.sklstm")!r})
        docs = {docs!r}
        print(json.dumps({{"pred": model.predict(docs).tolist(),
                          "proba": model.predict_proba(docs).tolist()}}))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    child = json.loads(out.stdout.strip().splitlines()[-1])
    assert child["pred"] == text_pipeline.predict(docs).tolist()
    np.testing.assert_allclose(
        child["proba"], text_pipeline.predict_proba(docs), rtol=1e-6
    )


# --------------------------------------------------------------------------- #
# tampered and untrusted files
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize(
    "edit, drop, message",
    [
        (None, ("arrays/2.npy",), "lacks"),
        (set_key("model", "class", value="os.system"), (), "'os.system'"),
        (set_key("model", "class", value="builtins.eval"), (), "does not create"),
        (
            set_key("model", "params", "hidden_size", value="8; rm -rf"),
            (),
            "hidden_size",
        ),
        (set_key("model", "params", "no_such_param", value=1), (), "no_such_param"),
        (set_key("model", "attributes", "__class__", value="x"), (), "__class__"),
        (set_key("model", "attributes", "predict", value=1), (), "'predict'"),
        (
            set_key("model", "net", "module_kwargs", "hidden_size", value=10**5),
            (),
            "shape",
        ),
        (
            set_key("model", "net", "module_kwargs", "n_outputs", value=-1),
            (),
            "network",
        ),
        (
            set_key("model", "params", "max_epochs", value={"type": "eval"}),
            (),
            "'eval'",
        ),
        (set_key("format", value="x"), (), "not written by sklstm.save"),
    ],
    ids=[
        "missing-entry",
        "os.system",
        "eval",
        "bad-param-value",
        "unknown-param",
        "dunder-attribute",
        "method-attribute",
        "huge-network",
        "bad-network-args",
        "unknown-node",
        "wrong-format-name",
    ],
)
def test_tampered_file(saved, tmp_path, edit, drop, message):
    bad = rewrite(saved, tmp_path / "bad.sklstm", edit=edit, drop=drop)
    with pytest.raises(ModelFileError, match=message):
        load(bad)


def test_untrusted_type_in_skops_part_is_refused(tmp_path):
    skops_io = pytest.importorskip("skops.io", reason="needs skops")
    from sklearn.preprocessing import FunctionTransformer, MinMaxScaler

    model = make_pipeline(MinMaxScaler(), LSTMRegressor())
    save(model, tmp_path / "ok.sklstm")
    evil = skops_io.dumps(FunctionTransformer(os.system, kw_args={"command": "x"}))
    bad = rewrite(
        tmp_path / "ok.sklstm", tmp_path / "bad.sklstm", replace={"skops/0.skops": evil}
    )
    with pytest.raises(ModelFileError, match="system"):
        load(bad)


def test_other_sklstm_version_warns(classifier, saved, tmp_path):
    clf, X = classifier
    old = rewrite(
        saved, tmp_path / "old.sklstm", edit=set_key("sklstm_version", value="0.0.1")
    )
    with pytest.warns(InconsistentVersionWarning, match="0.0.1") as record:
        loaded = load(old)
    assert record[0].filename == __file__
    np.testing.assert_array_equal(loaded.predict(X), clf.predict(X))
