"""Reader agreement on closed-form shapes: Dice and surface Hausdorff distances (mm) of offset cubes
and concentric spheres; ICC per feature class against the closed-form ICC of known ratings."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk

from deltarad.stats.agreement import dice, feature_class, hausdorff_mm, icc_by_class


def _mask(array: np.ndarray, spacing=(1.0, 1.0, 1.0)) -> sitk.Image:
    image = sitk.GetImageFromArray(array.astype(np.uint8))
    image.SetSpacing(spacing)
    return image


def _cube(shift_x: int = 0, side: int = 10, size: int = 30) -> np.ndarray:
    a = np.zeros((size, size, size), bool)
    a[5 : 5 + side, 5 : 5 + side, 5 + shift_x : 5 + side + shift_x] = True  # z, y, x
    return a


def _sphere(radius_mm: float, spacing: float = 0.5, size: int = 80) -> np.ndarray:
    c = (np.arange(size) - size / 2 + 0.5) * spacing
    z, y, x = np.meshgrid(c, c, c, indexing="ij")
    return np.sqrt(x**2 + y**2 + z**2) <= radius_mm


@pytest.mark.parametrize("shift", [0, 2, 5])
def test_dice_of_cubes_offset_along_one_axis(shift: int) -> None:
    # overlap (side - shift) * side^2 of 2 * side^3: Dice = (side - shift) / side
    assert dice(_mask(_cube()), _mask(_cube(shift))) == pytest.approx((10 - shift) / 10)


@pytest.mark.parametrize("spacing_x", [1.0, 2.0])
def test_hausdorff_of_offset_cubes_is_the_offset_in_mm(spacing_x: float) -> None:
    a, b = _mask(_cube(), (spacing_x, 1, 1)), _mask(_cube(3), (spacing_x, 1, 1))
    assert hausdorff_mm(a, b, percentile=100) == pytest.approx(3 * spacing_x)
    hd95 = hausdorff_mm(a, b)
    assert 0 < hd95 <= 3 * spacing_x
    assert hausdorff_mm(a, a) == 0.0


def test_hd95_of_concentric_spheres_is_the_difference_of_radii() -> None:
    # every point of one sphere's surface is r2 - r1 from the other's: up to a voxel (0.5 mm) of rasterisation
    hd95 = hausdorff_mm(_mask(_sphere(8.0), (0.5,) * 3), _mask(_sphere(12.0), (0.5,) * 3))
    assert hd95 == pytest.approx(4.0, abs=0.5)
    d = dice(_mask(_sphere(8.0)), _mask(_sphere(12.0)))
    assert d == pytest.approx(2 * 8**3 / (8**3 + 12**3), abs=0.02)


def test_empty_masks_give_nan() -> None:
    empty = _mask(np.zeros((5, 5, 5), bool))
    assert math.isnan(dice(empty, empty))
    assert math.isnan(hausdorff_mm(empty, _mask(_cube(size=20))))


def test_icc_by_class_counts_features_reaching_the_threshold() -> None:
    # ratings (targets 1..6, reader 2 = reader 1 + a reader offset c): ICC(2,1) = var_t / (var_t + c^2/2 + 0)
    # with var_t = 3.5 (targets 1..6), MS-based closed form; offset 0 gives ICC 1, a large offset a low ICC
    targets = np.arange(1.0, 7.0)
    rows = []
    for reader, offset in ((1, 0.0), (2, 1.0)):
        for i, t in enumerate(targets):
            rows.append(
                {
                    "patient_id": f"P{i}",
                    "region": "intratumoral",
                    "reader": reader,
                    "original_glcm_A": t,
                    "original_glcm_B": t + (10.0 if reader == 2 else 0) * (i % 2),
                    "original_firstorder_Mean": t + offset,
                }
            )
    table = icc_by_class(pd.DataFrame(rows), None, icc_min=0.8)
    glcm = table[table["feature_class"] == "glcm"].iloc[0]
    first = table[table["feature_class"] == "firstorder"].iloc[0]
    assert (glcm["features"], glcm["icc_kept"]) == (2, 1)
    # two-way ANOVA by hand: MSR = 2 * 3.5 = 7, MSC = 6 * 0.5^2 * 2 / 1 = 3, MSE = 0
    # ICC(2,1) = (MSR - MSE) / (MSR + MSE + 2 (MSC - MSE) / 6) = 7 / (7 + 1) = 0.875
    assert first["icc_median"] == pytest.approx(0.875)
    assert first["icc_kept"] == 1 and first["patients"] == 6
    assert list(table["feature_class"]) == ["firstorder", "glcm"]


def test_feature_class_of_pyradiomics_names() -> None:
    assert feature_class("wavelet-LLH_glcm_Idmn") == "glcm"
    assert feature_class("original_shape_MeshVolume") == "shape"


def test_surface_is_the_voxels_with_a_face_neighbour_outside() -> None:
    from deltarad.stats.agreement import _surface

    cube = np.zeros((14, 14, 14), bool)
    cube[2:12, 2:12, 2:12] = True
    assert sitk.GetArrayFromImage(_surface(_mask(cube))).sum() == 10**3 - 8**3
