"""Bootstrap CIs: agree with DeLong where both exist; reproducible with a seed."""

import pytest

from deltarad.stats.bootstrap import bootstrap_ci
from deltarad.stats.roc import auc, delong_ci


def test_bootstrap_auc_ci_agrees_with_delong(asah):
    est, low, high = bootstrap_ci(auc, asah.poor, asah.ndka, n_boot=400, seed=1)
    _, d_low, d_high = delong_ci(asah.poor, asah.ndka)
    assert est == pytest.approx(0.611957994579946)
    assert low == pytest.approx(d_low, abs=0.03) and high == pytest.approx(d_high, abs=0.03)
    assert bootstrap_ci(auc, asah.poor, asah.ndka, n_boot=400, seed=1) == (est, low, high)
