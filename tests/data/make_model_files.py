"""Write the model-file fixtures of tests/test_model_file_compat.py.

Run once with the sklstm version whose files must keep loading; the files and
the predictions that version made are checked in. Re-running with a newer
version would defeat the test: it exists to catch files that stop loading.
"""

import json
from pathlib import Path

import joblib
import numpy as np
from sklearn.pipeline import make_pipeline

import sklstm
from sklstm import LSTMClassifier, LSTMRegressor, TextSequencer

HERE = Path(__file__).parent
TEXTS = [
    "shares jump after strong earnings",
    "profit warning sends stock lower",
    "这家餐厅很好吃",
    "送餐太慢了，很差",
    "record revenue, upbeat guidance",
    "bankruptcy fears grow",
] * 5
LABELS = ["up", "down", "up", "down", "up", "down"] * 5


def main():
    rng = np.random.default_rng(0)
    text = make_pipeline(
        TextSequencer(max_len=12),
        LSTMClassifier(
            hidden_size=8, embedding_dim=6, max_epochs=3, random_state=0, pooling="mean"
        ),
    ).fit(TEXTS, LABELS)
    sklstm.save(text, HERE / "text_pipeline_v0.sklstm")
    # a pickle too: with early stopping and a schedule, so that it names the
    # callback classes (old pickles may warn about the version, never break)
    pickled = make_pipeline(
        TextSequencer(max_len=12),
        LSTMClassifier(
            hidden_size=8,
            embedding_dim=6,
            max_epochs=3,
            random_state=0,
            early_stopping=True,
            validation_fraction=0.2,
            lr_schedule="plateau",
        ),
    ).fit(TEXTS, LABELS)
    joblib.dump(pickled, HERE / "text_pipeline_v0.pkl")

    X = rng.normal(size=(40, 9, 2)).astype(np.float32)
    y = X[:, :, 0].sum(1) + rng.normal(scale=0.1, size=40)
    reg = LSTMRegressor(
        cell="peephole", bidirectional=True, hidden_size=5, max_epochs=3, random_state=0
    ).fit(X, y)
    sklstm.save(reg, HERE / "series_regressor_v0.sklstm")

    probe_text = ["stock lower after warning", "很好吃", "unseen words only"]
    probe_X = rng.normal(size=(4, 7, 2)).astype(np.float32)
    expected = {
        "sklstm_version": sklstm.__version__,
        "text_inputs": probe_text,
        "text_proba": text.predict_proba(probe_text).tolist(),
        "pickled_proba": pickled.predict_proba(probe_text).tolist(),
        "series_inputs": probe_X.tolist(),
        "series_pred": reg.predict(probe_X).tolist(),
    }
    (HERE / "model_files_v0.json").write_text(json.dumps(expected, indent=1))


if __name__ == "__main__":
    main()
