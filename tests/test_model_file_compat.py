"""Model files and pickles written by an earlier sklstm keep loading.

The fixtures in tests/data were written by sklstm 0.1.0.dev0
(tests/data/make_model_files.py) together with the predictions it made.
"""

import json
import warnings
from pathlib import Path

import joblib
import numpy as np

import sklstm
from sklstm.exceptions import InconsistentVersionWarning

DATA = Path(__file__).parent / "data"
EXPECTED = json.loads((DATA / "model_files_v0.json").read_text())


def test_old_text_pipeline_file_predicts_as_before():
    model = sklstm.load(DATA / "text_pipeline_v0.sklstm")
    proba = model.predict_proba(EXPECTED["text_inputs"])
    np.testing.assert_allclose(proba, EXPECTED["text_proba"], rtol=0, atol=1e-12)
    # parameters added since: set to what the old version did
    assert model[-1].get_params()["patch_size"] == 1
    assert model[-1].get_params()["label_smoothing"] == 0.0


def test_old_series_regressor_file_predicts_as_before():
    model = sklstm.load(DATA / "series_regressor_v0.sklstm")
    X = np.asarray(EXPECTED["series_inputs"], dtype=np.float32)
    # the expected values were recorded on another CPU (AMD EPYC); float32
    # kernels round differently from CPU to CPU (7e-9 on an Intel Xeon),
    # while a changed model or a misread file is off by far more
    np.testing.assert_allclose(
        model.predict(X), EXPECTED["series_pred"], rtol=1e-6, atol=1e-7
    )


def test_old_pickle_loads_with_the_version_warning_and_predicts_as_before():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = joblib.load(DATA / "text_pipeline_v0.pkl")
    if sklstm.__version__ != EXPECTED["sklstm_version"]:
        assert any(issubclass(w.category, InconsistentVersionWarning) for w in caught)
    proba = model.predict_proba(EXPECTED["text_inputs"])
    np.testing.assert_allclose(proba, EXPECTED["pickled_proba"], rtol=0, atol=1e-12)
    # and it trains on: a refit through the old pickle's estimator works, with
    # parameters added since then set to what the old version did
    est = model[-1]
    assert est.get_params()["patch_size"] == 1
    assert est.get_params()["label_smoothing"] == 0.0
    est.set_params(max_epochs=1)
    model.fit(EXPECTED["text_inputs"] * 4, ["up", "down", "up"] * 4)
    assert model.predict(EXPECTED["text_inputs"]).shape == (3,)
