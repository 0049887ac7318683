"""IDI and continuous NRI by the Hmisc::improveProb formulas, on a hand-worked example."""
import numpy as np
import pytest

from deltarad.stats.reclassification import idi, nri

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
