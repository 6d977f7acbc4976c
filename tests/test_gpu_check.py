"""benchmarks/gpu_check.py, the prepared GPU run, works end to end.

It runs on a GPU rarely (a lent machine, minutes at a time), so its CPU dry
run keeps it from rotting between those runs: every section must finish
without an error and report its target lines. The portability section (a
child process) is left out here; loading on a CPU is tested in
test_save/test_load.
"""

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_check.py"


def test_gpu_check_dry_run_reports_every_section():
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    gpu_check = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gpu_check)
    sections = [
        "agreement",
        "determinism",
        "epochs",
        "predict_memory",
        "cells",
        "explain",
        "pretraining",
    ]
    results = gpu_check.main(["--quick", "--device", "cpu", "--only", *sections])
    for name in sections:
        assert "error" not in results[name], results[name]
    assert all(row["ok"] for row in results["agreement"])
    assert all(row["ok"] for row in results["explain"])
    assert all(row["worst_completeness"] < 1e-2 for row in results["explain"])
    assert results["determinism"]["deterministic=True"]["identical"]
    assert results["predict_memory"]["growth"] == 1.0  # no GPU memory on a CPU
    assert {r["hidden"] for r in results["epochs"]} == {8, 16}
    assert results["pretraining"][0]["tokens_per_s"] > 0
    targets = "\n".join(results["targets"])
    for key in ("epoch_vs_reference", "predict_memory_growth", "custom_cell_vs_lstm"):
        assert key in targets
