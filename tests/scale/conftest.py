import shutil
from pathlib import Path

import pytest

from deltarad.cohort import load_cohort
from deltarad.config import load_study
from deltarad.parallel import ParallelSettings
from deltarad.workflow import extract_features


@pytest.fixture
def cohort_copy(tiny_cohort, tmp_path) -> Path:
    """A private copy of the cohort (study.yaml inside) whose files a test may change."""
    return shutil.copytree(tiny_cohort.parent, tmp_path / "cohort") / "study.yaml"


@pytest.fixture(scope="session")
def reference_features(tiny_cohort, tmp_path_factory) -> bytes:
    """features.csv of the tiny cohort extracted by one worker process."""
    study = load_study(tiny_cohort)
    out = tmp_path_factory.mktemp("reference")
    _, failures = extract_features(
        study, load_cohort(study, require_outcome=False), out, progress=False, parallel=ParallelSettings(workers=1)
    )
    assert failures.empty
    return (out / "features.csv").read_bytes()
