"""`deltarad extract` imports what extraction needs, not the modelling stack.

In a fresh interpreter (a subprocess: this test process has imported everything), the modules of
the extract command's path (the CLI with every command registered, the command, the extraction
job, the per-exam extraction and the parallel map) leave statsmodels and scikit-learn unimported.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
EXTRACT_PATH = [
    "deltarad.cli",
    "deltarad.commands.extract",
    "deltarad.extraction",
    "deltarad.features.extract",
    "deltarad.features.delta",
    "deltarad.parallel",
    "deltarad.config",
    "deltarad.cohort",
]
MODELLING = ("statsmodels", "sklearn", "deltarad.modeling")


def test_the_extract_path_imports_no_modelling_stack():
    code = (
        "import importlib, json, sys\n"
        f"for name in {EXTRACT_PATH!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"},
    )
    modules = json.loads(done.stdout.strip().splitlines()[-1])
    assert "radiomics" in modules and "deltarad.features.extract" in modules  # the path was imported
    assert [m for m in modules if m.split(".")[0] in MODELLING or m.startswith(MODELLING)] == []


def test_the_workflow_still_offers_the_extraction_stage():
    from deltarad import extraction, workflow

    assert workflow.extract_features is extraction.extract_features
    assert workflow.extract_study is extraction.extract_study
