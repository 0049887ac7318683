"""stats.volume: the selected features' Spearman correlation with the tumour's volume change, on
closed-form cases."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from deltarad.stats.volume import volume_correlations


def test_spearman_rho_in_closed_form_and_pairs_with_gaps_left_out() -> None:
    volume = pd.Series([-0.5, -0.4, -0.3, -0.2, -0.1, 0.0], index=[f"P{i}" for i in range(6)])
    delta = pd.DataFrame(
        {
            "patient_id": [f"P{i}" for i in range(6)],
            "region": "intratumoral",
            "monotone": [1.0, 8.0, 27.0, 64.0, 125.0, float("nan")],  # a cube of the ranks: rho 1 on 5 pairs
            "swapped": [2.0, 1.0, 4.0, 3.0, 5.0, 9.0],  # ranks 2 1 4 3 5 6: sum d^2 = 4, rho = 1 - 6*4/(6*35)
        }
    )
    selected = pd.DataFrame({"region": ["intratumoral"] * 3, "feature": ["monotone", "swapped", "absent"]})
    out = volume_correlations(delta, selected, volume).set_index("feature")
    assert out.loc["monotone", "n"] == 5 and out.loc["monotone", "spearman_rho"] == pytest.approx(1.0)
    assert out.loc["swapped", "n"] == 6 and out.loc["swapped", "spearman_rho"] == pytest.approx(1 - 24 / 210)
    assert out.loc["absent", "n"] == 0 and math.isnan(out.loc["absent", "spearman_rho"])


def test_fewer_than_three_pairs_give_no_correlation() -> None:
    delta = pd.DataFrame({"patient_id": ["A", "B"], "region": "peritumoral", "f": [1.0, 2.0]})
    out = volume_correlations(
        delta, pd.DataFrame({"region": ["peritumoral"], "feature": ["f"]}), pd.Series([0.1, 0.2], index=["A", "B"])
    )
    assert out.loc[0, "n"] == 2 and math.isnan(out.loc[0, "spearman_rho"]) and math.isnan(out.loc[0, "p_value"])
