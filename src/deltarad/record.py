"""Workflow floor: the run's record, study.json (the study's name and file, every setting, the
design, the PyRadiomics parameters and the software versions); the report reads it back
(deltarad.report.record)."""

from __future__ import annotations

import platform
from pathlib import Path

import yaml

from deltarad.config import Study


def study_name_of(study: Study) -> str:
    return study.name or (Path(study.file_name).stem if study.file_name else "")


def study_record(study: Study) -> dict:
    """The content of study.json: name, study file, every setting, the design (Design.to_dict),
    the PyRadiomics parameters and the software versions."""
    from deltarad.features.extract import STUDY_PARAMS
    from deltarad.modeling.pipeline import software_versions

    params = study.params_path or STUDY_PARAMS
    return {
        "name": study_name_of(study),
        "study_file": study.file_name,
        "settings": study.model_dump(mode="json"),
        "design": study.design.to_dict(),
        "pyradiomics_params": {"file": params.name, "settings": yaml.safe_load(params.read_text(encoding="utf-8"))}
        if params.is_file()
        else {"file": params.name, "settings": {}},
        "software": {"python": platform.python_version(), **software_versions()},
    }
