"""Exact and chi-square tests against R's stats examples (fisher.test, chisq.test)."""

import numpy as np
import pytest

from deltarad.errors import DeltaradError
from deltarad.stats.exact import chi_square, fisher_2x2, fisher_exact
from deltarad.stats.tables import categorical_test

JOB_SATISFACTION = [[1, 3, 10, 6], [2, 3, 10, 7], [1, 6, 14, 12], [0, 1, 9, 11]]
MEHTA_PATEL_MP6 = [
    [1, 2, 2, 1, 1, 0, 1],
    [2, 0, 0, 2, 3, 0, 0],
    [0, 1, 1, 1, 2, 7, 3],
    [1, 1, 2, 0, 0, 0, 1],
    [0, 1, 1, 1, 1, 0, 0],
]
CONVICTIONS = [[2, 15], [10, 3]]
AGRESTI = [[762, 327, 468], [484, 239, 477]]


def test_fisher_4x4_job_satisfaction():
    assert round(fisher_exact(JOB_SATISFACTION), 4) == 0.7827


def test_fisher_5x7_mehta_patel():
    assert round(fisher_exact(MEHTA_PATEL_MP6), 5) == 0.03929
    assert round(fisher_exact(np.array(MEHTA_PATEL_MP6).T), 5) == 0.03929


def test_fisher_2x2_convictions_matches_r():
    res = fisher_2x2(CONVICTIONS)
    assert float(f"{res.p_value:.4g}") == 0.0005367
    assert float(f"{res.odds_ratio:.7g}") == 0.04693661
    assert float(f"{res.ci_low:.7g}") == 0.003325764
    assert float(f"{res.ci_high:.9g}") == 0.363182271
    assert fisher_exact(CONVICTIONS) == pytest.approx(res.p_value, rel=1e-9)


def test_chi_square_agresti():
    res = chi_square(AGRESTI)
    assert round(res["statistic"], 2) == 30.07 and res["df"] == 2
    assert float(f"{res['p_value']:.4g}") == 2.954e-07


def test_fisher_2x2_closed_form_hypergeometric():
    # [[3,1],[1,3]]: tables with x11 in {0,1,3,4} are as or less likely: (1+16+16+1)/70
    assert fisher_exact([[3, 1], [1, 3]]) == pytest.approx(34 / 70, rel=1e-12)


def test_rule_picks_chi_square_only_when_expected_counts_reach_5():
    assert categorical_test(np.array(AGRESTI))[0] == "Pearson chi-square"
    test, statistic, p = categorical_test(np.array(JOB_SATISFACTION))
    assert test == "Fisher exact" and round(p, 4) == 0.7827 and np.isnan(statistic)


def test_bad_tables_are_errors():
    with pytest.raises(DeltaradError):
        fisher_exact([[1, -2], [3, 4]])
    with pytest.raises(DeltaradError):
        fisher_exact([[1, 2, 3]])
