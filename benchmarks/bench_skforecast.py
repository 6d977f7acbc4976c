"""skforecast's lag order and sklstm: the effect of reading lags newest first.

skforecast builds its training matrix with columns ``lag_1, lag_2, ...``
(newest first); sklstm reads columns left to right as time, so the LSTM's
last step is the *oldest* lag. This script fits ``ForecasterRecursive`` on
the log Airline series (first differences, 12 lags) with the columns as
skforecast gives them and reversed into time order (a
``FunctionTransformer(np.fliplr)`` in front of the regressor), and prints
the MAE of the last 12 months (3 seeds each) beside the seasonal naive
forecast. Run: ``python benchmarks/bench_skforecast.py``.
"""

import csv
import time

import numpy as np
import pandas as pd
from skforecast.recursive import ForecasterRecursive
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from sklstm import LSTMRegressor
from sklstm.datasets import shared_datasets_dir


def load_airline():
    path = shared_datasets_dir() / "ts" / "forecasting" / "Airline.csv"
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return np.array([float(r["Passengers"]) for r in rows])


def main():
    y = load_airline()
    train, test = y[:-12], y[-12:]
    naive = np.abs(train[-12:] - test).mean()
    series = pd.Series(np.log(train))
    print(f"Airline, last 12 months held out; seasonal naive MAE {naive:.1f}")
    print("| lag columns | seed | MAE | fit s |")
    print("|---|---|---|---|")
    results = {}
    for order in ("skforecast (newest first)", "reversed (time order)"):
        maes = []
        for seed in range(3):
            est = LSTMRegressor(hidden_size=32, max_epochs=200, random_state=seed)
            if order.startswith("reversed"):
                est = make_pipeline(FunctionTransformer(np.fliplr), est)
            fc = ForecasterRecursive(estimator=est, lags=12, differentiation=1)
            start = time.perf_counter()
            fc.fit(series)
            took = time.perf_counter() - start
            pred = np.exp(fc.predict(steps=12).to_numpy())
            mae = np.abs(pred - test).mean()
            maes.append(mae)
            print(f"| {order} | {seed} | {mae:.1f} | {took:.1f} |")
        results[order] = maes
    for order, maes in results.items():
        print(f"{order}: mean MAE {np.mean(maes):.1f} (sd {np.std(maes):.1f})")


if __name__ == "__main__":
    main()
