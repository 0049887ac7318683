"""Kinetic maps and BI-RADS curve types, against values worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from deltarad.kinetics.curves import (
    PERSISTENT,
    PLATEAU,
    UNDEFINED,
    WASHOUT,
    curve_shares,
    curve_types,
    lesion_curve,
)
from deltarad.kinetics.maps import (
    MAP_NAMES,
    kinetic_map,
    percent_enhancement,
    signal_enhancement_ratio,
    wash_in,
    wash_out,
)


def test_curves_of_plus_10_1_9_9_and_minus_9_9_10_1_percent():
    s1 = np.full(5, 100.0)
    s2 = np.array([110.1, 109.9, 90.1, 89.9, 110.0])  # +10.1, +9.9, -9.9, -10.1, +10 %
    assert curve_types(s1, s2).tolist() == [PERSISTENT, PLATEAU, PLATEAU, WASHOUT, PLATEAU]
    assert curve_types(np.array([0.0]), np.array([5.0])).tolist() == [UNDEFINED]


def test_curve_shares():
    types = np.array([PERSISTENT, PLATEAU, PLATEAU, WASHOUT, UNDEFINED])
    assert curve_shares(types, [True, True, True, True, False]) == {
        "share_persistent": 0.25,
        "share_plateau": 0.5,
        "share_washout": 0.25,
    }
    assert all(np.isnan(v) for v in curve_shares(types, np.zeros(5, bool)).values())


def test_ser_is_undefined_not_infinite_where_s2_equals_s0():
    ser = signal_enhancement_ratio(
        np.array([100.0, 100.0, 100.0]), np.array([200.0, 200.0, 200.0]), np.array([100.0, 180.0, 300.0])
    )
    assert np.isnan(ser[0]) and not np.isinf(ser).any()
    assert ser[1:] == pytest.approx([100 / 80, 0.5])  # washout > 1, persistent < 1


def test_percent_enhancement_and_the_rates():
    s0, s1, s2 = np.array([100.0, 0.0]), np.array([250.0, 10.0]), np.array([200.0, 10.0])
    pe = percent_enhancement(s0, s1)
    assert pe[0] == pytest.approx(150.0) and np.isnan(pe[1])
    assert wash_in(s0, s1, 90.0)[0] == pytest.approx(150.0 / 1.5)  # %/min
    assert wash_out(s1, s2, 90.0, 390.0)[0] == pytest.approx(20.0 / 5.0)  # 20 % fall over 5 min
    assert kinetic_map("subtraction_late", s0, s1, s2)[0] == 100.0
    assert set(MAP_NAMES) == {"pe", "ser", "wash_in", "wash_out", "subtraction_early", "subtraction_late"}
    with pytest.raises(ValueError, match="phase times"):
        kinetic_map("wash_out", s0, s1, s2, early_after_injection_s=90.0)


def test_lesion_curve_peaks_at_its_largest_mean_enhancement():
    mask = np.array([True, True, False])
    phases = [
        np.array([100.0, 100.0, 7.0]),
        np.array([150.0, 170.0, 7.0]),
        np.array([220.0, 180.0, 7.0]),
        np.array([190.0, 190.0, 7.0]),
    ]
    curve = lesion_curve(phases, mask, pre=0)
    assert curve.mean_signal == (100.0, 160.0, 200.0, 190.0)
    assert curve.pe_peak == pytest.approx(100.0) and curve.peak_phase == 2
