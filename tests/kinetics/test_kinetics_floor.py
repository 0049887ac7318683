"""The kinetics stage imports only the ground floor of deltarad (design, errors) and itself."""

from __future__ import annotations

import ast
from pathlib import Path

import deltarad.kinetics

GROUND = {"deltarad.design", "deltarad.errors"}


def test_kinetics_imports_only_the_ground_floor():
    folder = Path(deltarad.kinetics.__file__).parent
    for file in folder.glob("*.py"):
        for node in ast.walk(ast.parse(file.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module]
                if isinstance(node, ast.ImportFrom) and node.module
                else []
            )
            for name in names:
                if name.startswith("deltarad"):
                    assert name in GROUND or name.startswith("deltarad.kinetics"), f"{file.name} imports {name}"
