"""The benchmarks are not run by `make test` (they take minutes), but they call the library and
each other: each must import, every function one benchmark calls on another must exist, and the
driver must parse its options, so a renamed or moved function breaks here rather than at
`make bench`."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
MODULES = sorted(p.stem for p in BENCHMARKS.glob("*.py"))


def _calls_on_siblings(path: Path) -> set[tuple[str, str]]:
    """(module, attribute) for every `module.attribute` in `path` where module is a benchmark
    (`import extraction` then `extraction.deltarad_way(...)`: the import alone does not check it)."""
    tree = ast.parse(path.read_text())
    return {
        (node.value.id, node.attr)
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in MODULES
    }


@pytest.fixture
def benchmarks_on_path(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))  # the benchmarks import each other by name


@pytest.mark.parametrize("module", MODULES)
def test_benchmark_module_imports_with_what_the_others_call(module, benchmarks_on_path):
    loaded = importlib.import_module(module)
    used = {attr for path in BENCHMARKS.glob("*.py") for name, attr in _calls_on_siblings(path) if name == module}
    missing = sorted(attr for attr in used if not hasattr(loaded, attr))
    assert not missing, f"benchmarks use {module}.{missing}, which {module}.py does not define"
    assert all(callable(getattr(loaded, attr)) for attr in used if not attr.isupper())  # constants aside
    if "__main__" in (BENCHMARKS / f"{module}.py").read_text() and hasattr(loaded, "main"):
        assert callable(loaded.main)


def test_the_driver_calls_every_stage_and_parses_its_options(benchmarks_on_path, capsys):
    assert {
        ("extraction", "deltarad_way"),
        ("n4", "compare_n4"),
        ("modelling", "time_modelling"),
    } <= _calls_on_siblings(BENCHMARKS / "run.py")
    run = importlib.import_module("run")
    with pytest.raises(SystemExit) as done:
        run.main(["--help"])
    assert done.value.code == 0
    usage = capsys.readouterr().out
    for option in ("--patients", "--quick", "--skip-extraction", "--skip-n4", "--skip-big-exam", "--skip-modelling"):
        assert option in usage
