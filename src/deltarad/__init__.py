"""deltarad: delta dual-region radiomics of longitudinal breast DCE-MRI (after Zeng et al., BMC
Cancer 2025), as a Python library and the `deltarad` command.

    import deltarad
    d = deltarad.delta(features)                  # long-form features -> delta table
    model = deltarad.fit(d, clinical)             # the study's selection and four models
    model.to_json("model.json")
    deltarad.evaluate(y, model.predict_proba(d, clinical)["combined"])

The public names (`__all__`), by stage:
- exams: `extract_exam(image, masks, settings)` (SimpleITK images or paths; lengths in mm)
- delta: `delta(features, settings)`, `delta_info`
- models: `fit(delta, clinical, settings)` -> `DeltaradModel` (from_json, to_json,
  predict_proba), `fit_result`, `split`, `cohort_table`; `with_kinetics(clinical, kinetics,
  features, settings)` joins ΔFTV and the volume change
- statistics: `evaluate(y, scores, threshold)` (AUC with DeLong CI, Youden cut-off, ...)
- study files, as the CLI: `load_study(path)`, `run_study(study, out_dir)`
- settings: `Study` and its parts (`ImagingSettings`, `SelectionSettings`, ...)
- errors: `DeltaradError`, `CaseError`, `StudyFileError`; tables: `read_table`

Importing deltarad is cheap and changes no global state: each name loads its module (and
PyRadiomics, SimpleITK, matplotlib behind it) on first use (PEP 562).
"""

from __future__ import annotations

import importlib

from deltarad._version import __version__

#: public name -> the module that defines it
_API = {
    "extract_exam": "deltarad.api",
    "delta": "deltarad.api",
    "delta_info": "deltarad.api",
    "fit": "deltarad.api",
    "fit_result": "deltarad.api",
    "split": "deltarad.api",
    "cohort_table": "deltarad.api",
    "with_kinetics": "deltarad.api",
    "evaluate": "deltarad.api",
    "run_study": "deltarad.api",
    "load_study": "deltarad.config",
    "DeltaradModel": "deltarad.modeling.modelfile",
    "Study": "deltarad.config",
    "ImagingSettings": "deltarad.config",
    "SelectionSettings": "deltarad.config",
    "SplitSettings": "deltarad.config",
    "HarmonizeSettings": "deltarad.config",
    "ValidationSettings": "deltarad.config",
    "MissingSettings": "deltarad.config",
    "ReportSettings": "deltarad.config",
    "DeltaradError": "deltarad.errors",
    "CaseError": "deltarad.errors",
    "StudyFileError": "deltarad.errors",
    "read_table": "deltarad.cohort",
}

__all__ = ["__version__", *_API]


def __getattr__(name: str):
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module 'deltarad' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
