"""FTV by I-SPY's rule on generated exams of 1 mm voxels, against counts worked out by hand."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from deltarad.kinetics.ftv import (
    FTVThresholds,
    analysis_region,
    functional_tumour_volume,
)

SPACING = (1.0, 1.0, 1.0)
SHAPE = (31, 31, 31)
CENTRE = (15, 15, 15)


def background(pe: float = 50.0):
    """S0 = 100 everywhere, S1 = S2 = S0 (1 + pe / 100)."""
    s0 = np.full(SHAPE, 100.0)
    s1 = s0 * (1 + pe / 100)
    return s0, s1, s1.copy()


def ball(radius_mm: float) -> np.ndarray:
    z, y, x = np.indices(SHAPE)
    return (z - CENTRE[0]) ** 2 + (y - CENTRE[1]) ** 2 + (x - CENTRE[2]) ** 2 <= radius_mm**2


def cube(side: int = 3, at=CENTRE) -> np.ndarray:
    m = np.zeros(SHAPE, bool)
    h = side // 2
    m[at[0] - h : at[0] - h + side, at[1] - h : at[1] - h + side, at[2] - h : at[2] - h + side] = True
    return m


EVERYWHERE = np.ones(SHAPE, bool)  # the reader's generous box: the whole field of view


def test_sphere_in_background_of_pe_50_gives_the_spheres_volume():
    s0, s1, s2 = background(50)
    sphere = ball(8)
    s1[sphere], s2[sphere] = 200, 180  # PE 100, SER 100/80
    result = functional_tumour_volume(s0, s1, s2, EVERYWHERE, SPACING)
    count = sum(1 for d in itertools.product(range(-8, 9), repeat=3) if sum(v * v for v in d) <= 64)
    assert count == 2109  # lattice points in a ball of radius 8
    assert result.voxels == count
    assert result.ftv_ml == pytest.approx(count * 1.0 / 1000)
    assert np.array_equal(result.mask, sphere)
    assert result.s0_threshold == pytest.approx(60.0)


def test_voxel_volume_scales_the_ftv():
    s0, s1, s2 = background(50)
    sphere = ball(8)
    s1[sphere], s2[sphere] = 200, 180
    result = functional_tumour_volume(s0, s1, s2, EVERYWHERE, (2.0, 0.5, 1.5))
    assert result.ftv_ml == pytest.approx(2109 * 1.5 / 1000)


def test_an_isolated_voxel_of_pe_200_is_removed_by_the_neighbour_rule():
    s0, s1, s2 = background(50)
    s1[CENTRE] = s2[CENTRE] = 300  # PE 200
    assert functional_tumour_volume(s0, s1, s2, EVERYWHERE, SPACING).voxels == 0


def test_four_passing_neighbours_keep_a_voxel_three_do_not():
    s0, s1, s2 = background(50)
    z, y, x = CENTRE
    plus = [(z, y, x), (z, y + 1, x), (z, y - 1, x), (z, y, x + 1), (z, y, x - 1)]
    for p in plus:
        s1[p] = s2[p] = 200
    result = functional_tumour_volume(s0, s1, s2, EVERYWHERE, SPACING)
    # the centre has 4 passing neighbours; each arm has 3 (the centre and the two arms at right angles)
    assert result.voxels == 1 and result.mask[CENTRE]


def test_a_dark_region_of_high_pe_is_excluded():
    s0, s1, s2 = background(50)
    dark = cube(3)
    s0[dark] = 59.0  # below 0.6 x P95 = 60 (27 of 29,791 voxels leave P95 at 100)
    s1[dark] = s2[dark] = 59.0 * 3  # PE 200
    assert functional_tumour_volume(s0, s1, s2, EVERYWHERE, SPACING).voxels == 0
    s0[dark] = 60.0  # at the threshold: counted
    s1[dark] = s2[dark] = 180.0
    assert functional_tumour_volume(s0, s1, s2, EVERYWHERE, SPACING).voxels == 27


def test_ser_below_zero_is_excluded():
    s0, s1, s2 = background(50)
    c = cube(3)
    s1[c], s2[c] = 200, 90  # S2 < S0: SER = 100 / -10 < 0
    assert functional_tumour_volume(s0, s1, s2, EVERYWHERE, SPACING).voxels == 0
    s2[c] = 110  # SER 10
    assert functional_tumour_volume(s0, s1, s2, EVERYWHERE, SPACING).voxels == 27


def test_undefined_ser_is_not_counted_and_is_reported():
    s0, s1, s2 = background(50)
    c = cube(3)
    s1[c], s2[c] = 200, 100  # S2 = S0
    result = functional_tumour_volume(s0, s1, s2, EVERYWHERE, SPACING)
    assert result.voxels == 0 and result.undefined_ser == 27


def test_pe_exactly_70_is_included():
    s0, s1, s2 = background(50)
    c = cube(3)
    s1[c] = s2[c] = 170  # PE = 100 x 70 / 100 = 70 exactly
    assert functional_tumour_volume(s0, s1, s2, EVERYWHERE, SPACING).voxels == 27
    s1[c] = s2[c] = 169.9
    assert functional_tumour_volume(s0, s1, s2, EVERYWHERE, SPACING).voxels == 0


def test_thresholds_are_configurable():
    s0, s1, s2 = background(50)
    assert functional_tumour_volume(s0, s1, s2, EVERYWHERE, SPACING).voxels == 0
    loose = FTVThresholds(pe_min=50.0)
    assert functional_tumour_volume(s0, s1, s2, EVERYWHERE, SPACING, loose).voxels == s0.size


def test_the_analysis_region_is_the_mask_dilated_by_the_margin_in_mm():
    centre = np.zeros(SHAPE, bool)
    centre[CENTRE] = True
    assert np.array_equal(analysis_region(centre, SPACING, 0.0), centre)
    assert np.array_equal(analysis_region(centre, SPACING, 8.0), ball(8))
    s0, s1, s2 = background(50)
    sphere = ball(8)
    s1[sphere], s2[sphere] = 200, 180
    # region = the ball of 8 mm: every voxel of it enhances; only the mask's voxel with margin 0
    # (which has no passing neighbour inside the region)
    assert functional_tumour_volume(s0, s1, s2, centre, SPACING, margin_mm=8.0).voxels == 2109
    assert functional_tumour_volume(s0, s1, s2, centre, SPACING).voxels == 0


def test_neighbours_outside_the_analysis_region_do_not_count():
    s0, s1, s2 = background(50)
    c = cube(3)
    s1[c] = s2[c] = 200
    centre = np.zeros(SHAPE, bool)
    centre[CENTRE] = True
    assert functional_tumour_volume(s0, s1, s2, c, SPACING).voxels == 27
    assert functional_tumour_volume(s0, s1, s2, centre, SPACING).voxels == 0


def test_empty_mask_gives_zero():
    s0, s1, s2 = background(50)
    result = functional_tumour_volume(s0, s1, s2, np.zeros(SHAPE, bool), SPACING)
    assert result.ftv_ml == 0.0 and result.voxels == 0
