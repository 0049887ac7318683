"""The package's floors (ARCHITECTURE.md): no import circle in src/deltarad, and no module imports a
higher floor. Imports are read from the source (every `import`, at the top, inside functions and
under `if TYPE_CHECKING:`), so a circle hidden in a function or a type hint is found too."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "deltarad"

#: floor of each module, by the longest matching dotted prefix (relative to deltarad)
FLOORS: dict[str, int] = {
    # ground: names, errors, settings and plumbing; imports nothing above
    "design": 0,
    "errors": 0,
    "atomic": 0,
    "runfolder": 0,
    "formatting": 0,
    "coding": 0,
    "encoding": 0,
    "tablefile": 0,
    "config": 0,
    "forkpool": 0,
    "parallel": 0,
    "_version": 0,
    "kinetics.settings": 0,  # the study file's `kinetics:` key (config holds it); imports nothing of deltarad
    # stages: values in, values out
    "imaging": 1,
    "kinetics": 1,
    "features": 1,
    "stats": 1,
    "modeling": 1,
    "harmonize": 1,
    "cohort": 1,
    "simulate": 1,
    "synthetic": 1,
    # workflow: composes the stages; the one writer of result files
    "workflow": 2,
    "extraction": 2,
    "outputs": 2,
    "study_tables": 2,
    "preflight": 2,
    "record": 2,
    "tables_from_file": 2,
    # surface: the public API, the command line, the report (reads a run folder), and the jobs that
    # end in a report or sheets (the demo; predict and external validation)
    "": 3,
    "api": 3,
    "cli": 3,
    "commands": 3,
    "report": 3,
    "demo": 3,
    "external": 3,
}
#: inside the stages, the direction an import may go (modeling uses stats, never the reverse)
STAGE_ORDER: dict[str, int] = {"imaging": 0, "kinetics": 1, "stats": 1, "features": 2, "harmonize": 3, "modeling": 4}


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _relative(name: str) -> str:
    return name.removeprefix("deltarad").lstrip(".")


def _resolve(name: str) -> str | None:
    """The module a dotted name (relative to deltarad) lives in; "" is the package's __init__."""
    while name not in MODULES:
        if "." not in name:
            return None
        name = name.rsplit(".", 1)[0]
    return name


def _imports(module: str) -> set[str]:
    """Every deltarad module `module` imports (relative names)."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ["deltarad", *package.split(".")] if package else ["deltarad"]
                base = base[: len(base) - node.level + 1]
                stem = ".".join(base + ([node.module] if node.module else []))
            else:
                stem = node.module or ""
            # `from deltarad.x import y` runs deltarad.x (a package's __init__ too), and y when it is a module;
            # deltarad's own __init__ runs before any of its modules, whoever imports it (it imports only _version)
            runs = [stem] if _relative(stem) else []
            names = [*runs, *(f"{stem}.{a.name}" for a in node.names if _resolve(_relative(f"{stem}.{a.name}")))]
        else:
            continue
        for name in names:
            if name != "deltarad" and not name.startswith("deltarad."):
                continue
            target = _resolve(_relative(name))
            if target is not None and target != module:
                found.add(target)
    return found


GRAPH = {m: _imports(m) for m in MODULES}


def _floor(module: str) -> int:
    best = max((p for p in FLOORS if module == p or module.startswith(p + ".") or p == ""), key=len)
    return FLOORS[best]


def _circles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in GRAPH[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in GRAPH:
        if v not in index:
            visit(v)
    return out


def test_the_scan_sees_the_package():
    assert {"design", "config", "features.delta", "modeling.pipeline", "report"} <= set(MODULES)
    assert "features.delta" in GRAPH["modeling.pipeline"]


def test_the_scan_finds_a_planted_circle(tmp_path, monkeypatch):
    """The checker itself: two modules importing each other (one in a function) form a circle."""
    monkeypatch.setitem(GRAPH, "design", {"errors"})
    monkeypatch.setitem(GRAPH, "errors", {"design"})
    assert ["design", "errors"] in _circles()


def test_no_import_circle():
    assert _circles() == []


def test_design_imports_nothing_of_deltarad():
    assert GRAPH["design"] == set()


def test_the_package_init_imports_only_the_version():
    """Every import of a deltarad module runs deltarad/__init__ first: it must import nothing that
    could close a circle (its public names load lazily, by name)."""
    assert GRAPH[""] <= {"_version"}


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_go_down_the_floors(module):
    up = sorted(t for t in GRAPH[module] if _floor(t) > _floor(module))
    assert not up, f"deltarad.{module} (floor {_floor(module)}) imports a higher floor: {up}"


def _stage(module: str) -> str | None:
    head = module.split(".")[0]
    return head if head in STAGE_ORDER else None


@pytest.mark.parametrize("module", sorted(m for m in MODULES if _stage(m)))
def test_stages_import_in_order(module):
    """imaging < features < modeling, stats < modeling: a stage never imports one that uses it."""
    own = STAGE_ORDER[_stage(module)]
    later = sorted(t for t in GRAPH[module] if _stage(t) and STAGE_ORDER[_stage(t)] > own)
    assert not later, f"deltarad.{module} imports a later stage: {later}"
