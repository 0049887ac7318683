from pathlib import Path

import pytest

from deltarad.synthetic import generate_cohort

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.fail(f"../shared/data not found beside the repository ({SHARED_DATA})")
    return SHARED_DATA


#: Three tiny generated patients (one read by reader 2): six DICOM exams, 16 feature sets.
TINY_COHORT = dict(n_patients=3, seed=3, shape=(40, 40, 12), spacing_mm=(1.2, 1.2, 2.0), n_phases=4)


@pytest.fixture(scope="session")
def tiny_cohort(tmp_path_factory) -> Path:
    """study.yaml of the tiny cohort, shared by the session: read it, never change its files
    (tests/scale's `cohort_copy` gives a private copy)."""
    return generate_cohort(tmp_path_factory.mktemp("tiny") / "cohort", workers=1, **TINY_COHORT)


@pytest.fixture(scope="session", autouse=True)
def _study_keys_in_a_temporary_config(tmp_path_factory):
    """`deltarad index` keeps study keys under $XDG_CONFIG_HOME (else ~/.config): the tests' keys
    go to a temporary folder, never the user's."""
    import os

    saved = {name: os.environ.pop(name, None) for name in ("XDG_CONFIG_HOME", "DELTARAD_KEY_FILE")}
    os.environ["XDG_CONFIG_HOME"] = str(tmp_path_factory.mktemp("config"))
    yield
    for name, value in saved.items():
        os.environ.pop(name, None)
        if value is not None:
            os.environ[name] = value
