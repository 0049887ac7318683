"""The benchmarks are not run by `make test` (they take minutes), but they call the library: each
must at least import, so a renamed or moved function breaks here rather than at `make bench`."""
from __future__ import annotations

import importlib
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.mark.parametrize("module", sorted(p.stem for p in BENCHMARKS.glob("*.py")))
def test_benchmark_module_imports(module, monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))  # the benchmarks import each other by name
    importlib.import_module(module)
