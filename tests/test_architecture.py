"""The package's layout: imports point one way and never form a cycle.

A static walk over every module's ``import`` statements (lazy ones inside
functions included: a lazy import that points back up is a cycle postponed).
Adding a module means giving it a layer here; docs/architecture.rst explains
the layers.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "sklstm"

#: module -> layer; a module may import modules of lower layers, and of its own
#: layer only where SAME_LAYER allows it
LAYERS = {
    # 0: constants every layer may use
    "sklstm._ids": 0,
    "sklstm._version": 0,
    "sklstm.exceptions": 0,
    # 1: shims and helpers
    "sklstm._compat": 1,
    "sklstm._docstring": 1,
    "sklstm._persistence": 1,
    "sklstm._runtime": 1,
    "sklstm._scaling": 1,
    "sklstm._precision": 1,
    "sklstm._defaults": 1,
    "sklstm._calibration": 1,
    "sklstm._conformal": 1,
    "sklstm._dataframes": 1,
    "sklstm._leakage": 1,
    "sklstm._optim": 1,
    "sklstm._hooks": 1,
    # 2: input (validation, text, batching) and the torch modules
    "sklstm._validation": 2,
    "sklstm._text": 2,
    "sklstm._batching": 2,
    "sklstm._recurrences": 2,
    "sklstm._cells": 2,
    "sklstm._pooling": 2,
    "sklstm._patching": 2,
    "sklstm._module": 2,
    "sklstm._members": 2,
    "sklstm._long_format": 2,
    "sklstm._lm_data": 2,
    "sklstm._lm_module": 2,
    # 3: building, training and running the skorch net
    "sklstm._net": 3,
    "sklstm._callbacks": 3,
    "sklstm._early_stopping": 3,
    "sklstm._refit": 3,
    "sklstm._member_training": 3,
    "sklstm._accelerate": 3,
    "sklstm._inference": 3,
    "sklstm._attribution": 3,
    "sklstm._lm_training": 3,
    "sklstm._lm_checkpoint": 3,
    # 4: the estimators
    "sklstm._base": 4,
    "sklstm._classifier": 4,
    "sklstm._regressor": 4,
    "sklstm._language_model": 4,
    "sklstm._pretrained": 4,
    "sklstm._parameters": 4,
    "sklstm._shipped": 4,
    # 5: what works on fitted estimators
    "sklstm._model_file": 5,
    "sklstm._save": 5,
    "sklstm._load": 5,
    "sklstm._load_net": 5,
    "sklstm._onnx": 5,
    "sklstm._forecasting": 5,
    "sklstm._plotting": 5,
    "sklstm._explain": 5,
    "sklstm._explain_plot": 5,
    "sklstm._embeddings": 2,
    "sklstm._baselines": 5,
    "sklstm.datasets": 5,
    "sklstm.datasets._loaders": 5,
    "sklstm.datasets._ts": 5,
    "sklstm.datasets._text_files": 5,
    # 6: the public surface
    "sklstm": 6,
    "sklstm.__main__": 6,
    "sklstm._data": 6,  # old name kept for pickles only
    "sklstm.mlflow": 6,  # optional MLflow integration, imported by name
}

#: allowed imports inside one layer (importer -> imported)
SAME_LAYER = {
    ("sklstm._module", "sklstm._cells"),
    ("sklstm._cells", "sklstm._recurrences"),
    ("sklstm._module", "sklstm._pooling"),
    ("sklstm._module", "sklstm._patching"),
    ("sklstm._members", "sklstm._module"),
    ("sklstm._member_training", "sklstm._callbacks"),
    ("sklstm._member_training", "sklstm._refit"),
    ("sklstm._patching", "sklstm._pooling"),
    ("sklstm._batching", "sklstm._validation"),  # the Sequences type only
    ("sklstm._callbacks", "sklstm._early_stopping"),
    ("sklstm._net", "sklstm._batching"),
    ("sklstm._accelerate", "sklstm._net"),
    ("sklstm._accelerate", "sklstm._callbacks"),
    ("sklstm._inference", "sklstm._batching"),
    ("sklstm._attribution", "sklstm._batching"),
    ("sklstm._attribution", "sklstm._inference"),
    ("sklstm._lm_module", "sklstm._module"),
    ("sklstm._lm_checkpoint", "sklstm._lm_training"),
    ("sklstm._classifier", "sklstm._base"),
    ("sklstm._base", "sklstm._language_model"),
    ("sklstm._base", "sklstm._pretrained"),
    ("sklstm._base", "sklstm._parameters"),
    ("sklstm._parameters", "sklstm._language_model"),
    ("sklstm._pretrained", "sklstm._language_model"),
    ("sklstm._pretrained", "sklstm._shipped"),
    ("sklstm._shipped", "sklstm._language_model"),
    ("sklstm._regressor", "sklstm._base"),
    ("sklstm._save", "sklstm._model_file"),
    ("sklstm._explain", "sklstm._explain_plot"),
    ("sklstm._load", "sklstm._model_file"),
    ("sklstm._load", "sklstm._load_net"),
    ("sklstm._load_net", "sklstm._model_file"),
    ("sklstm.datasets", "sklstm.datasets._loaders"),
    ("sklstm.datasets", "sklstm.datasets._ts"),
    ("sklstm.datasets", "sklstm.datasets._text_files"),
}

#: third-party packages a module must not import, by what the module is
FORBIDDEN = {
    # text and validation are numpy and scikit-learn only
    "sklstm._text": {"torch", "skorch"},
    "sklstm._embeddings": {"torch", "skorch"},
    "sklstm._validation": {"torch", "skorch"},
    "sklstm._dataframes": {"torch", "skorch", "pandas", "polars"},
    "sklstm._long_format": {"torch", "skorch", "pandas", "polars"},
    # the torch modules know nothing of scikit-learn or skorch
    "sklstm._cells": {"sklearn", "skorch"},
    "sklstm._recurrences": {"sklearn", "skorch"},
    "sklstm._pooling": {"sklearn", "skorch"},
    "sklstm._patching": {"sklearn", "skorch"},
    "sklstm._module": {"sklearn", "skorch"},
    "sklstm._members": {"sklearn", "skorch"},
    "sklstm._lm_module": {"sklearn", "skorch"},
    "sklstm._lm_data": {"torch", "sklearn", "skorch"},
    "sklstm._ids": {"numpy", "torch", "sklearn", "skorch"},
    "sklstm._leakage": {"torch", "sklearn", "skorch"},
    "sklstm._precision": {"sklearn", "skorch"},
    "sklstm._optim": {"sklearn", "skorch"},
    "sklstm._hooks": {"numpy", "sklearn", "skorch"},
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path, name: str):
    """(sklstm modules, top-level third-party packages) that ``path`` imports."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    internal, external = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            # "from sklstm import _accelerate" imports the submodule
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in LAYERS else base
                for alias in node.names
            ]
        else:
            continue
        for target in targets:
            top = target.split(".")[0]
            if top != "sklstm":
                external.add(top)
            elif target in LAYERS:
                internal.add(target)
    internal.discard(name)
    return internal, external


def _graph():
    graph, external = {}, {}
    for path in sorted(PACKAGE.rglob("*.py")):
        name = _module_name(path)
        graph[name], external[name] = _imports(path, name)
    return graph, external


GRAPH, EXTERNAL = _graph()


def test_every_module_has_a_layer():
    missing = sorted(set(GRAPH) - set(LAYERS))
    assert not missing, f"give these modules a layer in LAYERS: {missing}"
    gone = sorted(set(LAYERS) - set(GRAPH))
    assert not gone, f"LAYERS names modules that do not exist: {gone}"


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_imports_point_down_the_layers(module):
    wrong = []
    for target in sorted(GRAPH[module]):
        if target == "sklstm" and module == "sklstm.__main__":
            continue  # the main job uses the public API
        same = LAYERS[target] == LAYERS[module]
        if LAYERS[target] > LAYERS[module] or (
            same and (module, target) not in SAME_LAYER
        ):
            wrong.append(f"{target} (layer {LAYERS[target]})")
    assert not wrong, f"{module} (layer {LAYERS[module]}) imports {wrong}"


@pytest.mark.parametrize("module", sorted(FORBIDDEN))
def test_modules_keep_out_of_foreign_libraries(module):
    found = EXTERNAL[module] & FORBIDDEN[module]
    assert not found, f"{module} must not import {sorted(found)}"


def test_no_import_cycle():
    state, path = {}, []

    def visit(node):
        state[node] = "open"
        path.append(node)
        for nxt in sorted(GRAPH.get(node, ())):
            if nxt == "sklstm" and node == "sklstm.__main__":
                continue
            if state.get(nxt) == "open":
                cycle = path[path.index(nxt) :] + [nxt]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        path.pop()
        state[node] = "done"

    for node in sorted(GRAPH):
        if node not in state:
            visit(node)


def test_the_walk_sees_lazy_and_relative_imports(tmp_path):
    # the checker itself: an import inside a function counts
    src = tmp_path / "sklstm" / "_probe.py"
    src.parent.mkdir()
    src.write_text("def f():\n    from sklstm import _base\n    import torch\n")
    internal, external = _imports(src, "sklstm._probe")
    assert "sklstm._base" in internal and "torch" in external


def test_modules_stay_small_and_say_their_job():
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        n_lines = text.count("\n")
        assert n_lines <= 620, f"{path.name} has {n_lines} lines: split it"
        doc = ast.get_docstring(ast.parse(text))
        if path.name != "_version.py":
            assert doc, f"{path.name} needs an opening docstring naming its job"


def test_import_stays_light():
    # `import sklstm` pays for torch, scikit-learn and skorch only: torch's
    # compiler stack and the optional integrations load when they are used
    import subprocess
    import sys

    heavy = ["torch._dynamo", "sympy", "matplotlib", "onnx", "accelerate", "mlflow"]
    code = (
        f"import sys, sklstm\nprint(','.join(m for m in {heavy!r} if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=PACKAGE.parent,
    )
    loaded = out.stdout.strip()
    assert not loaded, f"import sklstm loads {loaded}; import them where they are used"
