"""
Saving and loading a model: joblib and the safe format
======================================================

A fitted pipeline can be stored with joblib (a pickle) or with
:func:`sklstm.save`, sklstm's pickle-free format. Both give back a model that
predicts exactly as before. Loading a pickle runs code named in the file, so
joblib is for your own files; :func:`sklstm.load` creates only sklstm's
estimators and scikit-learn pipelines from JSON and NumPy arrays, which makes
it the format for sharing models. See :ref:`persistence` for the details.
"""

# %%
# A small sentiment classifier on raw text
# -----------------------------------------
import json
import os
import shutil
import tempfile
import zipfile

import joblib
import numpy as np
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline

import sklstm
from sklstm import LSTMClassifier, TextSequencer
from sklstm.datasets import load_sentiment_sentences

X, y = load_sentiment_sentences(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.2, random_state=0, stratify=y
)
# string labels, to show that they survive the round trip
names = np.array(["negative", "positive"])
model = make_pipeline(
    TextSequencer(),
    LSTMClassifier(hidden_size=32, embedding_dim=32, max_epochs=5, random_state=0),
)
model.fit(X_train, names[y_train])
print(f"test accuracy: {model.score(X_test, names[y_test]):.3f}")

# %%
# Save with joblib and with ``sklstm.save``
# -----------------------------------------
tmp = tempfile.mkdtemp()
joblib_path = os.path.join(tmp, "model.joblib")
safe_path = os.path.join(tmp, "model.sklstm")

joblib.dump(model, joblib_path)
sklstm.save(model, safe_path)
for path in (joblib_path, safe_path):
    print(f"{os.path.basename(path):>14}: {os.path.getsize(path) / 1024:6.1f} KiB")

# %%
# The safe format also stores Adam's state, so that ``warm_start=True`` can
# continue training exactly; for a model that only predicts it can be left out.
small_path = os.path.join(tmp, "model-predict-only.sklstm")
sklstm.save(model, small_path, include_optimizer=False)
print(f"without optimizer state: {os.path.getsize(small_path) / 1024:.1f} KiB")

# %%
# Load both and compare the predictions
# -------------------------------------
from_joblib = joblib.load(joblib_path)  # only for files you trust
from_safe = sklstm.load(safe_path)  # runs no code from the file

reference = model.predict_proba(X_test)
print("joblib identical:", np.array_equal(from_joblib.predict_proba(X_test), reference))
print("sklstm identical:", np.array_equal(from_safe.predict_proba(X_test), reference))
print(from_safe.predict(["What a great phone!", "The worst film I have seen."]))

# %%
# What the file holds
# -------------------
# A zip archive: ``model.json`` describes the pipeline (class names,
# hyperparameters, fitted attributes such as the vocabulary and the classes)
# and ``arrays/*.npy`` hold the network weights.
with zipfile.ZipFile(safe_path) as zf:
    print(zf.namelist()[:5], "...")
    doc = json.loads(zf.read("model.json"))
steps = doc["model"]["params"]["steps"]
print(doc["format_version"], doc["sklstm_version"])
# each step is a (name, estimator) tuple
print([step["items"][1]["class"] for step in steps])

shutil.rmtree(tmp)
