import shutil
from pathlib import Path

import pytest

from deltarad.cohort import load_cohort
from deltarad.config import load_study
from deltarad.parallel import ParallelSettings
from deltarad.synthetic import generate_cohort
from deltarad.workflow import extract_features

#: Three tiny patients (one read by reader 2): six exams, 16 feature sets.
TINY = dict(n_patients=3, seed=3, shape=(40, 40, 12), spacing_mm=(1.2, 1.2, 2.0), n_phases=4)


@pytest.fixture(scope="session")
def scale_cohort(tmp_path_factory) -> Path:
    """study.yaml of the tiny cohort (do not modify its files; copy it with `cohort_copy`)."""
    return generate_cohort(tmp_path_factory.mktemp("scale") / "cohort", **TINY)


@pytest.fixture
def cohort_copy(scale_cohort, tmp_path) -> Path:
    """A private copy of the cohort (study.yaml inside) whose files a test may change."""
    return shutil.copytree(scale_cohort.parent, tmp_path / "cohort") / "study.yaml"


@pytest.fixture(scope="session")
def reference_features(scale_cohort, tmp_path_factory) -> bytes:
    """features.csv of the cohort extracted on an embedded cluster of one worker."""
    study = load_study(scale_cohort)
    out = tmp_path_factory.mktemp("reference")
    _, failures = extract_features(study, load_cohort(study, require_outcome=False), out, progress=False,
                                   parallel=ParallelSettings(workers=1))
    assert failures.empty
    return (out / "features.csv").read_bytes()
