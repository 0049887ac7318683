"""IDI and continuous NRI against Hmisc::improveProb on real data (tests/references, made by
discrimination_calibration.R) and on a hand-worked example."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from deltarad.stats.reclassification import idi, nri

REFERENCES = Path(__file__).resolve().parents[1] / "references"
Y = np.array([1, 1, 1, 0, 0, 0, 0])
OLD = np.array([0.5, 0.4, 0.6, 0.3, 0.5, 0.2, 0.4])
NEW = np.array([0.7, 0.5, 0.5, 0.2, 0.5, 0.1, 0.6])
# d: events (0.2, 0.1, -0.1); non-events (-0.1, 0, -0.1, 0.2)


def test_idi_hand_worked():
    res = idi(Y, NEW, OLD)
    d_ev, d_ne = np.array([0.2, 0.1, -0.1]), np.array([-0.1, 0.0, -0.1, 0.2])
    assert res["idi"] == pytest.approx(0.2 / 3 - 0.0, abs=1e-12)
    se = np.sqrt(np.var(d_ev, ddof=1) / 3 + np.var(d_ne, ddof=1) / 4)
    assert res["se"] == pytest.approx(se, abs=1e-12)
    assert res["z"] == pytest.approx(res["idi"] / se)
    assert res["z"] == pytest.approx(0.58977, abs=1e-5)  # (0.2/3) / sqrt(0.07/9 + 0.02/4)
    assert res["p"] == pytest.approx(0.55535, abs=1e-5)


def test_continuous_nri_hand_worked():
    res = nri(Y, NEW, OLD)
    # events: 2 up, 1 down -> 1/3; non-events: 1 up, 2 down -> +1/4
    assert res["nri"] == pytest.approx(1 / 3 + 1 / 4)
    v = (2 + 1) / 9 - (2 - 1) ** 2 / 27 + (1 + 2) / 16 - (1 - 2) ** 2 / 64
    assert res["se"] == pytest.approx(np.sqrt(v))


def test_no_change_gives_zero_and_p_one():
    assert idi(Y, OLD, OLD)["p"] == 1.0 and nri(Y, OLD, OLD)["nri"] == 0.0


@pytest.mark.parametrize("case", ["cancer", "asah"])
def test_idi_and_nri_match_hmisc_improveprob(case):
    """Two nested glm fits on df_cancer_dx (750 patients, + marker) and aSAH (113, + s100b): the
    same predictions through improveProb in R and through deltarad (p values: 2 Phi(-|z|) in R)."""
    expected = json.loads((REFERENCES / "discrimination_calibration.json").read_text())["reclassification"][case]
    data = pd.read_csv(REFERENCES / f"reclassification_{case}.csv")  # R's fitted values, 15 digits
    got_idi, got_nri = idi(data.y, data.p_new, data.p_old), nri(data.y, data.p_new, data.p_old)
    for key in ("idi", "se", "z", "p"):
        assert got_idi[key] == pytest.approx(expected[key if key == "idi" else f"{key}_idi"], rel=1e-12), key
    for key in ("nri", "se", "z", "p"):
        assert got_nri[key] == pytest.approx(expected[key if key == "nri" else f"{key}_nri"], rel=1e-12), key
