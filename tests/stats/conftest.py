from pathlib import Path

import pandas as pd
import pytest

STATS_DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "stats"


@pytest.fixture(scope="session")
def stats_data() -> Path:
    """The folder of R reference data sets (../shared/data/stats beside the repository)."""
    return STATS_DATA


@pytest.fixture(scope="session")
def asah() -> pd.DataFrame:
    """pROC's aSAH data: `poor` = 1 for outcome Poor (the positive class)."""
    return pd.read_csv(STATS_DATA / "aSAH.csv")
