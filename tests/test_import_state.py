"""Importing deltarad, and calling its API, changes no process-wide state.

Each check runs in a fresh interpreter: it first imports the other packages' modules that
deltarad's modules load (numpy, SimpleITK, matplotlib without pyplot, PyRadiomics, whose own
import sets up its logger, scipy and ruamel.yaml, which add warning filters, ...), records the
global state, then imports deltarad and every module of the package and touches every public name
(which runs the lazy imports), and records the state again: any difference is deltarad's doing.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

THIRD_PARTY = r"""
import importlib, json, pkgutil, sys
known = set(sys.modules)
import deltarad
for module in pkgutil.walk_packages(deltarad.__path__, "deltarad."):
    importlib.import_module(module.name)
print(json.dumps([n for n in sys.modules if n not in known and n.split(".")[0] not in sys.stdlib_module_names
                  and not n.startswith(("deltarad", "_")) and "._" not in n]))
"""

STATE = r"""
import importlib, json, logging, sys, warnings
for name in THIRD_PARTY:  # their own import-time settings are theirs, not deltarad's
    try:
        importlib.import_module(name)
    except Exception:
        pass
import numpy as np
import matplotlib
import SimpleITK as sitk
import radiomics

def _logger(name):
    logger = logging.getLogger(name) if name else logging.getLogger()
    return {"level": logger.level, "disabled": logger.disabled, "propagate": logger.propagate,
            "handlers": [(type(h).__name__, h.level, [repr(f) for f in h.filters]) for h in logger.handlers],
            "filters": [repr(f) for f in logger.filters]}

def state():
    return {
        "backend": repr(dict.__getitem__(matplotlib.rcParams, "backend")),  # unresolved: no pyplot import
        "rcParams": {k: repr(v) for k, v in dict.items(matplotlib.rcParams)},
        "pyplot_imported": "matplotlib.pyplot" in sys.modules,
        "warnings_filters": [repr(f) for f in warnings.filters],
        "showwarning": repr(warnings.showwarning),
        "loggers": {name: _logger(name) for name in ("", "radiomics", "deltarad", "py.warnings")},
        "logging_disable": logging.root.manager.disable,
        "radiomics_stderr_level": radiomics.handler.level,
        "numpy_errors": np.geterr(),
        "numpy_print": repr(np.get_printoptions()),
        "itk_threads": sitk.ProcessObject.GetGlobalDefaultNumberOfThreads(),
    }
"""

IMPORT_ALL = r"""
before = state()
import importlib, pkgutil
import deltarad
for name in deltarad.__all__:
    getattr(deltarad, name)
for module in pkgutil.walk_packages(deltarad.__path__, "deltarad."):
    importlib.import_module(module.name)
from deltarad.features import extract  # noqa: F401
from deltarad.report import figures  # noqa: F401
print(json.dumps({"before": before, "after": state()}))
"""

USE_API = r"""
import tempfile
from pathlib import Path
import numpy as np
import deltarad
from deltarad.simulate import generate_feature_study
from deltarad import outputs
from deltarad.report import figures
from deltarad.stats.roc import roc_points

folder = Path(tempfile.mkdtemp())
study = deltarad.load_study(generate_feature_study(folder, n_patients=60, n_features=20, seed=1))
features = deltarad.read_table(study.features_path, "feature table")
clinical = deltarad.read_table(study.cohort_path, "cohort")
before = state()
d = deltarad.delta(features, study)
model = deltarad.fit(d, clinical, study)
scores = model.predict_proba(d, clinical)
table = deltarad.evaluate(clinical["outcome"], scores.drop(columns="patient_id"))
curves = {"all": {m: roc_points(clinical["outcome"], scores[m]) for m in ("combined", "us")}}
rendered = figures.render(figures.roc_curves(curves, {"all": {"combined": "Combined", "us": "US"}}))
outputs.write_figure(folder, "roc", rendered.png, rendered.svg)
print(json.dumps({"before": before, "after": state()}))
"""


ENV = {"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"}


def _python(code: str):
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600, env=ENV)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def third_party() -> list[str]:
    """The modules of other packages that importing all of deltarad loads, in load order."""
    modules = _python(THIRD_PARTY)
    assert {"radiomics", "SimpleITK", "matplotlib", "sklearn"} <= set(modules) and "matplotlib.pyplot" not in modules
    return modules


def _run(code: str, third_party: list[str]) -> dict:
    return _python(f"THIRD_PARTY = {third_party!r}\n" + STATE + code)


def _differences(before: dict, after: dict) -> list[str]:
    out = []
    for key in before:
        if before[key] != after[key]:
            if isinstance(before[key], dict):
                changed = [k for k in {*before[key], *after[key]} if before[key].get(k) != after[key].get(k)]
                out.append(f"{key}: {sorted(changed)[:5]}")
            else:
                out.append(f"{key}: {before[key]!r} -> {after[key]!r}")
    return out


def test_importing_deltarad_and_every_module_changes_no_global_state(third_party):
    seen = _run(IMPORT_ALL, third_party)
    assert seen["before"]["pyplot_imported"] is False
    assert _differences(seen["before"], seen["after"]) == []


@pytest.mark.parametrize("what", ["delta, fit, predict_proba, evaluate, a figure"])
def test_the_api_leaves_global_state_as_it_found_it(what, third_party):
    seen = _run(USE_API, third_party)
    assert _differences(seen["before"], seen["after"]) == []


RADIOMICS_FIRST = r"""
import importlib, json, logging, sys, warnings
for name in THIRD_PARTY:  # every other package deltarad loads, but not PyRadiomics
    if name.split(".")[0] != "radiomics":
        try:
            importlib.import_module(name)
        except Exception:
            pass
assert "radiomics" not in sys.modules

def state():
    logger = logging.getLogger("radiomics")
    return {"warnings_filters": [repr(f) for f in warnings.filters], "showwarning": repr(warnings.showwarning),
            "radiomics_logger": [logger.level, logger.propagate, logger.disabled, [repr(h) for h in logger.handlers]],
            "root_handlers": [repr(h) for h in logging.getLogger().handlers]}

before = state()
from deltarad.features import extract, store  # noqa: F401  (each loads PyRadiomics)
from deltarad.features.engine import feature_classes, mask_box  # noqa: F401
import deltarad.features.engine.glcm  # noqa: F401
feature_classes("pyradiomics")
assert "radiomics" in sys.modules
print(json.dumps({"before": before, "after": state()}))
"""


def test_deltarad_loading_pyradiomics_keeps_its_logger_and_the_warning_filters(third_party):
    """PyRadiomics' own import sets its logger to INFO with a stderr handler and adds warning
    filters; where deltarad is the one importing it, all of that is put back as it was."""
    seen = _python(f"THIRD_PARTY = {third_party!r}\n" + RADIOMICS_FIRST)
    assert seen["before"]["radiomics_logger"] == [logging.NOTSET, True, False, []]
    assert _differences(seen["before"], seen["after"]) == []


def test_the_state_record_would_see_a_change(third_party):
    """The check itself: a module that sets the backend or a warning filter is caught."""
    seen = _run(
        r"""
before = state()
import warnings
warnings.filterwarnings("ignore", category=RuntimeWarning)
matplotlib.use("Agg")
print(json.dumps({"before": before, "after": state()}))
""",
        third_party,
    )
    changed = " ".join(_differences(seen["before"], seen["after"]))
    assert "warnings_filters" in changed and "backend" in changed
