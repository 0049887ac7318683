"""Decision curves against R dcurves' own output of dca(cancer ~ famhistory) and, for a continuous
predicted risk, R's net benefit by its formula (tests/references/discrimination_calibration.R)."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from deltarad.errors import DeltaradError
from deltarad.stats.dca import decision_curve

REFERENCES = Path(__file__).resolve().parents[1] / "references"


def test_famhistory_reproduces_r_dcurves_exactly(stats_data):
    data = pd.read_csv(stats_data / "df_cancer_dx.csv")
    expected = pd.read_csv(stats_data / "r_dca_famhistory.csv")
    got = decision_curve(data.cancer, {"famhistory": data.famhistory}, labels={"famhistory": "Family History"})
    assert list(got.columns) == list(expected.columns)
    assert got[["variable", "label"]].equals(expected[["variable", "label"]])
    for col in ["n", "threshold", "pos_rate", "tp_rate", "fp_rate", "harm", "net_benefit"]:
        np.testing.assert_allclose(got[col], expected[col], rtol=1e-14, atol=1e-15, err_msg=col)


def test_continuous_risk_matches_the_net_benefit_formula_in_r(stats_data):
    """cancerpredmarker (750 patients): NB = TP/n - FP/n x pt / (1 - pt), positive when p >= pt,
    computed in R at 0.00-0.99."""
    data = pd.read_csv(stats_data / "df_cancer_dx.csv")
    expected = pd.read_csv(REFERENCES / "decision_curve_cancerpredmarker.csv")
    got = decision_curve(data.cancer, {"marker_risk": data.cancerpredmarker}, thresholds=expected.threshold)
    got = got[got.variable == "marker_risk"]
    assert got.net_benefit.nunique() > 50  # a continuous risk: the curve changes at nearly every threshold
    np.testing.assert_allclose(got.net_benefit, expected.net_benefit, rtol=1e-12, atol=1e-15)


def test_treat_all_net_benefit_closed_form():
    y = np.array([1, 0, 0, 1, 0])  # prevalence 0.4
    got = decision_curve(y, {}, thresholds=[0.0, 0.2, 0.5])
    treat_all = got[got.variable == "all"].net_benefit.to_numpy()
    np.testing.assert_allclose(treat_all, [0.4, 0.4 - 0.25 * 0.6, 0.4 - 1.0 * 0.6])
    assert (got[got.variable == "none"].net_benefit == 0).all()


def test_reserved_names_and_bad_probabilities_are_errors():
    with pytest.raises(DeltaradError, match="reserved"):
        decision_curve([0, 1], {"all": [0.2, 0.8]})
    with pytest.raises(DeltaradError, match=r"\[0, 1\]"):
        decision_curve([0, 1], {"m": [0.2, 1.8]})
