from pathlib import Path

import pytest

from deltarad.synthetic import generate_cohort

TINY = {"shape": (40, 40, 12), "spacing_mm": (1.2, 1.2, 2.0), "n_phases": 4}


@pytest.fixture(scope="session")
def tiny() -> dict:
    """Tiny exams: 40 x 40 x 12 voxels of 1.2 x 1.2 x 2 mm, 4 phases."""
    return dict(TINY)


@pytest.fixture(scope="session")
def tiny_cohort(tmp_path_factory) -> Path:
    """Four tiny patients, two of them segmented by reader 2; returns study.yaml."""
    return generate_cohort(tmp_path_factory.mktemp("tiny") / "cohort", n_patients=4, seed=3, **TINY)
